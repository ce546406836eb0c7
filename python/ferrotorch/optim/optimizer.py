"""``torch.optim.Optimizer``: param_groups, per-parameter state, state_dict, zero_grad.

Subclasses gather the parameters that have gradients and their state tensors, then make ONE call
into Rust that updates everything in place with torch's single-tensor (``foreach=False``) formulas.
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from itertools import chain

from .. import _C
from .._C import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton class representing a required parameter for an Optimizer."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return {
            "float32": "torch.FloatTensor",
            "float64": "torch.DoubleTensor",
            "int64": "torch.LongTensor",
            "int32": "torch.IntTensor",
            "uint8": "torch.ByteTensor",
            "bool": "torch.BoolTensor",
        }.get(str(obj.dtype).replace("torch.", ""), "torch.Tensor")
    t = type(obj)
    return (
        t.__qualname__ if t.__module__ in ("builtins", "__builtin__") else f"{t.__module__}.{t.__qualname__}"
    )


def _scalar_dtype():
    # torch keeps `step` in float32 unless the default dtype is float64
    get = getattr(_C, "get_default_dtype", None)
    if get is not None and get() == _C.float64:
        return _C.float64
    return _C.float32


def _to_scalar(v):
    return float(v.item()) if isinstance(v, Tensor) else v


class Optimizer:
    r"""Base class for all optimizers.

    Args:
        params: an iterable of Tensors or dicts (parameter groups with per-group options).
        defaults: the default value of every optimization option.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {_typename(params)}"
            )
        if isinstance(params, set):
            warnings.warn(
                "optimizer parameters need to be organized in ordered collections, but the ordering of "
                "tensors in sets will change between runs. Please use a list instead. This will be an "
                "error in a future release.",
                FutureWarning,
                stacklevel=3,
            )
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        # older state dicts may lack options added later: fill them from the defaults
        for group in self.param_groups:
            for k, v in self.defaults.items():
                if v is not required:
                    group.setdefault(k, v)
        for st in self.state.values():
            if isinstance(st, dict) and "step" in st and not isinstance(st["step"], Tensor):
                st["step"] = _C.tensor(float(st["step"]), dtype=_scalar_dtype())

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += "\n"
            s += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        s += ")"
        return s

    def add_param_group(self, param_group):
        r"""Add a param group to the optimizer's ``param_groups`` (e.g. layers unfrozen later)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)

        named = [p for p in param_group["params"] if isinstance(p, tuple)]
        if named:
            if len(named) != len(param_group["params"]):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )
            param_group["param_names"] = [n for n, _ in param_group["params"]]
            param_group["params"] = [p for _, p in param_group["params"]]

        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is " + _typename(param)
                )
            if not self.defaults.get("differentiable", None) and not (
                param.is_leaf or getattr(param, "retains_grad", False)
            ):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}"
                )
            param_group.setdefault(name, default)

        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; "
                "in future, this will cause an error; "
                "see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        r"""Reset the gradients of all optimized tensors (to ``None`` by default, as torch)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        g = p.grad
                        if g.grad_fn is not None:
                            g = g.detach()
                            p.grad = g
                        else:
                            g.requires_grad_(False)
                        g.zero_()

    def state_dict(self):
        r"""The optimizer state as torch structures it: ``{'state': {id: {...}}, 'param_groups': [...]}``

        with parameters replaced by integer ids numbered across groups in order."""
        mappings = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mappings.setdefault(id(p), i)
            packed["params"] = [mappings[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mappings[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": param_groups}

    @staticmethod
    def _cast(param, value, key=None):
        if isinstance(value, Tensor):
            if key == "step":
                return value
            if param.is_floating_point() and value.is_floating_point() and value.dtype != param.dtype:
                return value.to(param.dtype)
            return value
        if isinstance(value, dict):
            return {k: Optimizer._cast(param, v, key=k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(Optimizer._cast(param, v) for v in value)
        return value

    def load_state_dict(self, state_dict):
        r"""Load an optimizer state (as returned by :meth:`state_dict`, possibly from ``torch.load``)."""
        state_dict = dict(state_dict)
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            # keys may come back as strings from formats without integer keys
            kk = int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k
            if kk in id_map:
                param = id_map[kk]
                state[param] = self._cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

    def step(self, closure=None):
        raise NotImplementedError

    @staticmethod
    def _closure(closure):
        if closure is None:
            return None
        from ..autograd.grad_mode import enable_grad

        with enable_grad():
            return closure()

    # ----- optimizers whose update runs in Rust through _C._OptimGroup (Adam, RMSprop, Adagrad) -----
    def _state_keys(self, group):
        """The state entries a parameter needs before ``_group_plan`` can use it."""
        raise NotImplementedError

    def _group_plan(self, group, params):
        """A ``_C._OptimGroup`` over ``params`` (all with state) with ``group``'s hyper-parameters."""
        raise NotImplementedError

    def _step_groups(self):
        """One Rust call per group over the parameters that have gradients: the same plan ``fit`` replays."""
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._group_plan(group, params).step()

    def _plans_for_fit(self, owner):
        """Every group as a plan for ``ferrotorch.fit``; None when ``step`` is overridden (fit calls it from
        Python) or a parameter has no state yet (its first step would create it)."""
        if type(self).step is not owner.step:
            return None
        plans = []
        for group in self.param_groups:
            params = list(group["params"])
            keys = self._state_keys(group)
            if any(self.state.get(p, {}).get(k) is None for p in params for k in keys):
                return None
            plans.append(self._group_plan(group, params))
        return plans

    @staticmethod
    def _grad_of(p, name):
        g = p.grad
        if getattr(g, "is_sparse", False):
            raise RuntimeError(f"{name} does not support sparse gradients")
        return g
