"""``torch.broadcast_shapes`` and ``torch.broadcast_tensors``, with torch's results and errors."""

from __future__ import annotations

from ._size import Size


def broadcast_shapes(*shapes):
    """The shape tensors of ``shapes`` broadcast to (ints count as one-dimensional shapes)."""
    result = []
    for index, shape in enumerate(shapes):
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)):
            raise RuntimeError(
                f"Input shapes should be of type ints, a tuple of ints, or a list of ints, got {shape}"
            )
        shape = tuple(shape)
        if len(shape) > len(result):
            result = [1] * (len(shape) - len(result)) + result
        for i in range(-1, -1 - len(shape), -1):
            size = shape[i]
            if size < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
            if size == 1 or size == result[i]:
                continue
            if result[i] != 1:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {size} at {i}! Mismatching argument at "
                    f"index {index} had {shape}; but expected shape should be broadcastable to {result}"
                )
            result[i] = size
    return Size(result)


def _infer_size(a, b):
    """ATen's pairwise rule, with its message naming the output dimension that disagrees."""
    ndim = max(len(a), len(b))
    out = []
    for i in range(ndim):
        offset = ndim - 1 - i
        sa = a[len(a) - 1 - offset] if len(a) - 1 - offset >= 0 else 1
        sb = b[len(b) - 1 - offset] if len(b) - 1 - offset >= 0 else 1
        if sa != sb and sa != 1 and sb != 1:
            raise RuntimeError(
                f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at non-singleton dimension {i}"
            )
        out.append(sb if sa == 1 else sa)
    return tuple(out)


def broadcast_tensors(*tensors):
    """``tensors`` expanded to their common shape (views; a tensor already of that shape is returned as is)."""
    for i, t in enumerate(tensors):
        if not hasattr(t, "expand"):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    shape = ()
    for t in tensors:
        shape = _infer_size(shape, tuple(t.shape))
    return tuple(t if tuple(t.shape) == shape else t.expand(shape) for t in tensors)
