"""torchvision.io's image reading: ``read_file``, ``decode_image``, ``read_image`` and ``ImageReadMode``.

PNG (8-bit, any colour type, not interlaced) decodes natively; JPEG, GIF, WEBP and other PNGs decode through
Pillow when it is installed, and raise ``NotImplementedError`` saying so otherwise.
"""

from __future__ import annotations

import enum
import os
import struct
import zlib

import numpy as np

import ferrotorch as torch

__all__ = ["ImageReadMode", "decode_image", "decode_png", "read_file", "read_image"]


class ImageReadMode(enum.Enum):
    """How ``read_image`` / ``decode_image`` convert channels (torchvision's values)."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA


_UNSUPPORTED = (
    "Unsupported image file. Only jpeg, png, webp and gif are currently supported. For avif and heic format, "
    "please rely on `decode_avif` and `decode_heic` directly."
)


def read_file(path: str):
    """The bytes of the file at ``path`` as a 1-d uint8 tensor."""
    try:
        with open(os.fspath(path), "rb") as f:
            data = f.read()
    except OSError as e:
        raise RuntimeError(str(e)) from None
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _png_native(data: bytes):
    """An 8-bit non-interlaced PNG as an H×W×C uint8 array, or None when it needs Pillow."""
    pos, ihdr, plte, trns, idat = 8, None, None, None, []
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise RuntimeError("decode_png: the PNG file is truncated")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            plte = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            trns = np.frombuffer(body, np.uint8)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        raise RuntimeError("decode_png: the PNG file has no IHDR chunk")
    w, h, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or interlace or channels is None or (ctype in (0, 2) and trns is not None):
        return None
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise RuntimeError(f"decode_png: corrupt image data ({e})") from None
    stride = w * channels
    if len(raw) < h * (stride + 1):
        raise RuntimeError("decode_png: the PNG file is truncated")
    rows = np.frombuffer(raw, np.uint8)[: h * (stride + 1)].reshape(h, stride + 1)
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        ftype, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 255
        elif ftype == 1:  # each byte adds the reconstructed one a pixel before: a running sum per channel
            cur = (np.cumsum(line.reshape(-1, channels), axis=0, dtype=np.int64).reshape(-1) & 255).astype(
                np.int32
            )
        elif ftype in (3, 4):
            cur = line.copy()
            for x in range(stride):
                a = int(cur[x - channels]) if x >= channels else 0
                if ftype == 3:
                    pred = (a + int(prev[x])) >> 1
                else:
                    c = int(prev[x - channels]) if x >= channels else 0
                    pred = _paeth(a, int(prev[x]), c)
                cur[x] = (int(cur[x]) + pred) & 255
        else:
            raise RuntimeError(f"decode_png: bad filter type {ftype}")
        out[y] = cur
        prev = cur
    img = out.astype(np.uint8).reshape(h, w, channels)
    if ctype == 3:
        if plte is None:
            raise RuntimeError("decode_png: palette image without a PLTE chunk")
        idx = img[..., 0]
        if trns is not None:
            alpha = np.full(len(plte), 255, np.uint8)
            alpha[: len(trns)] = trns[: len(plte)]
            img = np.concatenate([plte[idx], alpha[idx][..., None]], axis=-1)
        else:
            img = plte[idx]
    return img


def _convert(img, mode: ImageReadMode, fmt: str):
    c = img.shape[2]
    if mode == ImageReadMode.UNCHANGED:
        return img
    if mode == ImageReadMode.RGB:
        return np.repeat(img[..., :1], 3, axis=2) if c <= 2 else img[..., :3]
    if mode == ImageReadMode.RGB_ALPHA:
        if c == 4:
            return img
        rgb = np.repeat(img[..., :1], 3, axis=2) if c <= 2 else img
        alpha = img[..., 1:2] if c == 2 else np.full(img.shape[:2] + (1,), 255, np.uint8)
        return np.concatenate([rgb, alpha], axis=2)
    if c <= 2:
        if mode == ImageReadMode.GRAY:
            return img[..., :1]
        return img if c == 2 else np.concatenate([img, np.full_like(img, 255)], axis=2)
    raise NotImplementedError(
        f"decode_image: converting a colour {fmt} to {mode.name} needs Pillow (pip install pillow)"
    )


def decode_png(input, mode: ImageReadMode = ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False):
    """A PNG's bytes (1-d uint8 tensor) as a C×H×W uint8 tensor."""
    return decode_image(input, mode, apply_exif_orientation)


def decode_image(input, mode: ImageReadMode = ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False):
    """An encoded image (a 1-d uint8 tensor of its bytes, or a path) as a C×H×W uint8 tensor."""
    if not isinstance(input, torch.Tensor):
        input = read_file(str(input))
    if input.dtype != torch.uint8 or input.dim() != 1:
        raise RuntimeError("Expected a torch.uint8 1-d tensor of the encoded bytes")
    if isinstance(mode, str):
        mode = ImageReadMode[mode.upper()]
    data = input.numpy().tobytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        fmt = "png"
    elif data[:3] == b"\xff\xd8\xff":
        fmt = "jpeg"
    elif data[:4] == b"GIF8":
        fmt = "gif"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        fmt = "webp"
    else:
        raise RuntimeError(_UNSUPPORTED)
    img = _png_native(data) if fmt == "png" and not apply_exif_orientation else None
    if img is not None:
        img = _convert(img, mode, fmt)
    else:
        try:
            from PIL import Image, ImageOps
        except ImportError:
            raise NotImplementedError(
                f"decoding this {fmt} image needs Pillow (pip install pillow); without it ferrotorch decodes "
                "8-bit non-interlaced PNGs only"
            ) from None
        import io

        pil = Image.open(io.BytesIO(data))
        if apply_exif_orientation:
            pil = ImageOps.exif_transpose(pil)
        target = {
            ImageReadMode.GRAY: "L",
            ImageReadMode.GRAY_ALPHA: "LA",
            ImageReadMode.RGB: "RGB",
            ImageReadMode.RGB_ALPHA: "RGBA",
        }.get(mode)
        if target is not None:
            pil = pil.convert(target)
        elif pil.mode not in ("L", "LA", "RGB", "RGBA"):
            pil = pil.convert("RGBA" if "A" in pil.mode or "transparency" in pil.info else "RGB")
        img = np.asarray(pil, dtype=np.uint8)
        if img.ndim == 2:
            img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def read_image(
    path: str, mode: ImageReadMode = ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False
):
    """The image file at ``path`` (JPEG, PNG, GIF, WEBP) as a C×H×W uint8 tensor."""
    return decode_image(read_file(path), mode, apply_exif_orientation)
