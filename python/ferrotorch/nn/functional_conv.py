"""Convolution, pooling and batch-norm functions of ``torch.nn.functional``.

Argument normalisation (ints vs tuples, ``'same'`` padding, unbatched inputs, 1-D variants) lives
here; the kernels, shape checks and autograd are single calls into Rust (``_C._conv2d`` …).
"""

from __future__ import annotations

from .. import _C

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "max_pool1d",
    "max_pool2d",
]


def _tuple(v, n, name="argument"):
    if isinstance(v, (list, tuple)):
        v = tuple(int(e) for e in v)
        if len(v) == 1:
            return v * n
        if len(v) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values")
        return v
    return (int(v),) * n


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def _same_padding(weight, dilation, spatial):
    """Per spatial dim (left, right) padding so that stride-1 output size equals input size."""
    ks = weight.shape[2:]
    pads = []
    for i in range(spatial):
        total = dilation[i] * (ks[i] - 1)
        left = total // 2
        pads.append((left, total - left))
    return pads


def _conv_nd(input, weight, bias, stride, padding, dilation, groups, spatial):
    """conv1d/conv2d on a batched input with 2-D ``stride``/``dilation`` and resolved padding."""
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * spatial
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = _same_padding(weight, dilation, spatial)
            sym = tuple(r for _, r in pads)
            out = _conv_core(input, weight, bias, stride, sym, dilation, groups, spatial)
            # Symmetric padding by the larger (right) amount shifts windows one step left where the
            # split is uneven; dropping that leading output gives torch's extra-right-pad result.
            for i, (l, r) in enumerate(pads):
                if l != r:
                    out = out.narrow(2 + i, r - l, out.shape[2 + i] - (r - l))
            return out
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    return _conv_core(
        input, weight, bias, stride, _tuple(padding, spatial, "padding"), dilation, groups, spatial
    )


def _conv_core(input, weight, bias, stride, padding, dilation, groups, spatial):
    if spatial == 2:
        return _C._conv2d(input, weight, bias, list(stride), list(padding), list(dilation), int(groups))
    # conv1d: a conv2d over a unit height.
    out = _C._conv2d(
        input.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        [1, stride[0]],
        [0, padding[0]],
        [1, dilation[0]],
        int(groups),
    )
    return out.squeeze(2)


def _batched(input, spatial, op):
    """(input with a batch dim, whether one was added), or torch's error for a wrong rank."""
    if input.dim() == spatial + 2:
        return input, False
    if input.dim() == spatial + 1:
        return input.unsqueeze(0), True
    raise RuntimeError(
        f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input to {op}, "
        f"but got input of size: {_shape(input)}"
    )


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over ``[N, C, H, W]`` (or unbatched ``[C, H, W]``) input."""
    x, added = _batched(input, 2, "conv2d")
    out = _conv_nd(
        x, weight, bias, _tuple(stride, 2, "stride"), padding, _tuple(dilation, 2, "dilation"), groups, 2
    )
    return out.squeeze(0) if added else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over ``[N, C, L]`` (or unbatched ``[C, L]``) input."""
    x, added = _batched(input, 1, "conv1d")
    if weight.dim() == 3 and x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_shape(weight)}, expected input{_shape(x)} to have "
            f"{weight.shape[1] * groups} channels, but got {x.shape[1]} channels instead"
        )
    stride = _tuple(stride, 1, "stride")
    dilation = _tuple(dilation, 1, "dilation")
    if weight.dim() == 3 and not isinstance(padding, str):
        p = _tuple(padding, 1, "padding")[0]
        eff = dilation[0] * (weight.shape[2] - 1) + 1
        if p >= 0 and x.shape[2] + 2 * p < eff:
            raise RuntimeError(
                f"Calculated padded input size per channel: ({x.shape[2] + 2 * p}). Kernel size: ({eff}). "
                "Kernel size can't be greater than actual input size"
            )
    out = _conv_nd(x, weight, bias, stride, padding, dilation, groups, 1)
    return out.squeeze(0) if added else out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the adjoint of ``conv2d``); weight ``[C_in, C_out/groups, kH, kW]``."""
    x, added = _batched(input, 2, "conv_transpose2d")
    out = _C._conv_transpose2d(
        x,
        weight,
        bias,
        list(_tuple(stride, 2, "stride")),
        list(_tuple(padding, 2, "padding")),
        list(_tuple(output_padding, 2, "output_padding")),
        int(groups),
        list(_tuple(dilation, 2, "dilation")),
    )
    return out.squeeze(0) if added else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution, through ``conv_transpose2d`` over a unit height."""
    x, added = _batched(input, 1, "conv_transpose1d")
    out = _C._conv_transpose2d(
        x.unsqueeze(2),
        weight.unsqueeze(2),
        bias,
        [1, _tuple(stride, 1)[0]],
        [0, _tuple(padding, 1)[0]],
        [0, _tuple(output_padding, 1)[0]],
        int(groups),
        [1, _tuple(dilation, 1)[0]],
    ).squeeze(2)
    return out.squeeze(0) if added else out


