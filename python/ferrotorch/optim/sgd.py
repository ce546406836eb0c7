"""``torch.optim.SGD``: one Rust call per parameter group and step."""

from __future__ import annotations

from .. import _C
from .._C import Tensor
from .optimizer import Optimizer, _to_scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum, dampening, Nesterov), as torch's."""

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Performs a single optimization step (closure re-evaluates the model and returns the loss)."""
        loss = self._closure(closure)
        for group in self.param_groups:
            params, grads, bufs = [], [], []
            momentum = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                params.append(p)
                grads.append(self._grad_of(p, "SGD"))
                if momentum != 0:
                    bufs.append(self.state[p].get("momentum_buffer"))
            if not params:
                continue
            new = _C._sgd_step(
                params,
                grads,
                bufs,
                float(_to_scalar(group["lr"])),
                float(momentum),
                float(group["dampening"]),
                float(group["weight_decay"]),
                bool(group["nesterov"]),
                bool(group["maximize"]),
            )
            if momentum != 0:
                for p, b in zip(params, new):
                    if b is not None:
                        self.state[p]["momentum_buffer"] = b
        return loss

    def _state_keys(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _group_plan(self, group, params):
        bufs = [self.state[p]["momentum_buffer"] for p in params] if group["momentum"] != 0 else []
        return _C._OptimGroup.sgd(
            params,
            bufs,
            float(_to_scalar(group["lr"])),
            float(group["momentum"]),
            float(group["dampening"]),
            float(group["weight_decay"]),
            bool(group["nesterov"]),
            bool(group["maximize"]),
        )

    def _fit_groups(self):
        """The groups as Rust-steppable plans for ``ferrotorch.fit`` (None: step in Python)."""
        return self._plans_for_fit(SGD)
