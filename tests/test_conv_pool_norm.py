"""Convolution, pooling and batch norm: torch goldens (forward, indices, grads), float64 gradient
checks, NumPy references for the parallel paths, layer init/repr/state_dict, and torch's errors."""

import json
from pathlib import Path

import ferrotorch as torch
import ferrotorch.nn.functional_conv as F
import numpy as np
import pytest
from ferrotorch.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d
from ferrotorch.nn.modules.conv import Conv1d, Conv2d, ConvTranspose2d
from ferrotorch.nn.modules.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)

GOLDEN = Path(__file__).parent / "golden"
META = json.loads((GOLDEN / "conv_golden.json").read_text())
ARR = np.load(GOLDEN / "conv_golden.npz")
CASES = {c["name"]: c for c in META["cases"]}


def T(a, grad=False, dtype=None):
    t = torch.tensor(np.ascontiguousarray(a))
    if dtype is not None:
        t = t.to(dtype)
    if grad:
        t.requires_grad_(True)
    return t


def close(t, expected, rtol=1e-9, atol=1e-10):
    got = t.detach().numpy()
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


def call(case, ins):
    p = dict(case["params"])
    k = case["kind"]
    if k == "conv2d":
        return F.conv2d(*ins, **p)
    if k == "conv1d":
        return F.conv1d(*ins, **p)
    if k == "conv_transpose2d":
        return F.conv_transpose2d(*ins, **p)
    if k == "max_pool2d":
        return F.max_pool2d(ins[0], return_indices=True, **p)
    if k == "max_pool1d":
        return F.max_pool1d(ins[0], return_indices=True, **p)
    if k == "avg_pool2d":
        return F.avg_pool2d(ins[0], **p)
    if k == "avg_pool1d":
        return F.avg_pool1d(ins[0], **p)
    if k == "adaptive_avg_pool2d":
        return F.adaptive_avg_pool2d(ins[0], p["output_size"])
    if k == "adaptive_max_pool2d":
        return F.adaptive_max_pool2d(ins[0], p["output_size"], return_indices=True)
    if k == "adaptive_avg_pool1d":
        return F.adaptive_avg_pool1d(ins[0], p["output_size"])
    raise AssertionError(k)


# ---------------------------------------------------------------- goldens from real torch


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c["kind"] != "batch_norm"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_golden_forward_backward(name, dtype):
    case = CASES[name]
    dt = torch.float64 if dtype == "float64" else torch.float32
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == "float64" else dict(rtol=2e-4, atol=2e-4)
    ins = [T(ARR[f"{name}.in{i}"], grad=True, dtype=dt) if has else None for i, has in enumerate(case["has"])]
    out = call(case, ins)
    idx = None
    if isinstance(out, tuple):
        out, idx = out
    close(out, ARR[f"{name}.out"], **tol)
    if idx is not None:
        assert idx.dtype == torch.int64
        np.testing.assert_array_equal(idx.numpy(), ARR[f"{name}.idx"])
    out.backward(T(ARR[f"{name}.gy"], dtype=dt))
    for i, t in enumerate(ins):
        if t is not None:
            close(t.grad, ARR[f"{name}.grad{i}"], **tol)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c["kind"] == "batch_norm"])
def test_golden_batch_norm(name):
    case = CASES[name]
    p = case["params"]
    x, w, b = (T(ARR[f"{name}.in{i}"], grad=True) for i in range(3))
    rm, rv = T(ARR[f"{name}.rm0"]), T(ARR[f"{name}.rv0"])
    out = F.batch_norm(x, rm, rv, w, b, p["training"], p["momentum"], p["eps"])
    close(out, ARR[f"{name}.out"])
    close(rm, ARR[f"{name}.rm1"])
    close(rv, ARR[f"{name}.rv1"])
    out.backward(T(ARR[f"{name}.gy"]))
    for i, t in enumerate((x, w, b)):
        close(t.grad, ARR[f"{name}.grad{i}"])
    assert out.grad_fn.name() == "NativeBatchNormBackward0"


