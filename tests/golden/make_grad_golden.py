"""Writes grad_golden.json: torch's gradients for elementwise, view and autograd-engine cases.

Run with real PyTorch (the suite never imports torch):  /path/to/torch-venv/bin/python make_grad_golden.py
"""

import json
import pathlib

import torch

X = [[0.3, 0.7, 1.3], [0.45, 0.9, 1.7]]
Y = [0.8, 1.3, 0.45]
UNARY = ["abs", "neg", "exp", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "square", "sin", "cos",
         "tan", "tanh", "sigmoid", "relu", "reciprocal", "exp2", "atan", "erf", "frac", "floor", "round", "sign"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "remainder", "fmod"]

CASES = {
    "clamp": lambda x, y: torch.clamp(x, 0.5, 1.0),
    "clamp_tensor": lambda x, y: torch.clamp(x, min=y),
    "where": lambda x, y: torch.where(x > 0.6, x, y),
    "view_t_mul": lambda x, y: x.t() * y.unsqueeze(1),
    "expand_sum": lambda x, y: (y.expand(2, 3) * x).sum(0),
    "narrow_select": lambda x, y: x.narrow(1, 1, 2).select(0, 1) * y.narrow(0, 0, 2),
    "reshape_permute": lambda x, y: x.reshape(3, 2).permute(1, 0) * 2 + y,
    "inplace_chain": lambda x, y: (x * 1).mul_(y).add_(x).exp_(),
    "lerp": lambda x, y: torch.lerp(x, y.expand(2, 3), 0.3),
    "pow_scalar": lambda x, y: x ** 3 + 2 ** x,
}


def grads(fn):
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(Y, dtype=torch.float64, requires_grad=True)
    out = fn(x, y)
    out.backward(torch.ones_like(out))
    return {"out": out.tolist(), "gx": x.grad.tolist() if x.grad is not None else None,
            "gy": y.grad.tolist() if y.grad is not None else None, "grad_fn": type(out.grad_fn).__name__}


def main():
    res = {}
    for n in UNARY:
        res["u_" + n] = grads(lambda x, y, n=n: getattr(torch, n)(x))
    for n in BINARY:
        res["b_" + n] = grads(lambda x, y, n=n: getattr(torch, n)(x, y))
    for n, f in CASES.items():
        res["c_" + n] = grads(f)
    pathlib.Path(__file__).with_name("grad_golden.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
