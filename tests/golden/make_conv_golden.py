"""Writes conv/pool/batch-norm goldens from real PyTorch: conv_golden.json (case parameters) and
conv_golden.npz (inputs, upstream gradients, outputs, input/weight/bias gradients, init values).

Run: /opt/torchenv/bin/python tests/golden/make_conv_golden.py
"""

import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(1234)
arrays = {}
cases = []


def arr(shape):
    return rng.standard_normal(shape)


def add(name, fn, kind, params, inputs, grad_names):
    """Runs fn(*inputs) in float64, backprops a random upstream gradient, stores everything."""
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in inputs]
    out = fn(*ts)
    idx = None
    if isinstance(out, tuple):
        out, idx = out
    gy = arr(tuple(out.shape))
    out.backward(torch.tensor(gy))
    arrays[f"{name}.out"] = out.detach().numpy()
    arrays[f"{name}.gy"] = gy
    if idx is not None:
        arrays[f"{name}.idx"] = idx.numpy()
    for i, (a, t) in enumerate(zip(inputs, ts)):
        if a is None:
            continue
        arrays[f"{name}.in{i}"] = a
        arrays[f"{name}.grad{i}"] = t.grad.numpy()
    cases.append(
        {
            "name": name,
            "kind": kind,
            "params": params,
            "n_inputs": len(inputs),
            "has": [a is not None for a in inputs],
        }
    )


conv2d_cases = [
    ("basic", (2, 3, 7, 9), (4, 3, 3, 3), True, dict(stride=1, padding=0, dilation=1, groups=1)),
    (
        "strided_grouped",
        (2, 4, 9, 8),
        (6, 2, 3, 2),
        True,
        dict(stride=[2, 1], padding=[1, 2], dilation=[1, 2], groups=2),
    ),
    ("dilated_nobias", (1, 3, 10, 11), (5, 3, 4, 3), False, dict(stride=3, padding=2, dilation=2, groups=1)),
    ("depthwise", (2, 4, 5, 5), (4, 1, 3, 3), True, dict(stride=1, padding=1, dilation=1, groups=4)),
    ("pointwise", (2, 3, 6, 7), (6, 3, 1, 1), True, dict(stride=1, padding=0, dilation=1, groups=1)),
    ("pointwise_strided", (2, 3, 6, 7), (2, 3, 1, 1), True, dict(stride=2, padding=1, dilation=1, groups=1)),
    ("same_even", (2, 2, 7, 6), (3, 2, 4, 3), True, dict(stride=1, padding="same", dilation=1, groups=1)),
    (
        "same_dilated",
        (1, 2, 8, 9),
        (3, 2, 3, 2),
        True,
        dict(stride=1, padding="same", dilation=[2, 3], groups=1),
    ),
    ("valid", (2, 2, 5, 6), (3, 2, 2, 3), False, dict(stride=1, padding="valid", dilation=1, groups=1)),
]
for name, xs, ws, bias, p in conv2d_cases:
    add(
        f"conv2d_{name}",
        lambda x, w, b, p=p: F.conv2d(x, w, b, **p),
        "conv2d",
        p,
        [arr(xs), arr(ws), arr(ws[0]) if bias else None],
        None,
    )

conv1d_cases = [
    ("basic", (2, 3, 11), (4, 3, 3), True, dict(stride=2, padding=1, dilation=2, groups=1)),
    ("grouped", (3, 4, 9), (6, 2, 2), False, dict(stride=1, padding=0, dilation=1, groups=2)),
    ("same", (2, 2, 8), (3, 2, 4), True, dict(stride=1, padding="same", dilation=1, groups=1)),
]
for name, xs, ws, bias, p in conv1d_cases:
    add(
        f"conv1d_{name}",
        lambda x, w, b, p=p: F.conv1d(x, w, b, **p),
        "conv1d",
        p,
        [arr(xs), arr(ws), arr(ws[0]) if bias else None],
        None,
    )

convt_cases = [
    (
        "basic",
        (2, 4, 5, 6),
        (4, 3, 3, 3),
        True,
        dict(stride=2, padding=1, output_padding=1, groups=1, dilation=1),
    ),
    (
        "grouped",
        (2, 4, 4, 5),
        (4, 2, 3, 2),
        True,
        dict(stride=[2, 3], padding=[0, 1], output_padding=[1, 0], groups=2, dilation=[1, 2]),
    ),
    (
        "plain",
        (1, 3, 4, 4),
        (3, 2, 2, 2),
        False,
        dict(stride=1, padding=0, output_padding=0, groups=1, dilation=1),
    ),
]
for name, xs, ws, bias, p in convt_cases:
    cout = ws[1] * p["groups"]
    add(
        f"convt2d_{name}",
        lambda x, w, b, p=p: F.conv_transpose2d(x, w, b, **p),
        "conv_transpose2d",
        p,
        [arr(xs), arr(ws), arr(cout) if bias else None],
        None,
    )

maxpool_cases = [
    ("ceil_pad", (2, 3, 9, 11), dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)),
    (
        "dilated",
        (2, 2, 10, 9),
        dict(kernel_size=[2, 3], stride=[1, 2], padding=[1, 1], dilation=2, ceil_mode=False),
    ),
    ("odd_ceil", (1, 2, 7, 5), dict(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=True)),
    (
        "default_stride",
        (2, 3, 8, 8),
        dict(kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=False),
    ),
    ("unbatched", (3, 7, 6), dict(kernel_size=3, stride=1, padding=1, dilation=1, ceil_mode=False)),
]
for name, xs, p in maxpool_cases:
    add(
        f"maxpool2d_{name}",
        lambda x, p=p: F.max_pool2d(x, return_indices=True, **p),
        "max_pool2d",
        p,
        [arr(xs)],
        None,
    )
