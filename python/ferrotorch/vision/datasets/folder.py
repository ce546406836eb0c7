"""ImageFolder / DatasetFolder: ``root/<class>/<image>``. Pillow reads images when installed; binary
PGM/PPM and ``.npy`` files load without it."""

from __future__ import annotations

import os

import numpy as np

from .utils import VisionDataset, _pil

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_NATIVE = (".ppm", ".pgm", ".npy")


def has_file_allowed_extension(filename, extensions):
    return filename.lower().endswith(extensions if isinstance(extensions, str) else tuple(extensions))


def is_image_file(filename):
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory):
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{directory}'")
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None, allow_empty=False):
    directory = os.path.expanduser(directory)
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the same time")
    if extensions is not None:

        def is_valid_file(x):
            return has_file_allowed_extension(x, extensions)

    instances, available = [], set()
    for target_class in sorted(class_to_idx.keys()):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
                    available.add(target_class)
    empty = set(class_to_idx.keys()) - available
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            msg += f"Supported extensions are: {extensions if isinstance(extensions, str) else ', '.join(extensions)}"
        raise FileNotFoundError(msg)
    return instances


def _read_netpbm(path):
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:2]
    if magic not in (b"P5", b"P6"):
        raise RuntimeError(
            f"{path}: only binary PGM (P5) / PPM (P6) load without Pillow (pip install pillow)"
        )
    fields, pos = [], 2
    while len(fields) < 3:
        while pos < len(raw) and raw[pos : pos + 1].isspace():
            pos += 1
        if raw[pos : pos + 1] == b"#":
            while pos < len(raw) and raw[pos : pos + 1] != b"\n":
                pos += 1
            continue
        start = pos
        while pos < len(raw) and not raw[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            raise RuntimeError(f"{path}: truncated header")
        fields.append(int(raw[start:pos]))
    pos += 1
    w, h, maxval = fields
    c = 3 if magic == b"P6" else 1
    if maxval > 255:
        raise RuntimeError(f"{path}: 16-bit netpbm needs Pillow")
    data = np.frombuffer(raw, np.uint8, count=w * h * c, offset=pos) if len(raw) - pos >= w * h * c else None
    if data is None:
        raise RuntimeError(f"{path}: truncated pixel data")
    a = data.reshape(h, w, c)
    return np.repeat(a, 3, axis=2) if c == 1 else a.copy()


def default_loader(path):
    """An RGB image: PIL when Pillow is installed, else an HWC uint8 array (PGM/PPM/.npy only)."""
    if path.lower().endswith(".npy"):
        a = np.load(path, allow_pickle=False)
        return a
    Image = _pil()
    if Image is not None:
        with open(path, "rb") as f:
            img = Image.open(f)
            return img.convert("RGB")
    if path.lower().endswith((".ppm", ".pgm")):
        return _read_netpbm(path)
    raise RuntimeError(f"{path}: reading this image format needs Pillow (pip install pillow)")


pil_loader = default_loader


class DatasetFolder(VisionDataset):
    def __init__(
        self,
        root,
        loader,
        extensions=None,
        transform=None,
        target_transform=None,
        is_valid_file=None,
        allow_empty=False,
    ):
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(
            self.root, class_to_idx, extensions, is_valid_file, allow_empty=allow_empty
        )
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty=allow_empty)

    def find_classes(self, directory):
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self):
        return len(self.samples)


class ImageFolder(DatasetFolder):
    def __init__(
        self,
        root,
        transform=None,
        target_transform=None,
        loader=default_loader,
        is_valid_file=None,
        allow_empty=False,
    ):
        exts = (IMG_EXTENSIONS + (".npy",)) if is_valid_file is None else None
        super().__init__(
            root,
            loader,
            exts,
            transform=transform,
            target_transform=target_transform,
            is_valid_file=is_valid_file,
            allow_empty=allow_empty,
        )
        self.imgs = self.samples
