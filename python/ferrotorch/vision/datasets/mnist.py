"""MNIST and FashionMNIST from torchvision's ``root/<Class>/raw`` idx files (gzipped or not)."""
# ruff: noqa: RUF012  (class-level file tables are lists, as in torchvision)

from __future__ import annotations

import gzip
import os

import numpy as np

import ferrotorch as torch

from .utils import VisionDataset, _image_plan, _pil, download_url

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """An idx file (magic 0 0 type ndim, big-endian int32 dims, data) as a NumPy array; checks the sizes."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise RuntimeError(f"{path}: cannot read idx file ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path}: not an idx file (bad magic number {raw[:4].hex()})")
    nd = raw[3]
    head = 4 + 4 * nd
    if len(raw) < head:
        raise RuntimeError(f"{path}: truncated header")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(nd)]
    dt = np.dtype(_IDX_TYPES[raw[2]])
    need = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    if len(raw) - head != need:
        raise RuntimeError(
            f"{path}: header says shape {tuple(dims)} ({need} bytes of data) but the file has {len(raw) - head} "
            "(truncated or malformed)"
        )
    return np.frombuffer(raw, dtype=dt, offset=head).reshape(dims).astype(dt.newbyteorder("="), copy=True)


class MNIST(VisionDataset):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_: ``.data`` uint8 N×28×28 tensor, ``.targets`` int64 tensor."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        prefix = "train" if train else "t10k"
        img_path = self._find(f"{prefix}-images-idx3-ubyte")
        lbl_path = self._find(f"{prefix}-labels-idx1-ubyte")
        if img_path is None or lbl_path is None:
            raise RuntimeError(
                "Dataset not found. You can use download=True to download it "
                f"(from {self.mirrors[0]}), or put {prefix}-images-idx3-ubyte and {prefix}-labels-idx1-ubyte "
                f"(optionally .gz) in {self.raw_folder}"
            )
        x = read_idx(img_path)
        y = read_idx(lbl_path)
        if x.ndim != 3 or x.dtype != np.uint8:
            raise RuntimeError(
                f"{img_path}: expected uint8 images of shape (N, H, W), got {x.dtype} {x.shape}"
            )
        if y.ndim != 1:
            raise RuntimeError(f"{lbl_path}: expected a 1-d label file, got shape {y.shape}")
        if len(y) != len(x):
            raise RuntimeError(f"{lbl_path}: {len(y)} labels for {len(x)} images in {img_path}")
        if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
            bad = int(y.max()) if y.max() >= len(self.classes) else int(y.min())
            raise RuntimeError(f"{lbl_path}: label {bad} is out of range [0, {len(self.classes)})")
        self.data = torch.from_numpy(np.ascontiguousarray(x))
        self.targets = torch.from_numpy(y.astype(np.int64))

    @property
    def raw_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _find(self, base):
        for name in (base, base + ".gz"):
            p = os.path.join(self.raw_folder, name)
            if os.path.isfile(p):
                return p
        return None

    def _check_exists(self):
        return all(self._find(os.path.splitext(n)[0]) is not None for n, _ in self.resources)

    def download(self):
        if self._check_exists():
            return
        for filename, md5 in self.resources:
            errors = []
            for mirror in self.mirrors:
                try:
                    download_url(mirror + filename, self.raw_folder, filename, md5, what=type(self).__name__)
                    break
                except RuntimeError as e:
                    errors.append(str(e))
            else:
                raise RuntimeError("\n".join(errors))

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        Image = _pil()
        img = img.numpy()
        if Image is not None:  # torchvision returns PIL 'L' images; without Pillow, H×W uint8 arrays
            img = Image.fromarray(img, mode="L")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def _ferro_fast_plan(self):
        if type(self).__getitem__ is not MNIST.__getitem__:
            return None
        return _image_plan(self.transform, self.target_transform, self.data, self.targets)

    def extra_repr(self):
        split = "Train" if self.train is True else "Test"
        return f"Split: {split}"


class FashionMNIST(MNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_, same layout as MNIST."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
