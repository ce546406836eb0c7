"""The CIFAR-10 ConvNet tutorial: only the import lines differ from the PyTorch version.

A small VGG-style ConvNet (Conv2d + BatchNorm2d + ReLU, max pooling, global average pooling) trained
with Adam, with the tutorial's ``train``/``validate``/``accuracy`` functions, the class that wraps
them, and tqdm progress bars.

Data: real CIFAR-10 when ``$CIFAR10_ROOT/cifar-10-batches-py`` exists, otherwise the handwritten digits
that ship with ferrotorch, written in CIFAR-10's on-disk format and read through
``torchvision.datasets.CIFAR10`` all the same. Settings come from environment variables:

    EPOCHS=10 SUBSET=0 CIFAR10_ROOT=~/data python examples/cifar10_convnet.py

(``SUBSET=N`` trains on the first N training images; 0 means all.) The notebook of the same name is
generated from this script (cells marked `# %%`) by tools/make_notebooks.py.
"""

# %%
import os
import pathlib
import tempfile
import time

import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.nn.functional as F
import ferrotorch.optim as optim
import ferrotorch.vision as torchvision
import ferrotorch.vision.transforms as transforms
from ferrotorch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

HERE = pathlib.Path(__file__).parent if "__file__" in globals() else pathlib.Path.cwd()  # script or notebook

EPOCHS = int(os.environ.get("EPOCHS", 10))
SUBSET = int(os.environ.get("SUBSET", 0))
BATCH_SIZE = 64
LEARNING_RATE = 0.001

torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"device: {device}")

# %% [markdown]
# ## Data
# Real CIFAR-10 if it is there; otherwise the bundled digits, written once in CIFAR-10's format.

# %%
root = os.environ.get("CIFAR10_ROOT", "")
if not os.path.exists(os.path.join(root, "cifar-10-batches-py")):
    from ferrotorch.demo import make_cifar_folder  # ferrotorch only: writes the bundled data as CIFAR-10

    root = os.path.join(tempfile.gettempdir(), "ferrotorch-demo-data")
    make_cifar_folder(root)
    print(f"CIFAR-10 not found: using the bundled handwritten digits in CIFAR-10's format ({root})")

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
trainset = torchvision.datasets.CIFAR10(root=root, train=True, download=False, transform=transform)
testset = torchvision.datasets.CIFAR10(root=root, train=False, download=False, transform=transform)
classes = trainset.classes
if SUBSET:
    trainset = Subset(trainset, range(min(SUBSET, len(trainset))))
print(f"{len(trainset)} training images, {len(testset)} test images, {len(classes)} classes")

train_loader = DataLoader(trainset, batch_size=BATCH_SIZE, shuffle=True, num_workers=2)
test_loader = DataLoader(testset, batch_size=256, shuffle=False, num_workers=2)

images, labels = next(iter(train_loader))
print(f"a batch: images {tuple(images.shape)} {images.dtype}, labels {tuple(labels.shape)} {labels.dtype}")

# %% [markdown]
# ## The model


# %%
class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 32, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(32)
        self.conv4 = nn.Conv2d(32, 32, 3, padding=1)
        self.bn4 = nn.BatchNorm2d(32)
        self.conv5 = nn.Conv2d(32, 128, 3, padding=1)
        self.bn5 = nn.BatchNorm2d(128)
        self.conv6 = nn.Conv2d(128, 128, 3, padding=1)
        self.bn6 = nn.BatchNorm2d(128)
        self.pool = nn.MaxPool2d(2, 2)
        self.gap = nn.AvgPool2d(8)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.pool(F.relu(self.bn2(self.conv2(x))))  # 32x32 -> 16x16
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.pool(F.relu(self.bn4(self.conv4(x))))  # 16x16 -> 8x8
        x = F.relu(self.bn5(self.conv5(x)))
        x = F.relu(self.bn6(self.conv6(x)))
        x = torch.flatten(self.gap(x), 1)  # global average pooling -> 128 features
        return self.fc(x)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


model = Net(num_classes=len(classes))
model.apply(init_weights)
print(f"{sum(p.numel() for p in model.parameters() if p.requires_grad)} trainable parameters")

# %% [markdown]
# ## Training and validation


# %%
def accuracy(outputs, labels):
    """Number of correct predictions in a batch."""
    _, predicted = torch.max(outputs, 1)
    return (predicted == labels).sum().item()


def train(model, loader, criterion, optimizer, device):
    model.train()
    running_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc="train", leave=False)
    for inputs, labels in bar:
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * inputs.size(0)
        correct += accuracy(outputs, labels)
        seen += inputs.size(0)
        bar.set_postfix(loss=f"{running_loss / seen:.4f}", acc=f"{correct / seen:.3f}", refresh=False)
    return running_loss / seen, correct / seen


def validate(model, loader, criterion, device):
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for inputs, labels in tqdm(loader, desc="validate", leave=False):
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            total_loss += criterion(outputs, labels).item() * inputs.size(0)
            probs = F.softmax(outputs, dim=1)
            correct += (torch.argmax(probs, dim=1) == labels).sum().item()
            seen += inputs.size(0)
    return total_loss / seen, correct / seen


class Trainer:
    """Wraps the model, the loss, the optimizer and the loaders; ``fit`` runs train/validate per epoch."""

    def __init__(self, model, train_loader, val_loader, device, lr=0.001):
        self.model = model.to(device)
        self.train_loader, self.val_loader, self.device = train_loader, val_loader, device
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = optim.Adam(self.model.parameters(), lr=lr)
        self.history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}

    def fit(self, epochs):
        for epoch in tqdm(range(epochs), desc="epochs"):
            start = time.perf_counter()
            train_loss, train_acc = train(self.model, self.train_loader, self.criterion, self.optimizer, self.device)
            seconds = time.perf_counter() - start
            val_loss, val_acc = validate(self.model, self.val_loader, self.criterion, self.device)
            for key, value in zip(self.history, (train_loss, train_acc, val_loss, val_acc)):
                self.history[key].append(value)
            images_per_s = len(self.train_loader.dataset) / seconds
            tqdm.write(f"epoch {epoch + 1}/{epochs}: train loss {train_loss:.4f} acc {train_acc:.3f} | "
                       f"val loss {val_loss:.4f} acc {val_acc:.3f} | {images_per_s:.0f} images/s")
        return self.history

    def predict(self, images):
        self.model.eval()
        with torch.no_grad():
            probs = F.softmax(self.model(images.to(self.device)), dim=1)
        return probs.argmax(dim=1), probs.max(dim=1).values


# %%
trainer = Trainer(model, train_loader, test_loader, device, lr=LEARNING_RATE)
history = trainer.fit(EPOCHS)
print(f"final validation accuracy: {history['val_acc'][-1]:.3f}")

# %% [markdown]
# ## Predictions on a few test images

# %%
images, labels = next(iter(test_loader))
predicted, confidence = trainer.predict(images[:8])
for p, c, t in zip(predicted.tolist(), confidence.tolist(), labels[:8].tolist()):
    print(f"predicted {classes[p]!r} ({c:.0%}), truth {classes[t]!r}")

# %%
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    plt.plot(range(1, EPOCHS + 1), history["train_loss"], label="train")
    plt.plot(range(1, EPOCHS + 1), history["val_loss"], label="validation")
    plt.xlabel("epoch")
    plt.ylabel("cross-entropy loss")
    plt.legend()
    plt.savefig(HERE / "cifar10_convnet_loss.png")
