"""``torch.optim.RMSprop``: one Rust call per parameter group and step."""

from __future__ import annotations

from .. import _C
from .._C import Tensor
from .optimizer import Optimizer, _scalar_dtype, _to_scalar

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (optionally centered, with momentum), with torch's update formulas."""

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Performs a single optimization step (closure re-evaluates the model and returns the loss)."""
        loss = self._closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and len(self.state[p]) == 0:
                    state = self.state[p]
                    state["step"] = _C.zeros((), dtype=_scalar_dtype())
                    state["square_avg"] = _C.zeros_like(p)
                    if group["momentum"] > 0:
                        state["momentum_buffer"] = _C.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = _C.zeros_like(p)
        self._step_groups()
        return loss

    def _state_keys(self, group):
        return (
            ("step", "square_avg")
            + (("momentum_buffer",) if group["momentum"] > 0 else ())
            + (("grad_avg",) if group["centered"] else ())
        )

    def _group_plan(self, group, params):
        states = [self.state[p] for p in params]
        momentum, centered = group["momentum"], group["centered"]
        return _C._OptimGroup.rmsprop(
            params,
            [s["square_avg"] for s in states],
            [s["grad_avg"] for s in states] if centered else [],
            [s["momentum_buffer"] for s in states] if momentum > 0 else [],
            [s["step"] for s in states],
            float(_to_scalar(group["lr"])),
            float(group["alpha"]),
            float(group["eps"]),
            float(group["weight_decay"]),
            float(momentum),
            bool(centered),
            bool(group["maximize"]),
        )

    def _fit_groups(self):
        """The groups as Rust-steppable plans for ``ferrotorch.fit`` (None: step in Python)."""
        return self._plans_for_fit(RMSprop)
