"""Tensor printing with PyTorch's exact text (the rules of ``torch/_tensor_str.py``).

Users compare our ``repr`` with PyTorch's output in notebooks, tutorials and doctests, so every
character matters: precision, the ``int_mode``/``sci_mode`` choice, column widths, line wrapping,
summarisation with ``...`` and the order and wrapping of the ``dtype=``/``size=``/``grad_fn=``
suffixes.  ``dtype=torch.float64`` is printed with torch's spelling on purpose.

The work is done on a NumPy array obtained from ``tensor.detach().numpy()`` rather than through
tensor ops: one conversion into NumPy, vectorised statistics for the formatter, and one Python-level
``format`` per printed element.  Large tensors are summarised by slicing the NumPy view before
anything is formatted, so printing a huge tensor costs as much as printing its edges.

This module must not import ``ferrotorch`` at import time: ``ferrotorch/__init__.py`` re-exports
``set_printoptions``/``get_printoptions`` from here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from typing import Any

from ._lazy import np

# `printoptions` stays out of __all__: torch has it only as torch._tensor_str.printoptions.
__all__ = ["get_printoptions", "set_printoptions"]


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(
    precision=None,
    threshold=None,
    edgeitems=None,
    linewidth=None,
    profile=None,
    sci_mode=None,
):
    r"""Set options for printing, like :func:`torch.set_printoptions`.

    Args:
        precision: digits after the decimal point for floating point output (default 4).
        threshold: number of elements above which the output is summarised (default 1000).
        edgeitems: items kept at the start and end of each dimension when summarising (default 3).
        linewidth: characters per line before wrapping (default 80).
        profile: ``"default"``, ``"short"`` or ``"full"``; the explicit options above override it.
        sci_mode: ``True``/``False`` forces scientific notation on or off; ``None`` lets the
            formatter choose.  Like torch, every call sets it (so omitting it resets it to ``None``).
    """
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision = 4
            PRINT_OPTS.threshold = 1000
            PRINT_OPTS.edgeitems = 3
            PRINT_OPTS.linewidth = 80
        elif profile == "short":
            PRINT_OPTS.precision = 2
            PRINT_OPTS.threshold = 1000
            PRINT_OPTS.edgeitems = 2
            PRINT_OPTS.linewidth = 80
        elif profile == "full":
            PRINT_OPTS.precision = 4
            PRINT_OPTS.threshold = math.inf
            PRINT_OPTS.edgeitems = 3
            PRINT_OPTS.linewidth = 80
        # torch silently ignores an unknown profile name; so do we, to behave identically.

    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    r"""The current print options as a dict that can be passed back to :func:`set_printoptions`."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    r"""Temporarily change the print options; accepts the arguments of :func:`set_printoptions`."""
    old_kwargs = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old_kwargs)


def _default_dtype_str() -> str:
    # Looked up at print time (not import time) because ferrotorch imports this module while it is
    # itself being imported, and because the default dtype can change between two prints.
    ft = sys.modules.get("ferrotorch")
    getter = getattr(ft, "get_default_dtype", None)
    if getter is None:
        return "torch.float32"
    return str(getter())


def _format_elements(data: np.ndarray, precision: int, sci_mode_opt: bool | None) -> tuple[list[str], int]:
    """Every element of ``data`` (C order) formatted and right-aligned, plus the column width.

    torch's ``_Formatter`` is built from the elements that will actually be printed (the summarised
    data when the tensor is summarised), and so is this.  Each element is formatted once; the width
    is then the widest nonzero finite element, as in torch.
    """
    if data.dtype.kind != "f":
        # Integers and bools print as Python prints them; every element counts for the width.
        strs = [str(v) for v in data.reshape(-1).tolist()]
        width = max(1, max(len(s) for s in strs))
        return [s.rjust(width) for s in strs], width

    # Float64 holds every float16/float32 value exactly, so the statistics (and the Python floats
    # that get formatted) are the same numbers torch computes after its `tensor_totype`.
    flat = data.reshape(-1).astype(np.float64, copy=False)
    values = flat.tolist()
    finite = np.isfinite(flat)
    mask = finite & (flat != 0)
    nonzero = flat[mask]
    if nonzero.size == 0:
        # Only zeros, nan and inf: torch keeps int_mode, width 1, and ignores a forced sci_mode.
        return [format(v, ".0f") + ("." if v - v == 0 else "") for v in values], 1

    absvals = np.abs(nonzero)
    vmin = float(absvals.min())
    vmax = float(absvals.max())
    int_mode = not bool(np.any(nonzero != np.ceil(nonzero)))
    if sci_mode_opt is None:
        sci_mode = vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4
    else:
        sci_mode = bool(sci_mode_opt)

    if sci_mode:
        spec = f".{precision}e"
        raw = [format(v, spec) for v in values]
    elif int_mode:
        # Whole numbers get a trailing "." to show the tensor is floating; nan and inf do not.
        finite_list = finite.tolist()
        raw = [format(v, ".0f") + "." if f else format(v, ".0f") for v, f in zip(values, finite_list)]
    else:
        spec = f".{precision}f"
        raw = [format(v, spec) for v in values]

    if mask.all():
        width = max(len(s) for s in raw)
    else:
        width = max(len(raw[i]) for i in np.flatnonzero(mask).tolist())
    width = max(1, width)
    return [s.rjust(width) for s in raw], width


def _summarized_data(arr: np.ndarray, edgeitems: int) -> np.ndarray:
    """The elements that a summarised print shows: ``edgeitems`` at each end of every long dim."""
    data = arr
    for axis, n in enumerate(arr.shape):
        if n > 2 * edgeitems:
            idx = np.concatenate((np.arange(edgeitems), np.arange(n - edgeitems, n)))
            data = np.take(data, idx, axis=axis)
    return data


def _tensor_str(arr: np.ndarray, indent: int) -> str:
    """The bracketed body of the print (``[...]`` or a scalar), for a non-empty array."""
    opts = PRINT_OPTS
    edgeitems = opts.edgeitems
    summarize = arr.size > opts.threshold
    ndim = arr.ndim

    if ndim == 0:
        return _format_elements(arr, opts.precision, opts.sci_mode)[0][0]

    if summarize and not edgeitems:
        # torch prints a bare ellipsis (the size suffix then tells the shape).
        return "[...]"

    data = _summarized_data(arr, edgeitems) if summarize else arr
    strs, width = _format_elements(data, opts.precision, opts.sci_mode)

    # Which dims get an ellipsis: the summarised data keeps 2*edgeitems entries there, and "..."
    # goes between the two halves.
    ellipsis = [summarize and n > 2 * edgeitems for n in arr.shape]
    shape = data.shape
    # Elements per line depends only on the innermost indent, which is the same for every row.
    element_length = width + 2
    elements_per_line = max(1, math.floor((opts.linewidth - (indent + ndim - 1)) / element_length))

    strides = [1] * ndim
    for d in range(ndim - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]

    def build(d: int, start: int, ind: int) -> str:
        n = shape[d]
        if d == ndim - 1:
            items = strs[start : start + n]
            if ellipsis[d]:
                items = items[:edgeitems] + [" ..."] + items[edgeitems:]
            if len(items) <= elements_per_line:
                return "[" + ", ".join(items) + "]"
            lines = [
                ", ".join(items[i : i + elements_per_line]) for i in range(0, len(items), elements_per_line)
            ]
            return "[" + (",\n" + " " * (ind + 1)).join(lines) + "]"
        step = strides[d]
        slices = [build(d + 1, start + i * step, ind + 1) for i in range(n)]
        if ellipsis[d]:
            slices = slices[:edgeitems] + ["..."] + slices[edgeitems:]
        return "[" + ("," + "\n" * (ndim - d - 1) + " " * (ind + 1)).join(slices) + "]"

    return build(0, 0, indent)


def _add_suffixes(tensor_str: str, suffixes: list[str], indent: int, linewidth: int) -> str:
    parts = [tensor_str]
    # torch's arithmetic (including its off-by-two when there is no newline) decides the wrapping,
    # so it is kept as is.
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _to_numpy(t) -> np.ndarray:
    try:
        return np.asarray(t.detach().numpy())
    except (TypeError, RuntimeError, AttributeError, ValueError):
        # A repr must never raise: a dtype NumPy cannot hold still prints through Python numbers.
        return np.asarray(t.detach().tolist())


def _shape_str(t) -> str:
    return str(tuple(int(s) for s in t.shape))


def _grad_fn_name(t) -> str | None:
    try:
        grad_fn = t.grad_fn
    except RuntimeError:
        # torch prints this when reading grad_fn fails (a no-grad view modified in place).
        return "Invalid"
    if grad_fn is None:
        return None
    name_fn = getattr(grad_fn, "name", None)
    name = name_fn() if callable(name_fn) else type(grad_fn).__name__
    # torch strips a C++ namespace ("torch::autograd::AccumulateGrad" -> "AccumulateGrad").
    return name.rsplit("::", 1)[-1]


def _str(self) -> str:
    """``repr(tensor)`` / ``str(tensor)``, character for character as PyTorch prints it."""
    opts = PRINT_OPTS
    # torch prints "tensor(" for Tensor and Parameter, and the class name for other subclasses.
    cls_name = type(self).__name__
    prefix = "tensor(" if cls_name in ("Tensor", "Parameter") else cls_name + "("
    indent = len(prefix)
    suffixes = []

    dtype_str = str(self.dtype)
    default_dtype = _default_dtype_str()
    default_complex = "torch.complex128" if default_dtype == "torch.float64" else "torch.complex64"
    has_default_dtype = dtype_str in (default_dtype, default_complex, "torch.int64", "torch.bool")

    if self.numel() == 0:
        # Like NumPy, the shape is spelled out unless it is (0,).
        if self.dim() != 1:
            suffixes.append("size=" + _shape_str(self))
        # With no elements there is nothing to infer int64 from, so every non-default dtype shows.
        if dtype_str != default_dtype:
            suffixes.append("dtype=" + dtype_str)
        tensor_str = "[]"
    else:
        if not opts.edgeitems:
            suffixes.append("size=" + _shape_str(self))
        if not has_default_dtype:
            suffixes.append("dtype=" + dtype_str)
        tensor_str = _tensor_str(_to_numpy(self), indent)

    grad_fn_name = _grad_fn_name(self)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif self.requires_grad:
        suffixes.append("requires_grad=True")

    return _add_suffixes(prefix + tensor_str, suffixes, indent, opts.linewidth)
