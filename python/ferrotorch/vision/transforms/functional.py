"""torchvision.transforms.functional for NumPy HWC arrays, CHW tensors and (optionally) PIL images.

Geometry is done in NumPy on a view with the spatial axes first; results come back in the input's kind.
"""

from __future__ import annotations

import numbers
from enum import Enum

import numpy as np

import ferrotorch as torch

try:  # Pillow stays optional
    from PIL import Image as _PILImage
except ImportError:  # pragma: no cover - depends on the environment
    _PILImage = None


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _is_pil_image(img) -> bool:
    return _PILImage is not None and isinstance(img, _PILImage.Image)


def _is_numpy(img) -> bool:
    return isinstance(img, np.ndarray)


def _is_numpy_image(img) -> bool:
    return img.ndim in {2, 3}


def _kind(img):
    if isinstance(img, torch.Tensor):
        return "tensor"
    if _is_numpy(img):
        return "numpy"
    if _is_pil_image(img):
        return "pil"
    raise TypeError(f"img should be PIL Image, Tensor or ndarray. Got {type(img)}")


def _require_pil():
    if _PILImage is None:
        raise ImportError(
            "this needs Pillow (pip install pillow); NumPy HWC arrays and tensors work without it"
        )
    return _PILImage


# ---- the internal HWC NumPy form --------------------------------------------------------------------
def _to_hwc(img):
    """(HWC array, kind, extra) for any image; `extra` lets `_from_hwc` restore the original form."""
    k = _kind(img)
    if k == "tensor":
        if img.ndim < 2:
            raise TypeError(f"Tensor is not a torch image (ndim={img.ndim}).")
        a = img.detach().contiguous().numpy()
        if a.ndim == 2:
            return a[:, :, None], k, (img.dtype, 2)
        lead = a.shape[:-3]
        a = a.reshape((-1,) + a.shape[-3:])  # N, C, H, W
        a = np.moveaxis(a, 1, -1)  # N, H, W, C
        a = np.moveaxis(a, 0, 2).reshape(a.shape[1], a.shape[2], -1)  # H, W, N*C
        return a, k, (img.dtype, lead, img.shape[-3])
    if k == "numpy":
        if img.ndim == 2:
            return img[:, :, None], k, 2
        return img, k, 3
    mode = img.mode
    return np.asarray(img).reshape(img.size[1], img.size[0], -1), k, mode


def _from_hwc(a, kind, extra):
    if kind == "tensor":
        if extra[1] == 2:
            return torch.from_numpy(np.ascontiguousarray(a[:, :, 0]))
        _dt, lead, c = extra
        h, w = a.shape[:2]
        a = a.reshape(h, w, -1, c)  # H, W, N, C
        a = np.ascontiguousarray(np.transpose(a, (2, 3, 0, 1)))  # N, C, H, W
        return torch.from_numpy(a.reshape(tuple(lead) + (c, h, w)))
    if kind == "numpy":
        return np.ascontiguousarray(a[:, :, 0] if extra == 2 else a)
    Image = _require_pil()
    a = np.ascontiguousarray(a)
    if a.shape[2] == 1:
        return Image.fromarray(a[:, :, 0], mode=extra if extra in ("L", "1", "I", "F") else None)
    return Image.fromarray(a)


def get_dimensions(img):
    """[channels, height, width] of an image."""
    k = _kind(img)
    if k == "tensor":
        c = 1 if img.ndim == 2 else img.shape[-3]
        return [c, img.shape[-2], img.shape[-1]]
    if k == "numpy":
        return [1 if img.ndim == 2 else img.shape[2], img.shape[0], img.shape[1]]
    return [len(img.getbands()), img.size[1], img.size[0]]


def get_image_size(img):
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img):
    return get_dimensions(img)[0]


