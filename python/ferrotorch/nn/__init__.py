"""``ferrotorch.nn``: torch's module system (``Module``, ``Parameter``, containers, layers)."""

from . import functional, init, modules, utils
from .modules import *
from .modules import __all__ as _modules_all
from .parameter import Buffer, Parameter

__all__ = list(_modules_all) + ["Buffer", "Parameter", "functional", "init", "modules", "utils"]
