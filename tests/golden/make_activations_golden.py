# ruff: noqa: B023, PLC3002  (cases bind loop variables through immediately-called lambdas)
"""Golden values for the extra activations (PReLU, SELU, CELU, GLU, Hardswish, Hardsigmoid, Softsign,
Softshrink, Hardshrink, Tanhshrink, Threshold, Softmax2d), from real PyTorch.

The cases are written once against a ``torch``-like module: this script runs them with real torch
and writes ``activations_golden.json``; ``tests/test_activations_extra.py`` imports ``CASES``,
``REPRS`` and ``ERRORS`` and runs them with ferrotorch.
Run: /opt/torchenv/bin/python tests/golden/make_activations_golden.py
"""

from __future__ import annotations

import json
import os

import numpy as np


def _x(seed=1, shape=(3, 4, 6), dtype="float64"):
    """Inputs in [-4, 4] with every kink of the covered activations present exactly."""
    a = np.random.RandomState(seed).uniform(-4, 4, size=shape)
    flat = a.reshape(-1)
    kinks = [0.0, 3.0, -3.0, 0.5, -0.5, 1.0, -1.0, 0.25, 0.1, -0.1, 20.0, -20.0]
    flat[: len(kinks)] = kinks
    return a.astype(dtype)


def _t(torch, a, grad=True):
    dt = {"float64": torch.float64, "float32": torch.float32, "int64": torch.int64, "int32": torch.int32}
    return torch.tensor(a.tolist(), dtype=dt[str(a.dtype)], requires_grad=grad)


def _run(torch, fn, inputs):
    """fn(*inputs): output, its dtype, grad_fn name, and the grads of (out * w).sum() w.r.t. inputs."""
    out = fn(*inputs)
    res = {"out": out.detach().double().numpy().tolist(), "dtype": str(out.dtype).replace("torch.", "")}
    res["grad_fn"] = None if out.grad_fn is None else out.grad_fn.name()
    diff = [x for x in inputs if getattr(x, "requires_grad", False)]
    if diff and out.requires_grad:
        w = torch.tensor(np.random.RandomState(99).uniform(0.5, 1.5, size=tuple(out.shape)), dtype=out.dtype)
        (out * w).sum().backward()
        res["grads"] = [x.grad.double().numpy().tolist() for x in diff]
    return res


def _unary():
    fns = {
        "selu": lambda F, t: F.selu(t),
        "celu": lambda F, t: F.celu(t),
        "celu_a": lambda F, t: F.celu(t, alpha=1.7),
        "celu_neg": lambda F, t: F.celu(t, -0.8),
        "hardswish": lambda F, t: F.hardswish(t),
        "hardsigmoid": lambda F, t: F.hardsigmoid(t),
        "softsign": lambda F, t: F.softsign(t),
        "softshrink": lambda F, t: F.softshrink(t),
        "softshrink_1": lambda F, t: F.softshrink(t, 1.0),
        "softshrink_0": lambda F, t: F.softshrink(t, 0),
        "hardshrink": lambda F, t: F.hardshrink(t),
        "hardshrink_l": lambda F, t: F.hardshrink(t, lambd=0.25),
        "hardshrink_neg": lambda F, t: F.hardshrink(t, -1.0),
        "tanhshrink": lambda F, t: F.tanhshrink(t),
        "threshold": lambda F, t: F.threshold(t, 0.1, 20.0),
        "threshold_neg": lambda F, t: F.threshold(t, -1.0, -7.5),
        "glu": lambda F, t: F.glu(t),
        "glu_1": lambda F, t: F.glu(t, 1),
        "glu_0": lambda F, t: F.glu(t[:2], dim=0),
        "glu_T": lambda F, t: F.glu(t.transpose(0, 2), -2),
    }
    c = {}
    for name, f in fns.items():
        for dt in ("float64", "float32"):
            key = name if dt == "float64" else name + "_f32"
            c[key] = (
                lambda f, dt: lambda torch, F, nn: _run(torch, lambda a: f(F, a), [_t(torch, _x(dtype=dt))])
            )(f, dt)
    # integer inputs where torch accepts them (threshold computes in the integer dtype)
    xi = np.array([-3, -1, 0, 1, 2, 5], dtype="int64")
    c["threshold_int"] = lambda torch, F, nn: _run(
        torch, lambda a: F.threshold(a, 1.5, 7.9), [_t(torch, xi, grad=False)]
    )
    c["threshold_int32"] = lambda torch, F, nn: _run(
        torch, lambda a: F.threshold(a, 0, -2), [_t(torch, xi.astype("int32"), grad=False)]
    )
    c["softsign_int"] = lambda torch, F, nn: _run(torch, F.softsign, [_t(torch, xi, grad=False)])
    c["tanhshrink_int"] = lambda torch, F, nn: _run(torch, F.tanhshrink, [_t(torch, xi, grad=False)])
    c["nan_row"] = lambda torch, F, nn: {
        n: f(F, torch.tensor([float("nan"), -1.0, 0.0, 2.0])).tolist()
        for n, f in fns.items()
        if not n.startswith("glu")
    }
    return c


