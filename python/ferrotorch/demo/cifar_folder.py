"""Builds a CIFAR-10-format folder (``cifar-10-batches-py``) from the bundled handwritten digits.

The digits (8x8, values 0..16) are scaled to 32x32 RGB uint8 and written as CIFAR's pickled batches,
so tutorials read them through ``vision.datasets.CIFAR10`` exactly as they read CIFAR-10. Only NumPy
and the standard library are used, so the same folder can be made for a PyTorch run.
"""

from __future__ import annotations

import gzip
import pathlib
import pickle

import numpy as np

DIGITS = pathlib.Path(__file__).parent / "data" / "digits.csv.gz"
CLASSES = [f"digit {i}" for i in range(10)]
N_TRAIN = 1500


def _images():
    with gzip.open(DIGITS, "rt") as f:
        raw = np.loadtxt(f, delimiter=",")
    pixels, labels = raw[:, :64].reshape(-1, 8, 8), raw[:, 64].astype(np.int64)
    big = np.kron(pixels, np.ones((4, 4))) * (255.0 / 16.0)  # 8x8 -> 32x32, 0..255
    rng = np.random.RandomState(0)
    # A per-image colour tint makes the three channels differ, as in real photos.
    tint = rng.uniform(0.6, 1.0, size=(len(big), 3, 1, 1))
    rgb = np.clip(big[:, None, :, :] * tint, 0, 255).astype(np.uint8)  # N, 3, 32, 32
    order = rng.permutation(len(rgb))
    return rgb[order].reshape(len(rgb), -1), labels[order]


def make_cifar_folder(root) -> pathlib.Path:
    """Writes ``root/cifar-10-batches-py`` (5 train batches, a test batch, batches.meta); returns it."""
    folder = pathlib.Path(root) / "cifar-10-batches-py"
    if (folder / "test_batch").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    data, labels = _images()
    train, test = (data[:N_TRAIN], labels[:N_TRAIN]), (data[N_TRAIN:], labels[N_TRAIN:])
    for i, part in enumerate(np.array_split(np.arange(N_TRAIN), 5)):
        batch = {
            "batch_label": f"training batch {i + 1} of 5",
            "labels": train[1][part].tolist(),
            "data": train[0][part],
            "filenames": [f"digit_{j}.png" for j in part],
        }
        (folder / f"data_batch_{i + 1}").write_bytes(pickle.dumps(batch, protocol=4))
    batch = {
        "batch_label": "testing batch 1 of 1",
        "labels": test[1].tolist(),
        "data": test[0],
        "filenames": [f"digit_{j}.png" for j in range(len(test[1]))],
    }
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=4))
    meta = {"num_cases_per_batch": N_TRAIN // 5, "label_names": CLASSES, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=4))
    return folder
