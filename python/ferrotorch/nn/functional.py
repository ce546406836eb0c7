"""``torch.nn.functional``: activations, linear layers, dropout, embedding, normalization, losses.

Hot paths are single Rust calls (softmax/log_softmax, pointwise activations with fused backward,
fused log-softmax + NLL); the rest composes differentiable Tensor ops.
"""

from __future__ import annotations

import math
import warnings

from .. import _C
from .._broadcast import broadcast_tensors

Tensor = _C.Tensor


# --------------------------------------------------------------------------------------------
# helpers


def _reduction_code(reduction: str) -> int:
    if reduction == "none":
        return 0
    if reduction == "mean":
        return 1
    if reduction == "sum":
        return 2
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    """torch's handling of the deprecated ``size_average``/``reduce`` arguments."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{_legacy_string(size_average, reduce)}' instead.",
        stacklevel=3,
    )
    return _legacy_string(size_average, reduce)


def _legacy_string(size_average, reduce):
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        return "mean"
    if reduce:
        return "sum"
    return "none"


def _reduce(loss, reduction: str):
    code = _reduction_code(reduction)
    if code == 1:
        return loss.mean()
    if code == 2:
        return loss.sum()
    return loss


def _write_back(input, fn):
    """In-place form of ``fn``: computed on a clone when tracked, then copied into ``input``."""
    src = input.clone() if input.requires_grad else input
    return input.copy_(fn(src))


def _where(c, a, b):
    return _C.where(c, a, b)


# --------------------------------------------------------------------------------------------
# activations


def relu(input, inplace: bool = False):
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def relu6(input, inplace: bool = False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    if inplace:
        return _write_back(input, lambda x: _C._nn_leaky_relu(x, float(negative_slope)))
    return _C._nn_leaky_relu(input, float(negative_slope))


def leaky_relu_(input, negative_slope: float = 0.01):
    return leaky_relu(input, negative_slope, True)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    if inplace:
        return _write_back(input, lambda x: _C._nn_elu(x, float(alpha)))
    return _C._nn_elu(input, float(alpha))


def elu_(input, alpha: float = 1.0):
    return elu(input, alpha, True)


def gelu(input, approximate: str = "none"):
    return _C._nn_gelu(input, approximate)


def silu(input, inplace: bool = False):
    if inplace:
        return _write_back(input, _C._nn_silu)
    return _C._nn_silu(input)


def mish(input, inplace: bool = False):
    if inplace:
        return _write_back(input, _C._nn_mish)
    return _C._nn_mish(input)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    if inplace:
        return _write_back(input, lambda x: _C._nn_hardtanh(x, float(min_val), float(max_val)))
    return _C._nn_hardtanh(input, float(min_val), float(max_val))


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    return hardtanh(input, min_val, max_val, True)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    return _C._nn_softplus(input, float(beta), float(threshold))


def logsigmoid(input):
    return -softplus(-input)


def selu(input, inplace: bool = False):
    if inplace:
        return _write_back(input, _C._nn_selu)
    return _C._nn_selu(input)


def selu_(input):
    return selu(input, True)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    if inplace:
        return _write_back(input, lambda x: _C._nn_celu(x, float(alpha)))
    return _C._nn_celu(input, float(alpha))


def celu_(input, alpha: float = 1.0):
    return celu(input, alpha, True)


def prelu(input, weight):
    return _C._nn_prelu(input, weight)


def glu(input, dim: int = -1):
    return _C._nn_glu(input, dim)


def hardswish(input, inplace: bool = False):
    if inplace:
        return _write_back(input, _C._nn_hardswish)
    return _C._nn_hardswish(input)


def hardsigmoid(input, inplace: bool = False):
    if inplace:
        return _write_back(input, _C._nn_hardsigmoid)
    return _C._nn_hardsigmoid(input)


def softsign(input):
    # torch composes it the same way (grad_fn DivBackward0)
    return input / (input.abs() + 1)


def softshrink(input, lambd: float = 0.5):
    return _C._nn_softshrink(input, float(lambd))


def hardshrink(input, lambd: float = 0.5):
    return _C._nn_hardshrink(input, float(lambd))


def tanhshrink(input):
    # torch composes it the same way (grad_fn SubBackward0)
    return input - input.tanh()


def _threshold(input, th, value, inplace):
    if inplace:
        return _write_back(input, lambda x: _C._nn_threshold(x, float(th), float(value)))
    return _C._nn_threshold(input, float(th), float(value))


def threshold(input, threshold: float, value: float, inplace: bool = False):
    return _threshold(input, threshold, value, inplace)


def threshold_(input, threshold: float, value: float):
    return _threshold(input, threshold, value, True)


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return input.softmax(dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel: int = 3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    return (-input).softmax(dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return input.log_softmax(dim, dtype=dtype)


# --------------------------------------------------------------------------------------------
# linear layers


def _mm_error(input, weight, bias=None):
    rows = 1
    for s in input.shape[:-1]:
        rows *= s
    k = input.shape[-1] if input.dim() else 1
    prefix = "addmm: " if bias is not None else "mm: "
    return f"{prefix}mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and {weight.shape[1]}x{weight.shape[0]})"


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` as one matmul (weight.t() is a strided view, never copied)."""
    if weight.dim() == 2 and input.dim() >= 1 and input.shape[-1] != weight.shape[1]:
        raise RuntimeError(_mm_error(input, weight, bias))
    if bias is not None and input.dim() == 2 and weight.dim() == 2:
        return bias.addmm(input, weight.t())
    out = input.matmul(weight.t())
    if bias is not None:
        out = out + bias
    return out


