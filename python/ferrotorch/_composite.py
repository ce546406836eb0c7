"""``torch.meshgrid``, ``torch.diff`` and ``torch.repeat_interleave``, composed from views, ``index_select``,
``narrow`` and subtraction so autograd comes with them; results and errors as torch's."""

from __future__ import annotations

import warnings

from . import _C


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-D/1-D tensors: views that expand each tensor along its own axis."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if any(t.dtype != tensors[0].dtype for t in tensors):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.dim()}D tensor"
            )
    order = list(tensors)
    swap = indexing == "xy" and len(order) >= 2
    if swap:  # "xy": the first two axes trade places
        order[0], order[1] = order[1], order[0]
    shape = [t.numel() for t in order]
    grids = []
    for i, t in enumerate(order):
        view = [1] * len(order)
        view[i] = -1
        grids.append(t.reshape(view).expand(shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def diff(input, n=1, dim=-1, prepend=None, append=None):  # noqa: A002
    """The ``n``-th forward difference along ``dim`` (logical xor for bool), after joining ``prepend``/``append``."""
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    parts = [p for p in (prepend, input, append) if p is not None]
    x = _C.cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        length = x.shape[dim]
        if length == 0:
            break
        hi, lo = x.narrow(dim, 1, length - 1), x.narrow(dim, 0, length - 1)
        x = hi.logical_xor(lo) if x.dtype == _C.bool else hi - lo
    return x


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):  # noqa: A002
    """Each element (or slice along ``dim``) repeated ``repeats`` times; ``repeat_interleave(counts)`` gives
    the indices ``0..len(counts)`` repeated by ``counts``."""
    if repeats is None:  # torch.repeat_interleave(repeats): the index form
        counts = input
        if counts.dim() > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        return repeat_interleave(_C.arange(counts.numel()), counts, 0)
    if dim is None:
        input, dim = input.reshape(-1), 0
    dim = dim + input.dim() if dim < 0 else dim
    size = input.shape[dim]
    if isinstance(repeats, _C.Tensor):
        if repeats.is_floating_point():
            raise NotImplementedError(
                f"\"repeat_interleave_cpu\" not implemented for '{_scalar_name(repeats)}'"
            )
        if repeats.dim() > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        counts = repeats.reshape(-1).tolist()
        if len(counts) == 1:
            counts = counts * size
        elif len(counts) != size:
            raise RuntimeError(
                "repeats must have the same size as input along dim, but got "
                f"repeats.size(0) = {len(counts)} and input.size({dim}) = {size}"
            )
        if any(c < 0 for c in counts):
            raise RuntimeError("repeats can not be negative")
    else:
        if repeats < 0:
            raise RuntimeError("Repeats must be non-negative")
        counts = [repeats] * size
    import numpy as np  # numpy is imported on first use, as elsewhere (keeps `import ferrotorch` fast)

    index = np.repeat(np.arange(size, dtype=np.int64), np.asarray(counts, dtype=np.int64))
    return input.index_select(dim, _C.tensor(index))


def _scalar_name(t):
    return {"float32": "Float", "float64": "Double"}.get(str(t.dtype).removeprefix("torch."), str(t.dtype))
