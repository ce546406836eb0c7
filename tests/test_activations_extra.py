"""PReLU, SELU, CELU, GLU, Hardswish, Hardsigmoid, Softsign, Softshrink, Hardshrink, Tanhshrink,
Threshold and Softmax2d: NumPy formulas, real-PyTorch goldens (values, gradients, grad_fn names,
reprs, errors), float64 finite differences, and graphs that free their nodes."""

import gc
import inspect
import math
import os
import sys

import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from conftest import gradcheck, load_golden

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "golden"))
from make_activations_golden import CASES, ERRORS, REPRS, run_error  # noqa: E402

GOLD = load_golden("activations_golden.json")


def _same(got, exp, path="", rtol=1e-6, atol=1e-7):
    """Recursive comparison of a result tree: numbers close (NaN == NaN, sign of zero ignored)."""
    if isinstance(exp, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(exp), (path, got, exp)
        for k in exp:
            _same(got[k], exp[k], f"{path}.{k}", rtol, atol)
    elif isinstance(exp, list) and exp and all(isinstance(v, str) for v in exp):
        assert got == exp, (path, got, exp)
    elif path.endswith(".grads"):  # one gradient per input, of differing shapes
        assert len(got) == len(exp), path
        for i, (g, e) in enumerate(zip(got, exp)):
            _same(g, e, f"{path}[{i}]", rtol, atol)
    elif isinstance(exp, list):
        g, e = np.asarray(got, dtype=float), np.asarray(exp, dtype=float)
        assert g.shape == e.shape, (path, g.shape, e.shape)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=path)
    elif isinstance(exp, float) and not isinstance(got, bool):
        np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol, equal_nan=True, err_msg=path)
    else:
        assert got == exp, (path, got, exp)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_case(name):
    got = CASES[name](torch, F, nn)
    # float32 cases compute in float32 as torch does; ulp-level differences are allowed there
    f32 = "f32" in name or name.startswith(("prelu_module", "nan_row"))
    _same(got, GOLD["cases"][name], name, rtol=2e-6 if f32 else 1e-12, atol=1e-6 if f32 else 1e-12)


@pytest.mark.parametrize("name", sorted(REPRS))
def test_repr(name):
    torch.manual_seed(0)
    assert repr(REPRS[name](nn)) == GOLD["reprs"][name]


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error(name):
    assert run_error(torch, F, nn, ERRORS[name]) == GOLD["errors"][name]


# --------------------------------------------------------------------------------------------
# NumPy formulas

SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sig(v):
    return 1 / (1 + np.exp(-v))


NP = {
    "selu": (lambda t: F.selu(t), lambda v: SELU_S * np.where(v > 0, v, SELU_A * np.expm1(v))),
    "celu": (lambda t: F.celu(t, 1.3), lambda v: np.where(v > 0, v, 1.3 * np.expm1(v / 1.3))),
    "hardswish": (F.hardswish, lambda v: v * np.clip(v + 3, 0, 6) / 6),
    "hardsigmoid": (F.hardsigmoid, lambda v: np.clip(v + 3, 0, 6) / 6),
    "softsign": (F.softsign, lambda v: v / (1 + np.abs(v))),
    "softshrink": (
        lambda t: F.softshrink(t, 0.7),
        lambda v: np.where(v > 0.7, v - 0.7, np.where(v < -0.7, v + 0.7, 0)),
    ),
    "hardshrink": (lambda t: F.hardshrink(t, 0.7), lambda v: np.where(np.abs(v) > 0.7, v, 0)),
    "tanhshrink": (F.tanhshrink, lambda v: v - np.tanh(v)),
    "threshold": (lambda t: F.threshold(t, 0.3, -2.0), lambda v: np.where(v > 0.3, v, -2.0)),
    "glu": (lambda t: F.glu(t, 1), lambda v: v[:, :3] * _sig(v[:, 3:])),
    "prelu": (
        lambda t: F.prelu(t, torch.tensor([0.1, -0.2, 0.3, 2.0, 0.5, 1.0], dtype=t.dtype)),
        lambda v: np.where(v > 0, v, np.array([0.1, -0.2, 0.3, 2.0, 0.5, 1.0])[None, :, None] * v),
    ),
    "softmax2d": (
        nn.Softmax2d(),
        lambda v: np.exp(v) / np.exp(v).sum(axis=-3, keepdims=True),
    ),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(NP))
