"""Ops whose rounding follows PyTorch's kernels bit for bit (golden: tests/golden/rounding_golden.npz, written by
tests/golden/make_rounding_golden.py under real PyTorch).

- linspace: each point is one fused multiply-add (start + step*i, or end - step*(n-1-i) past the middle),
  in float32 for float32 results; logspace raises base to float64 points computed unfused (rounded twice).
- ``x ** k`` for a Python number k in (2, 3, -1, -2, -0.5): products, a quotient and a square root in the
  tensor's precision (x*x*x, 1/(x*x), 1/sqrt(x)), not pow. The tutorials' polynomial fits print the same losses.
"""

import math
import pathlib

import ferrotorch as torch
import numpy as np
import pytest

GOLDEN = np.load(pathlib.Path(__file__).resolve().parent / "golden" / "rounding_golden.npz")


@pytest.mark.parametrize("e", [2, 3, -1, -2, -0.5])
def test_python_number_powers_round_like_torch(e):
    t = torch.tensor(GOLDEN["x"])
    base = t.abs() if e == -0.5 else t
    np.testing.assert_array_equal((base**e).numpy(), GOLDEN[f"pow_{e}"])
    # and within a rounding or two of the exact power
    exact = np.abs(GOLDEN["x"].astype(np.float64)) ** e if e == -0.5 else GOLDEN["x"].astype(np.float64) ** e
    np.testing.assert_allclose((base**e).numpy(), exact, rtol=3e-7)


def test_a_tensor_exponent_still_uses_pow():
    # torch special-cases only Python numbers: a tensor of 3s goes through pow (correctly rounded here)
    x = torch.tensor(GOLDEN["x"][:2000])
    exact = (GOLDEN["x"][:2000].astype(np.float64) ** 3).astype(np.float32)
    got = x.pow(torch.full((2000,), 3.0)).numpy()
    assert (got != exact).sum() <= 2


@pytest.mark.parametrize("steps", [2000, 1001, 50, 7])
def test_linspace_rounds_like_torch(steps):
    np.testing.assert_array_equal(
        torch.linspace(-math.pi, math.pi, steps).numpy(), GOLDEN[f"linspace_f32_{steps}"]
    )
    np.testing.assert_array_equal(
        torch.linspace(0.1, 0.9, steps, dtype=torch.float64).numpy(), GOLDEN[f"linspace_f64_{steps}"]
    )


def test_logspace_rounds_like_torch():
    np.testing.assert_array_equal(
        torch.logspace(-2, 2, 333, dtype=torch.float64).numpy(), GOLDEN["logspace_f64"]
    )
