"""``torch.optim.Adam``: one Rust call per parameter group and step."""

from __future__ import annotations

from .. import _C
from .._C import Tensor
from .optimizer import Optimizer, _scalar_dtype, _to_scalar

__all__ = ["Adam"]


def _check_adam_args(lr, betas, eps, weight_decay):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    r"""Adam (and with ``decoupled_weight_decay=True``, AdamW), with torch's update formulas."""

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        fused=None,
        decoupled_weight_decay=False,
    ):
        _check_adam_args(lr, betas, eps, weight_decay)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
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
                    state["exp_avg"] = _C.zeros_like(p)
                    state["exp_avg_sq"] = _C.zeros_like(p)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = _C.zeros_like(p)
        self._step_groups()
        return loss

    def _state_keys(self, group):
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _group_plan(self, group, params):
        states = [self.state[p] for p in params]
        amsgrad = group["amsgrad"]
        beta1, beta2 = group["betas"]
        return _C._OptimGroup.adam(
            params,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s["max_exp_avg_sq"] for s in states] if amsgrad else [],
            [s["step"] for s in states],
            float(_to_scalar(group["lr"])),
            float(_to_scalar(beta1)),
            float(_to_scalar(beta2)),
            float(group["eps"]),
            float(group["weight_decay"]),
            bool(amsgrad),
            bool(group["maximize"]),
            bool(group.get("decoupled_weight_decay", False)),
        )

    def _fit_groups(self):
        """The groups as Rust-steppable plans for ``ferrotorch.fit`` (None: step in Python)."""
        return self._plans_for_fit(Adam)
