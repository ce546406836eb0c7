"""``ferrotorch.nn``: torch's module system (``Module``, ``Parameter``, containers, layers)."""

from .parameter import Buffer, Parameter
from . import modules
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all

__all__ = ["Parameter", "Buffer", "modules", *_modules_all]