# ---- conversions ----------------------------------------------------------------------------------------
def to_tensor(pic):
    """HWC uint8 (array or PIL) → CHW float32 in [0, 1]; other dtypes keep their values."""
    if not (_is_pil_image(pic) or _is_numpy(pic)):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if _is_numpy(pic) and not _is_numpy_image(pic):
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    if _is_pil_image(pic):
        mode_to_nptype = {"I": np.int32, "F": np.float32}
        arr = np.array(pic, mode_to_nptype.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = arr * 255
        pic = arr.reshape(pic.size[1], pic.size[0], -1)
    if pic.ndim == 2:
        pic = pic[:, :, None]
    img = torch.from_numpy(np.ascontiguousarray(pic.transpose((2, 0, 1))))
    if img.dtype == torch.uint8:
        return img.to(dtype=torch.get_default_dtype()).div(255)
    return img


def pil_to_tensor(pic):
    """HWC image → CHW tensor with the same dtype (uint8 stays uint8)."""
    if _is_pil_image(pic):
        pic = np.asarray(pic).reshape(pic.size[1], pic.size[0], -1)
    elif not _is_numpy(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    if pic.ndim == 2:
        pic = pic[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(pic.transpose((2, 0, 1))))


def to_pil_image(pic, mode=None):
    Image = _require_pil()
    if isinstance(pic, torch.Tensor):
        if pic.ndim not in {2, 3}:
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        if pic.ndim == 2:
            pic = pic.unsqueeze(0)
        if pic.is_floating_point() and mode != "F":
            pic = pic.mul(255).byte()
        pic = np.transpose(pic.numpy(), (1, 2, 0))
    if not isinstance(pic, np.ndarray):
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if pic.ndim == 2:
        pic = pic[:, :, None]
    if pic.shape[-1] == 1:
        return Image.fromarray(np.ascontiguousarray(pic[:, :, 0]), mode=mode)
    return Image.fromarray(np.ascontiguousarray(pic), mode=mode)


def convert_image_dtype(image, dtype=torch.float32):
    """torchvision's rescaling rules between integer and floating image dtypes."""
    if not isinstance(image, torch.Tensor):
        raise TypeError("Input img should be Tensor Image")
    if image.dtype == dtype:
        return image
    if image.is_floating_point():
        if dtype.is_floating_point:
            return image.to(dtype)
        if dtype == torch.int64 or (image.dtype == torch.float32 and dtype == torch.int32):
            raise RuntimeError(f"The cast from {image.dtype} to {dtype} cannot be performed safely.")
        eps = 1e-3
        max_val = float(_max_value(dtype))
        return image.mul(max_val + 1.0 - eps).to(dtype)
    input_max = float(_max_value(image.dtype))
    if dtype.is_floating_point:
        return image.to(dtype).div(input_max)
    output_max = float(_max_value(dtype))
    a = image.numpy().astype(np.int64)
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        a = a // factor
    else:
        factor = int((output_max + 1) // (input_max + 1))
        a = a * factor
    return torch.from_numpy(a).to(dtype)


def _max_value(dtype):
    return {torch.uint8: 255, torch.int32: 2**31 - 1, torch.int64: 2**63 - 1, torch.bool: 1}.get(dtype, 1)


# ---- colour -------------------------------------------------------------------------------------------------
def normalize(tensor, mean, std, inplace=False):
    """(tensor - mean) / std per channel, in the tensor's float dtype (torchvision's arithmetic)."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(
            f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tensor.size()}"
        )
    if not inplace:
        tensor = tensor.clone()
    dtype = tensor.dtype
    mean = torch.as_tensor(mean, dtype=dtype)
    std = torch.as_tensor(std, dtype=dtype)
    if (std == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading to division by zero.")
    if mean.ndim == 1:
        mean = mean.view(-1, 1, 1)
    if std.ndim == 1:
        std = std.view(-1, 1, 1)
    return tensor.sub_(mean).div_(std)


def rgb_to_grayscale(img, num_output_channels=1):
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if _is_pil_image(img):
        out = img.convert("L")
        return out.convert("RGB") if num_output_channels == 3 else out
    a, kind, extra = _to_hwc(img)
    if a.shape[2] % 3 == 0 and (kind != "tensor" or extra[-1] == 3):
        x = a.reshape(a.shape[0], a.shape[1], -1, 3).astype(np.float32)
        lum = np.float32(0.2989) * x[..., 0] + np.float32(0.587) * x[..., 1] + np.float32(0.114) * x[..., 2]
        lum = lum.astype(a.dtype)  # torchvision: `.to(img.dtype)` truncates for integer images
    else:
        lum = a.copy()
    if num_output_channels == 3:
        lum = np.repeat(lum, 3, axis=-1)
    if kind == "tensor":
        return _from_hwc(lum, kind, (extra[0], extra[1], num_output_channels) if extra[1] != 2 else extra)
    return lum if num_output_channels == 3 or kind != "numpy" else (lum[:, :, 0] if extra == 2 else lum)


to_grayscale = rgb_to_grayscale


# ---- geometry ---------------------------------------------------------------------------------------------
def hflip(img):
    if _is_pil_image(img):
        return img.transpose(_PILImage.FLIP_LEFT_RIGHT)
    if isinstance(img, torch.Tensor):
        return img.flip(-1)
    return np.ascontiguousarray(img[:, ::-1])


def vflip(img):
    if _is_pil_image(img):
        return img.transpose(_PILImage.FLIP_TOP_BOTTOM)
    if isinstance(img, torch.Tensor):
        return img.flip(-2)
    return np.ascontiguousarray(img[::-1])


def _parse_padding(padding):
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    padding = list(padding)
    if len(padding) == 1:
        return (int(padding[0]),) * 4
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    if len(padding) == 4:
        return tuple(int(p) for p in padding)
    raise ValueError(
        f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
    )


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pads (left, top, right, bottom); modes constant, edge, reflect, symmetric."""
    if padding_mode not in ["constant", "edge", "reflect", "symmetric"]:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, top, right, bottom = _parse_padding(padding)
    a, kind, extra = _to_hwc(img)
    widths = ((top, bottom), (left, right), (0, 0))
    if padding_mode == "constant":
        if isinstance(fill, (tuple, list)):
            out = np.stack(
                [
                    np.pad(a[:, :, c], widths[:2], constant_values=fill[c % len(fill)])
                    for c in range(a.shape[2])
                ],
                -1,
            )
        else:
            out = np.pad(a, widths, mode="constant", constant_values=fill)
    else:
        out = np.pad(a, widths, mode=padding_mode)
    return _from_hwc(out.astype(a.dtype, copy=False), kind, extra)


def crop(img, top, left, height, width):
    """The region at (top, left) of size (height, width); zero-padded where it leaves the image."""
    _, h, w = get_dimensions(img)
    if _is_pil_image(img):
        return img.crop((left, top, left + width, top + height))
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        pads = [max(-left, 0), max(-top, 0), max(right - w, 0), max(bottom - h, 0)]
        img = pad(img, pads, fill=0)
        top, left = top + pads[1], left + pads[0]
    if isinstance(img, torch.Tensor):
        return img[..., top : top + height, left : left + width]
    return img[top : top + height, left : left + width]


def _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size."):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, (list, tuple)) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return tuple(size)


def center_crop(img, output_size):
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [
            (crop_width - image_width) // 2 if crop_width > image_width else 0,
            (crop_height - image_height) // 2 if crop_height > image_height else 0,
            (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
            (crop_height - image_height + 1) // 2 if crop_height > image_height else 0,
        ]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = round((image_height - crop_height) / 2.0)
    crop_left = round((image_width - crop_width) / 2.0)
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def _compute_resized_output_size(image_size, size, max_size=None):
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if isinstance(size, int) or len(size) == 1:
        requested = size if isinstance(size, int) else size[0]
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(
                    f"max_size = {max_size} must be strictly greater than the requested "
                    f"size for the smaller edge size = {size}"
                )
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    else:
        new_w, new_h = size[1], size[0]
    return [new_h, new_w]


def _aa_weights(n_in, n_out, antialias):
    """Row-stochastic (n_out, n_in) matrix of torch's / PIL's triangle filter (align_corners=False); when
    shrinking with antialias the filter widens by the scale."""
    scale = n_in / n_out
    support = scale if (antialias and scale >= 1.0) else 1.0
    m = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in)
        j = np.arange(xmin, xmax)
        wts = np.maximum(0.0, 1.0 - np.abs((j - center + 0.5) / support))
        tot = wts.sum()
        if tot > 0:
            m[i, xmin:xmax] = wts / tot
    return m


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize (smaller edge to `size` for an int); bilinear is antialiased like PIL's (uint8 results may
    differ from PIL's fixed-point arithmetic by one level)."""
    if isinstance(interpolation, int) and not isinstance(interpolation, bool):
        interpolation = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR}.get(
            interpolation, InterpolationMode.BILINEAR
        )
    _, h, w = get_dimensions(img)
    if isinstance(size, (list, tuple)) and len(size) not in (1, 2):
        raise ValueError(
            f"Size must be an int or a 1 or 2 element tuple/list, not a {len(size)} element tuple/list"
        )
    oh, ow = _compute_resized_output_size(
        (h, w), size if not isinstance(size, numbers.Number) else int(size), max_size
    )
    if (oh, ow) == (h, w):
        return img
    if _is_pil_image(img):
        resample = {InterpolationMode.NEAREST: 0, InterpolationMode.BILINEAR: 2, InterpolationMode.BICUBIC: 3}
        return img.resize((ow, oh), resample.get(interpolation, 2))
    a, kind, extra = _to_hwc(img)
    if interpolation in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        if interpolation == InterpolationMode.NEAREST:
            ys = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
            xs = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
        else:
            ys = np.minimum(np.floor((np.arange(oh) + 0.5) * (h / oh)).astype(np.int64), h - 1)
            xs = np.minimum(np.floor((np.arange(ow) + 0.5) * (w / ow)).astype(np.int64), w - 1)
        out = a[ys][:, xs]
    else:
        wy = _aa_weights(h, oh, antialias)
        wx = _aa_weights(w, ow, antialias)
        x = a.astype(np.float64)
        out = np.einsum("ij,jkc->ikc", wy, x)
        out = np.einsum("kj,ijc->ikc", wx, out)
        if np.issubdtype(a.dtype, np.integer):
            info = np.iinfo(a.dtype)
            out = np.clip(np.round(out), info.min, info.max)
        out = out.astype(a.dtype)
    return _from_hwc(out, kind, extra)
