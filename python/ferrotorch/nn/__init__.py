"""``ferrotorch.nn``: torch's module system (``Module``, ``Parameter``, containers, layers)."""

from . import modules
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .parameter import Buffer, Parameter
from . import functional, init  # noqa: F401

__all__ = list(_modules_all) + ["Buffer", "Parameter", "functional", "init", "modules"]
