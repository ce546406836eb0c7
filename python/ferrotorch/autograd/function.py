"""torch.autograd.Function: ops whose forward and backward are the user's own Python code.

`apply` runs `forward` with grad mode off, then joins the outputs to the graph through one node
(`_C._function_record`) whose backward calls the class's `backward`. Tensors given to
`ctx.save_for_backward` are handed to the core at that point and kept there: one that is an
output is kept detached from its grad_fn, so a graph dropped without a backward frees itself.
"""

from __future__ import annotations

import functools
import inspect
import warnings

from .. import _C
from .grad_mode import no_grad

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if "
    "you need to access saved tensors after calling backward."
)


class FunctionCtx:
    """The `ctx` of `forward`/`setup_context` and `backward`: what forward leaves for backward."""

    def save_for_backward(self, *tensors):
        """Keeps tensors (or None) for `backward`, where `ctx.saved_tensors` returns them."""
        for t in tensors:
            if t is not None and not isinstance(t, _C.Tensor):
                raise TypeError(
                    "save_for_backward can only save variables, but argument "
                    f"{tensors.index(t)} is of type {type(t).__name__}"
                )
        self.to_save = tensors

    def mark_dirty(self, *args):
        """Marks inputs that forward modified in place (they must be returned as outputs)."""
        self.dirty_tensors = args

    def mark_non_differentiable(self, *args):
        """Marks outputs that get no gradient (e.g. indices): they do not require grad."""
        self.non_differentiable = args

    def set_materialize_grads(self, value: bool):
        """Whether `backward` receives zeros (True, the default) or None for unused outputs."""
        self.materialize_grads = value

    def save_for_forward(self, *tensors):
        raise NotImplementedError("ferrotorch does not support forward-mode AD (save_for_forward)")

    @property
    def saved_tensors(self):
        saved = self.__dict__.get("_saved")
        if saved is None:
            raise RuntimeError(_FREED)
        return saved

    saved_variables = saved_tensors


class BackwardCFunction(FunctionCtx):
    """The class of a custom Function's `ctx`: `<Name>Backward`, as in torch."""


class FunctionMeta(type):
    """Gives every Function subclass its `<Name>Backward` ctx class."""

    def __init__(cls, name, bases, attrs):
        backward_cls = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})
        backward_cls.__module__ = __name__
        backward_cls.__qualname__ = name + "Backward"
        cls._backward_cls = backward_cls
        super().__init__(name, bases, attrs)


def _overrides(cls, name):
    return getattr(cls, name) is not getattr(Function, name)


class Function(metaclass=FunctionMeta):
    """Base class of custom autograd operations: define static `forward` and `backward`, call `apply`."""

    def __init__(self, *args, **kwargs):
        warnings.warn(
            f"{self.__class__} should not be instantiated. Methods on autograd functions are all static, so you "
            "should invoke them on the class itself. Instantiating an autograd function will raise an error in a "
            "future version of PyTorch.",
            DeprecationWarning,
            stacklevel=2,
        )

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use new-style "
            "autograd function with static forward method. "
            "(Example: https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)"
        )

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom autograd.Function to use it "
            "with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("ferrotorch does not support forward-mode AD (jvp)")

    @classmethod
    def apply(cls, *args, **kwargs):
        setup_style = _overrides(cls, "setup_context")
        if kwargs or setup_style:
            # bind keywords and defaults to positions, as torch does
            sig = inspect.signature(cls.forward)
            bound = sig.bind(*args, **kwargs) if setup_style else sig.bind(None, *args, **kwargs)
            bound.apply_defaults()
            args = bound.args if setup_style else bound.args[1:]
        ctx = cls._backward_cls()
        is_tensor = [isinstance(a, _C.Tensor) for a in args]
        ctx.needs_input_grad = tuple(t and a.requires_grad for t, a in zip(is_tensor, args))
        record = _C.is_grad_enabled() and any(ctx.needs_input_grad)
        with no_grad():
            if setup_style:
                out = cls.forward(*args)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args)
        if not record:
            ctx.__dict__.pop("to_save", None)
            return out
        return _join_graph(cls, ctx, args, is_tensor, out)


