"""The main demo: ``python -m ferrotorch.demo`` trains the CIFAR-10 tutorial ConvNet on bundled data."""

from .cifar_folder import make_cifar_folder  # noqa: F401
