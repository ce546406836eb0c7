"""cross_entropy's (N, C) fast path gives the general strided loop's exact bits, forward and backward.

An (N, C, 2) input runs the general per-lane loop; its lanes [:, :, 0] hold the (N, C) input, so
losses and gradients must match bit for bit, with NaN, ±inf, signed zeros and ignored targets in
the rows.
"""

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest


def _rows(dtype, n=300, c=10, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c)) * 20).astype(dtype)
    x[3, 4] = np.nan
    x[5, 0], x[5, 7] = np.nan, np.nan
    x[6, 2] = np.inf
    x[7, :] = -np.inf
    x[8, :] = 0.0
    x[8, 3] = -0.0
    x[9, :] = [-0.0, 0.0] * (c // 2)
    x[10, 1] = 90.0  # exp of x - max stays in range, the max row reaches the ±88 boundary
    x[10, 2] = -95.0
    t = rng.integers(0, c, n)
    t[11] = t[12] = -100
    return x, t


def _pair(x, t, reduction, **kw):
    """(loss, grad) of the (N, C) path and of lane 0 of the (N, C, 2) general path."""
    x3 = np.stack([x, x[::-1]], axis=2)
    t3 = np.stack([t, t[::-1]], axis=1)
    out = []
    for xa, ta in ((x, t), (x3, t3)):
        xt = torch.tensor(np.ascontiguousarray(xa), requires_grad=True)
        loss = F.cross_entropy(xt, torch.tensor(np.ascontiguousarray(ta)), reduction=reduction, **kw)
        if reduction == "sum":
            (loss * 0.75).backward()
        else:
            (loss * torch.tensor(np.full(tuple(loss.shape), 0.5, xa.dtype))).sum().backward()
        out.append((loss.detach().numpy(), xt.grad.numpy()))
    (l2, g2), (l3, g3) = out
    return (l2, g2), (l3 if reduction == "sum" else l3[:, 0], g3[:, :, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "sum"])
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2}])
def test_fast_rows_match_general_loop_bitwise(dtype, reduction, kw):
    x, t = _rows(dtype)
    (l2, g2), (l3, g3) = _pair(x, t, reduction, **kw)
    assert g2.tobytes() == g3.tobytes()
    if reduction == "none":
        assert l2.tobytes() == l3.tobytes()
    assert np.isnan(l2[[3, 5]]).all() if reduction == "none" else np.isnan(l2)
    assert (g2[11] == 0).all() and (g2[12] == 0).all()


@pytest.mark.parametrize("n", [1, 3, 1639, 5000])
def test_fast_rows_match_general_loop_sizes(n):
    # row counts around the 1638-row chunk, and odd rows × 10 classes leave exponentials outside
    # the groups of four
    x, t = _rows(np.float32, n=max(n, 13), c=10, seed=n)
    x, t = x[:n], t[:n]
    t[t == -100] = 1
    (l2, g2), (l3, g3) = _pair(x, t, "none")
    assert l2.tobytes() == l3.tobytes() and g2.tobytes() == g3.tobytes()


def test_no_grad_forward_matches_grad_forward():
    x, t = _rows(np.float32)
    with torch.no_grad():
        a = F.cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none").numpy()
    b = (
        F.cross_entropy(torch.tensor(x, requires_grad=True), torch.tensor(t), reduction="none")
        .detach()
        .numpy()
    )
    assert a.tobytes() == b.tobytes()


def test_float32_softmax_matches_libm_expf_reference():
    # the kept softmax (seen through sum-reduced gradients) against NumPy's own float32 exp
    # of x - max rounded to float32, normalised in float64 as the kernel does
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((64, 10)) * 8).astype(np.float32)
    t = rng.integers(0, 10, 64)
    xt = torch.tensor(x, requires_grad=True)
    F.cross_entropy(xt, torch.tensor(t), reduction="sum").backward()
    e = np.exp((x.astype(np.float64) - x.max(1, keepdims=True)).astype(np.float32)).astype(np.float64)
    p = e / e.sum(1, keepdims=True)
    p[np.arange(64), t] -= 1
    np.testing.assert_allclose(xt.grad.numpy(), p.astype(np.float32), rtol=1e-6, atol=1e-7)
