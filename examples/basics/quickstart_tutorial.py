"""The steps of PyTorch's "Learn the Basics: Quickstart" tutorial, written for ferrotorch."""

# %%
import ferrotorch as torch
from ferrotorch import nn
from ferrotorch.utils.data import DataLoader
from ferrotorch.vision import datasets
from ferrotorch.vision.transforms import ToTensor

# %% Data: FashionMNIST under ./data (download=True only fetches files that are missing)
train_set = datasets.FashionMNIST(root="data", train=True, download=True, transform=ToTensor())
test_set = datasets.FashionMNIST(root="data", train=False, download=True, transform=ToTensor())

BATCH = 64
train_loader = DataLoader(train_set, batch_size=BATCH)
test_loader = DataLoader(test_set, batch_size=BATCH)

for images, labels in test_loader:  # look at one batch, then stop
    print(f"images (batch, channel, row, column): {images.shape}")
    print(f"labels: {labels.shape}, dtype {labels.dtype}")
    break

# %% Model: a fully connected network, placed on the accelerator when there is one
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"device: {device}")


class FashionClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, images):
        return self.layers(self.flatten(images))  # one score per class


net = FashionClassifier().to(device)
print(net)

# %% Training: cross-entropy loss, plain SGD
criterion = nn.CrossEntropyLoss()
sgd = torch.optim.SGD(net.parameters(), lr=1e-3)


def fit_one_epoch(loader, model, criterion, optimizer):
    n_images = len(loader.dataset)
    model.train()
    for step, (images, labels) in enumerate(loader):
        images, labels = images.to(device), labels.to(device)
        loss = criterion(model(images), labels)
        loss.backward()  # gradients of the loss for every parameter
        optimizer.step()  # move the parameters against them
        optimizer.zero_grad()
        if step % 2 == 0:
            value, seen = loss.item(), (step + 1) * len(images)
            print(f"  batch loss {value:>7f}  [{seen:>5d} of {n_images:>5d}]")


def evaluate(loader, model, criterion):
    model.eval()
    loss_sum, hits = 0, 0
    with torch.no_grad():  # no graph is needed to score the test set
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            scores = model(images)
            loss_sum += criterion(scores, labels).item()
            hits += (scores.argmax(1) == labels).type(torch.float).sum().item()
    mean_loss = loss_sum / len(loader)
    accuracy = hits / len(loader.dataset)
    print(f"  test set: {(100 * accuracy):>0.1f}% right, mean loss {mean_loss:>8f}\n")


for epoch in range(3):
    print(f"epoch {epoch + 1}")
    fit_one_epoch(train_loader, net, criterion, sgd)
    evaluate(test_loader, net, criterion)
print("training finished")

# %% Saving the weights, then loading them into a fresh model
torch.save(net.state_dict(), "fashion_classifier.pth")
print("weights saved to fashion_classifier.pth")

restored = FashionClassifier().to(device)
restored.load_state_dict(torch.load("fashion_classifier.pth", weights_only=True))

# %% Predicting with the restored model
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
restored.eval()
for i in range(3):
    image, label = test_set[i]
    with torch.no_grad():
        scores = restored(image.to(device))
        guess = CLASS_NAMES[scores[0].argmax(0)]
    print(f"image {i}: predicted {guess!r}, true {CLASS_NAMES[label]!r}")
