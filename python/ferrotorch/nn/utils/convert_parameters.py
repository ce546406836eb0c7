"""``parameters_to_vector`` / ``vector_to_parameters``: all parameters as one flat tensor and back."""

from __future__ import annotations

from ... import _C


def _typename(obj):
    return obj.type() if isinstance(obj, _C.Tensor) else type(obj).__name__


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated in order (differentiable, like ``torch.cat``)."""
    return _C.cat([p.view(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Sets each parameter's ``.data`` to its slice of ``vec``, in order."""
    if not isinstance(vec, _C.Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec[pointer : pointer + n].view_as(param).data
        pointer += n
