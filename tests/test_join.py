"""Joining and reshaping ops: cat/stack/hstack/vstack/dstack, flip, roll, repeat/tile, tril/triu,
chunk/split/unbind (views), movedim, unflatten, diag/diagonal/trace — forward, backward, errors."""

import json
import math
import pathlib

import ferrotorch as torch
import numpy as np
import pytest

GOLDEN = json.loads((pathlib.Path(__file__).parent / "golden" / "join.json").read_text())
rng = np.random.default_rng(1)

DT = {
    "torch.float32": np.float32,
    "torch.float64": np.float64,
    "torch.int64": np.int64,
    "torch.int32": np.int32,
    "torch.uint8": np.uint8,
    "torch.bool": np.bool_,
}


def ev(expr):
    return eval(expr, {"torch": torch, "float": float})


def check_encoded(got, enc):
    if "seq" in enc:
        assert isinstance(got, (tuple, list)) and len(got) == len(enc["seq"]), (got, enc)
        for g, e in zip(got, enc["seq"]):
            check_encoded(g, e)
        return
    assert list(got.shape) == enc["shape"]
    assert str(got.dtype) == enc["dtype"]
    want = np.array([math.nan if v is None else v for v in enc["values"]], dtype=DT[enc["dtype"]])
    np.testing.assert_allclose(got.detach().numpy().reshape(-1), want, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("case", GOLDEN, ids=[c["expr"] for c in GOLDEN])
def test_golden(case):
    if "error" in case:
        with pytest.raises(Exception) as ei:
            ev(case["expr"])
        assert type(ei.value).__name__ == case["error"], ei.value
        assert str(ei.value) == case["message"]
    else:
        check_encoded(ev(case["expr"]), case["result"])


def t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def gradcheck(f, *arrays, eps=1e-6, tol=1e-6):
    """Float64 central differences of sum(outputs * W) against autograd for every input."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    xs = [t(a, True) for a in arrays]

    def outs(r):
        return list(r) if isinstance(r, (tuple, list)) else [r]

    res = outs(f(*xs))
    ws = [rng.standard_normal(tuple(o.shape)) for o in res]
    sum((o * t(w)).sum() for o, w in zip(res, ws)).backward()
    for x, a in zip(xs, arrays):
        num = np.zeros_like(a)
        flat = a.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            vals = []
            for d in (eps, -eps):
                flat[i] = old + d
                vals.append(
                    sum(float((o.numpy() * w).sum()) for o, w in zip(outs(f(*[t(b) for b in arrays])), ws))
                )
            flat[i] = old
            num.reshape(-1)[i] = (vals[0] - vals[1]) / (2 * eps)
        got = x.grad.numpy() if x.grad is not None else np.zeros_like(a)
        np.testing.assert_allclose(got, num, rtol=tol, atol=tol)


CAT_SHAPES = [
    ([(2, 3), (4, 3)], 0),
    ([(2, 3), (2, 1), (2, 0)], 1),
    ([(1, 0, 3), (1, 2, 3)], 1),
    ([(0,), (3,)], 0),
    ([(45, 65), (45, 2)], -1),
    ([(2, 3, 4)] * 3, 2),
    ([(5,)], 0),
]


@pytest.mark.parametrize("shapes,dim", CAT_SHAPES)
def test_cat_numpy_and_grad(shapes, dim):
    arrs = [rng.standard_normal(s) for s in shapes]
    got = torch.cat([t(a) for a in arrs], dim)
    np.testing.assert_array_equal(got.numpy(), np.concatenate(arrs, dim))
    np.testing.assert_array_equal(
        torch.concat(tuple(t(a) for a in arrs), dim=dim).numpy(), np.concatenate(arrs, dim)
    )
    np.testing.assert_array_equal(
        torch.concatenate([t(a) for a in arrs], dim).numpy(), np.concatenate(arrs, dim)
    )
    if sum(a.size for a in arrs) < 300:
        gradcheck(lambda *xs: torch.cat(xs, dim), *arrs)


def test_cat_noncontiguous_and_out():
    a = rng.standard_normal((4, 6))
    x = t(a)
    got = torch.cat([x.t(), x[::2].t(), x.narrow(0, 1, 2).t()], 1)
    np.testing.assert_array_equal(got.numpy(), np.concatenate([a.T, a[::2].T, a[1:3].T], 1))
    e = t(a[0]).expand(3, 6)
    np.testing.assert_array_equal(
        torch.cat([e, x]).numpy(), np.concatenate([np.broadcast_to(a[0], (3, 6)), a])
    )
    o = torch.zeros(8, 6, dtype=torch.float64)
    r = torch.cat([x, x], out=o)
    assert r is o
    np.testing.assert_array_equal(o.numpy(), np.concatenate([a, a]))
    nan = t(np.array([np.nan, 1.0]))
    assert np.isnan(torch.cat([nan, nan]).numpy()[[0, 2]]).all()
    gradcheck(lambda y: torch.cat([y.t(), y[::2].t()], 1), a[:3, :2])
    gradcheck(lambda y, z: torch.cat([y, z]), rng.standard_normal((2, 2)), rng.standard_normal(0))


def test_cat_mixed_dtype_grad():
    x = t(rng.standard_normal((2, 2)), True)
    r = torch.cat([x, torch.ones(1, 2, dtype=torch.float32)])
    assert r.dtype == torch.float64
    r.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 2)))


def test_stack_family():
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    for d in (0, 1, 2, -1):
        np.testing.assert_array_equal(torch.stack([t(a), t(b)], d).numpy(), np.stack([a, b], d))
    np.testing.assert_array_equal(torch.hstack([t(a), t(b)]).numpy(), np.hstack([a, b]))
    np.testing.assert_array_equal(torch.vstack([t(a), t(b)]).numpy(), np.vstack([a, b]))
    np.testing.assert_array_equal(torch.dstack([t(a), t(b)]).numpy(), np.dstack([a, b]))
    np.testing.assert_array_equal(torch.row_stack([t(a[0]), t(b[0])]).numpy(), np.vstack([a[0], b[0]]))
    gradcheck(lambda x, y: torch.stack([x, y], 1), a, b)
    gradcheck(lambda x, y: torch.hstack([x, y]), a, b)
    gradcheck(lambda x, y: torch.vstack([x, y]), a[0], b[0])
    gradcheck(lambda x, y: torch.dstack([x, y]), a, b)


SHAPES = [(), (0,), (1, 0, 3), (2, 3), (3, 4, 5), (45, 65)]


@pytest.mark.parametrize("shape", SHAPES)
def test_flip_roll_repeat(shape):
    a = rng.standard_normal(shape)
    x = t(a)
    n = a.ndim
    dims = tuple(range(n))
    np.testing.assert_array_equal(x.flip(dims).numpy(), np.flip(a, dims) if n else a)
    if n:
        np.testing.assert_array_equal(x.flip(-1).numpy(), np.flip(a, -1))
        np.testing.assert_array_equal(x.roll(2, 0).numpy(), np.roll(a, 2, 0))
        np.testing.assert_array_equal(x.roll(-7, -1).numpy(), np.roll(a, -7, -1))
    np.testing.assert_array_equal(x.roll(3).numpy(), np.roll(a, 3))
    reps = (2,) + (1,) * n
    np.testing.assert_array_equal(x.repeat(*reps).numpy(), np.tile(a, reps))
    np.testing.assert_array_equal(x.tile((2,)).numpy(), np.tile(a, 2))
    if a.size < 100:
        gradcheck(lambda y: y.flip(dims), a)
        gradcheck(lambda y: y.roll(1), a)
        gradcheck(lambda y: y.repeat(*((2,) + (2,) * n)), a)
        if n:
            gradcheck(lambda y: y.roll((1, -1), (0, -1)), a)


def test_flip_noncontiguous():
    a = rng.standard_normal((4, 6))
    np.testing.assert_array_equal(t(a).t().flip(0).numpy(), a.T[::-1])
    np.testing.assert_array_equal(t(a)[::2].flip(1).numpy(), a[::2, ::-1])
    np.testing.assert_array_equal(t(a).fliplr().numpy(), np.fliplr(a))
    np.testing.assert_array_equal(t(a).flipud().numpy(), np.flipud(a))


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (4, 2), (0, 3), (1, 0, 3), (45, 65)])
@pytest.mark.parametrize("k", [0, 1, -2])
def test_tril_triu(shape, k):
    a = rng.standard_normal(shape)
    np.testing.assert_array_equal(t(a).tril(k).numpy(), np.tril(a, k))
    np.testing.assert_array_equal(t(a).triu(k).numpy(), np.triu(a, k))
    np.testing.assert_array_equal(
        t(a).t().tril(k).numpy() if len(shape) == 2 else np.tril(np.swapaxes(a, -1, -2), k),
        np.tril(np.swapaxes(a, -1, -2), k),
    )
    x = t(a.copy())
    assert x.tril_(k) is x
    np.testing.assert_array_equal(x.numpy(), np.tril(a, k))
    x = t(a.copy())
    x.triu_(k)
    np.testing.assert_array_equal(x.numpy(), np.triu(a, k))
    if a.size < 100:
        gradcheck(lambda y: y.tril(k), a)
        gradcheck(lambda y: y.triu(k), a)


def test_tril_nan_and_inplace_grad():
    a = np.array([[np.nan, np.nan], [np.nan, 1.0]])
    r = t(a).tril().numpy()
    assert r[0, 1] == 0 and np.isnan(r[0, 0])
    x = t(rng.standard_normal((3, 3)), True)
    y = x * 2
    y.tril_()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.tril(np.ones((3, 3))))


def test_split_chunk_unbind_are_views():
    a = rng.standard_normal((6, 4))
    x = t(a.copy())
    parts = x.split(4)
    assert [tuple(p.shape) for p in parts] == [(4, 4), (2, 4)]
    parts = x.chunk(3, 1)
    assert [tuple(p.shape) for p in parts] == [(6, 2), (6, 2)]
    for p, e in zip(t(a).split([1, 3, 2]), np.split(a, [1, 4])):
        np.testing.assert_array_equal(p.numpy(), e)
    for p, e in zip(t(a).unbind(1), a.T):
        np.testing.assert_array_equal(p.numpy(), e)
    u = x.unbind()
    assert u[0].data_ptr() == x.data_ptr()
    s = x.split(2)
    assert s[1].data_ptr() == x.data_ptr() + 2 * 4 * 8
    c = x.chunk(2, 1)
    assert c[1].data_ptr() == x.data_ptr() + 2 * 8
    gradcheck(lambda y: y.split([1, 3, 2]), a)
    gradcheck(lambda y: y.chunk(3, 1), a[:, :3])
    gradcheck(lambda y: y.unbind(1), a)
    np.testing.assert_array_equal(torch.split(t(a), 3)[1].numpy(), a[3:])


def test_movedim_unflatten():
    a = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(t(a).movedim(0, -1).numpy(), np.moveaxis(a, 0, -1))
    np.testing.assert_array_equal(t(a).movedim((0, 1), (2, 0)).numpy(), np.moveaxis(a, (0, 1), (2, 0)))
    np.testing.assert_array_equal(torch.moveaxis(t(a), [2], [0]).numpy(), np.moveaxis(a, 2, 0))
    np.testing.assert_array_equal(t(a).unflatten(2, (2, -1)).numpy(), a.reshape(2, 3, 2, 2))
    x = t(a)
    assert x.movedim(0, 1).data_ptr() == x.data_ptr()
    gradcheck(lambda y: y.movedim(0, 2), a)
    gradcheck(lambda y: y.unflatten(1, (3, 1)), a)


def test_diag_diagonal_trace():
    v = rng.standard_normal(3)
    m = rng.standard_normal((4, 5))
    for k in (0, 1, -2):
        np.testing.assert_array_equal(t(v).diag(k).numpy(), np.diag(v, k))
        np.testing.assert_array_equal(t(m).diag(k).numpy(), np.diag(m, k))
        np.testing.assert_array_equal(t(m).diagonal(k).numpy(), np.diagonal(m, k))
        gradcheck(lambda y, k=k: y.diag(k), v)
        gradcheck(lambda y, k=k: y.diag(k), m)
    b = rng.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(t(b).diagonal(1, 0, 2).numpy(), np.diagonal(b, 1, 0, 2))
    np.testing.assert_array_equal(t(b).diagonal(-1, 2, 1).numpy(), np.diagonal(b, -1, 2, 1))
    gradcheck(lambda y: y.diagonal(1, 0, 2), b)
    x = t(m)
    d = x.diagonal()
    assert d.data_ptr() == x.data_ptr()
    np.testing.assert_allclose(t(m).trace().numpy(), np.trace(m))
    np.testing.assert_allclose(t(m).t().trace().numpy(), np.trace(m))
    gradcheck(lambda y: y.trace(), m)
    np.testing.assert_array_equal(t(m).t().diagonal().numpy(), np.diagonal(m.T))
