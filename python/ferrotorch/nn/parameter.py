"""``nn.Parameter`` and ``nn.Buffer``: the tensor markers that ``nn.Module`` registers.

``Parameter`` is a real ``Tensor`` subclass sharing storage with the tensor it wraps, so optimizers
and ``.data`` writes see the same memory.  ``Buffer`` follows torch >= 2.5: constructing one returns
a plain ``Tensor`` tagged ``_is_buffer``, and ``isinstance(t, Buffer)`` checks that tag.
"""

from __future__ import annotations

from .._C import Tensor

__all__ = ["Buffer", "Parameter"]


def _empty():
    from .. import _C

    return _C.empty(0)


class Parameter(Tensor):
    r"""A Tensor that ``nn.Module`` registers as a parameter when assigned as an attribute.

    Args:
        data: the tensor to wrap (shared, not copied); an empty tensor when omitted.
        requires_grad: whether the parameter requires gradient (default ``True``).
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _empty()
        # An alias of `data` (same storage) detached from its history, then made a leaf.
        t = Tensor.__new__(cls, data.detach())
        t.requires_grad_(requires_grad)
        return t

    def __init__(self, data=None, requires_grad=True):
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.data, self.requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


class _BufferMeta(type(Tensor)):
    # `isinstance(t, Buffer)` is true for tensors made by `Buffer(...)`, as in torch.
    def __instancecheck__(cls, instance):
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    r"""Marks a tensor as a buffer: assigning it to a Module attribute registers it.

    Args:
        data: the buffer tensor (an empty tensor when omitted).
        persistent: whether the buffer is part of the module's ``state_dict`` (default ``True``).
    """

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _empty()
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t
