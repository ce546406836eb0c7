"""ferrotorch.vision: torchvision's paths (``import ferrotorch.vision as torchvision``)."""

from . import datasets, io, models, transforms, utils  # noqa: F401

__version__ = "0.1.0"
