"""Writes grad_golden.json: torch's gradients for elementwise, view and autograd-engine cases.

Run with real PyTorch (the suite never imports torch):  /path/to/torch-venv/bin/python make_grad_golden.py
"""

import json
import pathlib

import torch
from grad_cases import cases, run


def main():
    res = {}
    for name, fn in cases(torch).items():
        out, x, y = run(torch, fn)
        res[name] = {
            "out": out.tolist(),
            "gx": x.grad.tolist() if x.grad is not None else None,
            "gy": y.grad.tolist() if y.grad is not None else None,
            "grad_fn": type(out.grad_fn).__name__,
        }
    pathlib.Path(__file__).with_name("grad_golden.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