def bilinear(input1, input2, weight, bias=None):
    """``y_k = x1ᵀ W_k x2 + b_k`` via one matmul and a reduction."""
    out_f, in1, in2 = weight.shape
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
            f"{list(input2.shape[:-1])}"
        )
    if input1.shape[-1] != in1:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but expected {in1}"
        )
    if input2.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but expected {in2}"
        )
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    tmp = x1.matmul(w).reshape(-1, out_f, in2)
    out = (tmp * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_f,))


# --------------------------------------------------------------------------------------------
# dropout


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_impl(input, p, training, inplace, noise_shape):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * _C.zeros((), dtype=input.dtype)
    # torch's CPU path: noise = empty.bernoulli_(1 - p) / (1 - p); input * noise
    noise = _C.empty(noise_shape, dtype=input.dtype)
    noise.bernoulli_(1.0 - p)
    noise.div_(1.0 - p)
    if inplace:
        return input.mul_(noise)
    return input * noise


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    return _dropout_impl(input, p, training, inplace, tuple(input.shape))


def _feature_dropout(input, p, training, inplace, name, batched_dims):
    _check_p(p)
    nd = input.dim()
    if nd < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape[:2]) + (1,) * (nd - 2)
    if nd == batched_dims - 1:
        # unbatched input: channels are dim 0
        shape = (input.shape[0],) + (1,) * (nd - 1)
    return _dropout_impl(input, p, training, inplace, shape)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    return _feature_dropout(input, p, training, inplace, "dropout1d", 3)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    nd = input.dim()
    if nd not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in an error "
            "in a future release. To retain the behavior and silence this warning, please use dropout instead. "
            "Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if nd == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d "
            "instead.",
            stacklevel=2,
        )
    _check_p(p)
    shape = tuple(input.shape[:2]) + (1,) * max(nd - 2, 0)
    return _dropout_impl(input, p, training, inplace, shape)


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    return _feature_dropout(input, p, training, inplace, "dropout3d", 5)


# --------------------------------------------------------------------------------------------
# sparse


def embedding(
    input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False
):
    if input.dtype not in (_C.int64, _C.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
            f"but got torch.{_type_name(input)} instead (while checking arguments for embedding)"
        )
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    _C._check_range(input, 0, num - 1, "index out of range in self", True)
    if max_norm is not None:
        with _no_grad():
            idx = input.reshape(-1).unique()
            rows = weight.index_select(0, idx)
            norms = rows.norm(norm_type, 1, keepdim=True)
            scale = _where(norms > max_norm, max_norm / (norms + 1e-7), _C.ones((), dtype=weight.dtype))
            weight[idx] = rows * scale
    flat = input.reshape(-1).long()
    out = weight.index_select(0, flat)
    if padding_idx is not None and weight.requires_grad:
        # the padding row gets no gradient: take its value through a detached branch
        mask = (flat == padding_idx).unsqueeze(1)
        out = _where(mask, out.detach(), out)
    return out.reshape(tuple(input.shape) + (weight.shape[1],))


