"""The ``nn`` layer classes, re-exported by ``ferrotorch.nn``."""

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
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .module import Module

__all__ = [
    "ELU",
    "Flatten",
    "Hardtanh",
    "Identity",
    "LeakyReLU",
    "Module",
    "ModuleDict",
    "ModuleList",
    "ParameterDict",
    "ParameterList",
    "ReLU",
    "ReLU6",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "Unflatten",
]
