"""Golden for tests/test_rounding_like_torch.py: PyTorch's float32/float64 linspace and logspace, and Python-number
powers (2, 3, -1, -2, -0.5) of seeded float32 values, bit for bit.

Usage: /path/to/torch-venv/bin/python tests/golden/make_rounding_golden.py
"""

import math
import pathlib

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent / "rounding_golden.npz"
EXPONENTS = (2, 3, -1, -2, -0.5)


def main():
    x = (np.random.default_rng(0).standard_normal(4000) * 3).astype(np.float32)
    t = torch.tensor(x)
    out = {"x": x}
    for e in EXPONENTS:
        base = t.abs() if e == -0.5 else t
        out[f"pow_{e}"] = (base**e).numpy()
    for steps in (2000, 1001, 50, 7):
        out[f"linspace_f32_{steps}"] = torch.linspace(-math.pi, math.pi, steps).numpy()
        out[f"linspace_f64_{steps}"] = torch.linspace(0.1, 0.9, steps, dtype=torch.float64).numpy()
    out["logspace_f64"] = torch.logspace(-2, 2, 333, dtype=torch.float64).numpy()
    out["logspace_f32"] = torch.logspace(-2, 2, 333).numpy()
    np.savez_compressed(OUT, **out)


if __name__ == "__main__":
    main()