def _scalar_name(t):
    return {
        "float32": "Float",
        "float64": "Double",
        "int64": "Long",
        "int32": "Int",
        "uint8": "Byte",
        "bool": "Bool",
    }.get(str(t.dtype).replace("torch.", ""), str(t.dtype))


def _check_weight_dtype(input, weight):
    if weight is not None and weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(input)} but found {_scalar_name(weight)}")


def _type_name(t):
    return {
        "float32": "FloatTensor",
        "float64": "DoubleTensor",
        "int64": "LongTensor",
        "int32": "IntTensor",
        "uint8": "ByteTensor",
        "bool": "BoolTensor",
    }.get(str(t.dtype).replace("torch.", ""), "Tensor")


def _no_grad():
    from ..autograd.grad_mode import no_grad

    return no_grad()


def one_hot(tensor, num_classes: int = -1):
    if tensor.dtype != _C.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return _C.zeros(tuple(tensor.shape) + (num_classes,), dtype=_C.int64)
    lo, hi = int(tensor.min()), int(tensor.max())
    if lo < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = hi + 1
    elif hi >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == _C.arange(num_classes)).long()


# --------------------------------------------------------------------------------------------
# padding and resampling


def _pad_indices(n, before, after, mode):
    import numpy as np

    idx = np.arange(-before, n + after)
    if mode == "reflect":
        if before >= n or after >= n:
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, but got: "
                f"padding ({before}, {after}) at dimension of input {n}"
            )
        period = 2 * (n - 1) if n > 1 else 1
        m = np.abs(idx) % period
        idx = np.where(m >= n, period - m, m)
    elif mode == "replicate":
        idx = np.clip(idx, 0, n - 1)
    elif mode == "circular":
        idx = idx % n
    return _C.tensor(idx.astype(np.int64))


