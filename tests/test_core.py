"""The tensor core: creation, dtypes and promotion, NumPy sharing, views, Python protocols, errors."""

import builtins
import copy
import math
import pickle

import ferrotorch as torch
import numpy as np
import pytest
from conftest import assert_close, load_golden

GOLD = load_golden("core_golden.json")
DT = {
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int32": torch.int32,
    "int64": torch.int64,
    "float32": torch.float32,
    "float64": torch.float64,
}
SAMPLES = {
    "bool": [True, False, True],
    "uint8": [1, 2, 250],
    "int32": [-3, 0, 7],
    "int64": [-3, 0, 7],
    "float32": [-1.5, 0.25, 3.0],
    "float64": [-1.5, 0.25, 3.0],
}


def sample(name):
    return torch.tensor(SAMPLES[name], dtype=DT[name])


@pytest.mark.parametrize("a,b,expected", GOLD["promotion"])
def test_promotion_matches_torch(a, b, expected):
    x = sample(a)
    if b.endswith("_0d"):
        r = x * sample(b[:-3]).select(0, 0)
    elif a == "bool" and b == "bool":
        r = x | sample(b)
    else:
        r = x + sample(b)
    assert str(r.dtype) == expected


@pytest.mark.parametrize("a,s,expected", GOLD["scalar_promotion"])
def test_scalar_promotion_matches_torch(a, s, expected):
    x = sample(a)
    r = x / 2 if s == "div2" else x * eval(s)
    assert str(r.dtype) == expected


def test_dtype_inference_and_aliases():
    assert torch.tensor([1, 2]).dtype == torch.int64
    assert torch.tensor([1.0, 2]).dtype == torch.float32
    assert torch.tensor([True]).dtype == torch.bool
    assert torch.tensor(np.array([1, 2], dtype=np.int32)).dtype == torch.int32
    assert torch.float is torch.float32 or torch.float == torch.float32
    assert torch.long == torch.int64 and torch.double == torch.float64 and torch.int == torch.int32
    torch.set_default_dtype(torch.float64)
    assert torch.tensor([1.0]).dtype == torch.float64
    assert torch.get_default_dtype() == torch.float64
    assert (torch.tensor([1, 2]) * 0.5).dtype == torch.float64


def test_factories():
    assert torch.zeros(2, 3).shape == (2, 3)
    assert torch.zeros((2, 3)).shape == torch.Size([2, 3])
    assert repr(torch.ones(2, 3).shape) == "torch.Size([2, 3])"
    assert torch.full((2,), 7).dtype == torch.int64
    assert torch.full((2,), 7.0).dtype == torch.float32
    assert_close(torch.arange(5), np.arange(5))
    assert torch.arange(5).dtype == torch.int64
    assert_close(torch.arange(0, 1, 0.25), np.arange(0, 1, 0.25))
    assert_close(torch.arange(10, 0, -3), np.arange(10, 0, -3))
    assert_close(torch.linspace(0, 1, 5), np.linspace(0, 1, 5))
    assert_close(torch.logspace(0, 2, 3), [1.0, 10.0, 100.0])
    assert_close(torch.eye(2, 3), np.eye(2, 3))
    x = torch.ones(2, 3, dtype=torch.float64)
    for f in (torch.zeros_like, torch.ones_like, torch.empty_like):
        y = f(x)
        assert y.shape == x.shape and y.dtype == torch.float64
    assert_close(torch.full_like(x, 2.5), np.full((2, 3), 2.5))
    assert torch.zeros(0, 3).shape == (0, 3)
    assert torch.tensor(3.5).shape == ()
    assert torch.Tensor([1, 2]).dtype == torch.float32
    assert torch.Tensor(2, 3).shape == (2, 3)
    assert torch.LongTensor([1, 2]).dtype == torch.int64
    assert torch.FloatTensor([1, 2]).dtype == torch.float32
    assert torch.ones(2, requires_grad=True).requires_grad


