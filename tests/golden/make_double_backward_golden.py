"""Golden for tests/test_double_backward.py: PyTorch's first and second derivatives (a
Hessian-vector product) of each case in double_backward_cases.py, in float64.

Usage: /path/to/torch-venv/bin/python tests/golden/make_double_backward_golden.py
"""

import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from double_backward_cases import cases, second_derivative

OUT = pathlib.Path(__file__).resolve().parent / "double_backward_golden.npz"


def main():
    rng = np.random.default_rng(7)
    out = {}
    for name, (shape, f) in cases(torch, F).items():
        x = rng.standard_normal(shape)
        y = f(torch.tensor(x))
        u = rng.standard_normal(tuple(y.shape))
        w = rng.standard_normal(shape)
        try:
            g, h = second_derivative(torch, f, torch.tensor(x), torch.tensor(u), torch.tensor(w))
        except RuntimeError as e:  # torch has no double backward for a few ops (hardsigmoid)
            print(f"{name}: torch refuses: {e}")
            continue
        out[name + "/x"], out[name + "/u"], out[name + "/w"] = x, u, w
        out[name + "/g"], out[name + "/h"] = g.numpy(), h.numpy()
    np.savez_compressed(OUT, **out)


if __name__ == "__main__":
    main()
