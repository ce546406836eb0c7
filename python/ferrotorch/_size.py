"""torch.Size and the small pure-Python objects the Rust core hands out."""

from __future__ import annotations


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``torch.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"torch.Size([{', '.join(str(d) for d in self)}])"

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __reduce__(self):
        return (Size, (tuple(self),))


class layout:
    """torch.layout: ferrotorch tensors are always strided."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


strided = layout("strided")


def _rebuild_tensor(array, requires_grad):
    """Unpickling a tensor: rebuilt from its NumPy data (no code runs beyond this function)."""
    from . import tensor

    return tensor(array, requires_grad=requires_grad)
