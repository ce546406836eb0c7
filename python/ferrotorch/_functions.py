"""``torch.<op>(input, ...)`` for every Tensor method torch also offers as a function.

Each is a thin forward to the Rust method, so the method and the function can never disagree.
"""

from __future__ import annotations

from . import _C

# Methods that torch does not expose as torch.<name>, or that the module defines itself.
_NOT_FUNCTIONS = {
    "item",
    "tolist",
    "numpy",
    "size",
    "dim",
    "view",
    "view_as",
    "expand",
    "expand_as",
    "type",
    "type_as",
    "to",
    "cpu",
    "cuda",
    "float",
    "double",
    "long",
    "int",
    "bool",
    "byte",
    "half",
    "contiguous",
    "backward",
    "register_hook",
    "retain_grad",
    "element_size",
    "data_ptr",
    "stride",
    "storage_offset",
    "ndimension",
    "nelement",
    "get_device",
    "is_contiguous",
    "is_set_to",
    "reshape_as",
    "retains_grad",
    "requires_grad",
    "grad",
    "grad_fn",
    "is_leaf",
    "data",
    "shape",
    "dtype",
    "device",
    "ndim",
    "T",
    "mT",
    "is_cuda",
    "is_cpu",
    "itemsize",
    "nbytes",
    "layout",
    "is_signed",
    "apply_",
    "map_",
    "new_tensor",
    "new_zeros",
    "new_ones",
    "new_full",
    "new_empty",
    "uniform_",
    "normal_",
    "random_",
    "bernoulli_",
    "exponential_",
    "copy_",
    "fill_",
    "zero_",
    "requires_grad_",
    "detach_",
}


def _write_out(name, result, out):
    """torch's `out=`: the result lands in `out` (resized when its shape differs), returned as is."""
    if isinstance(result, tuple):
        for r, o in zip(result, out):
            _write_out(name, r, o)
        return out
    if _C.is_grad_enabled() and result.requires_grad:
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    if not _C.can_cast(result.dtype, out.dtype):
        raise RuntimeError(
            f"result type {_TYPE_NAMES[str(result.dtype)]} can't be cast to the desired "
            f"output type {_TYPE_NAMES[str(out.dtype)]}"
        )
    if tuple(out.shape) != tuple(result.shape):
        out.data = result.to(out.dtype)
    else:
        out.copy_(result)
    return out


_TYPE_NAMES = {
    "torch.float32": "Float",
    "torch.float64": "Double",
    "torch.int64": "Long",
    "torch.int32": "Int",
    "torch.uint8": "Byte",
    "torch.bool": "Bool",
}


def _forward(name: str):
    method = getattr(_C.Tensor, name)

    def fn(input, *args, out=None, **kwargs):
        if out is None:
            return method(input, *args, **kwargs)
        return _write_out(name, method(input, *args, **kwargs), out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}(input, ...) is input.{name}(...)."
    return fn


def install(namespace: dict) -> None:
    """Adds a forwarding function for each eligible Tensor method not already in ``namespace``."""
    for name in dir(_C.Tensor):
        if name.startswith("_") or name in _NOT_FUNCTIONS or name in namespace:
            continue
        if not callable(getattr(_C.Tensor, name, None)):
            continue
        namespace[name] = _forward(name)
