"""Matrix products: matmul/@, mm, bmm, dot, mv, outer, inner, addmm, einsum — forward, backward, errors."""

import json
import math
import pathlib

import ferrotorch as torch
import numpy as np
import pytest

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "matmul.json").read_text())
rng = np.random.default_rng(0)

DT = {
    "torch.float32": np.float32,
    "torch.float64": np.float64,
    "torch.int64": np.int64,
    "torch.int32": np.int32,
    "torch.uint8": np.uint8,
    "torch.bool": np.bool_,
}


def ev(expr):
    return eval(expr.replace("torch.randn(", "torch.ones("), {"torch": torch, "float": float})


def check_encoded(got, enc):
    if "seq" in enc:
        assert isinstance(got, (tuple, list)) and len(got) == len(enc["seq"])
        for g, e in zip(got, enc["seq"]):
            check_encoded(g, e)
        return
    assert list(got.shape) == enc["shape"]
    assert str(got.dtype) == enc["dtype"]
    want = np.array([math.nan if v is None else v for v in enc["values"]], dtype=DT[enc["dtype"]])
    np.testing.assert_allclose(got.detach().numpy().reshape(-1), want, rtol=1e-5, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("case", GOLDEN, ids=[c["expr"] for c in GOLDEN])
def test_golden(case):
    if "error" in case:
        with pytest.raises(getattr(__builtins__, case["error"], None) or Exception) as ei:
            ev(case["expr"])
        assert type(ei.value).__name__ == case["error"]
        assert str(ei.value) == case["message"]
    else:
        check_encoded(ev(case["expr"]), case["result"])


def t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def gradcheck(f, *arrays, eps=1e-6, tol=1e-5):
    """Float64 central differences of sum(f(...) * W) against autograd for every input."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    xs = [t(a, True) for a in arrays]
    out = f(*xs)
    w = rng.standard_normal(tuple(out.shape))
    (out * t(w)).sum().backward()
    for x, a in zip(xs, arrays):
        num = np.zeros_like(a)
        flat = a.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            vals = []
            for d in (eps, -eps):
                flat[i] = old + d
                vals.append(float((f(*[t(b) for b in arrays]).numpy() * w).sum()))
            flat[i] = old
            num.reshape(-1)[i] = (vals[0] - vals[1]) / (2 * eps)
        got = x.grad.numpy() if x.grad is not None else np.zeros_like(a)
        np.testing.assert_allclose(got, num, rtol=tol, atol=tol)


SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((45, 65), (65, 7)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((0,), (0,)),
    ((1, 0), (0, 3)),
    ((0, 3), (3, 2)),
    ((2, 0, 3), (3, 4)),
    ((1, 2, 3), (4, 3, 1)),
]


@pytest.mark.parametrize("sa,sb", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_numpy(sa, sb, dtype):
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    r = t(a) @ t(b)
    want = np.matmul(a, b)
    assert tuple(r.shape) == want.shape
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(r.numpy(), want, rtol=tol, atol=tol)
    np.testing.assert_allclose(torch.matmul(t(a), t(b)).numpy(), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("sa,sb", [s for s in SHAPES if np.prod(s[0]) + np.prod(s[1]) < 100])
def test_matmul_grad(sa, sb):
    gradcheck(lambda x, y: x @ y, rng.standard_normal(sa), rng.standard_normal(sb))


def test_noncontiguous_operands():
    a = rng.standard_normal((7, 5))
    b = rng.standard_normal((9, 7))
    ta, tb = t(a), t(b)
    np.testing.assert_allclose((ta.t() @ tb.t()).numpy(), a.T @ b.T, rtol=1e-10)
    sa = ta.narrow(0, 1, 5)
    np.testing.assert_allclose((sa.t() @ t(a[1:6])).numpy(), a[1:6].T @ a[1:6], rtol=1e-10)
    st = t(rng.standard_normal((10, 6)))[::2]
    np.testing.assert_allclose((st @ t(a[:6])).numpy(), st.numpy() @ a[:6], rtol=1e-10)
    e = t(a[0]).expand(4, 5)
    np.testing.assert_allclose((e @ t(a.T)).numpy(), np.broadcast_to(a[0], (4, 5)) @ a.T, rtol=1e-10)
    fl = t(a).flip(0)
    np.testing.assert_allclose((fl @ t(a.T)).numpy(), a[::-1] @ a.T, rtol=1e-10)
    gradcheck(lambda x, y: x.t() @ y.t(), rng.standard_normal((3, 2)), rng.standard_normal((4, 3)))
    gradcheck(lambda x, y: x.expand(3, 4) @ y, rng.standard_normal((4,)), rng.standard_normal((4, 2)))


def test_nan_propagates():
    a = np.array([[1.0, np.nan], [2.0, 3.0]])
    r = (t(a) @ t(np.eye(2))).numpy()
    assert np.isnan(r[0]).all() and not np.isnan(r[1]).any()


def test_int_matmul():
    a = rng.integers(-5, 5, (4, 6))
    b = rng.integers(-5, 5, (6, 3))
    r = t(a) @ t(b)
    assert r.dtype == torch.int64
    np.testing.assert_array_equal(r.numpy(), a @ b)
    np.testing.assert_array_equal(torch.tensor(a).t().mm(torch.tensor(a)).numpy(), a.T @ a)


def test_mm_bmm_dot_mv_outer():
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    np.testing.assert_allclose(torch.mm(t(a), t(b)).numpy(), a @ b, rtol=1e-10)
    A, B = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    np.testing.assert_allclose(torch.bmm(t(A), t(B)).numpy(), A @ B, rtol=1e-10)
    v, w = rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_allclose(torch.dot(t(v), t(w)).numpy(), v @ w, rtol=1e-10)
    np.testing.assert_allclose(t(a).mv(t(v)).numpy(), a @ v, rtol=1e-10)
    np.testing.assert_allclose(torch.outer(t(v), t(w[:3])).numpy(), np.outer(v, w[:3]), rtol=1e-10)
    np.testing.assert_allclose(torch.inner(t(A), t(a)).numpy(), np.inner(A, a), rtol=1e-10)
    gradcheck(torch.mm, a, b)
    gradcheck(torch.bmm, A, B)
    gradcheck(torch.dot, v, w)
    gradcheck(torch.mv, a, v)
    gradcheck(torch.outer, v, w)
    gradcheck(torch.inner, A, a)


def test_grad_fn_names():
    x, y = t(rng.standard_normal((2, 3)), True), t(rng.standard_normal(3), True)
    assert type((x @ y).grad_fn).__name__ == "MvBackward0" or "MvBackward0" in str((x @ y).grad_fn)
    assert "MmBackward0" in str((x @ x.t()).grad_fn)
    assert "DotBackward0" in str((y @ y).grad_fn)
    assert "AddmmBackward0" in str(torch.addmm(y, x.t(), x).grad_fn)


def test_addmm():
    i, m1, m2 = rng.standard_normal((3,)), rng.standard_normal((2, 4)), rng.standard_normal((4, 3))
    r = torch.addmm(t(i), t(m1), t(m2), beta=0.5, alpha=2.0)
    np.testing.assert_allclose(r.numpy(), 0.5 * i + 2 * m1 @ m2, rtol=1e-10)
    np.testing.assert_allclose(t(i).addmm(t(m1), t(m2)).numpy(), i + m1 @ m2, rtol=1e-10)
    gradcheck(lambda a, b, c: torch.addmm(a, b, c, beta=0.5, alpha=-1.5), i, m1, m2)
    gradcheck(
        lambda a, b, c: torch.addmm(a, b.t(), c), rng.standard_normal((2, 3)), rng.standard_normal((4, 2)), m2
    )


def test_out_and_rmatmul():
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    o = torch.zeros(3, 2, dtype=torch.float64)
    r = torch.matmul(t(a), t(b), out=o)
    assert r is o
    np.testing.assert_allclose(o.numpy(), a @ b, rtol=1e-10)
    assert t(a).__rmatmul__(t(rng.standard_normal((2, 3)))).shape == (2, 4)
    with pytest.raises(TypeError):
        t(a) @ 3


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij->ji", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("i,j->ij", [(3,), (2,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk", [(2, 3, 4), (4, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ba,ca", [(2, 3), (4, 3)]),
    ("i,i", [(3,), (3,)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("i...->...", [(2, 3, 4)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 4, 6), (1, 2, 3, 6)]),
    ("ij,kj->ikj", [(2, 3), (1, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum(eq, shapes):
    arrs = [rng.standard_normal(s) for s in shapes]
    want = np.einsum(eq, *arrs)
    got = torch.einsum(eq, *[t(a) for a in arrs])
    assert tuple(got.shape) == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    got2 = torch.einsum(eq, [t(a) for a in arrs])
    np.testing.assert_allclose(got2.numpy(), want, rtol=1e-10, atol=1e-12)
    gradcheck(lambda *xs: torch.einsum(eq, *xs), *arrs)


def test_large_parallel_matches_numpy():
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 250)).astype(np.float32)
    np.testing.assert_allclose((t(a) @ t(b)).numpy(), a @ b, rtol=1e-3, atol=1e-3)
    A = rng.standard_normal((16, 64, 64)).astype(np.float32)
    np.testing.assert_allclose((t(A) @ t(A)).numpy(), A @ A, rtol=1e-3, atol=1e-3)
    A = rng.standard_normal((8, 3, 4))
    B = rng.standard_normal((4, 5))
    np.testing.assert_allclose((t(A) @ t(B)).numpy(), A @ B, rtol=1e-10)
