"""Activation modules (all parameter-free but ``PReLU``), plus ``Identity``, ``Flatten`` and ``Unflatten``.

Each ``forward`` is one or two existing Tensor ops; ``inplace=True`` uses the in-place method.
``extra_repr`` strings are torch's, so printed models match.
"""

from __future__ import annotations

from .module import Module

__all__ = [
    "CELU",
    "ELU",
    "Flatten",
    "GELU",
    "GLU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "Identity",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SELU",
    "Sigmoid",
    "SiLU",
    "Softmax",
    "Softmax2d",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "Unflatten",
]


def _where(cond, a, b):
    from ... import _C

    return _C.where(cond, a, b)


def _write_back(input, fn):
    """The in-place form of ``fn``: ``input`` is overwritten with ``fn(input)``.

    ``fn`` runs on a clone when autograd is tracking ``input``, so the tensors its backward saved
    are not the ones ``copy_`` overwrites; the gradient then flows through ``copy_`` and the clone.
    """
    src = input.clone() if input.requires_grad else input
    return input.copy_(fn(src))


def _hardtanh(x, min_val, max_val):
    # fused Rust kernel: gradient 1 strictly inside (min_val, max_val), 0 at the bounds (torch's rule)
    from ... import _C

    return _C._nn_hardtanh(x, float(min_val), float(max_val))


def _elu(x, alpha):
    from ... import _C

    return _C._nn_elu(x, float(alpha))


def _silu(x):
    from ... import _C

    return _C._nn_silu(x)


class Identity(Module):
    r"""Returns its input unchanged; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    r"""Flattens dims ``start_dim..end_dim`` into one (by default all but the batch dim)."""

    __constants__ = (
        "start_dim",
        "end_dim",
    )

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    r"""Expands dim ``dim`` into the shape ``unflattened_size``."""

    __constants__ = (
        "dim",
        "unflattened_size",
    )

    def __init__(self, dim, unflattened_size) -> None:
        super().__init__()
        if isinstance(dim, int):
            self._require_tuple_int(unflattened_size)
        elif isinstance(dim, str):
            raise NotImplementedError(
                "Unflatten with a named dim (named tensors) is not supported by ferrotorch"
            )
        else:
            raise TypeError("invalid argument type for dim parameter")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def _require_tuple_int(self, input) -> None:
        if isinstance(input, (tuple, list)):
            for idx, elem in enumerate(input):
                if not isinstance(elem, int):
                    raise TypeError(
                        "unflattened_size must be tuple of ints, "
                        + f"but found element of type {type(elem).__name__} at pos {idx}"
                    )
            return
        raise TypeError(f"unflattened_size must be a tuple of ints, but found type {type(input).__name__}")

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class ReLU(Module):
    r"""``max(0, x)`` elementwise."""

    __constants__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return input.relu_() if self.inplace else input.relu()

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Hardtanh(Module):
    r"""Clamps to ``[min_val, max_val]``."""

    __constants__ = (
        "min_val",
        "max_val",
        "inplace",
    )

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value=None,
        max_value=None,
    ) -> None:
        super().__init__()
        if min_value is not None:
            import warnings

            warnings.warn(
                "keyword argument `min_value` is deprecated and rename to `min_val`",
                FutureWarning,
                stacklevel=2,
            )
            min_val = min_value
        if max_value is not None:
            import warnings

            warnings.warn(
                "keyword argument `max_value` is deprecated and rename to `max_val`",
                FutureWarning,
                stacklevel=2,
            )
            max_val = max_value
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if not self.max_val > self.min_val:
            raise AssertionError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")

    def forward(self, input):
        if self.inplace:
            if not input.requires_grad:
                return input.clamp_(self.min_val, self.max_val)
            return _write_back(input, lambda x: _hardtanh(x, self.min_val, self.max_val))
        return _hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace_str}"


class ReLU6(Hardtanh):
    r"""``min(max(0, x), 6)`` elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    r"""``x`` for ``x > 0`` else ``negative_slope * x``."""

    __constants__ = (
        "inplace",
        "negative_slope",
    )

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        from ... import _C

        if self.inplace:
            return _write_back(input, lambda x: _C._nn_leaky_relu(x, float(self.negative_slope)))
        return _C._nn_leaky_relu(input, float(self.negative_slope))

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace_str}"


