"""The ``nn`` layer classes, re-exported by ``ferrotorch.nn``."""

from .module import Module
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .activation import (
    ELU,
    Flatten,
    Hardtanh,
    Identity,
    LeakyReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Tanh,
    Unflatten,
)

__all__ = [
    "Module",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Identity",
    "Flatten",
    "Unflatten",
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "ELU",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "Hardtanh",
]