def pad(input, pad, mode: str = "constant", value=None):
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise RuntimeError(
            f"Padding length should be less than or equal to two times the input dimension but got padding "
            f"length {len(pad)} and input of dimension {input.dim()}"
        )
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    out = input
    for i in range(len(pad) // 2):
        d = input.dim() - 1 - i
        before, after = int(pad[2 * i]), int(pad[2 * i + 1])
        if before == 0 and after == 0:
            continue
        n = out.shape[d]
        if mode == "constant":
            v = 0.0 if value is None else value
            if before < 0:
                out = out.narrow(d, -before, n + before)
                before = 0
            if after < 0:
                out = out.narrow(d, 0, out.shape[d] + after)
                after = 0
            parts = []
            for k in (before, after):
                shp = list(out.shape)
                shp[d] = k
                parts.append(_C.full(tuple(shp), v, dtype=out.dtype))
            out = _C.cat([parts[0], out, parts[1]], d)
        else:
            if value is not None and value != 0:
                raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument.')
            out = out.index_select(d, _pad_indices(n, before, after, mode))
    return out


def _interp_size(input, size, scale_factor, nsp):
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    in_sp = list(input.shape[2:])
    if size is not None:
        out = list(size) if isinstance(size, (list, tuple)) else [size] * nsp
        if len(out) != nsp:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {in_sp} and output size of {out}. Please provide input tensor in (N, C, d1, d2, "
                "...,dK) format and output size in (o1, o2, ...,oK) format."
            )
        return [int(o) for o in out], None
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    sf = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * nsp
    return [math.floor(float(i) * float(s)) for i, s in zip(in_sp, sf)], [float(s) for s in sf]


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
):
    import numpy as np

    nsp = input.dim() - 2
    if nsp < 1:
        raise ValueError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D)")
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear"
        )
    out_sz, sf = _interp_size(input, size, scale_factor, nsp)
    if recompute_scale_factor:
        sf = None
    linear_modes = {"linear": 1, "bilinear": 2, "trilinear": 3}
    if mode in linear_modes and linear_modes[mode] != nsp:
        raise NotImplementedError(
            f"Got {input.dim()}D input, but {mode} mode needs {linear_modes[mode] + 2}D input"
        )
    out = input
    for k in range(nsp):
        d = 2 + k
        n_in, n_out = input.shape[d], out_sz[k]
        if mode in ("nearest", "nearest-exact"):
            scale = np.float32(1.0 / sf[k]) if sf is not None else np.float32(n_in / n_out)
            dst = np.arange(n_out, dtype=np.float32)
            if mode == "nearest":
                src = np.floor(dst * scale)
            else:
                src = np.floor((dst + np.float32(0.5)) * scale)
            idx = np.minimum(src.astype(np.int64), n_in - 1)
            out = out.index_select(d, _C.tensor(idx))
        elif mode in linear_modes:
            dst = np.arange(n_out, dtype=np.float64)
            if align_corners:
                scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
                src = dst * scale
            else:
                scale = 1.0 / sf[k] if sf is not None else n_in / n_out
                src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
            i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
            i1 = np.minimum(i0 + 1, n_in - 1)
            lam = (src - i0).astype(np.float64)
            shape = [1] * out.dim()
            shape[d] = n_out
            lt = _C.tensor(lam, dtype=input.dtype).reshape(tuple(shape))
            a = out.index_select(d, _C.tensor(i0))
            b = out.index_select(d, _C.tensor(i1))
            out = a + (b - a) * lt
        else:
            raise NotImplementedError(f"interpolate mode '{mode}' is not supported by ferrotorch")
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def _pair(v, name):
    if isinstance(v, (list, tuple)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a tuple of two ints")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _patch_index(hw, kernel_size, dilation, padding, stride):
    """Flat indices into the padded (Hp*Wp) plane of every kernel offset at every block position."""
    import numpy as np

    (h, w), (kh, kw) = hw, kernel_size
    (dh, dw), (ph, pw), (sh, sw) = dilation, padding, stride
    hp, wp = h + 2 * ph, w + 2 * pw
    oh = (hp - dh * (kh - 1) - 1) // sh + 1
    ow = (wp - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"Given input with spatial size ({h}, {w}), kernel_size=({kh}, {kw}), dilation=({dh}, {dw}), "
            f"padding=({ph}, {pw}), calculated shape of the array of sliding blocks as ({oh}, {ow}), "
            "but its components must be at least one."
        )
    ki, kj = np.meshgrid(np.arange(kh) * dh, np.arange(kw) * dw, indexing="ij")
    oi, oj = np.meshgrid(np.arange(oh) * sh, np.arange(ow) * sw, indexing="ij")
    rows = ki.reshape(-1, 1) + oi.reshape(1, -1)
    cols = kj.reshape(-1, 1) + oj.reshape(1, -1)
    return _C.tensor((rows * wp + cols).reshape(-1).astype(np.int64)), (hp, wp), (oh, ow)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L) as one index_select over the padded plane."""
    if input.dim() not in (3, 4):
        raise NotImplementedError(
            f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)"
        )
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    k, d, p, st = (
        _pair(kernel_size, "kernel_size"),
        _pair(dilation, "dilation"),
        _pair(padding, "padding"),
        _pair(stride, "stride"),
    )
    n, c, h, w = x.shape
    idx, (hp, wp), (oh, ow) = _patch_index((h, w), k, d, p, st)
    blocks = oh * ow
    if p != (0, 0):
        x = pad(x, (p[1], p[1], p[0], p[0]))
    cols = x.reshape(n, c, hp * wp).index_select(2, idx).reshape(n, c * k[0] * k[1], blocks)
    return cols if batched else cols.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of ``unfold``: overlapping patch values are summed (one index_add)."""
    if input.dim() not in (2, 3):
        raise NotImplementedError(
            f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported (got {input.dim()}D)"
        )
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    k, d, p, st = (
        _pair(kernel_size, "kernel_size"),
        _pair(dilation, "dilation"),
        _pair(padding, "padding"),
        _pair(stride, "stride"),
    )
    h, w = _pair(output_size, "output_size")
    idx, (hp, wp), (oh, ow) = _patch_index((h, w), k, d, p, st)
    blocks = oh * ow
    n, ck, length = x.shape
    kk = k[0] * k[1]
    if ck % kk != 0:
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            f"input.size(1)={ck} and kernel_size=({k[0]}, {k[1]})"
        )
    if length != blocks:
        raise RuntimeError(
            f"Given output_size=({h}, {w}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, {d[1]}), "
            f"padding=({p[0]}, {p[1]}), stride=({st[0]}, {st[1]}), expected size of input's dimension 2 to match "
            f"the calculated number of sliding blocks {oh} * {ow} = {blocks}, but got input.size(2)={length}."
        )
    c = ck // kk
    out = _C.zeros((n, c, hp * wp), dtype=x.dtype).index_add(2, idx, x.reshape(n, c, kk * length))
    out = out.reshape(n, c, hp, wp)
    if p != (0, 0):
        out = out[:, :, p[0] : p[0] + h, p[1] : p[1] + w]
    return out if batched else out.squeeze(0)


