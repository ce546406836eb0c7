"""torch.nn.utils: gradient clipping, parameter/vector conversion and pad_sequence against real PyTorch
(tests/golden/make_nn_utils_golden.py runs the same `cases` under torch)."""

import json
import os
import sys

import ferrotorch as torch
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
from make_nn_utils_golden import cases  # noqa: E402

with open(os.path.join(HERE, "golden", "nn_utils_golden.json")) as f:
    GOLDEN = json.load(f)
OURS = cases(torch)


def _close(a, b):
    """Equal structure; floats to float32 rounding (torch's norms sum in its own vectorised order)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=2e-6, atol=1e-7, equal_nan=True))
    return a == b


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_nn_utils_match_pytorch(key):
    assert _close(OURS[key], GOLDEN[key]), (key, OURS[key], GOLDEN[key])


def test_clip_grad_norm_reference_formula_in_float64():
    rng = np.random.default_rng(9)
    grads = [rng.standard_normal(s) for s in ((5, 3), (7,))]
    ps = [torch.zeros(*g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = torch.tensor(g)
    total = torch.nn.utils.clip_grad_norm_(ps, 0.3)
    want = np.sqrt(sum((g**2).sum() for g in grads))
    assert total.item() == pytest.approx(want, rel=1e-14)
    for p, g in zip(ps, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * min(1.0, 0.3 / (want + 1e-6)), rtol=1e-14)


def test_nonfinite_total_norm_raises_only_when_asked():
    p = torch.ones(2, requires_grad=True)
    p.grad = torch.tensor([1.0, float("inf")])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        torch.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert torch.nn.utils.clip_grad_norm_(p, 1.0).item() == float("inf")


def test_pad_sequence_gradients_pass_finite_differences():
    def padded(a, b):
        return torch.nn.utils.rnn.pad_sequence(
            [a, b], batch_first=True, padding_value=-2.0, padding_side="left"
        )

    a = torch.tensor(np.arange(6.0).reshape(3, 2), dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[0.5, -1.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(padded, (a, b))
