"""Shared dataset machinery: the VisionDataset base, guarded downloads, and the Rust batch plan."""

from __future__ import annotations

import hashlib
import os
import urllib.request

import numpy as np

import ferrotorch as torch

DOWNLOAD_TIMEOUT = 30.0


class VisionDataset(torch.utils.data.Dataset):
    _repr_indent = 4

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        if isinstance(root, str):
            root = os.path.expanduser(root)
        self.root = root
        self.transform = transform
        self.target_transform = target_transform
        self.transforms = transforms

    def __repr__(self):
        head = "Dataset " + self.__class__.__name__
        body = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if self.transform is not None:
            body += [f"StandardTransform\nTransform: {self.transform!r}"]
        lines = [head] + [" " * self._repr_indent + line for line in body]
        return "\n".join(lines)

    def extra_repr(self):
        return ""


def _pil():
    try:
        from PIL import Image

        return Image
    except ImportError:
        return None


def calculate_md5(fpath, chunk_size=1024 * 1024):
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_integrity(fpath, md5=None):
    if not os.path.isfile(fpath):
        return False
    return md5 is None or calculate_md5(fpath) == md5


def _fetch(url, dest, timeout=DOWNLOAD_TIMEOUT):
    """Downloads `url` to `dest` (tests replace this; it is the only network access in ferrotorch.vision)."""
    tmp = dest + ".part"
    with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
        while chunk := r.read(1 << 20):
            f.write(chunk)
    os.replace(tmp, dest)


def download_url(url, root, filename=None, md5=None, what="dataset"):
    """Downloads and verifies one archive; any failure says which URL and where the files must go."""
    root = os.path.expanduser(root)
    filename = filename or os.path.basename(url)
    fpath = os.path.join(root, filename)
    if check_integrity(fpath, md5):
        return fpath
    os.makedirs(root, exist_ok=True)
    try:
        _fetch(url, fpath)
    except Exception as e:  # no network, DNS failure, HTTP error, timeout  # noqa: BLE001
        raise RuntimeError(
            f"Could not download the {what} from {url} ({type(e).__name__}: {e}). Without network, download "
            f"{filename} on another machine and put it (or its extracted files) in {root}"
        ) from None
    if not check_integrity(fpath, md5):
        raise RuntimeError(
            f"Downloaded {fpath} from {url} but its MD5 does not match {md5}; delete it and retry"
        )
    return fpath


# ---- the fast plan: ToTensor/Normalize/flips/one crop fused in one Rust call per batch -----------------------
class _Step:
    __slots__ = ("fill", "fill_space", "kind", "p", "pad", "pad_if_needed", "size")

    def __init__(self, kind, **kw):
        self.kind = kind
        for k, v in kw.items():
            setattr(self, k, v)


