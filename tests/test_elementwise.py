"""Elementwise ops: NumPy and torch-golden values, broadcasting, strided inputs, in-place forms, gradients."""

import math
import pathlib
import sys

import ferrotorch as torch
import numpy as np
import pytest
from conftest import assert_close, gradcheck, load_golden
from scipy_free_erf import erf as np_erf

sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
import grad_cases  # noqa: E402

GOLD = load_golden("core_golden.json")
X = [-2.5, -1.0, -0.5, 0.0, 0.5, 1.5, 2.5, 3.7, math.nan, math.inf, -math.inf]

UNARY_NP = {
    "abs": np.abs,
    "neg": np.negative,
    "exp": np.exp,
    "expm1": np.expm1,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "rsqrt": lambda v: 1 / np.sqrt(v),
    "square": np.square,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    "relu": lambda v: np.where(np.isnan(v), v, np.maximum(v, 0)),
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,
    "trunc": np.trunc,
    "frac": lambda v: v - np.trunc(v),
    "sign": lambda v: np.nan_to_num(np.sign(v)),
    "reciprocal": lambda v: 1 / v,
    "exp2": np.exp2,
    "atan": np.arctan,
    "erf": np_erf,
    "asinh": np.arcsinh,
    "acosh": lambda v: np.arccosh(v + 1),  # inputs shifted into acosh's domain below
    "atanh": lambda v: np.arctanh(v / 5),  # and into atanh's
    "deg2rad": np.deg2rad,
    "rad2deg": np.rad2deg,
    "sinc": np.sinc,
}
# ops whose domain the test inputs (0.1 .. 4.1) leave: the input each is called with
UNARY_ARG = {"acosh": lambda t: t + 1, "atanh": lambda t: t / 5}


@pytest.mark.parametrize("name,expected", GOLD["unary"])
def test_unary_matches_torch_golden(name, expected):
    x = torch.tensor(X, dtype=torch.float64)
    with np.errstate(all="ignore"):
        got = getattr(torch, name)(x)
    exp = np.array([np.nan if e is None else e for e in expected])
    assert_close(got, exp, rtol=1e-12, atol=1e-12)


SHAPES = [(), (0,), (1, 0, 3), (7,), (45, 65), (2, 3, 4)]


@pytest.mark.parametrize("name", sorted(UNARY_NP))
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_against_numpy(name, shape):
    rng = np.random.RandomState(0)
    a = np.asarray(rng.rand(*shape) * 4 + 0.1).astype(np.float32)
    t = torch.from_numpy(a)
    with np.errstate(all="ignore"):
        exp = UNARY_NP[name](a.astype(np.float64))
    got = getattr(UNARY_ARG.get(name, lambda v: v)(t), name)()
    assert got.dtype == torch.float32 and got.shape == shape
    assert_close(got, exp, rtol=2e-6, atol=1e-6)
    # non-contiguous input gives the same values
    if len(shape) == 2:
        tt = t.t()
        assert_close(getattr(UNARY_ARG.get(name, lambda v: v)(tt), name)(), exp.T, rtol=2e-6, atol=1e-6)


def test_unary_int_promotes_to_float():
    x = torch.tensor([1, 4, 9])
    assert torch.sqrt(x).dtype == torch.float32
    assert torch.sqrt(x).tolist() == [1.0, 2.0, 3.0]
    assert torch.abs(torch.tensor([-2, 3])).dtype == torch.int64
    assert torch.neg(torch.tensor([2], dtype=torch.uint8)).tolist() == [254]
    assert torch.sign(torch.tensor([-3, 0, 5])).tolist() == [-1, 0, 1]


BIN_NP = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "pow": np.power,
    "atan2": np.arctan2,
    "remainder": np.mod,
    "fmod": np.fmod,
    "floor_divide": np.floor_divide,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}
BROADCAST = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((2, 1), (1, 4)),
    ((), (4,)),
    ((5, 1, 3), (2, 1)),
    ((0, 3), (1, 3)),
    ((45, 65), (65,)),
]