# --------------------------------------------------------------------------------------------
# distances and normalization


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    r = input / denom
    if out is not None:
        return out.copy_(r)
    return r


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    n1 = x1.norm(2, dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or tuple(input.shape[input.dim() - k :]) != ns or input.dim() < k:
        raise RuntimeError(
            f"Given normalized_shape={list(ns)}, expected input with shape [*, {', '.join(map(str, ns))}], "
            f"but got input of size{list(input.shape)}"
        )
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(
                f"Expected {what} to be of same shape as normalized_shape, but got {what} of shape "
                f"{list(t.shape)} and normalized_shape = {list(ns)}"
            )
    size = 1
    for v in ns:
        size *= v
    if size == 0:
        dims = tuple(range(input.dim() - k, input.dim()))
        var, mean = input.var_mean(dims, keepdim=True, correction=0)
        out = (input - mean) * (var + eps).rsqrt()
        return out if weight is None else out * weight + (0 if bias is None else bias)
    # one fused Rust pass each way (normalisation and affine together)
    return _C._nn_layer_norm(input, size, weight, bias, float(eps))


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{list(input.shape)} and num_groups={num_groups}"
        )
    x = input.reshape(n, num_groups, -1)
    var, mean = x.var_mean(2, keepdim=True, correction=0)
    out = ((x - mean) * (var + eps).rsqrt()).reshape(tuple(input.shape))
    shp = (1, c) + (1,) * (input.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(shp)
    if bias is not None:
        out = out + bias.reshape(shp)
    return out


# --------------------------------------------------------------------------------------------
# losses


def _nll_checks(input, target):
    if input.dim() < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.dim()})")
    if input.dim() != 1 and target.dim() >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({target.shape[0]})."
        )
    if input.dim() <= 2:
        if target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if input.dim() == 2 and target.dim() == 0:
            raise RuntimeError(
                f"size mismatch (got input: {list(input.shape)}, target: {list(target.shape)})"
            )
    else:
        expected = [input.shape[0]] + list(input.shape[2:])
        if list(target.shape) != expected:
            raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")


