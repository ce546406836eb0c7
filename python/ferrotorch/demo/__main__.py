"""The CIFAR-10 ConvNet tutorial, ported by changing only the import lines.

Run: ``python -m ferrotorch.demo [--epochs N] [--root DIR] [--plot loss.png]``. It trains on real
CIFAR-10 when ``DIR/cifar-10-batches-py`` exists, otherwise on a CIFAR-format folder made from the
handwritten digits that ship with ferrotorch (see ferrotorch/demo/data/LICENSE-digits.txt).
"""

import argparse
import os
import tempfile
import time

import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.nn.functional as F
import ferrotorch.optim as optim
import ferrotorch.vision as torchvision
import ferrotorch.vision.transforms as transforms
from ferrotorch.demo import make_cifar_folder
from ferrotorch.utils.data import DataLoader

try:
    from tqdm.auto import tqdm
except ImportError:  # progress bars are optional

    def tqdm(iterable, **kwargs):
        return iterable


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
        x = self.pool(F.relu(self.bn2(self.conv2(x))))
        x = F.relu(self.bn3(self.conv3(x)))
        x = self.pool(F.relu(self.bn4(self.conv4(x))))
        x = F.relu(self.bn5(self.conv5(x)))
        x = F.relu(self.bn6(self.conv6(x)))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


def accuracy(outputs, labels):
    _, predicted = torch.max(outputs, 1)
    return (predicted == labels).sum().item()


def train(model, loader, criterion, optimizer, device):
    model.train()
    running_loss, correct, seen = 0.0, 0, 0
    for inputs, labels in tqdm(loader, desc="train", leave=False):
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * inputs.size(0)
        correct += accuracy(outputs, labels)
        seen += inputs.size(0)
    return running_loss / seen, correct / seen


def validate(model, loader, criterion, device):
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for inputs, labels in loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            total_loss += criterion(outputs, labels).item() * inputs.size(0)
            probs = F.softmax(outputs, dim=1)
            correct += (torch.argmax(probs, dim=1) == labels).sum().item()
            seen += inputs.size(0)
    return total_loss / seen, correct / seen


class Trainer:
    """The tutorial's wrapper around train/validate."""

    def __init__(self, model, train_loader, test_loader, device, lr=0.001):
        self.model = model.to(device)
        self.train_loader, self.test_loader, self.device = train_loader, test_loader, device
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = optim.Adam(model.parameters(), lr=lr)
        self.history = {"train_loss": [], "val_loss": [], "val_acc": []}

    def fit(self, epochs):
        for epoch in range(epochs):
            start = time.perf_counter()
            train_loss, train_acc = train(self.model, self.train_loader, self.criterion, self.optimizer, self.device)
            seconds = time.perf_counter() - start
            val_loss, val_acc = validate(self.model, self.test_loader, self.criterion, self.device)
            self.history["train_loss"].append(train_loss)
            self.history["val_loss"].append(val_loss)
            self.history["val_acc"].append(val_acc)
            images_per_s = len(self.train_loader.dataset) / seconds
            print(f"epoch {epoch + 1}/{epochs}: train loss {train_loss:.4f} acc {train_acc:.3f} | "
                  f"val loss {val_loss:.4f} acc {val_acc:.3f} | {images_per_s:.0f} images/s")
        return self.history


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--root", default=os.environ.get("CIFAR10_ROOT"))
    ap.add_argument("--plot", default="ferrotorch_demo_loss.png")
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    root = args.root or os.path.join(tempfile.gettempdir(), "ferrotorch-demo-data")
    if not os.path.exists(os.path.join(root, "cifar-10-batches-py")):
        make_cifar_folder(root)
        print(f"using the bundled handwritten digits as a CIFAR-format data set in {root}")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    trainset = torchvision.datasets.CIFAR10(root=root, train=True, download=False, transform=transform)
    testset = torchvision.datasets.CIFAR10(root=root, train=False, download=False, transform=transform)
    train_loader = DataLoader(trainset, batch_size=64, shuffle=True)
    test_loader = DataLoader(testset, batch_size=256, shuffle=False)

    model = Net(num_classes=len(trainset.classes))
    model.apply(init_weights)
    history = Trainer(model, train_loader, test_loader, device).fit(args.epochs)
    print(f"final validation accuracy: {history['val_acc'][-1]:.3f}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no loss plot (pip install matplotlib)")
        return history
    plt.plot(history["train_loss"], label="train")
    plt.plot(history["val_loss"], label="validation")
    plt.xlabel("epoch")
    plt.ylabel("loss")
    plt.legend()
    plt.savefig(args.plot)
    print(f"loss plot saved to {args.plot}")
    return history


if __name__ == "__main__":
    main()