def test_attributes():
    x = torch.zeros(2, 3, 4)
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.stride() == (12, 4, 1) and x.stride(0) == 12
    assert x.is_contiguous() and not x.transpose(0, 1).is_contiguous()
    assert x.element_size() == 4 and torch.zeros(1, dtype=torch.float64).element_size() == 8
    assert str(x.device) == "cpu" and repr(x.device) == "device(type='cpu')"
    assert x.data_ptr() != 0
    assert x[0].data_ptr() == x.data_ptr() if hasattr(x, "__getitem__") else True
    assert isinstance(x, torch.Tensor) and torch.is_tensor(x) and not torch.is_tensor([1])
    assert x.type() == "torch.FloatTensor"
    assert x.long().type() == "torch.LongTensor"
    assert x.type(torch.float64).dtype == torch.float64


def test_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = torch.from_numpy(a)
    a[0, 0] = 42
    assert t.tolist()[0][0] == 42
    t.add_(1)
    assert a[0, 0] == 43
    n = t.numpy()
    n[1, 2] = -1
    assert t.tolist()[1][2] == -1
    # transposed and strided NumPy views keep their layout
    tt = torch.from_numpy(a.T)
    assert tt.shape == (3, 2) and tt.tolist() == a.T.tolist()
    ts = torch.from_numpy(a[:, ::2])
    assert ts.tolist() == a[:, ::2].tolist()
    with pytest.raises(ValueError, match="negative"):
        torch.from_numpy(a[:, ::-1])
    # torch.tensor copies
    c = torch.tensor(a)
    a[0, 0] = 0
    assert c.tolist()[0][0] == 44 - 1
    with pytest.raises(NotImplementedError, match="float16"):
        torch.from_numpy(np.zeros(2, dtype=np.float16))


def test_array_protocol():
    t = torch.arange(6).reshape(2, 3)
    assert np.asarray(t).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert np.array(t, dtype=np.float64).dtype == np.float64
    assert np.array(t, copy=True) is not None
    g = torch.ones(2, requires_grad=True)
    assert np.asarray(g).tolist() == [1.0, 1.0]
    for dt in ["float32", "float64", "int64", "int32", "uint8", "bool"]:
        x = torch.tensor(SAMPLES[dt], dtype=DT[dt])
        assert x.numpy().dtype == np.dtype(dt if dt != "bool" else "bool")


def test_views_share_storage():
    x = torch.zeros(3, 4)
    v = x.view(4, 3)
    v.add_(1)
    assert x.tolist()[0] == [1.0] * 4
    t = x.t()
    t.mul_(3)
    assert x.tolist()[2][3] == 3.0
    r = x.reshape(12)
    assert r.data_ptr() == x.data_ptr()
    nr = x.t().reshape(12)
    assert nr.data_ptr() != x.data_ptr()
    s = x.narrow(1, 1, 2)
    s.zero_()
    assert x.tolist()[0] == [3.0, 0.0, 0.0, 3.0]
    e = torch.ones(3, 1).expand(3, 4)
    assert e.stride() == (1, 0)
    assert x.unsqueeze(0).shape == (1, 3, 4) and x.unsqueeze(-1).shape == (3, 4, 1)
    assert torch.zeros(1, 3, 1).squeeze().shape == (3,)
    assert torch.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert x.permute(1, 0).shape == (4, 3)
    assert x.T.shape == (4, 3) and x.mT.shape == (4, 3)
    assert x.flatten().shape == (12,)
    assert torch.zeros(2, 3, 4).flatten(1).shape == (2, 12)
    d = x.detach()
    d.fill_(5)
    assert x.tolist()[0][0] == 5
    assert x.select(1, 2).shape == (3,)


def test_copy_and_casts():
    x = torch.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2]
    assert x.int().dtype == torch.int32 and x.bool().tolist() == [True, True]
    assert torch.tensor([300]).byte().tolist() == [44]
    assert x.to(torch.float64).dtype == torch.float64
    assert x.to("cpu") is x
    assert x.to(x) is x
    y = torch.zeros(2, 2)
    y.copy_(torch.tensor([1, 2]))
    assert y.tolist() == [[1.0, 2.0], [1.0, 2.0]]
    assert x.clone().data_ptr() != x.data_ptr()
    assert x.double().float().dtype == torch.float32
    with pytest.raises(RuntimeError, match="CUDA"):
        x.to("cuda")
    with pytest.raises(RuntimeError, match="CUDA"):
        x.cuda()
    assert not torch.cuda.is_available() and torch.cuda.device_count() == 0
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert x.to(dev) is x