def test_numpy_formula(name, dtype):
    f, ref = NP[name]
    v = np.random.RandomState(5).uniform(-5, 5, size=(4, 6, 5)).astype(dtype)
    out = f(torch.from_numpy(v.copy()))
    assert str(out.dtype) == f"torch.{dtype}"
    tol = 1e-12 if dtype == "float64" else 2e-6
    np.testing.assert_allclose(out.numpy(), ref(v.astype("float64")), rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------------
# float64 finite differences (inputs kept away from the kinks)


def _smooth_input(seed, shape):
    v = np.random.RandomState(seed).uniform(-4, 4, size=shape)
    for k in (0.0, 3.0, -3.0, 0.5, -0.5, 0.3):
        v[np.abs(v - k) < 1e-3] += 0.01
    return torch.from_numpy(v)


GRAD = {
    "selu": lambda t: F.selu(t),
    "celu": lambda t: F.celu(t, 0.7),
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "softsign": F.softsign,
    "softshrink": F.softshrink,
    "hardshrink": F.hardshrink,
    "tanhshrink": F.tanhshrink,
    "threshold": lambda t: F.threshold(t, 0.3, 5.0),
    "glu": F.glu,
    "glu_dim0": lambda t: F.glu(t, 0),
    "glu_strided": lambda t: F.glu(t.transpose(0, 1), -1),
    "softmax2d": lambda t: (
        nn.Softmax2d()(t.reshape(2, 3, 4, 1)) * torch.arange(24.0).double().reshape(2, 3, 4, 1)
    ),
}


@pytest.mark.parametrize("name", sorted(GRAD))
def test_gradcheck(name):
    gradcheck(GRAD[name], _smooth_input(7, (4, 6)))


@pytest.mark.parametrize("wshape", [(1,), (3,), ()])
def test_gradcheck_prelu_input_and_weight(wshape):
    w = torch.from_numpy(np.random.RandomState(3).uniform(-1, 1, size=wshape))
    gradcheck(F.prelu, _smooth_input(8, (2, 3, 4)), w)


def test_prelu_weight_only_grad():
    x = _smooth_input(9, (2, 3))
    m = nn.PReLU(3, dtype=torch.float64)
    m(x).sum().backward()
    xv = x.numpy()
    np.testing.assert_allclose(m.weight.grad.numpy(), np.where(xv > 0, 0, xv).sum(0))
    assert x.grad is None


# --------------------------------------------------------------------------------------------
# graph lifetime, in-place, signatures, module behaviour

LIFETIME = {
    **GRAD,
    "prelu": lambda t: F.prelu(
        t, torch.tensor([0.2, 0.3, 0.4, 0.5, 0.6, 0.7], dtype=torch.float64, requires_grad=True)
    ),
    "m_prelu": lambda t: nn.PReLU(dtype=torch.float64)(t),
}


@pytest.mark.parametrize("name", sorted(LIFETIME))
def test_dropped_graph_frees_nodes(name):
    x = _smooth_input(10, (4, 6)).requires_grad_(True)
    f = LIFETIME[name]
    f(x)  # warm up anything cached on first use
    gc.collect()
    before = torch._C._live_grad_nodes()
    out = f(x)
    assert out.grad_fn is not None
    del out
    gc.collect()
    assert torch._C._live_grad_nodes() == before


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: F.selu(t, True),
        F.selu_,
        lambda t: F.celu(t, 1.1, inplace=True),
        lambda t: F.celu_(t, 1.1),
        lambda t: F.hardswish(t, True),
        lambda t: F.hardsigmoid(t, inplace=True),
        lambda t: F.threshold(t, 0.0, 1.0, True),
        lambda t: F.threshold_(t, 0.0, 1.0),
    ],
)
def test_inplace_returns_input(fn):
    t = torch.randn(5)
    ref = fn(t.clone())
    assert fn(t) is t
    assert torch.equal(t, ref)


def test_threshold_float32_compares_in_float32():
    # 0.1 rounds to 0.1f on float32; torch compares in the input dtype, so x == 0.1f is replaced
    t = torch.tensor([0.1, 0.2], dtype=torch.float32)
    assert F.threshold(t, 0.1, -1.0).tolist() == [-1.0, pytest.approx(0.2)]
    assert F.hardshrink(torch.tensor([0.1]), 0.1).tolist() == [0.0]


def test_prelu_module_is_trainable():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3), nn.PReLU(3))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight"]
    assert isinstance(m[1].weight, nn.Parameter)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    x = torch.randn(8, 4)
    before = m[1].weight.detach().clone()
    m(x).pow(2).sum().backward()
    opt.step()
    assert not torch.equal(before, m[1].weight.detach())
    m[1].reset_parameters()
    assert m[1].weight.tolist() == [0.25] * 3


