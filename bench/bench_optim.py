"""Adam.step() over the CIFAR-tutorial ConvNet's parameter set: ferrotorch vs PyTorch side by side.

Usage:  python bench/bench_optim.py [--threads N]
Both libraries run in one process when torch is importable (e.g.
``PYTHONPATH=python /opt/torchenv/bin/python bench/bench_optim.py``); otherwise, if
/opt/torchenv/bin/python exists, the script re-runs itself there; else ferrotorch alone is timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import ferrotorch as ft
import numpy as np

try:
    import torch
except ImportError:
    torch = None

# conv 3->8 k3, 8->8, 8->32, 32->32, 32->128, 128->128, each with BatchNorm, then linear 128->10
CONVS = [(3, 8), (8, 8), (8, 32), (32, 32), (32, 128), (128, 128)]


def shapes():
    out = []
    for cin, cout in CONVS:
        out += [(cout, cin, 3, 3), (cout,), (cout,), (cout,)]  # conv weight, bias, bn weight, bn bias
    out += [(10, 128), (10,)]
    return out


def build(lib, opt_name, kw):
    rng = np.random.default_rng(0)
    params, _grads = [], []
    for s in shapes():
        p = lib.tensor(rng.standard_normal(s).astype(np.float32) * 0.1, requires_grad=True)
        p.grad = lib.tensor(rng.standard_normal(s).astype(np.float32))
        params.append(p)
    opt = getattr(lib.optim, opt_name)(params, **kw)
    opt.step()  # state allocated outside the timing
    return opt.step, params


def timed(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--number", type=int, default=300)
    args = ap.parse_args()
    if torch is None and os.path.exists("/opt/torchenv/bin/python") and not os.environ.get("_BENCH_CHILD"):
        env = dict(os.environ, _BENCH_CHILD="1")
        env["PYTHONPATH"] = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(ft.__file__))))
        sys.exit(subprocess.call(["/opt/torchenv/bin/python", __file__] + sys.argv[1:], env=env))
    if args.threads:
        ft.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    n = sum(int(np.prod(s)) for s in shapes())
    print(
        f"{len(shapes())} parameter tensors, {n} elements; threads: ferrotorch={ft.get_num_threads()}"
        + (f" torch={torch.get_num_threads()} (torch {torch.__version__})" if torch else "")
    )
    cases = [
        ("Adam", {"lr": 1e-3}),
        ("Adam", {"lr": 1e-3, "amsgrad": True, "weight_decay": 1e-4}),
        ("AdamW", {"lr": 1e-3}),
        ("SGD", {"lr": 0.01, "momentum": 0.9}),
        ("RMSprop", {"lr": 0.01}),
        ("Adagrad", {"lr": 0.01}),
    ]
    for name, kw in cases:
        libs = [("ferrotorch", ft)] + ([("torch", torch)] if torch else [])
        fns = {ln: build(lib, name, kw)[0] for ln, lib in libs}
        for f in fns.values():
            timed(f, 20)
        times = {ln: [] for ln in fns}
        for _ in range(7):  # interleaved repetitions, medians
            for ln, f in fns.items():
                times[ln].append(timed(f, args.number))
        med = {ln: statistics.median(v) for ln, v in times.items()}
        line = f"{name:8s} {kw!s:45s} ferrotorch {med['ferrotorch'] * 1e6:8.1f} us"
        if "torch" in med:
            line += f"   torch {med['torch'] * 1e6:8.1f} us   ratio {med['ferrotorch'] / med['torch']:.3f}x"
        print(line)


if __name__ == "__main__":
    main()
