"""The tutorials' models, written once against a library module so ferrotorch and PyTorch build the same thing.

`lib` is `ferrotorch` or `torch`. `convnet` is the CIFAR demo's Net (python/ferrotorch/demo/__main__.py);
`check_convnet_matches_demo` guards against the two drifting apart.
"""

from __future__ import annotations


def convnet(lib, num_classes=10):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
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
            x = lib.flatten(self.gap(x), 1)
            return self.fc(x)

    return Net()


def check_convnet_matches_demo():
    """Raise if the demo's Net and `convnet` have different parameter names or shapes."""
    import ferrotorch
    from ferrotorch.demo.__main__ import Net

    demo = [(n, tuple(p.shape)) for n, p in Net().named_parameters()]
    ours = [(n, tuple(p.shape)) for n, p in convnet(ferrotorch).named_parameters()]
    if demo != ours:
        raise RuntimeError(f"bench/models.py convnet differs from the demo's Net: {demo} vs {ours}")


def mlp(lib):
    """The tabular tutorial's classifier: 13 features -> 64 -> 32 -> 3 classes."""
    nn = lib.nn
    return nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 3))


def linear_regression(lib):
    """The from-scratch tutorial's model: two scalar parameters, `weights * x + bias`."""
    nn = lib.nn

    class LinearRegressionModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(lib.randn(1, dtype=lib.float), requires_grad=True)
            self.bias = nn.Parameter(lib.randn(1, dtype=lib.float), requires_grad=True)

        def forward(self, x):
            return self.weights * x + self.bias

    return LinearRegressionModel()
