"""torchvision.datasets: CIFAR10/100, MNIST, FashionMNIST, ImageFolder, DatasetFolder, FakeData."""

from .cifar import CIFAR10, CIFAR100  # noqa: F401
from .fakedata import FakeData  # noqa: F401
from .folder import DatasetFolder, ImageFolder  # noqa: F401
from .mnist import MNIST, FashionMNIST  # noqa: F401
from .utils import VisionDataset  # noqa: F401