def _image_plan(transform, target_transform, images, targets):
    """A callable(indices) → [images batch, targets batch] equal to per-sample transforms + default_collate,
    or None when the transform is not one the kernel reproduces exactly."""
    from ..transforms import transforms as T
    from ..transforms.functional import _parse_padding

    if target_transform is not None or transform is None:
        return None
    ts = transform.transforms if type(transform) is T.Compose else [transform]
    steps, to_tensor, mean, std, crop = [], False, None, None, None
    for t in ts:
        ty = type(t)
        if ty is T.ToTensor and not to_tensor:
            to_tensor = True
        elif ty is T.Normalize and to_tensor and mean is None:
            mean, std = t.mean, t.std
        elif ty in (T.RandomHorizontalFlip, T.RandomVerticalFlip):
            steps.append(_Step("h" if ty is T.RandomHorizontalFlip else "v", p=float(np.float32(t.p))))
        elif ty is T.RandomCrop and crop is None:
            if (
                t.padding_mode != "constant"
                or not isinstance(t.fill, (int, float))
                or isinstance(t.fill, bool)
            ):
                return None
            if not to_tensor and not (isinstance(t.fill, int) and 0 <= t.fill <= 255):
                return None
            pad = _parse_padding(t.padding) if t.padding is not None else (0, 0, 0, 0)
            crop = _Step(
                "rc",
                size=t.size,
                pad=pad,
                fill=t.fill,
                pad_if_needed=t.pad_if_needed,
                fill_space="u8" if not to_tensor else ("float" if mean is None else "norm"),
            )
            steps.append(crop)
        elif ty is T.CenterCrop and crop is None:
            crop = _Step(
                "cc",
                size=t.size,
                fill=0,
                fill_space="u8" if not to_tensor else ("float" if mean is None else "norm"),
            )
            steps.append(crop)
        else:
            return None
    if not to_tensor:
        return None
    src = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    if src.dtype != torch.uint8 or src.ndim not in (3, 4):
        return None
    src = src.contiguous()
    h0, w0 = src.shape[1], src.shape[2]
    c = src.shape[3] if src.ndim == 4 else 1
    f32 = np.float32
    if mean is not None:
        try:
            m = np.broadcast_to(np.asarray(mean, dtype=f32).reshape(-1), (c,)).astype(f32)
            s = np.broadcast_to(np.asarray(std, dtype=f32).reshape(-1), (c,)).astype(f32)
        except (ValueError, TypeError):
            return None  # the per-sample path raises torchvision's error
        if (s == 0).any():
            return None
        mean_l, std_l = [float(v) for v in m], [float(v) for v in s]
    else:
        m = s = None
        mean_l, std_l = [], []
    fill = [0.0] * c
    if crop is not None:
        fv = crop.fill
        if crop.fill_space == "u8":
            v = f32(np.uint8(fv)) / f32(255)
            fill = [float((v - m[k]) / s[k]) if m is not None else float(v) for k in range(c)]
        elif crop.fill_space == "float":
            v = f32(fv)
            fill = [float((v - m[k]) / s[k]) if m is not None else float(v) for k in range(c)]
        else:
            fill = [float(f32(fv))] * c
    tgt = targets if isinstance(targets, torch.Tensor) else torch.tensor(list(targets), dtype=torch.int64)
    gather = torch._C._data_gather
    kernel = torch._C._data_image_batch
    rand, randint = torch.rand, torch.randint

    def geometry():
        ay, sy, ax, sx, h, w = 0, 1, 0, 1, h0, w0
        for st in steps:
            k = st.kind
            if k == "h":
                if float(rand(1)) < st.p:
                    ax, sx = ax + sx * (w - 1), -sx
            elif k == "v":
                if float(rand(1)) < st.p:
                    ay, sy = ay + sy * (h - 1), -sy
            elif k == "rc":
                pl, pt, pr, pb = st.pad
                hh, ww = h + pt + pb, w + pl + pr
                th, tw = st.size
                if st.pad_if_needed and ww < tw:
                    pl, ww = pl + (tw - ww), ww + 2 * (tw - ww)
                if st.pad_if_needed and hh < th:
                    pt, hh = pt + (th - hh), hh + 2 * (th - hh)
                if hh < th or ww < tw:
                    raise ValueError(
                        f"Required crop size {(th, tw)} is larger than input image size {(hh, ww)}"
                    )
                if hh == th and ww == tw:
                    i = j = 0
                else:
                    i = randint(0, hh - th + 1, size=(1,)).item()
                    j = randint(0, ww - tw + 1, size=(1,)).item()
                ay, ax, h, w = ay + sy * (i - pt), ax + sx * (j - pl), th, tw
            else:  # center crop, padding with zeros when the crop is larger
                ch, cw = st.size
                pl = (cw - w) // 2 if cw > w else 0
                pt = (ch - h) // 2 if ch > h else 0
                hh = h + pt + ((ch - h + 1) // 2 if ch > h else 0)
                ww = w + pl + ((cw - w + 1) // 2 if cw > w else 0)
                if hh == ch and ww == cw:
                    i = j = 0
                else:
                    i, j = round((hh - ch) / 2.0), round((ww - cw) / 2.0)
                ay, ax, h, w = ay + sy * (i - pt), ax + sx * (j - pl), ch, cw
        return (ay, sy, ax, sx), h, w

    def batch(index):
        index = [int(i) for i in index]
        geo, ho, wo = [], h0, w0
        for _ in index:
            g, ho, wo = geometry()
            geo.append(g)
        imgs = kernel(src, index, geo, ho, wo, mean_l, std_l, fill)
        return [imgs, gather([tgt], index)[0]]

    return batch
