"""torch.accelerator on a CPU-only library, as in a CPU-only PyTorch build: no accelerator exists.

``current_accelerator()`` is ``None`` and ``is_available()`` is ``False``, so the tutorials'
``torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"``
picks ``"cpu"``; asking for an accelerator device raises torch's error.
"""

from __future__ import annotations

__all__ = [
    "current_accelerator",
    "current_device_idx",
    "current_device_index",
    "device_count",
    "device_index",
    "empty_cache",
    "is_available",
    "set_device_idx",
    "set_device_index",
    "synchronize",
]

_NONE = "Cannot access accelerator device when none is available."


def device_count() -> int:
    """The number of accelerator devices: always 0."""
    return 0


def is_available() -> bool:
    """Whether an accelerator is available: never."""
    return False


def current_accelerator(check_available: bool = False):
    """The accelerator's device type (a ``torch.device``), or ``None``: ferrotorch has none."""
    return None


def current_device_index() -> int:
    raise RuntimeError(_NONE)


current_device_idx = current_device_index


def set_device_index(device, /) -> None:
    raise RuntimeError(_NONE)


set_device_idx = set_device_index


def synchronize(device=None, /) -> None:
    raise RuntimeError(_NONE)


def empty_cache() -> None:
    """No accelerator cache to free."""


class device_index:
    """Context manager selecting accelerator device ``device``; ``None`` is a no-op, as in torch."""

    def __init__(self, device, /):
        self.idx = device

    def __enter__(self):
        if self.idx is not None:
            raise RuntimeError(_NONE)
        return None

    def __exit__(self, *exc):
        return False