def test_init_after_manual_seed_equals_torch():
    torch.manual_seed(0)
    m = Conv2d(3, 6, 5)
    close(m.weight, ARR["init.conv2d.weight"], rtol=0, atol=0)
    close(m.bias, ARR["init.conv2d.bias"], rtol=0, atol=0)
    m = Conv1d(4, 2, 3)
    close(m.weight, ARR["init.conv1d.weight"], rtol=0, atol=0)
    close(m.bias, ARR["init.conv1d.bias"], rtol=0, atol=0)
    m = ConvTranspose2d(3, 4, 3)
    close(m.weight, ARR["init.convt2d.weight"], rtol=0, atol=0)
    close(m.bias, ARR["init.convt2d.bias"], rtol=0, atol=0)


def test_batchnorm_module_cumulative_momentum_and_eval():
    bn = BatchNorm2d(3, momentum=None)
    for i in range(3):
        bn(T(ARR[f"bnmod.x{i}"], dtype=torch.float32))
    assert bn.num_batches_tracked.item() == 3
    assert bn.num_batches_tracked.dtype == torch.int64
    close(bn.running_mean, ARR["bnmod.rm"], rtol=1e-5, atol=1e-6)
    close(bn.running_var, ARR["bnmod.rv"], rtol=1e-5, atol=1e-6)
    bn.eval()
    rm = bn.running_mean.clone()
    out = bn(T(ARR["bnmod.x0"], dtype=torch.float32))
    close(out, ARR["bnmod.eval_out"], rtol=1e-5, atol=1e-5)
    close(bn.running_mean, rm.numpy(), rtol=0, atol=0)  # eval leaves the stats alone
    assert bn.num_batches_tracked.item() == 3


def test_batchnorm_train_vs_eval_and_no_running_stats():
    x = np.random.default_rng(0).standard_normal((6, 2, 4))
    bn = BatchNorm1d(2, affine=False, track_running_stats=False)
    out = bn(T(x)).numpy()
    mean = x.mean(axis=(0, 2), keepdims=True)
    var = x.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
    bn.eval()  # no running stats: eval still uses batch statistics
    np.testing.assert_allclose(bn(T(x)).numpy(), out, rtol=1e-12)
    assert list(bn.state_dict().keys()) == []
    bn2 = BatchNorm1d(2)
    bn2.eval()
    np.testing.assert_allclose(
        bn2(T(x, dtype=torch.float32)).detach().numpy(), x / np.sqrt(1 + 1e-5), rtol=1e-5, atol=1e-6
    )


# ---------------------------------------------------------------- gradient checks (float64)


def numgrad_check(fn, inputs, eps=1e-6, tol=1e-6):
    """Analytical gradient of sum(fn(*inputs) * R) against central differences, every element."""
    out = fn(*inputs)
    if isinstance(out, tuple):
        out = out[0]
    r = np.random.default_rng(7).standard_normal(tuple(out.shape))
    (out * T(r)).sum().backward()
    for x in inputs:
        if x is None or not x.requires_grad:
            continue
        ana = x.grad.numpy().reshape(-1)
        flat = x.detach().numpy().reshape(-1)
        for j in range(flat.size):
            o = flat[j]
            flat[j] = o + eps
            fp = fn(*inputs)
            fp = (fp[0] if isinstance(fp, tuple) else fp).detach().numpy()
            flat[j] = o - eps
            fm = fn(*inputs)
            fm = (fm[0] if isinstance(fm, tuple) else fm).detach().numpy()
            flat[j] = o
            num = ((fp - fm) * r).sum() / (2 * eps)
            assert abs(num - ana[j]) <= tol * (1 + abs(num)), (j, num, ana[j])


def rnd(*shape, seed=0):
    return T(np.random.default_rng(seed).standard_normal(shape), grad=True)


