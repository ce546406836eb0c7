"""Gradients (and grad_fn names) equal real PyTorch's on the same inputs."""

import pathlib
import sys

import ferrotorch as torch
import numpy as np
import pytest
from conftest import load_golden

sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
from grad_cases import cases, run  # noqa: E402

GOLD = load_golden("grad_golden.json")
CASES = cases(torch)


@pytest.mark.parametrize("key", sorted(GOLD))
def test_gradients_equal_torch(key):
    exp = GOLD[key]
    out, x, y = run(torch, CASES[key])
    np.testing.assert_allclose(out.detach().numpy(), exp["out"], rtol=1e-12, atol=1e-14)
    for t, g in ((x, exp["gx"]), (y, exp["gy"])):
        if g is None:
            assert t.grad is None or not t.grad.numpy().any()
        else:
            np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-12, atol=1e-14)
    assert out.grad_fn.name() == exp["grad_fn"], (out.grad_fn.name(), exp["grad_fn"])
