"""Grad-mode context managers and decorators: no_grad, enable_grad, set_grad_enabled, inference_mode."""

from __future__ import annotations

import functools

from .. import _C


class _DecoratorContextManager:
    """A context manager that also works as a decorator (a fresh instance per call)."""

    def __call__(self, func):
        if isinstance(func, type):
            raise TypeError("grad-mode decorators apply to functions, not classes")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)

        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_DecoratorContextManager):
    """Disables gradient recording inside the block."""

    def __init__(self) -> None:
        self.prev = False

    def __enter__(self) -> None:
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *exc) -> None:
        _C._set_grad_enabled(self.prev)


class enable_grad(_DecoratorContextManager):
    """Enables gradient recording inside the block (e.g. within no_grad)."""

    def __init__(self) -> None:
        self.prev = False

    def __enter__(self) -> None:
        self.prev = _C.is_grad_enabled()
        _C._set_grad_enabled(True)

    def __exit__(self, *exc) -> None:
        _C._set_grad_enabled(self.prev)


class set_grad_enabled(_DecoratorContextManager):
    """Sets grad mode: immediately as a function call, or for a block as a context manager."""

    def __init__(self, mode: bool) -> None:
        self.prev = _C.is_grad_enabled()
        self.mode = bool(mode)
        _C._set_grad_enabled(self.mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _C._set_grad_enabled(self.prev)

    def clone(self):
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like no_grad (ferrotorch keeps no extra inference-tensor state)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode
        self.prev_grad = True
        self.prev_inf = False

    def __enter__(self) -> None:
        self.prev_grad = _C.is_grad_enabled()
        self.prev_inf = _C.is_inference_mode_enabled()
        if self.mode:
            _C._set_grad_enabled(False)
            _C._set_inference_mode(True)

    def __exit__(self, *exc) -> None:
        _C._set_grad_enabled(self.prev_grad)
        _C._set_inference_mode(self.prev_inf)

    def clone(self):
        return self.__class__(self.mode)

    def __new__(cls, mode=True):
        # `@inference_mode` without parentheses passes the function as `mode`.
        if callable(mode) and not isinstance(mode, bool):
            return cls()(mode)
        return super().__new__(cls)


def is_grad_enabled() -> bool:
    return _C.is_grad_enabled()


def is_inference_mode_enabled() -> bool:
    return _C.is_inference_mode_enabled()
