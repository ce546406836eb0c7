"""ferrotorch: PyTorch's eager API for the CPU, in one small Rust extension.

``import ferrotorch as torch`` and a beginner's PyTorch script runs unchanged.
"""

from __future__ import annotations

import math as _math

from . import _C, _functions, accelerator, autograd, backends, cuda  # noqa: F401
from ._broadcast import broadcast_shapes, broadcast_tensors  # noqa: F401
from ._C import *  # noqa: F401,F403  (factories, dtypes, grad-mode switches)
from ._C import Tensor, device, dtype
from ._composite import diff, meshgrid, repeat_interleave  # noqa: F401
from ._size import Size, strided
from ._tensor_str import get_printoptions, set_printoptions  # noqa: F401
from .autograd.grad_mode import (  # noqa: F401
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

__version__ = "0.1.0"

# torch's numeric constants (torch.pi, torch.inf, ... are Python floats) and numpy-style newaxis
pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan
newaxis = None

float32 = _C.float32
float64 = _C.float64
int64 = _C.int64
int32 = _C.int32
uint8 = _C.uint8
bool = _C.bool  # noqa: A001  (torch.bool, as in torch)
float = _C.float  # noqa: A001
double = _C.double
long = _C.long
int = _C.int  # noqa: A001


def _legacy(dt):
    def ctor(*args, **kwargs):
        import builtins

        if args and not builtins.isinstance(args[0], builtins.int):
            return _C.tensor(args[0], dtype=dt)
        return _C.zeros(*args, dtype=dt)

    return ctor


FloatTensor = _legacy(float32)
DoubleTensor = _legacy(float64)
LongTensor = _legacy(int64)
IntTensor = _legacy(int32)
ByteTensor = _legacy(uint8)
BoolTensor = _legacy(bool)


def is_floating_point(input) -> bool:  # noqa: A002
    return input.is_floating_point()


def numel(input) -> int:  # noqa: A002
    return input.numel()


def concat(tensors, dim=0, *, out=None):
    return cat(tensors, dim, out=out)  # noqa: F405


def concatenate(tensors, dim=0, *, out=None):
    return cat(tensors, dim, out=out)  # noqa: F405


from . import (
    nn,  # noqa: E402
    optim,  # noqa: E402
    random,  # noqa: E402
)
from ._fit import History, compile, fit  # noqa: E402
from .serialization import load, save  # noqa: E402

_functions.install(globals())
del _functions


def __getattr__(name):
    # torch.utils (DataLoader and friends, which need NumPy) loads on first use: `import ferrotorch` stays fast.
    if name == "utils":
        import importlib

        return importlib.import_module(".utils", __name__)
    raise AttributeError(f"module 'ferrotorch' has no attribute '{name}'")
