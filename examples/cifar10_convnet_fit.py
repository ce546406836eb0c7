"""The CIFAR-10 ConvNet tutorial trained by ``ferrotorch.fit`` (ferrotorch only).

The model, data, loss and optimizer of cifar10_convnet.py; the tutorial's ``Trainer`` loop becomes
one ``fit`` call, which replays the captured training step in Rust (tqdm bars, validation and the
accuracy metric included). Settings as in cifar10_convnet.py:

    EPOCHS=10 SUBSET=0 CIFAR10_ROOT=~/data python examples/cifar10_convnet_fit.py
"""

# %%
import os
import pathlib
import tempfile

import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.optim as optim
import ferrotorch.vision as torchvision
import ferrotorch.vision.transforms as transforms
from ferrotorch.demo.model import Net, init_weights
from ferrotorch.utils.data import DataLoader, Subset

HERE = pathlib.Path(__file__).parent if "__file__" in globals() else pathlib.Path.cwd()
EPOCHS = int(os.environ.get("EPOCHS", 10))
SUBSET = int(os.environ.get("SUBSET", 0))

# %%
torch.manual_seed(0)
root = os.environ.get("CIFAR10_ROOT", "")
if not os.path.exists(os.path.join(root, "cifar-10-batches-py")):
    from ferrotorch.demo import make_cifar_folder

    root = os.path.join(tempfile.gettempdir(), "ferrotorch-demo-data")
    make_cifar_folder(root)
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
trainset = torchvision.datasets.CIFAR10(root=root, train=True, download=False, transform=transform)
testset = torchvision.datasets.CIFAR10(root=root, train=False, download=False, transform=transform)
if SUBSET:
    trainset = Subset(trainset, range(min(SUBSET, len(trainset))))
train_loader = DataLoader(trainset, batch_size=64, shuffle=True)
test_loader = DataLoader(testset, batch_size=256, shuffle=False)

# %%
model = Net(num_classes=len(testset.classes))
model.apply(init_weights)
history = torch.fit(model, train_loader, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.001),
                    epochs=EPOCHS, val=test_loader, metrics="accuracy")
for e in range(len(history["loss"])):
    print(f"epoch {e + 1}/{EPOCHS}: train loss {history['loss'][e]:.4f} acc {history['accuracy'][e]:.3f} | "
          f"val loss {history['val_loss'][e]:.4f} acc {history['val_accuracy'][e]:.3f} | "
          f"{len(trainset) / history['epoch_seconds'][e]:.0f} images/s (with validation)")
print(f"final validation accuracy: {history['val_accuracy'][-1]:.3f}")

# %%
try:
    import matplotlib

    matplotlib.use("Agg")
    history.plot(HERE / "cifar10_convnet_fit_loss.png", keys=["loss", "val_loss"])
except ImportError:
    pass
assert history["val_accuracy"][-1] > 1.5 / len(testset.classes), "the model did not learn"