def _prelu():
    c = {}
    x4 = _x(2, (2, 3, 4, 2))
    c["prelu_scalar"] = lambda torch, F, nn: _run(
        torch, F.prelu, [_t(torch, x4), _t(torch, np.array([0.25]))]
    )
    c["prelu_channels"] = lambda torch, F, nn: _run(
        torch, F.prelu, [_t(torch, x4), _t(torch, np.array([0.1, -0.3, 2.0]))]
    )
    c["prelu_0d_weight"] = lambda torch, F, nn: _run(
        torch, F.prelu, [_t(torch, x4[0]), _t(torch, np.array(0.7))]
    )
    c["prelu_2d"] = lambda torch, F, nn: _run(
        torch, F.prelu, [_t(torch, x4[:, :, 0, 0]), _t(torch, np.array([0.5, 1.5, -1.0]))]
    )
    c["prelu_1d"] = lambda torch, F, nn: _run(
        torch, F.prelu, [_t(torch, x4[0, 0, :, 0]), _t(torch, np.array([0.3]))]
    )
    c["prelu_f32"] = lambda torch, F, nn: _run(
        torch,
        F.prelu,
        [_t(torch, x4.astype("float32")), _t(torch, np.array([0.1, -0.3, 2.0], dtype="float32"))],
    )
    c["prelu_T"] = lambda torch, F, nn: _run(
        torch,
        lambda a, w: F.prelu(a.transpose(1, 3), w),
        [_t(torch, x4), _t(torch, np.array([0.2, 0.4]))],
    )

    def module(torch, F, nn):
        torch.manual_seed(0)
        m = nn.PReLU(3, init=0.1)
        x = _t(torch, x4.astype("float32"))
        out = m(x)
        w = torch.tensor(np.random.RandomState(99).uniform(0.5, 1.5, size=tuple(out.shape)), dtype=out.dtype)
        (out * w).sum().backward()
        return {
            "out": out.detach().double().numpy().tolist(),
            "weight": m.weight.detach().double().numpy().tolist(),
            "weight_dtype": str(m.weight.dtype),
            "weight_grad": m.weight.grad.double().numpy().tolist(),
            "x_grad": x.grad.double().numpy().tolist(),
            "params": [n for n, _ in m.named_parameters()],
            "init": m.init,
        }

    c["prelu_module"] = module
    c["prelu_module_f64"] = lambda torch, F, nn: {
        "dtype": str(nn.PReLU(dtype=torch.float64).weight.dtype),
        "state": sorted(nn.PReLU(4).state_dict().keys()),
        "weight": nn.PReLU(4, -0.5).weight.tolist(),
    }
    return c


