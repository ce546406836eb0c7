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


def _reduce_tensor(t):
    """Pickling a tensor stores safetensors bytes: unpickling runs no code but the safe reader."""
    import io

    from .serialization import save

    buf = io.BytesIO()
    save(t.detach(), buf)
    return (_rebuild_tensor, (buf.getvalue(), t.requires_grad))


def _rebuild_tensor(data, requires_grad):
    import io

    from .serialization import load

    t = load(io.BytesIO(data))
    if requires_grad:
        t.requires_grad_(True)
    return t
