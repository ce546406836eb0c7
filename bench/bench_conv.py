"""Conv2d 3x3 (batch 64, 32->32 channels, 16x16) forward+backward, ferrotorch vs PyTorch side by side,
plus max-pool and batch-norm layers of the same size. Both libraries on the same number of threads.

Run: PYTHONPATH=/work/main/python /opt/torchenv/bin/python bench/bench_conv.py [--threads 2]
"""

import argparse
import os
import time

# numpy's OpenBLAS threads busy-wait after any BLAS call and steal one of the two cores
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def bench(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), float(np.min(ts))


def run(lib, threads, reps):
    nn = lib.nn
    lib.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((64, 32, 16, 16)).astype(np.float32)
    gy_np = rng.standard_normal((64, 32, 16, 16)).astype(np.float32)
    lib.manual_seed(0)
    conv = nn.Conv2d(32, 32, 3, padding=1)
    bn = nn.BatchNorm2d(32)
    pool = nn.MaxPool2d(2)
    x = lib.tensor(x_np).requires_grad_(True)
    gy = lib.tensor(gy_np)
    gyp = lib.tensor(gy_np[:, :, :8, :8].copy())

    def conv_fb():
        x.grad = None
        conv.zero_grad()
        conv(x).backward(gy)

    def conv_f():
        with lib.no_grad():
            conv(x)

    def bn_fb():
        x.grad = None
        bn(x).backward(gy)

    def pool_fb():
        x.grad = None
        pool(x).backward(gyp)

    res = {}
    res["conv3x3 fwd+bwd"] = bench(conv_fb, reps)
    res["conv3x3 fwd (no_grad)"] = bench(conv_f, reps)
    res["batchnorm2d train fwd+bwd"] = bench(bn_fb, reps)
    res["maxpool2d 2x2 fwd+bwd"] = bench(pool_fb, reps)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    import ferrotorch
    import torch

    print(f"threads={a.threads}, loadavg={os.getloadavg()[0]:.2f}, torch {torch.__version__}")
    # interleave the two libraries twice to smooth out noise from the shared machine
    results = {"torch": [], "ferrotorch": []}
    for _ in range(2):
        results["torch"].append(run(torch, a.threads, a.reps))
        results["ferrotorch"].append(run(ferrotorch, a.threads, a.reps))
    print(f"{'op':30s} {'torch ms':>10s} {'ferro ms':>10s} {'ratio':>7s}   (best median of 2 interleaved rounds; ratio = ferro/torch)")
    for op in results["torch"][0]:
        t = min(r[op][0] for r in results["torch"]) * 1e3
        f = min(r[op][0] for r in results["ferrotorch"]) * 1e3
        print(f"{op:30s} {t:10.3f} {f:10.3f} {f / t:7.2f}")


if __name__ == "__main__":
    main()
