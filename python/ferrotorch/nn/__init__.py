"""``ferrotorch.nn``: torch's module system (``Module``, ``Parameter``, containers, layers)."""

from . import modules
from .modules import *
from .parameter import Buffer, Parameter

__all__ = [
    "ELU",
    "Buffer",
    "Flatten",
    "Hardtanh",
    "Identity",
    "LeakyReLU",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "ReLU",
    "ReLU6",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "Unflatten",
    "modules",
]
