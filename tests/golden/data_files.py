"""Writes small data-set files in the real on-disk formats (CIFAR pickles, MNIST idx), shared by
make_data_golden.py (read by torchvision) and tests/test_vision.py (read by ferrotorch)."""

import gzip
import os
import pickle

import numpy as np


def cifar_arrays(n_train=40, n_test=12, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    tr = rng.integers(0, 256, size=(n_train, 3072), dtype=np.uint8)
    te = rng.integers(0, 256, size=(n_test, 3072), dtype=np.uint8)
    ytr = rng.integers(0, classes, size=n_train).tolist()
    yte = rng.integers(0, classes, size=n_test).tolist()
    return tr, ytr, te, yte


def cifar_learnable_arrays(n_train, n_test):
    """CIFAR-shaped uint8 images a small network can learn: each class a fixed random template plus noise,
    every class in both splits."""
    templates = np.random.default_rng(4321).integers(0, 256, size=(10, 3072)).astype(np.float64)
    out = []
    for n, seed in ((n_train, 5), (n_test, 6)):
        rng = np.random.default_rng(seed)
        y = rng.permutation(np.arange(n) % 10)
        x = templates[y] * 0.5 + rng.integers(0, 256, size=(n, 3072)) * 0.5
        out += [np.clip(np.rint(x), 0, 255).astype(np.uint8), y.tolist()]
    return tuple(out)


def write_cifar10(root, protocol=2, arrays=None):
    """``root/cifar-10-batches-py`` in the real pickle format, from ``arrays`` (train images, train labels,
    test images, test labels; default: cifar_arrays())."""
    tr, ytr, te, yte = arrays if arrays is not None else cifar_arrays()
    d = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(d, exist_ok=True)
    per = len(tr) // 5
    for i in range(5):
        with open(os.path.join(d, f"data_batch_{i + 1}"), "wb") as f:
            pickle.dump(
                {
                    "batch_label": f"training batch {i + 1} of 5",
                    "labels": ytr[i * per : (i + 1) * per],
                    "data": tr[i * per : (i + 1) * per],
                    "filenames": [f"img{j}.png" for j in range(per)],
                },
                f,
                protocol=protocol,
            )
    with open(os.path.join(d, "test_batch"), "wb") as f:
        pickle.dump({"batch_label": "testing batch 1 of 1", "labels": yte, "data": te}, f, protocol=protocol)
    with open(os.path.join(d, "batches.meta"), "wb") as f:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ],
                "num_cases_per_batch": per,
                "num_vis": 3072,
            },
            f,
            protocol=protocol,
        )


def mnist_arrays(n=30, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def idx_bytes(a):
    head = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return head + a.tobytes()


def write_mnist(root, name="MNIST", gz=False):
    x, y = mnist_arrays()
    d = os.path.join(root, name, "raw")
    os.makedirs(d, exist_ok=True)
    for prefix in ("train", "t10k"):
        for kind, arr in (("images-idx3-ubyte", x), ("labels-idx1-ubyte", y)):
            p = os.path.join(d, f"{prefix}-{kind}")
            data = idx_bytes(arr)
            if gz:
                with gzip.open(p + ".gz", "wb") as f:
                    f.write(data)
            else:
                with open(p, "wb") as f:
                    f.write(data)


def fashion_arrays(n, seed):
    """``n`` learnable 28x28 uint8 images: each class is a fixed random template plus noise, labels 0..9."""
    rng = np.random.default_rng(1234)
    templates = rng.integers(0, 256, size=(10, 28, 28)).astype(np.float64)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n, dtype=np.uint8)
    x = templates[y] * 0.6 + rng.integers(0, 256, size=(n, 28, 28)) * 0.4
    return np.clip(np.rint(x), 0, 255).astype(np.uint8), y


def write_fashion_mnist(root, n_train=256, n_test=128):
    """``root/FashionMNIST/raw`` as torchvision leaves it after downloading: the .gz files and the idx files
    extracted beside them (torchvision's ``download=True`` then finds everything and fetches nothing)."""
    d = os.path.join(root, "FashionMNIST", "raw")
    os.makedirs(d, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 2), ("t10k", n_test, 3)):
        x, y = fashion_arrays(n, seed)
        for kind, arr in (("images-idx3-ubyte", x), ("labels-idx1-ubyte", y)):
            p = os.path.join(d, f"{prefix}-{kind}")
            data = idx_bytes(arr)
            with open(p, "wb") as f:
                f.write(data)
            with gzip.GzipFile(p + ".gz", "wb", mtime=0) as f:
                f.write(data)
