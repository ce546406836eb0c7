"""The steps of PyTorch's "Learn the Basics: Save and Load the Model" tutorial, written for ferrotorch."""

# %%
import ferrotorch as torch
from ferrotorch import nn


# %% A small convolutional network stands in for a big pretrained one
class TinyConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * 14 * 14, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


probe = torch.rand(2, 1, 28, 28)  # the same input before and after each reload

# %% Only the weights: state_dict() maps parameter names to tensors
original = TinyConvNet()
original.eval()
with torch.no_grad():
    expected = original(probe)
torch.save(original.state_dict(), "tiny_weights.pth")
for name, tensor in original.state_dict().items():
    print(name, tuple(tensor.shape))

fresh = TinyConvNet()  # new random weights ...
fresh.load_state_dict(torch.load("tiny_weights.pth", weights_only=True))  # ... replaced by the saved ones
fresh.eval()  # evaluation mode before inference
with torch.no_grad():
    print("weights reloaded, same output:", torch.equal(fresh(probe), expected))

# %% The whole module: its class is stored by name, so loading needs TinyConvNet importable
torch.save(fresh, "tiny_model.pth")
reloaded = torch.load("tiny_model.pth", weights_only=False)
print(type(reloaded).__name__, "in training mode:", reloaded.training)
print(reloaded)
with torch.no_grad():
    print("module reloaded, same output:", torch.equal(reloaded(probe), expected))
print("scores of the first image:", expected[0])
