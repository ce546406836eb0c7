"""torchvision.transforms: image transforms for NumPy HWC arrays, CHW tensors and PIL images (optional)."""

from . import functional  # noqa: F401
from .transforms import (  # noqa: F401
    CenterCrop,
    Compose,
    ConvertImageDtype,
    Grayscale,
    Lambda,
    Normalize,
    PILToTensor,
    RandomCrop,
    RandomHorizontalFlip,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
    ToTensor,
)
