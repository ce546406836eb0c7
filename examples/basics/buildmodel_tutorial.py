"""The steps of PyTorch's "Learn the Basics: Build the Neural Network" tutorial, written for ferrotorch."""

# %%
import ferrotorch as torch
from ferrotorch import nn

# %% Where to run: an accelerator if present, else the CPU
device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"building on {device}")


# %% A network is an nn.Module: layers made in __init__, used in forward
class ThreeLayerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.stack = nn.Sequential(
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        return self.stack(self.flatten(x))


net = ThreeLayerNet().to(device)
print(net)

# call the module itself (not forward) on a batch holding one random image
fake = torch.rand(1, 28, 28, device=device)
scores = net(fake)
probabilities = nn.Softmax(dim=1)(scores)
print(f"class probabilities sum to {probabilities.sum().item():.4f}")
print(f"most likely class: {probabilities.argmax(1)}")

# %% The layers one at a time, on a batch of two images
batch = torch.rand(2, 28, 28)
print("batch:", batch.size())

# Flatten keeps dimension 0 (the batch) and joins the others
flatten = nn.Flatten()
flat = flatten(batch)
print("flattened:", flat.size())

# Linear: weights times input plus bias
fc = nn.Linear(in_features=28 * 28, out_features=12)
hidden = fc(flat)
print("after Linear:", hidden.size())

# ReLU zeroes the negative entries
print(f"before ReLU:\n{hidden}\n")
hidden = nn.ReLU()(hidden)
print(f"after ReLU:\n{hidden}\n")

# Sequential runs its modules in order
tiny = nn.Sequential(flatten, fc, nn.ReLU(), nn.Linear(12, 10))
scores = tiny(torch.rand(2, 28, 28))

# Softmax maps each row of scores to probabilities
softmax = nn.Softmax(dim=1)
probabilities = softmax(scores)
print("probabilities:", probabilities)

# %% Every layer's weights and biases are parameters that training will adjust
print(f"the model:\n{net}\n")
for name, param in net.named_parameters():
    print(f"{name}: size {param.size()}, first values {param[:2]}\n")
