"""Shared test helpers: NumPy comparison and a float64 finite-difference gradient check."""

import json
import pathlib

import ferrotorch as torch
import numpy as np
import pytest

GOLDEN = pathlib.Path(__file__).parent / "golden"


def load_golden(name):
    return json.loads((GOLDEN / name).read_text())


def assert_close(t, expected, rtol=1e-5, atol=1e-6):
    """A ferrotorch tensor equals a NumPy array in shape, dtype kind and values (NaN == NaN)."""
    got = t.detach().numpy()
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


def numeric_grad(fn, inputs, eps=1e-6):
    """Central differences of sum(fn(*inputs)) with respect to each float64 input."""
    grads = []
    for x in inputs:
        base = x.detach().numpy().copy()
        g = np.zeros_like(base)
        flat = base.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            vals = []
            for d in (eps, -eps):
                flat[i] = orig + d
                args = [torch.from_numpy(base.copy()) if y is x else y.detach() for y in inputs]
                vals.append(float(fn(*args).double().sum().item()) if fn(*args).numel() else 0.0)
            flat[i] = orig
            g.reshape(-1)[i] = (vals[0] - vals[1]) / (2 * eps)
        grads.append(g)
    return grads


def gradcheck(fn, *inputs, atol=1e-5, rtol=1e-3):
    """Analytical gradients of sum(fn(*inputs)) match central differences (inputs are float64)."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    out.sum().backward()
    expected = numeric_grad(fn, [x.detach() for x in leaves])
    for leaf, e in zip(leaves, expected):
        assert leaf.grad is not None, "no gradient reached an input"
        np.testing.assert_allclose(leaf.grad.numpy(), e, atol=atol, rtol=rtol)


@pytest.fixture(autouse=True)
def _restore_defaults():
    yield
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
