"""One epoch over 50,000 CIFAR-shaped uint8 images with ToTensor()+Normalize, batch 64, shuffle=True:
ferrotorch.vision + ferrotorch DataLoader vs torchvision + torch DataLoader(num_workers=0), side by side.

Both read the same files written here in CIFAR-10's real on-disk format (cifar-10-batches-py).
Run: /work/venv/bin/python bench/bench_data.py [--torch-python /opt/torchenv/bin/python] [--n 50000]
"""

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np

RUN = r"""
import sys, time, json
root, lib, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
if lib == "torch":
    import torch, torchvision
    from torchvision import transforms as T
    torchvision.datasets.CIFAR10._check_integrity = lambda self: True
    torchvision.datasets.cifar.check_integrity = lambda *a, **k: True
else:
    import ferrotorch as torch
    import ferrotorch.vision as torchvision
    from ferrotorch.vision import transforms as T
tf = T.Compose([T.ToTensor(), T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])
ds = torchvision.datasets.CIFAR10(root, train=True, transform=tf)
torch.manual_seed(0)
loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=0)
times, checks = [], []
for _ in range(epochs):
    t0 = time.perf_counter()
    n, s = 0, 0.0
    for x, y in loader:
        n += x.shape[0]
    times.append(time.perf_counter() - t0)
    checks.append(n)
# equality check on a fixed batch order
torch.manual_seed(0)
x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True)))
print(json.dumps({"times": times, "n": checks, "sum": float(x.double().sum().item()), "y": y.tolist()[:16]}))
"""


def write_cifar(root, n):
    rng = np.random.default_rng(0)
    d = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(d, exist_ok=True)
    per = n // 5
    for i in range(5):
        x = rng.integers(0, 256, size=(per, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, size=per).tolist()
        with open(os.path.join(d, f"data_batch_{i + 1}"), "wb") as f:
            pickle.dump({"data": x, "labels": y}, f, protocol=4)
    with open(os.path.join(d, "test_batch"), "wb") as f:
        pickle.dump({"data": np.zeros((10, 3072), np.uint8), "labels": [0] * 10}, f, protocol=4)
    with open(os.path.join(d, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f, protocol=4)


def run(python, root, lib, epochs):
    out = subprocess.run(
        [python, "-c", RUN, root, lib, str(epochs)],
        check=False,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    if out.returncode != 0:
        raise SystemExit(f"{lib} run failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch-python", default="/opt/torchenv/bin/python")
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--epochs", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        write_cifar(root, a.n)
        ft = run(sys.executable, root, "ferrotorch", a.epochs + 1)
        th = run(a.torch_python, root, "torch", a.epochs)
    best_f, best_t = min(ft["times"]), min(th["times"])
    print(f"images/epoch: {ft['n'][0]} (ferrotorch) {th['n'][0]} (torch)")
    print(
        f"ferrotorch.vision + DataLoader : {best_f * 1e3:9.1f} ms/epoch  (all: {[round(t, 3) for t in ft['times']]})"
    )
    print(
        f"torchvision + torch DataLoader : {best_t * 1e3:9.1f} ms/epoch  (all: {[round(t, 3) for t in th['times']]})"
    )
    print(f"speed-up (torch / ferrotorch)  : {best_t / best_f:9.1f}x")
    same = abs(ft["sum"] - th["sum"]) < 1e-6 * max(1.0, abs(th["sum"])) and ft["y"] == th["y"]
    print(f"first shuffled batch identical : {same} (sum {ft['sum']:.6f} vs {th['sum']:.6f})")


if __name__ == "__main__":
    main()
