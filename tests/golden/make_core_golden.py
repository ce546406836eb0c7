"""Writes core_golden.json: torch's type promotion, elementwise values and error texts.

Run with real PyTorch (never needed by the test suite):  /path/to/torch-venv/bin/python make_core_golden.py
"""

import json
import math
import pathlib

import torch

DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]


def sample(dt, shape=(3,)):
    vals = {
        "bool": [True, False, True],
        "uint8": [1, 2, 250],
        "int32": [-3, 0, 7],
        "int64": [-3, 0, 7],
        "float32": [-1.5, 0.25, 3.0],
        "float64": [-1.5, 0.25, 3.0],
    }[dt]
    return torch.tensor(vals, dtype=getattr(torch, dt))


def main():
    out = {"promotion": [], "scalar_promotion": [], "unary": [], "binary": [], "errors": []}
    for a in DTYPES:
        for b in DTYPES:
            x, y = sample(a), sample(b)
            out["promotion"].append(
                [a, b, str((x + y).dtype if a != "bool" or b != "bool" else (x | y).dtype)]
            )
            out["promotion"].append([a, b + "_0d", str((x * y[0]).dtype)])
    for a in DTYPES:
        for s in [True, 2, 2.5]:
            x = sample(a)
            r = x * s
            out["scalar_promotion"].append([a, repr(s), str(r.dtype)])
        out["scalar_promotion"].append([a, "div2", str((sample(a) / 2).dtype)])
    x = torch.tensor(
        [-2.5, -1.0, -0.5, 0.0, 0.5, 1.5, 2.5, 3.7, float("nan"), float("inf"), -float("inf")],
        dtype=torch.float64,
    )
    for name in [
        "abs",
        "neg",
        "exp",
        "expm1",
        "log",
        "log2",
        "log10",
        "log1p",
        "sqrt",
        "rsqrt",
        "square",
        "sin",
        "cos",
        "tan",
        "tanh",
        "sigmoid",
        "relu",
        "floor",
        "ceil",
        "round",
        "trunc",
        "frac",
        "sign",
        "reciprocal",
        "exp2",
        "atan",
        "erf",
    ]:
        v = getattr(torch, name)(x)
        out["unary"].append([name, [None if math.isnan(e) else e for e in v.tolist()]])
    a = torch.tensor([-7.0, -7.0, 7.0, 7.0, 5.5, -5.5, 0.0, 3.0], dtype=torch.float64)
    b = torch.tensor([2.0, -2.0, 2.0, -2.0, 1.5, 1.5, 3.0, 0.0], dtype=torch.float64)
    for name in ["floor_divide", "remainder", "fmod", "pow", "maximum", "minimum", "atan2"]:
        v = getattr(torch, name)(a, b)
        out["binary"].append([name, "float64", [None if math.isnan(e) else e for e in v.tolist()]])
    ai, bi = a[:6].long(), b[:6].long()
    for name in ["floor_divide", "remainder", "fmod"]:
        out["binary"].append([name, "int64", getattr(torch, name)(ai, bi).tolist()])
    out["binary"].append(["div_trunc", "float64", torch.div(a, b, rounding_mode="trunc").tolist()])
    out["binary"].append(["div_floor", "float64", torch.div(a, b, rounding_mode="floor").tolist()])

    def err(name, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            out["errors"].append([name, type(e).__name__, str(e).split("\n")[0]])

    err("broadcast", lambda: torch.ones(4, 16) + torch.ones(4, 3))
    err("dim_range", lambda: torch.ones(2, 3).transpose(0, 2))
    err("view", lambda: torch.ones(4, 3).t().view(12))
    err("reshape_size", lambda: torch.ones(6).reshape(4, -1))
    err("item_many", lambda: torch.ones(3).item())
    err("negative_size", lambda: torch.zeros(2, -1))
    err("ragged", lambda: torch.tensor([[1, 2], [3]]))
    err("bool_sub", lambda: torch.tensor([True]) - torch.tensor([True]))
    err("bool_neg", lambda: -torch.tensor([True]))
    err("int_inplace_float", lambda: torch.tensor([1, 2]).add_(1.5))
    err("leaf_inplace", lambda: torch.ones(2, requires_grad=True).add_(1))
    err("numpy_grad", lambda: torch.ones(2, requires_grad=True).numpy())
    err("backward_twice", lambda: _twice())
    err("nonscalar", lambda: (torch.ones(2, requires_grad=True) * 2).backward())
    err("no_grad_fn", lambda: torch.ones(2).sum().backward())
    err("int_requires_grad", lambda: torch.ones(2, dtype=torch.long).requires_grad_())
    err("expand", lambda: torch.ones(2, 3).expand(3, 3))
    err("select", lambda: torch.ones(3).select(0, 5))
    err("int_div_zero", lambda: torch.tensor([1]) // torch.tensor([0]))
    err("version", lambda: _version())
    pathlib.Path(__file__).with_name("core_golden.json").write_text(json.dumps(out, indent=1))


def _twice():
    x = torch.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _version():
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    z = y * y
    y.add_(1)
    z.sum().backward()


if __name__ == "__main__":
    main()