class ELU(Module):
    r"""``x`` for ``x > 0`` else ``alpha * (exp(x) - 1)``."""

    __constants__ = (
        "alpha",
        "inplace",
    )

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        if self.inplace:
            return _write_back(input, lambda x: _elu(x, self.alpha))
        return _elu(input, self.alpha)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class SiLU(Module):
    r"""``x * sigmoid(x)`` elementwise."""

    __constants__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        if self.inplace:
            return _write_back(input, _silu)
        return _silu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    r"""``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, input):
        return input.sigmoid()


class Tanh(Module):
    r"""``tanh(x)`` elementwise."""

    def forward(self, input):
        return input.tanh()


class GELU(Module):
    r"""``x Φ(x)``, or its tanh approximation with ``approximate='tanh'``."""

    __constants__ = ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        from .. import functional as F

        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Mish(Module):
    r"""``x tanh(softplus(x))``."""

    __constants__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        from .. import functional as F

        return F.mish(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    r"""``log(1 + exp(βx)) / β``, linear where ``βx > threshold``."""

    __constants__ = ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        from .. import functional as F

        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    def forward(self, input):
        from .. import functional as F

        return F.logsigmoid(input)


class Softmax(Module):
    r"""``exp(x) / Σ exp(x)`` along ``dim`` (stable, fused)."""

    __constants__ = ("dim",)

    def __init__(self, dim=None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input):
        from .. import functional as F

        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Softmax):
    def forward(self, input):
        from .. import functional as F

        return F.softmin(input, self.dim, _stacklevel=5)


class LogSoftmax(Softmax):
    r"""``log(softmax(x))`` along ``dim``, computed as ``x - max - log Σ exp(x - max)``."""

    def forward(self, input):
        from .. import functional as F

        return F.log_softmax(input, self.dim, _stacklevel=5)


def _F():
    from .. import functional

    return functional


class Threshold(Module):
    r"""``value`` where ``x <= threshold``, ``x`` elsewhere."""

    __constants__ = ("threshold", "value", "inplace")

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return _F().threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace_str}"


class PReLU(Module):
    r"""``x`` for ``x > 0`` else ``weight[c] * x``, with a learnt slope per channel (or one shared)."""

    __constants__ = ("num_parameters",)

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None) -> None:
        from ... import _C
        from ..parameter import Parameter

        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(_C.empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        from .. import init

        init.constant_(self.weight, self.init)

    def forward(self, input):
        return _F().prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class SELU(Module):
    r"""``scale * elu(x, alpha)`` with torch's fixed ``alpha`` ≈ 1.6733 and ``scale`` ≈ 1.0507."""

    __constants__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return _F().selu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class CELU(Module):
    r"""``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    __constants__ = ("alpha", "inplace")

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return _F().celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class GLU(Module):
    r"""``a * sigmoid(b)`` with ``a``, ``b`` the two halves of the input along ``dim``."""

    __constants__ = ("dim",)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return _F().glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Hardswish(Module):
    r"""``x * relu6(x + 3) / 6``; like torch, its repr shows no ``inplace``."""

    __constants__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return _F().hardswish(input, self.inplace)


class Hardsigmoid(Module):
    r"""``relu6(x + 3) / 6``; like torch, its repr shows no ``inplace``."""

    __constants__ = ("inplace",)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return _F().hardsigmoid(input, self.inplace)


class Softsign(Module):
    r"""``x / (1 + |x|)``."""

    def forward(self, input):
        return _F().softsign(input)


class Tanhshrink(Module):
    r"""``x - tanh(x)``."""

    def forward(self, input):
        return _F().tanhshrink(input)


class Softshrink(Module):
    r"""``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between."""

    __constants__ = ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return _F().softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Module):
    r"""``x`` outside ``[-lambd, lambd]``, 0 inside."""

    __constants__ = ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return _F().hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softmax2d(Module):
    r"""Softmax over the channel dim (-3) of a 3D or 4D input."""

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        return _F().softmax(input, -3, _stacklevel=5)