def _stride_arg(stride, n):
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        return []
    return list(_tuple(stride, n, "stride"))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling; with ``return_indices`` also the flat ``h*W + w`` argmax of each window."""
    out, idx = _C._max_pool2d(
        input,
        list(_tuple(kernel_size, 2, "kernel_size")),
        _stride_arg(stride, 2),
        list(_tuple(padding, 2, "padding")),
        list(_tuple(dilation, 2, "dilation")),
        bool(ceil_mode),
    )
    return (out, idx) if return_indices else out


def _pool1d_out(length, k, s, p, d, ceil):
    num = length + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil else 0)
    out = num // s + 1
    if ceil and (out - 1) * s >= length + p:
        out -= 1
    return out


def _check_1d(input, op):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"{op}() Expected 2D or 3D input tensor, but got {_shape(input)}")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling over ``[N, C, L]`` or ``[C, L]``."""
    _check_1d(input, "max_pool1d")
    k = _tuple(kernel_size, 1)[0]
    s = (
        k
        if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
        else _tuple(stride, 1)[0]
    )
    p = _tuple(padding, 1)[0]
    d = _tuple(dilation, 1)[0]
    if k > 0 and s > 0 and d > 0 and 2 * p <= d * (k - 1) + 1:
        n = _pool1d_out(input.shape[-1], k, s, p, d, ceil_mode)
        if n <= 0:
            raise RuntimeError(f"max_pool1d() Invalid computed output size: {n}")
    out, idx = _C._max_pool2d(input.unsqueeze(-2), [1, k], [1, s], [0, p], [1, d], bool(ceil_mode))
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """2-D average pooling (torch's ``count_include_pad`` and ``divisor_override`` rules)."""
    return _C._avg_pool2d(
        input,
        list(_tuple(kernel_size, 2, "kernel_size")),
        _stride_arg(stride, 2),
        list(_tuple(padding, 2, "padding")),
        bool(ceil_mode),
        bool(count_include_pad),
        None if divisor_override is None else int(divisor_override),
    )


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over ``[N, C, L]`` or ``[C, L]``."""
    _check_1d(input, "avg_pool1d")
    k = _tuple(kernel_size, 1)[0]
    s = (
        k
        if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
        else _tuple(stride, 1)[0]
    )
    p = _tuple(padding, 1)[0]
    out = _C._avg_pool2d(
        input.unsqueeze(-2), [1, k], [1, s], [0, p], bool(ceil_mode), bool(count_include_pad), None
    )
    return out.squeeze(-2)


def _adaptive_size(input, output_size, n):
    if isinstance(output_size, (list, tuple)):
        if len(output_size) == 1:
            output_size = tuple(output_size) * n
        if len(output_size) != n:
            raise RuntimeError(f"adaptive pool: output_size must be {n}")
        return [input.shape[input.dim() - n + i] if v is None else int(v) for i, v in enumerate(output_size)]
    return [int(output_size)] * n


def adaptive_avg_pool2d(input, output_size):
    """Adaptive 2-D average pooling to ``output_size`` (``None`` keeps that input size)."""
    return _C._adaptive_avg_pool2d(input, _adaptive_size(input, output_size, 2))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive 2-D max pooling; with ``return_indices`` also the flat argmax."""
    out, idx = _C._adaptive_max_pool2d(input, _adaptive_size(input, output_size, 2))
    return (out, idx) if return_indices else out


def adaptive_avg_pool1d(input, output_size):
    """Adaptive 1-D average pooling over ``[N, C, L]`` or ``[C, L]``."""
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"adaptive_avg_pool1d() argument 'input' must be 2D or 3D, but got {_shape(input)}"
        )
    o = _adaptive_size(input, output_size, 1)[0]
    return _C._adaptive_avg_pool2d(input.unsqueeze(-2), [1, o]).squeeze(-2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive 1-D max pooling over ``[N, C, L]`` or ``[C, L]``."""
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"adaptive_max_pool1d() argument 'input' must be 2D or 3D, but got {_shape(input)}"
        )
    o = _adaptive_size(input, output_size, 1)[0]
    out, idx = _C._adaptive_max_pool2d(input.unsqueeze(-2), [1, o])
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


def batch_norm(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    """Batch normalisation over dim 1; in training the running stats (if given) are updated in place."""
    if training:
        size = input.shape
        prod = size[0]
        for d in size[2:]:
            prod *= d
        if prod == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {size!r}")
    return _C._batch_norm(
        input,
        running_mean,
        running_var,
        weight,
        bias,
        bool(training),
        0.0 if momentum is None else float(momentum),
        float(eps),
    )