def _sig_str(f):
    """The signature as torch prints it (annotations are strings here under postponed evaluation)."""
    sig = inspect.signature(f)
    params = [
        p.replace(annotation=eval(p.annotation) if isinstance(p.annotation, str) else p.annotation)
        for p in sig.parameters.values()
    ]
    ret = sig.return_annotation
    return str(sig.replace(parameters=params, return_annotation=None if ret == "None" else ret))


def test_signatures_match_torch():
    sig = {
        "selu": "(input, inplace: bool = False)",
        "celu": "(input, alpha: float = 1.0, inplace: bool = False)",
        "glu": "(input, dim: int = -1)",
        "hardswish": "(input, inplace: bool = False)",
        "hardsigmoid": "(input, inplace: bool = False)",
        "softsign": "(input)",
        "tanhshrink": "(input)",
        "softshrink": "(input, lambd: float = 0.5)",
        "hardshrink": "(input, lambd: float = 0.5)",
        "threshold": "(input, threshold: float, value: float, inplace: bool = False)",
        "threshold_": "(input, threshold: float, value: float)",
        "prelu": "(input, weight)",
        "selu_": "(input)",
        "celu_": "(input, alpha: float = 1.0)",
    }
    for n, s in sig.items():
        assert _sig_str(getattr(F, n)) == s, n
    mods = {
        "PReLU": "(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None) -> None",
        "SELU": "(self, inplace: bool = False) -> None",
        "CELU": "(self, alpha: float = 1.0, inplace: bool = False) -> None",
        "GLU": "(self, dim: int = -1) -> None",
        "Hardswish": "(self, inplace: bool = False) -> None",
        "Hardsigmoid": "(self, inplace: bool = False) -> None",
        "Softshrink": "(self, lambd: float = 0.5) -> None",
        "Hardshrink": "(self, lambd: float = 0.5) -> None",
        "Threshold": "(self, threshold: float, value: float, inplace: bool = False) -> None",
    }
    for n, s in mods.items():
        assert _sig_str(getattr(nn, n).__init__) == s, n
    for n in ("Softsign", "Tanhshrink", "Softmax2d"):
        assert n in nn.__all__ and n in nn.modules.__all__


def test_selu_constants():
    y = F.selu(torch.tensor([1.0, -50.0], dtype=torch.float64)).tolist()
    assert y[0] == pytest.approx(SELU_S, rel=1e-15)
    assert y[1] == pytest.approx(-SELU_S * SELU_A, rel=1e-15)
    assert math.isnan(F.hardsigmoid(torch.tensor([float("nan")])).item())


class _AllActs(nn.Module):
    """Every new activation in one model, so fit's replay runs each op's recorded kernel."""

    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(6, 16)
        self.prelu = nn.PReLU(16)
        self.glu = nn.GLU()
        self.l2 = nn.Linear(8, 12)
        self.acts = nn.ModuleList(
            [
                nn.SELU(),
                nn.CELU(0.7),
                nn.Hardswish(),
                nn.Softsign(),
                nn.Softshrink(0.05),
                nn.Hardshrink(0.01),
                nn.Tanhshrink(),
                nn.Threshold(-0.5, 0.1),
                nn.Hardsigmoid(),
            ]
        )
        self.sm2d = nn.Softmax2d()
        self.out = nn.Linear(12, 3)

    def forward(self, x):
        h = self.glu(self.prelu(self.l1(x)))
        h = self.l2(h)
        for a in self.acts:
            h = h + a(h)
        h = h * self.sm2d(h.reshape(-1, 3, 2, 2)).reshape(-1, 12)
        return self.out(h)


def test_fit_replays_the_new_activations():
    import warnings

    torch.manual_seed(3)
    X, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    losses = []
    torch.manual_seed(0)
    m1 = _AllActs()
    opt1 = torch.optim.SGD(m1.parameters(), lr=0.05)
    for _ in range(5):
        opt1.zero_grad()
        loss = nn.CrossEntropyLoss()(m1(X), y)
        loss.backward()
        opt1.step()
        losses.append(loss.item())
    torch.manual_seed(0)
    m2 = _AllActs()
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.05)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="ferrotorch.fit")  # must run the replayed loop
        h = torch.fit(m2, (X, y), nn.CrossEntropyLoss(), opt2, epochs=5, progress=False)
    assert h["loss"] == losses
    for (n1, p1), (n2, p2) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), n1