def _join_graph(cls, ctx, args, is_tensor, out):
    is_tuple = isinstance(out, tuple)
    outs = list(out) if is_tuple else [out]
    inputs = [a for a, t in zip(args, is_tensor) if t]
    dirty = ctx.__dict__.get("dirty_tensors", ())
    non_diff = ctx.__dict__.get("non_differentiable", ())
    diff_pos = []
    for i, o in enumerate(outs):
        if not isinstance(o, _C.Tensor):
            continue
        if any(o is d for d in dirty):
            if o.is_leaf and o.requires_grad:
                raise RuntimeError(
                    "a leaf Variable that requires grad is being used in an in-place operation."
                )
        elif any(o is a for a in inputs):
            # an input returned as it is: the output is a view of it with this node's history
            with no_grad():
                o = outs[i] = o.view_as(o)
        if any(o is n for n in non_diff) or not (o.is_floating_point() or o.is_complex()):
            continue
        diff_pos.append(i)
    meta = [(o.shape, o.dtype) if isinstance(o, _C.Tensor) else None for o in outs]
    name = cls._backward_cls.__name__
    n_args = len(args)
    if _overrides(cls, "backward") and _overrides(cls, "vjp"):
        raise RuntimeError(
            "Implementing both 'backward' and 'vjp' for a custom Function is not allowed. You should only "
            "implement one of them."
        )
    user_backward = cls.vjp if _overrides(cls, "vjp") else cls.backward
    n_outs = len(outs)

    # runner must not hold the outputs (nor the inputs): the node holds it, and an output holding
    # its node through runner would be a reference cycle through the core
    def runner(saved, grads):
        full = [None] * n_outs
        for pos, g in zip(diff_pos, grads):
            full[pos] = g
        if ctx.__dict__.get("materialize_grads", True):
            from .. import zeros

            full = [zeros(m[0], dtype=m[1]) if g is None and m is not None else g for g, m in zip(full, meta)]
        ctx._saved = saved
        try:
            res = user_backward(ctx, *full)
        finally:
            ctx._saved = None
        if not isinstance(res, tuple):
            res = (res,)
        if len(res) != n_args:
            if len(res) > n_args and all(r is None for r in res[n_args:]):
                res = res[:n_args]
            else:
                raise RuntimeError(
                    f"function {name} returned an incorrect number of gradients (expected {n_args}, got {len(res)})"
                )
        grads_in = []
        for i, (t, r) in enumerate(zip(is_tensor, res)):
            if t:
                grads_in.append(r)
            elif r is not None:
                raise RuntimeError(
                    f"function {name} returned a gradient different than None at position {i + 1}, but the "
                    "corresponding forward input was not a Variable"
                )
        return grads_in

    to_save = ctx.__dict__.pop("to_save", ())
    _C._function_record(name, runner, inputs, [outs[i] for i in diff_pos], list(to_save))
    return tuple(outs) if is_tuple else outs[0]


def once_differentiable(fn):
    """Runs a `backward` with grad mode off. When its gradients would be differentiated again
    (a backward with create_graph=True whose incoming gradients require grad), they get torch's
    DelayedError node: that second backward raises instead of treating them as constants."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            outputs = fn(ctx, *args)
        if not _C.is_grad_enabled():
            return outputs
        ins = [a for a in args if isinstance(a, _C.Tensor) and a.requires_grad]
        if not ins:
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        if not all(o is None or isinstance(o, _C.Tensor) for o in outs):
            return outputs
        res = _C._delayed_error(
            "trying to differentiate twice a function that was marked with @once_differentiable",
            ins,
            list(outs),
        )
        return res[0] if single else tuple(res)

    return wrapper


__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable"]
