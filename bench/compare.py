"""ferrotorch vs PyTorch, side by side in one process: medians of interleaved repetitions, as time ratios.

Usage:  python bench/compare.py [--threads 1 2] [--json bench/results.json] [--markdown]
PyTorch is optional: without it only ferrotorch's absolute times are printed. `--markdown` prints the
README's performance table.

Both libraries share the process, so idle thread pools must not spin: PyTorch's OpenMP workers and
NumPy's OpenBLAS workers busy-wait after each op by default and would steal the cores ferrotorch's
pool is about to use (and the reverse). Both are told to sleep when idle.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json
import statistics
import subprocess
import sys
import time

import ferrotorch as ft
import numpy as np

try:
    import torch
except ImportError:  # the suite still runs and reports ferrotorch alone
    torch = None


def timed(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def measure(make, number, reps=7):
    """`make(lib)` returns a zero-argument callable; both libraries alternate rep by rep."""
    libs = [("ferrotorch", ft)] + ([("torch", torch)] if torch else [])
    fns = {name: make(lib) for name, lib in libs}
    for f in fns.values():
        timed(f, max(1, number // 10))
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, f in fns.items():
            times[name].append(timed(f, number))
    return {name: statistics.median(v) for name, v in times.items()}


def bench_add_8x8(lib):
    a, b = lib.ones(8, 8), lib.ones(8, 8)
    return lambda: a + b


def bench_matmul_8x8(lib):
    a, b = lib.ones(8, 8), lib.ones(8, 8)
    return lambda: a @ b


def bench_three_op_fwd_bwd(lib):
    rng = np.random.RandomState(0)
    a = lib.tensor(rng.rand(8, 8).astype(np.float32), requires_grad=True)
    b = lib.tensor(rng.rand(8, 8).astype(np.float32))
    g = lib.ones(8, 8)

    def step():
        y = (a * b + b).tanh()
        y.backward(g)

    return step


def bench_matmul(n):
    def make(lib):
        rng = np.random.RandomState(0)
        a = lib.from_numpy(rng.rand(n, n).astype(np.float32))
        b = lib.from_numpy(rng.rand(n, n).astype(np.float32))
        return lambda: a @ b

    return make


def bench_elementwise_4m(lib):
    a = lib.from_numpy(np.random.RandomState(0).rand(1 << 22).astype(np.float32))
    b = lib.from_numpy(np.random.RandomState(1).rand(1 << 22).astype(np.float32))
    return lambda: a * b


def import_time(module):
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    vals = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        vals.append(float(out.stdout))
    return statistics.median(vals)


BENCHES = [
    ("a + b 8x8", bench_add_8x8, 20000),
    ("matmul 8x8", bench_matmul_8x8, 20000),
    ("three-op fwd+bwd 8x8", bench_three_op_fwd_bwd, 5000),
    ("matmul 256", bench_matmul(256), 200),
    ("matmul 1024", bench_matmul(1024), 5),
    ("elementwise mul 4M", bench_elementwise_4m, 20),
]


def markdown(rows):
    """The README's performance table: one row per benchmark and thread count."""
    out = ["| benchmark | threads | ferrotorch | PyTorch | ratio |", "|---|---|---|---|---|"]
    for r in rows:
        t = f"{r['torch_s'] * 1e6:.2f} µs" if r["torch_s"] else "-"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] else "-"
        threads = r["threads"] or "-"
        out.append(f"| {r['benchmark']} | {threads} | {r['ferrotorch_s'] * 1e6:.2f} µs | {t} | {ratio} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", action="store_true", help="print the README table")
    args = ap.parse_args()
    rows = []
    for n in args.threads:
        ft.set_num_threads(n)
        if torch:
            torch.set_num_threads(n)
        for name, make, number in BENCHES:
            try:
                r = measure(make, number)
            except (AttributeError, TypeError, NotImplementedError) as e:
                print(f"skip {name}: {e}")
                continue
            ratio = r["ferrotorch"] / r["torch"] if "torch" in r else None
            rows.append({"benchmark": name, "threads": n, "ferrotorch_s": r["ferrotorch"],
                         "torch_s": r.get("torch"), "ratio": ratio})
    rows.append({"benchmark": "import", "threads": 0, "ferrotorch_s": import_time("ferrotorch"),
                 "torch_s": import_time("torch") if torch else None, "ratio": None})
    if rows[-1]["torch_s"]:
        rows[-1]["ratio"] = rows[-1]["ferrotorch_s"] / rows[-1]["torch_s"]
    print(f"{'benchmark':<24}{'threads':>8}{'ferrotorch':>14}{'torch':>14}{'ratio':>8}")
    for r in rows:
        tt = f"{r['torch_s'] * 1e6:12.2f}us" if r["torch_s"] else f"{'-':>14}"
        ratio = f"{r['ratio']:8.3f}" if r["ratio"] else f"{'-':>8}"
        print(f"{r['benchmark']:<24}{r['threads']:>8}{r['ferrotorch_s'] * 1e6:12.2f}us{tt}{ratio}")
    if args.markdown:
        print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