@pytest.mark.parametrize("name", sorted(BIN_NP))
@pytest.mark.parametrize("sa,sb", BROADCAST)
def test_binary_against_numpy(name, sa, sb):
    rng = np.random.RandomState(1)
    a = np.asarray(rng.rand(*sa) * 4 + 0.5, dtype=np.float64)
    b = np.asarray(rng.rand(*sb) * 3 + 0.5, dtype=np.float64)
    got = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b))
    assert_close(got, BIN_NP[name](a, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,dt,expected", GOLD["binary"])
def test_binary_matches_torch_golden(name, dt, expected):
    a = torch.tensor([-7.0, -7.0, 7.0, 7.0, 5.5, -5.5, 0.0, 3.0], dtype=torch.float64)
    b = torch.tensor([2.0, -2.0, 2.0, -2.0, 1.5, 1.5, 3.0, 0.0], dtype=torch.float64)
    if dt == "int64":
        a, b = a.narrow(0, 0, 6).long(), b.narrow(0, 0, 6).long()
    if name.startswith("div_"):
        got = torch.div(a, b, rounding_mode=name[4:])
    else:
        got = getattr(torch, name)(a, b)
    exp = np.array([np.nan if e is None else e for e in expected])
    assert_close(got, exp, rtol=1e-12, atol=0)


def test_operators_and_reflected():
    a = torch.tensor([1.0, 2.0, 4.0])
    assert (a + 1).tolist() == [2, 3, 5] and (1 + a).tolist() == [2, 3, 5]
    assert (2 - a).tolist() == [1, 0, -2] and (a - 2).tolist() == [-1, 0, 2]
    assert (2 * a).tolist() == [2, 4, 8] and (8 / a).tolist() == [8, 4, 2]
    assert (a**2).tolist() == [1, 4, 16] and (2**a).tolist() == [2, 4, 16]
    assert (a // 3).tolist() == [0, 0, 1] and (7 // a).tolist() == [7, 3, 1]
    assert (a % 3).tolist() == [1, 2, 1] and (-a % 3).tolist() == [2, 1, 2]
    assert (-a).tolist() == [-1, -2, -4] and abs(-a).tolist() == [1, 2, 4]
    assert (a > 1.5).tolist() == [False, True, True] and (a == 2).tolist() == [False, True, False]
    assert (1.5 < a).tolist() == [False, True, True]
    m = torch.tensor([True, False])
    assert (~m).tolist() == [False, True] and (m & m).tolist() == [True, False]
    assert (m | ~m).tolist() == [True, True] and (m ^ m).tolist() == [False, False]
    i = torch.tensor([6, 3])
    assert (i & 2).tolist() == [2, 2] and (~i).tolist() == [-7, -4]
    b = a.clone()
    b += 1
    b *= 2
    b -= 1
    b /= 2
    assert b.tolist() == [1.5, 2.5, 4.5]
    c = torch.tensor([5, 7])
    c //= 2
    assert c.tolist() == [2, 3] and c.dtype == torch.int64
    assert (a == None) is False or (a == None) is NotImplemented or True  # noqa: E711
    assert torch.add(a, a, alpha=2).tolist() == [3, 6, 12]
    assert a.sub(a, alpha=0.5).tolist() == [0.5, 1, 2]
    assert torch.div(torch.tensor([-7, 7]), 2, rounding_mode="floor").tolist() == [-4, 3]
    assert torch.div(torch.tensor([-7, 7]), 2, rounding_mode="trunc").tolist() == [-3, 3]
    assert torch.tensor([1, 2]).true_divide(2).tolist() == [0.5, 1.0]


def test_clamp_round_lerp():
    x = torch.tensor([-2.0, 0.5, 3.0, math.nan])
    r = torch.clamp(x, min=-1, max=1).tolist()
    assert r[:3] == [-1, 0.5, 1] and math.isnan(r[3])
    assert x.clip(0).tolist()[:3] == [0, 0.5, 3]
    assert torch.clamp(x.narrow(0, 0, 3), min=torch.tensor([0.0, 1.0, 2.0])).tolist() == [0, 1, 3]
    assert torch.clamp(torch.tensor([1, 5, 9]), 2, 6).tolist() == [2, 5, 6]
    assert torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5])).tolist() == [0, 2, 2, -0]
    assert torch.round(torch.tensor([1.2345, 2.5678]), decimals=2).tolist() == pytest.approx([1.23, 2.57])
    assert torch.lerp(torch.zeros(2), torch.ones(2) * 10, 0.25).tolist() == [2.5, 2.5]
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        torch.clamp(x)


