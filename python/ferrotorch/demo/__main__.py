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
from ferrotorch.demo.model import Net, init_weights
from ferrotorch.utils.data import DataLoader

try:
    from tqdm.auto import tqdm
except ImportError:  # progress bars are optional

    def tqdm(iterable, **kwargs):
        return iterable


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
            train_loss, train_acc = train(
                self.model, self.train_loader, self.criterion, self.optimizer, self.device
            )
            seconds = time.perf_counter() - start
            val_loss, val_acc = validate(self.model, self.test_loader, self.criterion, self.device)
            self.history["train_loss"].append(train_loss)
            self.history["val_loss"].append(val_loss)
            self.history["val_acc"].append(val_acc)
            images_per_s = len(self.train_loader.dataset) / seconds
            print(
                f"epoch {epoch + 1}/{epochs}: train loss {train_loss:.4f} acc {train_acc:.3f} | "
                f"val loss {val_loss:.4f} acc {val_acc:.3f} | {images_per_s:.0f} images/s"
            )
        return self.history


def fit_demo(model, train_loader, test_loader, epochs, lr=0.001):
    """The same training as ``Trainer.fit``, with the loop run by ``ferrotorch.fit``."""
    h = torch.fit(
        model,
        train_loader,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=lr),
        epochs=epochs,
        val=test_loader,
        metrics="accuracy",
    )
    for e in range(len(h["loss"])):
        images_per_s = len(train_loader.dataset) / h["epoch_seconds"][e]
        print(
            f"epoch {e + 1}/{epochs}: train loss {h['loss'][e]:.4f} acc {h['accuracy'][e]:.3f} | "
            f"val loss {h['val_loss'][e]:.4f} acc {h['val_accuracy'][e]:.3f} | {images_per_s:.0f} images/s "
            "(including validation)"
        )
    return {"train_loss": h["loss"], "val_loss": h["val_loss"], "val_acc": h["val_accuracy"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--root", default=os.environ.get("CIFAR10_ROOT"))
    ap.add_argument("--plot", default="ferrotorch_demo_loss.png")
    ap.add_argument("--fit", action="store_true", help="train with ferrotorch.fit (the loop runs in Rust)")
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    root = args.root or os.path.join(tempfile.gettempdir(), "ferrotorch-demo-data")
    if not os.path.exists(os.path.join(root, "cifar-10-batches-py")):
        make_cifar_folder(root)
        print(f"using the bundled handwritten digits as a CIFAR-format data set in {root}")
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    trainset = torchvision.datasets.CIFAR10(root=root, train=True, download=False, transform=transform)
    testset = torchvision.datasets.CIFAR10(root=root, train=False, download=False, transform=transform)
    train_loader = DataLoader(trainset, batch_size=64, shuffle=True)
    test_loader = DataLoader(testset, batch_size=256, shuffle=False)

    model = Net(num_classes=len(trainset.classes))
    model.apply(init_weights)
    if args.fit:
        history = fit_demo(model, train_loader, test_loader, args.epochs)
    else:
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
