"""NumPy imported on first use, so `import ferrotorch` does not pay for it (it is most of the import time)."""

import importlib


class _LazyModule:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)


np = _LazyModule("numpy")