def _modules():
    c = {}
    x = _x(3, (2, 4, 3, 2))
    mods = {
        "m_selu": lambda nn: nn.SELU(),
        "m_celu": lambda nn: nn.CELU(0.5),
        "m_glu": lambda nn: nn.GLU(1),
        "m_hardswish": lambda nn: nn.Hardswish(),
        "m_hardsigmoid": lambda nn: nn.Hardsigmoid(),
        "m_softsign": lambda nn: nn.Softsign(),
        "m_softshrink": lambda nn: nn.Softshrink(0.3),
        "m_hardshrink": lambda nn: nn.Hardshrink(),
        "m_tanhshrink": lambda nn: nn.Tanhshrink(),
        "m_threshold": lambda nn: nn.Threshold(0.5, -1.0),
        "m_softmax2d": lambda nn: nn.Softmax2d(),
        "m_softmax2d_3d": lambda nn: nn.Sequential(nn.Flatten(0, 1), nn.Softmax2d()),
    }
    for name, mk in mods.items():
        c[name] = (lambda mk: lambda torch, F, nn: _run(torch, mk(nn), [_t(torch, x)]))(mk)

    # in-place variants: values, and the input is the returned tensor (no autograd on it)
    inplace = {
        "ip_selu": lambda F, nn, t: F.selu(t, inplace=True),
        "ip_selu_": lambda F, nn, t: F.selu_(t),
        "ip_celu": lambda F, nn, t: F.celu(t, 2.0, True),
        "ip_celu_": lambda F, nn, t: F.celu_(t, alpha=0.5),
        "ip_hardswish": lambda F, nn, t: F.hardswish(t, inplace=True),
        "ip_hardsigmoid": lambda F, nn, t: F.hardsigmoid(t, True),
        "ip_threshold": lambda F, nn, t: F.threshold(t, 0.2, 3.0, inplace=True),
        "ip_threshold_": lambda F, nn, t: F.threshold_(t, 0.2, 3.0),
        "ip_m_selu": lambda F, nn, t: nn.SELU(inplace=True)(t),
        "ip_m_celu": lambda F, nn, t: nn.CELU(inplace=True)(t),
        "ip_m_hardswish": lambda F, nn, t: nn.Hardswish(True)(t),
        "ip_m_hardsigmoid": lambda F, nn, t: nn.Hardsigmoid(inplace=True)(t),
        "ip_m_threshold": lambda F, nn, t: nn.Threshold(0.0, 0.5, True)(t),
    }
    for name, f in inplace.items():

        def run(torch, F, nn, f=f):
            t = _t(torch, x, grad=False)
            out = f(F, nn, t)
            return {"out": t.double().numpy().tolist(), "same": out is t}

        c[name] = run

    # in-place inside a graph: the gradient flows through to the leaf
    def ip_graph(torch, F, nn):
        leaf = _t(torch, x)
        res = {}
        for n, f in inplace.items():
            leaf.grad = None
            y = leaf * 1.5
            f(F, nn, y)
            y.sum().backward()
            res[n] = leaf.grad.double().numpy().tolist()
        return res

    c["ip_graph_grads"] = ip_graph
    return c