add(
    "maxpool1d_basic",
    lambda x: F.max_pool1d(x, 3, 2, 1, 1, ceil_mode=True, return_indices=True),
    "max_pool1d",
    dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True),
    [arr((2, 3, 12))],
    None,
)

avg_cases = [
    (
        "ceil_pad_cip",
        (2, 3, 9, 11),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True),
    ),
    (
        "ceil_pad_nocip",
        (2, 3, 9, 11),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    ),
    (
        "divisor",
        (1, 2, 7, 8),
        dict(
            kernel_size=[3, 2],
            stride=[2, 3],
            padding=[1, 1],
            ceil_mode=False,
            count_include_pad=True,
            divisor_override=5,
        ),
    ),
    (
        "plain",
        (2, 2, 6, 6),
        dict(kernel_size=2, stride=None, padding=0, ceil_mode=False, count_include_pad=True),
    ),
]
for name, xs, p in avg_cases:
    add(f"avgpool2d_{name}", lambda x, p=p: F.avg_pool2d(x, **p), "avg_pool2d", p, [arr(xs)], None)
add(
    "avgpool1d_basic",
    lambda x: F.avg_pool1d(x, 4, 3, 2, True, False),
    "avg_pool1d",
    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False),
    [arr((2, 3, 13))],
    None,
)

for name, xs, o in [
    ("uneven", (2, 3, 9, 11), [4, 5]),
    ("global", (2, 3, 5, 7), [1, 1]),
    ("up", (1, 2, 3, 4), [5, 6]),
    ("none", (2, 2, 6, 7), [3, None]),
]:
    add(
        f"aavg2d_{name}",
        lambda x, o=o: F.adaptive_avg_pool2d(x, o),
        "adaptive_avg_pool2d",
        {"output_size": o},
        [arr(xs)],
        None,
    )
for name, xs, o in [("uneven", (2, 3, 9, 11), [4, 5]), ("up", (1, 2, 3, 4), [5, 6])]:
    add(
        f"amax2d_{name}",
        lambda x, o=o: F.adaptive_max_pool2d(x, o, return_indices=True),
        "adaptive_max_pool2d",
        {"output_size": o},
        [arr(xs)],
        None,
    )
add(
    "aavg1d_basic",
    lambda x: F.adaptive_avg_pool1d(x, 4),
    "adaptive_avg_pool1d",
    {"output_size": 4},
    [arr((2, 3, 10))],
    None,
)

# batch norm: train (running stats updated) and eval
for name, xs, training in [
    ("train4d", (4, 3, 5, 6), True),
    ("eval4d", (4, 3, 5, 6), False),
    ("train2d", (5, 4), True),
    ("train3d", (5, 4, 3), True),
    ("eval3d", (5, 4, 3), False),
]:
    c = xs[1]
    rm0, rv0 = arr(c) * 0.3, np.abs(arr(c)) + 0.5
    rm, rv = torch.tensor(rm0), torch.tensor(rv0)
    p = {"training": training, "momentum": 0.1, "eps": 1e-5}
    add(
        f"bn_{name}",
        lambda x, w, b, rm=rm, rv=rv, p=p: F.batch_norm(x, rm, rv, w, b, **p),
        "batch_norm",
        p,
        [arr(xs), arr(c), arr(c)],
        None,
    )
    arrays[f"bn_{name}.rm0"] = rm0
    arrays[f"bn_{name}.rv0"] = rv0
    arrays[f"bn_{name}.rm1"] = rm.numpy()
    arrays[f"bn_{name}.rv1"] = rv.numpy()

# module default init after manual_seed, and BN module running stats over 3 steps (momentum None)
torch.manual_seed(0)
m = nn.Conv2d(3, 6, 5)
arrays["init.conv2d.weight"] = m.weight.detach().numpy()
arrays["init.conv2d.bias"] = m.bias.detach().numpy()
m = nn.Conv1d(4, 2, 3)
arrays["init.conv1d.weight"] = m.weight.detach().numpy()
arrays["init.conv1d.bias"] = m.bias.detach().numpy()
m = nn.ConvTranspose2d(3, 4, 3, groups=1)
arrays["init.convt2d.weight"] = m.weight.detach().numpy()
arrays["init.convt2d.bias"] = m.bias.detach().numpy()

bn = nn.BatchNorm2d(3, momentum=None)
xs = [arr((4, 3, 3, 3)) for _ in range(3)]
for i, x in enumerate(xs):
    arrays[f"bnmod.x{i}"] = x
    bn(torch.tensor(x, dtype=torch.float32))
arrays["bnmod.rm"] = bn.running_mean.numpy()
arrays["bnmod.rv"] = bn.running_var.numpy()
bn.eval()
arrays["bnmod.eval_out"] = bn(torch.tensor(xs[0], dtype=torch.float32)).detach().numpy()

np.savez_compressed(os.path.join(HERE, "conv_golden.npz"), **arrays)
with open(os.path.join(HERE, "conv_golden.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
print(len(cases), "cases,", len(arrays), "arrays")
