"""``torch.optim.Adagrad``: one Rust call per parameter group and step."""

from __future__ import annotations

from .. import _C
from .._C import Tensor
from .optimizer import Optimizer, _scalar_dtype, _to_scalar

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad with learning-rate decay, as torch's (state created eagerly in the constructor)."""

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _C.zeros((), dtype=_scalar_dtype())
                state["sum"] = _C.full_like(p, group["initial_accumulator_value"])

    def step(self, closure=None):
        """Performs a single optimization step (closure re-evaluates the model and returns the loss)."""
        loss = self._closure(closure)
        self._step_groups()
        return loss

    def _state_keys(self, group):
        return ("sum", "step")

    def _group_plan(self, group, params):
        states = [self.state[p] for p in params]
        return _C._OptimGroup.adagrad(
            params,
            [s["sum"] for s in states],
            [s["step"] for s in states],
            float(_to_scalar(group["lr"])),
            float(group["lr_decay"]),
            float(group["eps"]),
            float(group["weight_decay"]),
            bool(group["maximize"]),
        )

    def _fit_groups(self):
        """The groups as Rust-steppable plans for ``ferrotorch.fit`` (None: step in Python)."""
        return self._plans_for_fit(Adagrad)