def test_python_protocols():
    x = torch.tensor([1.5, 2.5])
    assert float(torch.tensor(2.5)) == 2.5 and int(torch.tensor(3.9)) == 3
    assert [1, 2, 3][torch.tensor(1)] == 2
    assert bool(torch.tensor(1.0)) and not bool(torch.tensor(0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    assert f"{torch.tensor(2.34567):.2f}" == "2.35"
    assert [v.item() for v in x] == [1.5, 2.5]
    assert 2.5 in x and 3.0 not in x
    assert x.item if False else torch.tensor([[7]]).item() == 7
    assert sum([torch.tensor(1.0), torch.tensor(2.0)]).item() == 3.0
    assert (0 + x).tolist() == [1.5, 2.5]
    d = {x: 1}
    assert d[x] == 1 and hash(x) != hash(x.clone())
    assert torch.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert isinstance(torch.tensor(2).item(), int) and isinstance(torch.tensor(2.0).item(), float)
    assert torch.tensor(True).item() is True
    c = copy.deepcopy(torch.ones(2, requires_grad=True))
    assert c.requires_grad and c.is_leaf
    p = pickle.loads(pickle.dumps(torch.tensor([[1.0, 2.0]], dtype=torch.float64)))
    assert p.dtype == torch.float64 and p.tolist() == [[1.0, 2.0]]
    with pytest.raises(TypeError):
        len(torch.tensor(1.0))


def test_threads():
    n = torch.get_num_threads()
    assert n >= 1
    a = torch.from_numpy(np.random.RandomState(0).rand(1 << 19).astype(np.float32))
    torch.set_num_threads(1)
    r1 = (a * 3 + 1).exp().numpy().copy()
    torch.set_num_threads(2)
    r2 = (a * 3 + 1).exp().numpy().copy()
    torch.set_num_threads(n)
    assert np.array_equal(r1, r2)


def _golden_error(name):
    for n, cls, msg in GOLD["errors"]:
        if n == name:
            return getattr(builtins, cls), msg
    raise KeyError(name)


ERROR_CASES = {
    "broadcast": lambda: torch.ones(4, 16) + torch.ones(4, 3),
    "dim_range": lambda: torch.ones(2, 3).transpose(0, 2),
    "view": lambda: torch.ones(4, 3).t().view(12),
    "reshape_size": lambda: torch.ones(6).reshape(4, -1),
    "item_many": lambda: torch.ones(3).item(),
    "ragged": lambda: torch.tensor([[1, 2], [3]]),
    "bool_sub": lambda: torch.tensor([True]) - torch.tensor([True]),
    "bool_neg": lambda: -torch.tensor([True]),
    "int_inplace_float": lambda: torch.tensor([1, 2]).add_(1.5),
    "leaf_inplace": lambda: torch.ones(2, requires_grad=True).add_(1),
    "numpy_grad": lambda: torch.ones(2, requires_grad=True).numpy(),
    "nonscalar": lambda: (torch.ones(2, requires_grad=True) * 2).backward(),
    "int_requires_grad": lambda: torch.ones(2, dtype=torch.long).requires_grad_(),
    "expand": lambda: torch.ones(2, 3).expand(3, 3),
    "select": lambda: torch.ones(3).select(0, 5),
    "int_div_zero": lambda: torch.tensor([1]) // torch.tensor([0]),
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_errors_match_torch(name):
    cls, msg = _golden_error(name)
    with pytest.raises(cls) as info:
        ERROR_CASES[name]()
    assert str(info.value).startswith(msg)


def test_negative_size_error():
    with pytest.raises(RuntimeError, match="zeros: Dimension size must be non-negative"):
        torch.zeros(2, -1)


def test_unsupported_dtype_says_so():
    with pytest.raises(NotImplementedError, match="float16"):
        torch.zeros(2, dtype=torch.float16)
    with pytest.raises(TypeError):
        torch.tensor("abc")


def test_nan_inf_propagate():
    x = torch.tensor([math.nan, math.inf, -math.inf, 1.0])
    assert np.isnan((x * 2).numpy()[0]) and (x + 1).numpy()[1] == math.inf
    assert torch.isnan(x).tolist() == [True, False, False, False]
    assert torch.isinf(x).tolist() == [False, True, True, False]
    assert torch.isfinite(x).tolist() == [False, False, False, True]
    assert torch.nan_to_num(x).tolist()[:1] == [0.0]
    assert np.isnan(torch.relu(x).numpy()[0])


def test_isclose_allclose_equal():
    a = torch.tensor([1.0, math.inf, math.nan, 2.0])
    b = torch.tensor([1.0 + 1e-7, math.inf, math.nan, 2.1])
    assert torch.isclose(a, b).tolist() == [True, True, False, False]
    assert torch.isclose(a, b, equal_nan=True).tolist() == [True, True, True, False]
    assert torch.allclose(a.narrow(0, 0, 2), b.narrow(0, 0, 2))
    assert not torch.allclose(a, b)
    assert torch.equal(torch.tensor([1, 2]), torch.tensor([1, 2]))
    assert not torch.equal(torch.tensor([1, 2]), torch.tensor([1, 2, 3]))
    assert torch.tensor([1.0, 2.0]).allclose(torch.tensor([1.0, 2.0 + 1e-9]))


def test_numpy_scalars_keep_their_dtype():
    assert torch.tensor(np.float64(1.5)).dtype == torch.float64
    assert torch.tensor(np.float32(1.5)).dtype == torch.float32
    assert torch.tensor(np.int32(3)).dtype == torch.int32
    assert torch.tensor(np.bool_(True)).dtype == torch.bool
    assert torch.tensor(np.float64(1.5), dtype=torch.float32).dtype == torch.float32
    assert (torch.ones(2) * np.float64(2.0)).dtype == torch.float32


def test_out_argument_on_functions():
    x = torch.arange(12.0).reshape(3, 4)
    o = torch.empty(4)
    assert torch.sum(x, 0, out=o) is o and o.tolist() == [12.0, 15.0, 18.0, 21.0]
    e = torch.empty(0)
    torch.exp(torch.zeros(2, 2), out=e)
    assert e.shape == (2, 2) and e.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    v, i = torch.empty(3), torch.empty(3, dtype=torch.int64)
    torch.max(x, 1, out=(v, i))
    assert v.tolist() == [3.0, 7.0, 11.0] and i.tolist() == [3, 3, 3]
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        torch.sqrt(x, out=torch.empty(3, 4, dtype=torch.int64))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        torch.exp(torch.ones(2, requires_grad=True), out=torch.empty(2))


def test_tensor_new_factories_match_pytorch():
    """Tensor.new_zeros/new_ones/new_empty/new_full/new_tensor: the base tensor's dtype by default, torch's
    printing, the copy warning and the errors (golden: tests/golden/make_tensor_new_golden.py)."""
    import json
    import os
    import sys

    golden_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
    sys.path.insert(0, golden_dir)
    from make_tensor_new_golden import cases

    with open(os.path.join(golden_dir, "tensor_new_golden.json")) as f:
        assert cases(torch) == json.load(f)
    with pytest.raises(RuntimeError, match="non-negative"):
        torch.ones(1).new_zeros(-1)


def test_numeric_constants_are_torchs():
    import math

    assert torch.pi == math.pi and torch.e == math.e and torch.inf == math.inf
    assert math.isnan(torch.nan) and torch.newaxis is None
    assert torch.zeros(2, 3)[:, torch.newaxis].shape == (2, 1, 3)
    assert torch.tensor([1.0, torch.inf]).isinf().tolist() == [False, True]
