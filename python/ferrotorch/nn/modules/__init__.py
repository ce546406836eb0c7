"""The ``nn`` layer classes, re-exported by ``ferrotorch.nn``."""

from .activation import *
from .activation import __all__ as _act_all
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .dropout import *
from .dropout import __all__ as _drop_all
from .linear import Bilinear, Linear
from .loss import *
from .loss import __all__ as _loss_all
from .module import Module
from .normalization import GroupNorm, LayerNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .sparse import Embedding

__all__ = (
    list(_act_all)
    + list(_drop_all)
    + list(_loss_all)
    + [
        "Bilinear",
        "Embedding",
        "GRU",
        "GRUCell",
        "GroupNorm",
        "LSTM",
        "LSTMCell",
        "LayerNorm",
        "Linear",
        "Module",
        "ModuleDict",
        "ModuleList",
        "ParameterDict",
        "ParameterList",
        "RNN",
        "RNNBase",
        "RNNCell",
        "RNNCellBase",
        "Sequential",
    ]
)

# convolution, pooling and batch-norm are another file set; import them when present
for _name in ("conv", "pooling", "batchnorm"):
    try:
        _mod = __import__(f"{__name__}.{_name}", fromlist=["*"])
    except ImportError:  # pragma: no cover - not written yet
        continue
    _names = getattr(_mod, "__all__", [n for n in dir(_mod) if n[:1].isupper()])
    for _n in _names:
        globals()[_n] = getattr(_mod, _n)
    __all__ += list(_names)
del _name
