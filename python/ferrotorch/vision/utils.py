"""torchvision.utils: make_grid and save_image (Pillow for the file)."""

from __future__ import annotations

import math

import numpy as np

import ferrotorch as torch


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tiles a B×C×H×W batch (or a list of images) into one C×H'×W' image, as torchvision does."""
    if not isinstance(tensor, torch.Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, torch.Tensor):
                    raise TypeError(f"tensor or list of tensors expected, got a list containing {type(t)}")
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(tensor, list):
        tensor = torch.stack(tensor, dim=0)
    a = tensor.detach().contiguous().numpy()
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        if a.shape[0] == 1:
            a = np.concatenate((a, a, a), 0)
        a = a[None]
    if a.ndim == 4 and a.shape[1] == 1:
        a = np.concatenate((a, a, a), 1)
    if normalize is True:
        a = a.copy()
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")

        def norm_ip(img, low, high):
            np.clip(img, low, high, out=img)
            img -= img.dtype.type(low)
            img /= img.dtype.type(max(high - low, 1e-5))

        def norm_range(t):
            if value_range is not None:
                norm_ip(t, value_range[0], value_range[1])
            else:
                norm_ip(t, float(t.min()), float(t.max()))

        if scale_each is True:
            for t in a:
                norm_range(t)
        else:
            norm_range(a)
    if a.shape[0] == 1:
        return torch.from_numpy(np.ascontiguousarray(a[0]))
    nmaps = a.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = math.ceil(float(nmaps) / xmaps)
    height, width = int(a.shape[2] + padding), int(a.shape[3] + padding)
    grid = np.full((a.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value, dtype=a.dtype)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            grid[:, y * height + padding : (y + 1) * height, x * width + padding : (x + 1) * width] = a[k]
            k += 1
    return torch.from_numpy(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Saves a tensor (or batch, via make_grid) as an image file; needs Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("save_image needs Pillow (pip install pillow)") from None
    grid = make_grid(tensor, **kwargs)
    a = grid.detach().numpy().astype(np.float32)
    ndarr = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    im = Image.fromarray(np.ascontiguousarray(ndarr))
    im.save(fp, format=format)
