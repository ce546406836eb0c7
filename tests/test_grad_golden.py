"""Gradients (and grad_fn names) equal real PyTorch's on the same inputs."""

import numpy as np
import pytest
from conftest import load_golden

import ferrotorch as torch

GOLD = load_golden("grad_golden.json")
X = [[0.3, 0.7, 1.3], [0.45, 0.9, 1.7]]
Y = [0.8, 1.3, 0.45]
CASES = {
    "clamp": lambda x, y: torch.clamp(x, 0.5, 1.0),
    "clamp_tensor": lambda x, y: torch.clamp(x, min=y),
    "where": lambda x, y: torch.where(x > 0.6, x, y),
    "view_t_mul": lambda x, y: x.t() * y.unsqueeze(1),
    "expand_sum": lambda x, y: (y.expand(2, 3) * x).sum(0),
    "narrow_select": lambda x, y: x.narrow(1, 1, 2).select(0, 1) * y.narrow(0, 0, 2),
    "reshape_permute": lambda x, y: x.reshape(3, 2).permute(1, 0) * 2 + y,
    "inplace_chain": lambda x, y: (x * 1).mul_(y).add_(x).exp_(),
    "lerp": lambda x, y: torch.lerp(x, y.expand(2, 3), 0.3),
    "pow_scalar": lambda x, y: x ** 3 + 2 ** x,
}


def run(key):
    kind, name = key.split("_", 1)
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(Y, dtype=torch.float64, requires_grad=True)
    if kind == "u":
        out = getattr(torch, name)(x)
    elif kind == "b":
        out = getattr(torch, name)(x, y)
    else:
        out = CASES[name](x, y)
    out.backward(torch.ones_like(out))
    return out, x, y


@pytest.mark.parametrize("key", sorted(GOLD))
def test_gradients_equal_torch(key):
    exp = GOLD[key]
    out, x, y = run(key)
    np.testing.assert_allclose(out.detach().numpy(), exp["out"], rtol=1e-12, atol=1e-14)
    for t, g in ((x, exp["gx"]), (y, exp["gy"])):
        if g is None:
            assert t.grad is None or not t.grad.numpy().any()
        else:
            np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-12, atol=1e-14)
    assert out.grad_fn.name() == exp["grad_fn"], (out.grad_fn.name(), exp["grad_fn"])
