"""One DataLoader epoch over 50,000 CIFAR-shaped images: ferrotorch.vision's CIFAR10 reader and DataLoader
against torchvision's CIFAR10 and torch's DataLoader(num_workers=0), both reading the same files written
here in CIFAR-10's on-disk format (cifar-10-batches-py), ToTensor()+Normalize, batch 64, shuffle=True.
"""

from __future__ import annotations

import os
import pickle
import tempfile

import numpy as np
from harness import Case, Measurement, interleaved

IMAGES, QUICK_IMAGES = 50_000, 5_000
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


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


def _cifar_root(ctx):
    """Files are written once per run (outside any timing) and shared by every thread count."""
    if "cifar_root" not in ctx.scratch:
        tmp = tempfile.TemporaryDirectory(prefix="ferrotorch-bench-")
        ctx.scratch.setdefault("cleanup", []).append(tmp)
        write_cifar(tmp.name, QUICK_IMAGES if ctx.quick else IMAGES)
        ctx.scratch["cifar_root"] = tmp.name
    return ctx.scratch["cifar_root"]


def _loader(name, lib, root):
    if name == "torch":
        import torchvision
        from torchvision import transforms as T

        # the files are ours, not the published archive: skip torchvision's md5 check
        torchvision.datasets.CIFAR10._check_integrity = lambda self: True
        torchvision.datasets.cifar.check_integrity = lambda *a, **k: True
        datasets = torchvision.datasets
    else:
        import ferrotorch.vision as vision
        from ferrotorch.vision import transforms as T

        datasets = vision.datasets
    tf = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])
    ds = datasets.CIFAR10(root, train=True, transform=tf)
    lib.manual_seed(0)
    return lib.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=0)


def _epoch(loader):
    def run():
        n = 0
        for x, _ in loader:
            n += x.shape[0]
        return n

    return run


def measure_dataloader(ctx):
    root = _cifar_root(ctx)
    loaders = {}
    for name, lib in ctx.present.items():
        try:
            loaders[name] = _loader(name, lib, root)
        except ImportError:  # torch without torchvision: ferrotorch alone
            continue
    for loader in loaders.values():  # warm up on a few batches rather than a whole (slow) epoch
        for i, _ in enumerate(loader):
            if i == 20:
                break
    values, samples = interleaved(
        {n: _epoch(ld) for n, ld in loaders.items()}, 1, 3 if not ctx.quick else 2, warmup=0
    )
    n = len(loaders["ferrotorch"].dataset)
    return Measurement(values, samples, work=n, note="" if n == IMAGES else f"{n:,} images (--quick)")


CASES = [
    Case(
        "dataloader_epoch",
        "DataLoader epoch, 50,000 CIFAR images",
        None,
        custom=measure_dataloader,
        rate_unit="images/s",
    ),
]
