"""``Linear`` and ``Bilinear`` with torch's shapes, default initialisation and ``extra_repr``."""

from __future__ import annotations

import math

from ... import _C
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .activation import Identity
from .module import Module

__all__ = ["Bilinear", "Identity", "Linear"]


class Linear(Module):
    r"""``y = x Aᵀ + b`` with ``weight`` of shape ``(out_features, in_features)``."""

    __constants__ = ("in_features", "out_features")

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_C.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(_C.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch: kaiming_uniform_(a=sqrt(5)) then U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        if input.dim() >= 1 and input.shape[-1] != self.in_features:
            raise RuntimeError(
                f"{F._mm_error(input, self.weight, self.bias)} — {self._get_name()}({self.extra_repr_short()}) expects the last "
                f"dimension of its input to be {self.in_features}, but got input of shape {list(input.shape)}; "
                f"reshape the input or change in_features to {input.shape[-1]}"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr_short(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )


class LazyLinear(Linear):  # pragma: no cover - rarely used; kept for name compatibility
    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        raise NotImplementedError("LazyLinear is not supported by ferrotorch; pass in_features to Linear")


class Bilinear(Module):
    r"""``y = x1ᵀ A x2 + b`` with ``weight`` of shape ``(out_features, in1_features, in2_features)``."""

    __constants__ = ("in1_features", "in2_features", "out_features")

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_C.empty((out_features, in1_features, in2_features), dtype=dtype))
        if bias:
            self.bias = Parameter(_C.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
