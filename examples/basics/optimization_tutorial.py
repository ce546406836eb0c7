"""The steps of PyTorch's "Learn the Basics: Optimizing Model Parameters" tutorial, written for ferrotorch.

Run it from a directory holding data/FashionMNIST/raw (or with network access).
"""

# %%
import ferrotorch as torch
from ferrotorch import nn
from ferrotorch.utils.data import DataLoader
from ferrotorch.vision import datasets
from ferrotorch.vision.transforms import ToTensor

# %% The data and the model from the earlier steps
train_images = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor())
test_images = datasets.FashionMNIST(root="data", train=False, download=True, transform=ToTensor())


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.hidden = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        return self.hidden(self.flatten(x))


mlp = MLP()

# %% Hyperparameters: the knobs we choose before training
step_size = 1e-3  # how far each update moves the parameters
batch_size = 64  # images per gradient estimate
n_epochs = 4  # passes over the training set

train_batches = DataLoader(train_images, batch_size=batch_size)
test_batches = DataLoader(test_images, batch_size=batch_size)

# %% The loss measures how wrong the scores are; the optimizer updates the parameters from its gradients
criterion = nn.CrossEntropyLoss()
sgd = torch.optim.SGD(mlp.parameters(), lr=step_size)


# %% One epoch = a training pass, then a check on the test set
def training_pass(batches, model, criterion, optimizer):
    total = len(batches.dataset)
    model.train()  # matters for layers such as dropout; harmless here
    for i, (x, y) in enumerate(batches):
        loss = criterion(model(x), y)

        optimizer.zero_grad()  # gradients accumulate unless cleared
        loss.backward()
        optimizer.step()

        if i % 2 == 1:
            value, done = loss.item(), i * batch_size + len(x)
            print(f"loss={value:>7f} after {done:>5d}/{total:>5d} images")


def checking_pass(batches, model, criterion):
    model.eval()
    loss_sum, right = 0, 0
    with torch.no_grad():  # evaluation builds no autograd graph
        for x, y in batches:
            scores = model(x)
            loss_sum += criterion(scores, y).item()
            right += (scores.argmax(1) == y).type(torch.float).sum().item()
    print(f"test: accuracy {(100 * right / len(batches.dataset)):>0.1f}%, loss {loss_sum / len(batches):>8f}")


for epoch in range(1, n_epochs + 1):
    print(f"--- epoch {epoch} ---")
    training_pass(train_batches, mlp, criterion, sgd)
    checking_pass(test_batches, mlp, criterion)
print("finished")