def _namespace():
    """The ``torch.*`` functions and ``Tensor`` methods that torch also exposes outside ``nn``."""
    c = {}
    x = _x(4, (2, 3, 4))
    fns = {
        "t_selu": lambda torch, t: torch.selu(t),
        "t_celu": lambda torch, t: torch.celu(t, 2.0),
        "t_celu_default": lambda torch, t: torch.celu(t),
        "t_prelu": lambda torch, t: torch.prelu(t, torch.tensor([0.5, -0.1, 2.0], dtype=t.dtype)),
        "t_hardshrink": lambda torch, t: torch.hardshrink(t),
        "t_hardshrink_l": lambda torch, t: torch.hardshrink(t, lambd=0.1),
        "t_threshold": lambda torch, t: torch.threshold(t, 0.5, 9.0),
        "m_hardshrink": lambda torch, t: t.hardshrink(0.25),
        "m_hardshrink_default": lambda torch, t: t.hardshrink(),
        "m_prelu": lambda torch, t: t.prelu(torch.tensor(0.3, dtype=t.dtype)),
    }
    for name, f in fns.items():
        c[name] = (lambda f: lambda torch, F, nn: _run(torch, lambda a: f(torch, a), [_t(torch, x)]))(f)
    inplace = {
        "t_selu_": lambda torch, t: torch.selu_(t),
        "t_celu_": lambda torch, t: torch.celu_(t, alpha=0.5),
        "t_celu_default_": lambda torch, t: torch.celu_(t),
        "t_threshold_": lambda torch, t: torch.threshold_(t, 0.2, -3.0),
    }
    for name, f in inplace.items():

        def run(torch, F, nn, f=f):
            t = _t(torch, x, grad=False)
            out = f(torch, t)
            leaf = _t(torch, x)
            y = leaf * 1.5
            f(torch, y)
            (y * y).sum().backward()
            return {"out": t.double().numpy().tolist(), "same": out is t, "grad": leaf.grad.numpy().tolist()}

        c[name] = run
    return c


CASES = {**_unary(), **_prelu(), **_modules(), **_namespace()}

REPRS = {
    "PReLU": lambda nn: nn.PReLU(),
    "PReLU3": lambda nn: nn.PReLU(3, 0.1),
    "SELU": lambda nn: nn.SELU(),
    "SELU_ip": lambda nn: nn.SELU(True),
    "CELU": lambda nn: nn.CELU(),
    "CELU_ip": lambda nn: nn.CELU(2.0, True),
    "CELU_int": lambda nn: nn.CELU(2),
    "GLU": lambda nn: nn.GLU(),
    "GLU1": lambda nn: nn.GLU(1),
    "Hardswish": lambda nn: nn.Hardswish(),
    "Hardswish_ip": lambda nn: nn.Hardswish(inplace=True),
    "Hardsigmoid": lambda nn: nn.Hardsigmoid(),
    "Hardsigmoid_ip": lambda nn: nn.Hardsigmoid(True),
    "Softsign": lambda nn: nn.Softsign(),
    "Softshrink": lambda nn: nn.Softshrink(),
    "Softshrink1": lambda nn: nn.Softshrink(1),
    "Hardshrink": lambda nn: nn.Hardshrink(),
    "Hardshrink3": lambda nn: nn.Hardshrink(lambd=0.3),
    "Tanhshrink": lambda nn: nn.Tanhshrink(),
    "Threshold": lambda nn: nn.Threshold(0.1, 20),
    "Threshold_ip": lambda nn: nn.Threshold(0.1, 20.0, True),
    "Softmax2d": lambda nn: nn.Softmax2d(),
    "Sequential": lambda nn: nn.Sequential(
        nn.Linear(4, 6), nn.PReLU(6), nn.SELU(), nn.GLU(), nn.Hardswish(), nn.Threshold(0.0, -1.0)
    ),
}


def _t1(torch, *shape, dtype=None):
    return torch.zeros(*shape, dtype=dtype or torch.float32)