def test_inplace_variants():
    x = torch.tensor([1.0, 4.0])
    assert x.sqrt_() is x and x.tolist() == [1.0, 2.0]
    x.exp_().log_()
    assert x.tolist() == pytest.approx([1.0, 2.0])
    x.clamp_(max=1.5)
    assert x.tolist() == pytest.approx([1.0, 1.5])
    y = torch.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        y.sqrt_()


def test_strided_and_expanded_inputs():
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    a = base.t()  # (6, 4) non-contiguous
    e = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64).expand(6, 4)
    assert_close(
        a * e + a, np.arange(24.0).reshape(4, 6).T * np.arange(1, 5) + np.arange(24.0).reshape(4, 6).T
    )
    # writing through a transposed view
    a.add_(e)
    assert_close(base, np.arange(24.0).reshape(4, 6) + np.arange(1, 5)[:, None])


# the golden gradient cases' ops, less the piecewise-constant ones (zero gradient, jumps where finite
# differences do not apply)
GRAD_UNARY = [n for n in grad_cases.UNARY if n not in ("floor", "round", "sign")]


@pytest.mark.parametrize("name", GRAD_UNARY)
def test_unary_gradcheck(name):
    x = torch.tensor([[0.3, 0.7, 1.3], [0.45, 0.9, 1.7]], dtype=torch.float64)
    gradcheck(lambda v: getattr(torch, name)(v), x)


@pytest.mark.parametrize("name", grad_cases.BINARY)
def test_binary_gradcheck_with_broadcasting(name):
    a = torch.tensor([[0.3, 1.7, 2.2], [1.1, 0.6, 2.9]], dtype=torch.float64)
    b = torch.tensor([0.8, 1.3, 0.45], dtype=torch.float64)
    gradcheck(lambda x, y: getattr(torch, name)(x, y), a, b)
    # non-contiguous first operand
    gradcheck(lambda x, y: getattr(torch, name)(x.t(), y), a.t().contiguous(), b)


def test_clamp_and_where_gradcheck():
    x = torch.tensor([-1.5, -0.2, 0.4, 1.2, 2.5], dtype=torch.float64)
    gradcheck(lambda v: torch.clamp(v, -1.0, 1.0), x)
    lo = torch.tensor([0.0, 0.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    gradcheck(lambda v, w: torch.clamp(v, min=w), x, lo)
    c = torch.tensor([True, False, True, False, True])
    gradcheck(lambda v, w: torch.where(c, v, w), x, lo)


@pytest.mark.parametrize("threads", [1, 2])
def test_large_flat_ops_match_numpy(threads):
    """Big contiguous ops run their loops compiled for AVX-512 where the CPU has it: every element,
    a tail that is not a whole vector and an unaligned view included, must equal NumPy's."""
    rng = np.random.default_rng(0)
    n = (1 << 22) + 13
    a_np = rng.standard_normal(n).astype(np.float32)
    b_np = rng.standard_normal(n).astype(np.float32)
    a, b = torch.from_numpy(a_np), torch.from_numpy(b_np)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        np.testing.assert_array_equal((a * b).numpy(), a_np * b_np)
        np.testing.assert_array_equal((a - 0.5).numpy(), a_np - np.float32(0.5))
        np.testing.assert_array_equal((2.0 / b[1:]).numpy(), np.float32(2.0) / b_np[1:])
        np.testing.assert_array_equal(torch.neg(a).numpy(), -a_np)
        d = torch.from_numpy(a_np.astype(np.float64))
        np.testing.assert_array_equal((d * d).numpy(), a_np.astype(np.float64) ** 2)
    finally:
        torch.set_num_threads(before)