def test_gradcheck_conv2d_grouped_strided_dilated():
    numgrad_check(
        lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2),
        [rnd(2, 4, 5, 6, seed=1), rnd(4, 2, 2, 3, seed=2), rnd(4, seed=3)],
    )


def test_gradcheck_conv2d_stride1_adjoint():
    # stride 1 with padding up to the dilated kernel extent: the input gradient runs as a conv of
    # the output gradient with the flipped kernel (asymmetric padding, dilation, groups)
    numgrad_check(
        lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=(2, 0), dilation=(1, 2), groups=2),
        [rnd(2, 4, 5, 6, seed=21), rnd(6, 2, 3, 2, seed=22), rnd(6, seed=23)],
    )
    numgrad_check(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=1, padding=1, groups=1, dilation=2),
        [rnd(1, 3, 5, 4, seed=24), rnd(3, 2, 2, 3, seed=25), rnd(2, seed=26)],
    )


def test_gradcheck_conv_transpose2d_and_conv1d():
    numgrad_check(
        lambda x, w, b: F.conv_transpose2d(
            x, w, b, stride=2, padding=1, output_padding=1, groups=2, dilation=1
        ),
        [rnd(1, 4, 3, 3, seed=4), rnd(4, 1, 3, 2, seed=5), rnd(2, seed=6)],
    )
    numgrad_check(lambda x, w: F.conv1d(x, w, None, 2, 1, 1, 1), [rnd(2, 3, 7, seed=7), rnd(2, 3, 3, seed=8)])


def test_gradcheck_pools():
    # well-separated values so max windows have no near-ties for finite differences
    x = T(np.random.default_rng(9).permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) * 0.1, grad=True)
    numgrad_check(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [x])
    numgrad_check(
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [rnd(2, 2, 7, 6)]
    )
    numgrad_check(lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [rnd(1, 2, 7, 6)])
    x = T(np.random.default_rng(10).permutation(84).reshape(1, 2, 7, 6) * 0.1, grad=True)
    numgrad_check(lambda x: F.adaptive_max_pool2d(x, (3, 4)), [x])


@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_batch_norm(training):
    rm, rv = T(np.zeros(3) + 0.2), T(np.ones(3) * 1.5)

    def f(x, w, b):
        # running stats copies so repeated calls see the same inputs
        return F.batch_norm(x, rm.clone(), rv.clone(), w, b, training, 0.1, 1e-5)

    numgrad_check(f, [rnd(4, 3, 5, seed=11), rnd(3, seed=12), rnd(3, seed=13)], tol=1e-5)


# ---------------------------------------------------------------- NumPy references, parallel paths


def np_conv2d(x, w, b, stride, pad, dil, groups):
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    ho = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, co, ho, wo))
    og = co // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[
                    :,
                    g * cg : (g + 1) * cg,
                    i * dil[0] : i * dil[0] + stride[0] * (ho - 1) + 1 : stride[0],
                    j * dil[1] : j * dil[1] + stride[1] * (wo - 1) + 1 : stride[1],
                ]
                out[:, g * og : (g + 1) * og] += np.einsum(
                    "nchw,oc->nohw", patch, w[g * og : (g + 1) * og, :, i, j]
                )
    if b is not None:
        out += b[None, :, None, None]
    return out


