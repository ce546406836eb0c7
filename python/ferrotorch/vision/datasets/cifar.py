"""CIFAR-10/100 from torchvision's folders, read by an unpickler that only resolves NumPy's array rebuilders."""
# ruff: noqa: RUF012  (class-level file tables are lists, as in torchvision)

from __future__ import annotations

import os
import pickle
import tarfile

import numpy as np

from .utils import VisionDataset, _image_plan, _pil, download_url


def _latin1_bytes(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or encoding != "latin1" or errors != "strict":
        raise pickle.UnpicklingError("_codecs.encode is only accepted as the latin1 bytes of a NumPy array")
    return obj.encode("latin1")


def _allowed_globals():
    """The only globals a CIFAR batch may reference: NumPy's ndarray reconstruction."""
    import numpy as np

    try:
        from numpy._core import multiarray as ma
        from numpy._core import numeric as nm
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray as ma
        from numpy.core import numeric as nm
    table = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = ma._reconstruct
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        if hasattr(nm, "_frombuffer"):
            table[(mod, "_frombuffer")] = nm._frombuffer
    table[("numpy", "ndarray")] = np.ndarray
    # Python 3 writes an array's raw bytes at protocol <= 2 as _codecs.encode(str, "latin1"); only that exact
    # str → bytes form is accepted (it is part of the array's reconstruction, not a general callable).
    table[("_codecs", "encode")] = _latin1_bytes
    table[("numpy", "dtype")] = np.dtype
    return table


class _RestrictedUnpickler(pickle.Unpickler):
    _table = None

    def find_class(self, module, name):
        table = _RestrictedUnpickler._table
        if table is None:
            table = _RestrictedUnpickler._table = _allowed_globals()
        try:
            return table[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: CIFAR batches may only contain NumPy arrays, "
                "lists, dicts, strings and numbers"
            ) from None


def _load_pickle(path):
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise RuntimeError(f"{path} is not a valid CIFAR batch file: {e}") from None


class CIFAR10(VisionDataset):
    """`CIFAR10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_ from ``root/cifar-10-batches-py``.

    ``.data`` is uint8 N×32×32×3, ``.targets`` a list of ints, as in torchvision.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": "5ff9c542aee3614f3951f8cda6e48888"}
    labels_key = "labels"
    num_classes = 10

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError(
                "Dataset not found or corrupted. You can use download=True to download it "
                f"(from {self.url}), or put the extracted files "
                f"{', '.join(n for n, _ in self.train_list + self.test_list)} and {self.meta['filename']} "
                f"in {os.path.join(self.root, self.base_folder)}"
            )
        files = self.train_list if self.train else self.test_list
        data, self.targets = [], []
        for name, _ in files:
            path = os.path.join(self.root, self.base_folder, name)
            entry = _load_pickle(path)
            x, y = self._validate(entry, path)
            data.append(x)
            self.targets.extend(y)
        self.data = np.ascontiguousarray(np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1)))
        self._load_meta()

    def _validate(self, entry, path):
        if not isinstance(entry, dict):
            raise RuntimeError(  # noqa: TRY004  (a malformed file, not a bad argument)
                f"{path}: expected a dict with 'data' and '{self.labels_key}', got {type(entry).__name__}"
            )
        x = entry.get("data")
        y = entry.get(self.labels_key)
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
            desc = f"{x.dtype} array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
            raise RuntimeError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {desc}")
        if y is None:
            raise RuntimeError(f"{path}: missing '{self.labels_key}'")
        y = [int(v) for v in y]
        if len(y) != x.shape[0]:
            raise RuntimeError(
                f"{path}: {x.shape[0]} images but {len(y)} labels (truncated or malformed batch)"
            )
        bad = [v for v in y if not 0 <= v < self.num_classes]
        if bad:
            raise RuntimeError(f"{path}: label {bad[0]} is out of range [0, {self.num_classes})")
        return x, y

    def _load_meta(self):
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        data = _load_pickle(path)
        if not isinstance(data, dict) or self.meta["key"] not in data:
            raise RuntimeError(f"{path}: expected a dict with '{self.meta['key']}'")
        self.classes = list(data[self.meta["key"]])
        if len(self.classes) != self.num_classes:
            raise RuntimeError(f"{path}: {len(self.classes)} class names, expected {self.num_classes}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index):
        img, target = self.data[index], self.targets[index]
        Image = _pil()
        if Image is not None:  # torchvision returns PIL images; without Pillow, HWC uint8 arrays
            img = Image.fromarray(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def _ferro_fast_plan(self):
        if type(self).__getitem__ is not CIFAR10.__getitem__:
            return None
        return _image_plan(self.transform, self.target_transform, self.data, self.targets)

    def _check_integrity(self):
        folder = os.path.join(self.root, self.base_folder)
        names = [n for n, _ in self.train_list + self.test_list] + [self.meta["filename"]]
        return all(os.path.isfile(os.path.join(folder, n)) for n in names)

    def download(self):
        if self._check_integrity():
            return
        archive = download_url(self.url, self.root, self.filename, self.tgz_md5, what=type(self).__name__)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(self.root, filter="data")

    def extra_repr(self):
        split = "Train" if self.train is True else "Test"
        return f"Split: {split}"


class CIFAR100(CIFAR10):
    """`CIFAR100 <https://www.cs.toronto.edu/~kriz/cifar.html>`_ from ``root/cifar-100-python``."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": "7973b15100ade9c7d40fb424638fde48"}
    labels_key = "fine_labels"
    num_classes = 100

    def _ferro_fast_plan(self):
        if type(self).__getitem__ is not CIFAR10.__getitem__:
            return None
        return _image_plan(self.transform, self.target_transform, self.data, self.targets)
