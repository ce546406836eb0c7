"""torch.autograd: backward, grad, grad modes."""

from __future__ import annotations

from .. import _C
from . import function, functional  # noqa: F401
from .function import Function, once_differentiable  # noqa: F401
from .grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401


def backward(
    tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None
):
    """Accumulates gradients of ``tensors`` into the leaves' ``.grad``."""
    if grad_variables is not None:
        grad_tensors = grad_variables
    _C._backward(tensors, grad_tensors, retain_graph, create_graph, inputs)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """Returns the gradients of ``outputs`` with respect to ``inputs`` (``.grad`` is left untouched)."""
    if is_grads_batched:
        raise NotImplementedError("ferrotorch does not support is_grads_batched=True yet")
    res = _C._grad(
        outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused or materialize_grads
    )
    if materialize_grads:
        from .. import zeros_like

        ins = (inputs,) if isinstance(inputs, _C.Tensor) else tuple(inputs)
        res = tuple(zeros_like(i) if g is None else g for g, i in zip(res, ins))
    return res


__all__ = [
    "Function",
    "backward",
    "grad",
    "gradcheck",
    "functional",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
]