@pytest.mark.parametrize("shape", [(12, 8, 18, 18), (1, 16, 32, 32)])
def test_conv2d_parallel_paths_match_numpy_and_thread_count(shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((16, shape[1], 3, 3))
    b = rng.standard_normal(16)
    ref = np_conv2d(x, w, b, (1, 1), (1, 1), (1, 1), 1)
    results = []
    old = torch.get_num_threads()
    try:
        for nt in (1, 2, 3):
            torch.set_num_threads(nt)
            xt, wt, bt = T(x, grad=True), T(w, grad=True), T(b, grad=True)
            out = F.conv2d(xt, wt, bt, padding=1)
            close(out, ref)
            out.backward(T(np.ones(ref.shape)))
            results.append((xt.grad.numpy().copy(), wt.grad.numpy().copy(), bt.grad.numpy().copy()))
    finally:
        torch.set_num_threads(old)
    for r in results[1:]:
        for a, e in zip(r, results[0]):
            np.testing.assert_array_equal(a, e)  # bit-identical for any thread count
    # grad_w of sum(out) = Σ over windows of x; grad_b = n·ho·wo
    np.testing.assert_allclose(results[0][2], np.full(16, shape[0] * shape[2] * shape[3]))


def test_noncontiguous_inputs_and_no_input_grad():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    xt = T(x.transpose(0, 1, 3, 2).copy()).transpose(2, 3)  # a non-contiguous view with x's values
    assert not xt.is_contiguous()
    wt = T(w, grad=True)
    out = F.conv2d(xt, wt, None, stride=2)
    close(out, np_conv2d(x, w, None, (2, 2), (0, 0), (1, 1), 1))
    out.sum().backward()
    assert xt.grad is None and wt.grad is not None
    p = F.max_pool2d(xt, 2)
    close(p, np_maxpool2(x))


def np_maxpool2(x):
    n, c, h, w = x.shape
    return x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def test_max_pool_nan_and_ties():
    x = T(np.array([[[[1.0, 3.0, 3.0, 0.0], [2.0, np.nan, 1.0, 3.0]]]]))
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    assert np.isnan(out.numpy()[0, 0, 0, 0]) and out.numpy()[0, 0, 0, 1] == 3.0
    assert idx.numpy().tolist() == [[[[5, 2]]]]  # NaN wins; first of tied maxima


def test_unbatched_and_empty_batch():
    x = rnd(3, 6, 5)
    w = rnd(2, 3, 3, 3)
    out = F.conv2d(x, w)
    assert out.shape == (2, 4, 3)
    out.sum().backward()
    assert x.grad.shape == (3, 6, 5)
    assert F.max_pool2d(rnd(3, 6, 5), 2).shape == (3, 3, 2)
    e = F.conv2d(T(np.zeros((0, 3, 6, 5))), T(np.zeros((2, 3, 3, 3))))
    assert e.shape == (0, 2, 4, 3)


# ---------------------------------------------------------------- modules


def test_module_reprs_and_shapes():
    assert repr(Conv2d(3, 6, 5)) == "Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))"
    assert (
        repr(Conv2d(3, 6, (3, 5), stride=2, padding=1, dilation=2, groups=3, bias=False))
        == "Conv2d(3, 6, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), dilation=(2, 2), groups=3, bias=False)"
    )
    assert (
        repr(Conv2d(3, 6, 3, padding="same"))
        == "Conv2d(3, 6, kernel_size=(3, 3), stride=(1, 1), padding=same)"
    )
    assert (
        repr(ConvTranspose2d(3, 6, 3, stride=2, output_padding=1))
        == "ConvTranspose2d(3, 6, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"
    )
    assert repr(Conv1d(3, 6, 3)) == "Conv1d(3, 6, kernel_size=(3,), stride=(1,))"
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert (
        repr(MaxPool1d(3, 2, 1, ceil_mode=True))
        == "MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)"
    )
    assert repr(AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    assert repr(AdaptiveAvgPool1d(3)) == "AdaptiveAvgPool1d(output_size=3)"
    assert (
        repr(AdaptiveMaxPool2d((4, None), return_indices=True)) == "AdaptiveMaxPool2d(output_size=(4, None))"
    )
    assert (
        repr(BatchNorm2d(16))
        == "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    )
    assert (
        repr(BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False))
        == "BatchNorm1d(4, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=False)"
    )
    c = Conv2d(4, 6, (3, 2), groups=2)
    assert c.weight.shape == (6, 2, 3, 2) and c.bias.shape == (6,)
    assert ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
    bn = BatchNorm2d(3)
    assert list(bn.state_dict().keys()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]


def test_module_forward_matches_functional():
    x = rnd(2, 3, 9, 8).detach().float()
    c = Conv2d(3, 4, 3, stride=2, padding="valid")
    close(c(x), F.conv2d(x, c.weight, c.bias, 2).detach().numpy())
    same = Conv2d(3, 4, 4, padding="same")
    assert same(x).shape == (2, 4, 9, 8)
    mp = MaxPool2d(3, 2, 1, return_indices=True, ceil_mode=True)
    o, i = mp(x)
    assert o.shape == i.shape == (2, 3, 5, 5)
    assert AdaptiveAvgPool2d((1, 1))(x).shape == (2, 3, 1, 1)
    assert AvgPool1d(2)(rnd(2, 3, 7).detach().float()).shape == (2, 3, 3)
    ct = ConvTranspose2d(3, 2, 3, stride=2)
    assert ct(x, output_size=[20, 18]).shape == (2, 2, 20, 18)


# ---------------------------------------------------------------- errors


def err(fn, cls, text):
    with pytest.raises(cls) as e:
        fn()
    assert text in str(e.value), str(e.value)


def test_errors_match_torch():
    z = lambda *s: T(np.zeros(s))  # noqa: E731
    err(
        lambda: F.conv2d(z(2, 4, 8, 8), z(6, 3, 5, 5)),
        RuntimeError,
        "Given groups=1, weight of size [6, 3, 5, 5], expected input[2, 4, 8, 8] to have 3 channels, but got 4 channels instead",
    )
    err(
        lambda: F.conv2d(z(2, 4, 8, 8), z(6, 2, 5, 5), groups=3),
        RuntimeError,
        "Given groups=3, weight of size [6, 2, 5, 5], expected input[2, 4, 8, 8] to have 6 channels, but got 4 channels instead",
    )
    err(
        lambda: F.conv2d(z(2, 3, 4, 4), z(6, 3, 5, 5)),
        RuntimeError,
        "Calculated padded input size per channel: (4 x 4). Kernel size: (5 x 5). Kernel size can't be greater than actual input size",
    )
    err(
        lambda: F.conv2d(z(2, 3, 8, 8), z(6, 3, 5, 5), z(5)),
        RuntimeError,
        "Given weight of size [6, 3, 5, 5], expected bias to be 1-dimensional with 6 elements, but got bias of size [5] instead",
    )
    err(
        lambda: F.conv2d(z(2, 3, 8, 8), z(6, 3, 5, 5).float()),
        RuntimeError,
        "expected scalar type Double but found Float",
    )
    err(
        lambda: F.conv2d(z(2, 3, 8), z(6, 3, 5, 5)),
        RuntimeError,
        "Given groups=1, weight of size [6, 3, 5, 5], expected input[1, 2, 3, 8] to have 3 channels, but got 2 channels instead",
    )
    err(
        lambda: F.conv2d(z(2, 3, 8, 8), z(6, 3, 5, 5), stride=0),
        RuntimeError,
        "non-positive stride is not supported",
    )
    err(
        lambda: F.conv2d(z(2, 3, 8, 8), z(6, 3, 5, 5), padding=-1),
        RuntimeError,
        "negative padding is not supported",
    )
    err(
        lambda: F.conv2d(z(2, 3, 8, 8), z(6, 3, 5, 5), padding="same", stride=2),
        RuntimeError,
        "padding='same' is not supported for strided convolutions",
    )
    err(
        lambda: F.conv2d(z(2, 3, 8, 8), z(6, 3, 5, 5), padding="foo"),
        RuntimeError,
        "Invalid padding string: 'foo'",
    )
    err(
        lambda: F.conv1d(z(2, 4, 8), z(6, 3, 5)),
        RuntimeError,
        "Given groups=1, weight of size [6, 3, 5], expected input[2, 4, 8] to have 3 channels, but got 4 channels instead",
    )
    err(
        lambda: F.conv_transpose2d(z(2, 4, 8, 8), z(3, 6, 5, 5)),
        RuntimeError,
        "Given transposed=1, weight of size [3, 6, 5, 5], expected input[2, 4, 8, 8] to have 3 channels, but got 4 channels instead",
    )
    err(
        lambda: F.conv_transpose2d(z(2, 4, 8, 8), z(4, 6, 3, 3), stride=2, output_padding=2),
        RuntimeError,
        "output padding must be smaller than either stride or dilation, but got output_padding_height: 2 "
        "output_padding_width: 2 stride_height: 2 stride_width: 2 dilation_height: 1 dilation_width: 1",
    )
    err(lambda: Conv2d(3, 6, 5, groups=2), ValueError, "in_channels must be divisible by groups")
    err(lambda: Conv2d(4, 6, 5, groups=4), ValueError, "out_channels must be divisible by groups")
    err(lambda: Conv2d(4, 6, 5, padding_mode="foo"), ValueError, "padding_mode must be one of")
    err(
        lambda: F.max_pool2d(z(1, 3, 2, 2), 3),
        RuntimeError,
        "Given input size: (3x2x2). Calculated output size: (3x0x0). Output size is too small",
    )
    err(
        lambda: F.max_pool2d(z(1, 3, 4, 4), 2, padding=2),
        RuntimeError,
        "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1",
    )
    err(lambda: F.max_pool2d(z(1, 3, 4, 4), 2, stride=0), RuntimeError, "stride should not be zero")
    err(
        lambda: F.avg_pool2d(z(1, 3, 2, 2), 3),
        RuntimeError,
        "Given input size: (3x2x2). Calculated output size: (3x0x0). Output size is too small",
    )
    err(lambda: F.max_pool1d(z(1, 3, 2), 3), RuntimeError, "max_pool1d() Invalid computed output size: 0")
    err(
        lambda: F.avg_pool1d(z(1, 3, 2), 3),
        RuntimeError,
        "Given input size: (3x1x2). Calculated output size: (3x1x0). Output size is too small",
    )
    err(
        lambda: F.max_pool2d(z(3, 4), 2),
        RuntimeError,
        "non-empty 3D or 4D (batch mode) tensor expected for input",
    )
    err(
        lambda: F.adaptive_avg_pool2d(z(3, 4), 2),
        RuntimeError,
        "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [3, 4]",
    )
    err(
        lambda: F.batch_norm(z(2, 4, 5), z(3), z(3)),
        RuntimeError,
        "running_mean should contain 4 elements not 3",
    )
    err(
        lambda: F.batch_norm(z(2, 4, 5), z(4), z(3)),
        RuntimeError,
        "running_var should contain 4 elements not 3",
    )
    err(
        lambda: F.batch_norm(z(2, 4, 5), z(4), z(4), z(3)),
        RuntimeError,
        "weight should contain 4 elements not 3",
    )
    err(
        lambda: F.batch_norm(z(1, 4), None, None, training=True),
        ValueError,
        "Expected more than 1 value per channel when training, got input size torch.Size([1, 4])",
    )
    err(
        lambda: F.batch_norm(z(3, 4), None, None, training=False),
        RuntimeError,
        "running_mean must be defined in evaluation mode",
    )
    err(lambda: BatchNorm2d(4)(z(2, 4, 5)), ValueError, "expected 4D input (got 3D input)")
    err(lambda: BatchNorm1d(4)(z(2, 4, 5, 6)), ValueError, "expected 2D or 3D input (got 4D input)")
    err(lambda: BatchNorm2d(4)(z(2, 3, 5, 5)), RuntimeError, "running_mean should contain 3 elements not 4")