def nll_loss(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    code = _reduction_code(reduction)
    _nll_checks(input, target)
    _check_weight_dtype(input, weight)
    return _C._nn_nll(input, target, weight, int(ignore_index), 0.0, code, False)


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    code = _reduction_code(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if tuple(target.shape) == tuple(input.shape):
        # class-probability targets
        if not target.is_floating_point():
            raise RuntimeError(
                f"Expected floating point type for target with class probabilities, got {_scalar_name(target)}"
            )
        cdim = 0 if input.dim() == 1 else 1
        c = input.shape[cdim]
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / c
        prod = input.log_softmax(cdim) * target
        if weight is not None:
            shp = [1] * input.dim()
            shp[cdim] = c
            prod = prod * weight.reshape(tuple(shp))
        loss = -prod.sum(cdim)
        if code == 1:
            return loss.sum() / (input.numel() / c) if input.numel() else loss.sum() / 0.0
        if code == 2:
            return loss.sum()
        return loss
    _nll_checks(input, target)
    _check_weight_dtype(input, weight)
    return _C._nn_nll(input, target, weight, int(ignore_index), float(label_smoothing), code, True)


def _check_same_size(input, target, name):
    if target.shape != input.shape:  # torch.Size is a tuple: compared without copies
        warnings.warn(
            f"Using a target size ({_size_str(target)}) that is different to the input size ({_size_str(input)}). "
            "This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def _size_str(t):
    return f"torch.Size({list(t.shape)})"


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    _check_same_size(input, target, "mse_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    code = _reduction_code(reduction)
    if not input.is_floating_point():
        raise NotImplementedError(f"\"mse_cpu\" not implemented for '{_scalar_name(input)}'")
    if tuple(target.shape) != tuple(input.shape):  # same shapes (the usual case) skip the Python broadcast
        input, target = broadcast_tensors(input, target)
    if weight is not None:
        # torch's weighted form: composed ops, and a mean that divides by the weights' sum
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        loss = (input - target).pow(2) * weight
        if code == 0:
            return loss
        return loss.sum() if code == 2 else loss.sum() / weight.sum()
    # one op, torch's MseLossBackward0: d/dx = norm·(x − t)·g with norm 2/N (mean) or 2
    return _C._nn_mse_loss(input, target, code)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    _check_same_size(input, target, "l1_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    code = _reduction_code(reduction)
    loss = (input - target).abs()
    if weight is not None:
        # torch's weighted form: a mean divides by the weights' sum
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        loss = loss * weight
        if code == 1:
            return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    _check_same_size(input, target, "smooth_l1_loss")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _reduction_code(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = (input - target).abs()
    if beta == 0.0:
        return _reduce(d, reduction)
    loss = _where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    _check_same_size(input, target, "huber_loss")
    _reduction_code(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = (input - target).abs()
    loss = _where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:  # torch's weighted form keeps the plain mean
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _reduction_code(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({_size_str(target)}) that is different to the input size ({_size_str(input)}) "
            "is deprecated. Please ensure they have the same size."
        )
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_scalar_name(target)} but expected {_scalar_name(input)}")
    _C._check_range(input, 0.0, 1.0, "all elements of input should be between 0 and 1")
    # torch clamps each log at -100 so a saturated probability gives a finite loss
    loss = -(target * input.log().clamp_min(-100.0) + (1 - target) * (1 - input).log().clamp_min(-100.0))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _reduction_code(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({_size_str(target)}) must be the same as input size ({_size_str(input)})"
        )
    if _C.is_grad_enabled():
        for name, t in (("weight", weight), ("pos_weight", pos_weight)):
            if t is not None and t.requires_grad:
                raise RuntimeError(
                    f"The function 'binary_cross_entropy_with_logits' is not differentiable with respect to "
                    f"argument '{name}'. This input cannot have requires_grad True."
                )
    # one op, torch's BinaryCrossEntropyWithLogitsBackward0: (1 - t) x + lw · softplus(-x) (stable), · weight
    return _C._nn_bce_with_logits(input, target, weight, pos_weight, _reduction_code(reduction))


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        pos = target > 0
        safe = _where(pos, target, _C.ones((), dtype=target.dtype))
        loss = _where(pos, target * safe.log(), _C.zeros((), dtype=target.dtype)) - target * input
    if reduction == "batchmean":
        if input.dim() == 0:
            return loss.sum()
        return loss.sum() / input.shape[0]
    return _reduce(loss, reduction)


def cosine_embedding_loss(
    input1, input2, target, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _reduction_code(reduction)
    eps = 1e-12
    dim = input1.dim() - 1
    prod = (input1 * input2).sum(dim)
    m1 = (input1 * input1).sum(dim) + eps
    m2 = (input2 * input2).sum(dim) + eps
    cos = prod / (m1 * m2).sqrt()
    zero = _C.zeros((), dtype=cos.dtype)
    pos = _where(target == 1, 1 - cos, zero)
    neg = _where(target == -1, (cos - margin).clamp_min(0.0), zero)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(
    input1, input2, target, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _reduction_code(reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {_size_str(input1)}, input2: {_size_str(input2)}, target: {_size_str(target)} "
        )
    loss = (-target * (input1 - input2) + margin).clamp_min(0.0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(
    input, target, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean"
):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    zero = _C.zeros((), dtype=input.dtype)
    a = _where(target == 1, input, zero)
    b = _where(target == -1, (margin - input).clamp_min(0.0), zero)
    return _reduce(a + b, reduction)


try:  # convolution, pooling and batch-norm live in their own file (another helper's)
    from .functional_conv import *
except ImportError:  # pragma: no cover
    pass