ERRORS = {
    "glu_odd": lambda torch, F, nn: F.glu(_t1(torch, 2, 5)),
    "glu_odd_dim0": lambda torch, F, nn: F.glu(_t1(torch, 3, 4), 0),
    "glu_scalar": lambda torch, F, nn: F.glu(torch.tensor(1.0)),
    "glu_dim_range": lambda torch, F, nn: F.glu(_t1(torch, 2, 4), 3),
    "glu_long": lambda torch, F, nn: F.glu(torch.tensor([1, 2])),
    "m_glu_odd": lambda torch, F, nn: nn.GLU()(_t1(torch, 3)),
    "prelu_mismatch": lambda torch, F, nn: F.prelu(_t1(torch, 2, 4), torch.ones(3)),
    "prelu_weight_2d": lambda torch, F, nn: F.prelu(_t1(torch, 2, 4), torch.ones(2, 2)),
    "prelu_zero_dim": lambda torch, F, nn: F.prelu(torch.tensor(1.0), torch.ones(3)),
    "prelu_1d_channels": lambda torch, F, nn: F.prelu(torch.tensor([1.0, 2.0]), torch.ones(2)),
    "prelu_dtype": lambda torch, F, nn: F.prelu(_t1(torch, 3), torch.ones(1, dtype=torch.float64)),
    "prelu_long_float": lambda torch, F, nn: F.prelu(torch.tensor([1, 2]), torch.ones(1)),
    "prelu_long": lambda torch, F, nn: F.prelu(torch.tensor([1, 2]), torch.tensor([1])),
    "m_prelu_mismatch": lambda torch, F, nn: nn.PReLU(3)(_t1(torch, 2, 4)),
    "softshrink_neg": lambda torch, F, nn: F.softshrink(_t1(torch, 3), -1),
    "softshrink_neg_f64": lambda torch, F, nn: F.softshrink(_t1(torch, 3, dtype=torch.float64), -0.25),
    "softshrink_big": lambda torch, F, nn: F.softshrink(_t1(torch, 3), 1e39),
    "softshrink_long": lambda torch, F, nn: F.softshrink(torch.tensor([1, 2])),
    "softmax2d_2d": lambda torch, F, nn: nn.Softmax2d()(_t1(torch, 3, 3)),
    "softmax2d_5d": lambda torch, F, nn: nn.Softmax2d()(_t1(torch, 1, 1, 1, 1, 1)),
    "selu_long": lambda torch, F, nn: F.selu(torch.tensor([1, 2])),
    "celu_long": lambda torch, F, nn: F.celu(torch.tensor([1, 2])),
    "celu_zero": lambda torch, F, nn: F.celu(_t1(torch, 3), 0.0),
    "m_celu_zero": lambda torch, F, nn: nn.CELU(0)(_t1(torch, 3)),
    "hardswish_long": lambda torch, F, nn: F.hardswish(torch.tensor([1, 2])),
    "hardsigmoid_long": lambda torch, F, nn: F.hardsigmoid(torch.tensor([1, 2])),
    "hardshrink_long": lambda torch, F, nn: F.hardshrink(torch.tensor([1, 2])),
    "threshold_bool": lambda torch, F, nn: F.threshold(torch.tensor([True, False]), 0, 1),
    "selu_inplace_leaf": lambda torch, F, nn: F.selu(torch.ones(2, requires_grad=True), inplace=True),
    "threshold_inplace_leaf": lambda torch, F, nn: F.threshold_(torch.ones(2, requires_grad=True), 0.0, 1.0),
    "t_selu_leaf": lambda torch, F, nn: torch.selu_(torch.ones(2, requires_grad=True)),
    "t_prelu_mismatch": lambda torch, F, nn: torch.prelu(_t1(torch, 2, 4), torch.ones(3)),
    "m_prelu_dtype": lambda torch, F, nn: _t1(torch, 2).prelu(torch.ones(1, dtype=torch.float64)),
    "t_threshold_bool": lambda torch, F, nn: torch.threshold(torch.tensor([True]), 0.0, 1.0),
}


def run_error(torch, F, nn, f):
    try:
        f(torch, F, nn)
    except Exception as e:  # noqa: BLE001 - the class is the golden value
        return [type(e).__name__, str(e)]
    return None


def main():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_default_dtype(torch.float32)
    res = {
        "cases": {k: f(torch, F, nn) for k, f in CASES.items()},
        "reprs": {k: repr(f(nn)) for k, f in REPRS.items()},
        "errors": {k: run_error(torch, F, nn, f) for k, f in ERRORS.items()},
    }
    path = os.path.join(os.path.dirname(__file__), "activations_golden.json")
    with open(path, "w") as fh:
        json.dump(res, fh, allow_nan=True)
    print("wrote", path, len(res["cases"]), "cases")


if __name__ == "__main__":
    main()
