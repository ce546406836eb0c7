"""nn.functional: activations, softmax family, linear/bilinear, pad, interpolate, normalization, embedding.

Forward and backward against real-torch goldens (tests/golden/make_nn_golden.py), float64
finite-difference gradient checks, edge shapes, non-contiguous inputs, NaN propagation, errors.
"""

import json
import math
import os
import sys
import warnings

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
from make_nn_golden import CASES

with open(os.path.join(HERE, "golden", "nn_golden.json")) as fh:
    GOLDEN = json.load(fh)


def check_golden(name, rtol=1e-6, atol=1e-8):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = CASES[name](torch, F)
    g = GOLDEN[name]
    np.testing.assert_allclose(
        np.array(r["out"], dtype=float), np.array(g["out"], dtype=float), rtol=rtol, atol=atol
    )
    if "grads" in g:
        assert "grads" in r, f"{name}: no gradient"
        for a, b in zip(r["grads"], g["grads"]):
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=rtol, atol=atol)


def fd_gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4):
    """Compares autograd's gradient of sum(fn(*inputs) * w) with central differences (float64)."""
    xs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in inputs]
    out = fn(*xs)
    w = np.random.RandomState(7).uniform(0.5, 1.5, size=tuple(out.shape))
    (out * torch.tensor(w)).sum().backward()
    for i, x in enumerate(xs):
        base = [np.array(a, dtype=np.float64) for a in inputs]
        num = np.zeros_like(base[i])
        flat = num.reshape(-1)
        for k in range(flat.size):
            vals = []
            for sgn in (1, -1):
                b = [a.copy() for a in base]
                b[i].reshape(-1)[k] += sgn * eps
                with torch.no_grad():
                    o = fn(*[torch.tensor(a) for a in b]).numpy()
                vals.append(float((o * w).sum()))
            flat[k] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(x.grad.numpy(), num, atol=atol, rtol=rtol)


GOLDEN_NAMES = [
    n
    for n in CASES
    if n.startswith(("act_", "interp_"))
    or n
    in {
        "linear",
        "linear_nobias_3d",
        "linear_1d",
        "bilinear",
        "layer_norm",
        "layer_norm2",
        "group_norm",
        "pad_const",
        "pad_const_neg",
        "pad_reflect",
        "pad_replicate",
        "pad_circular",
        "normalize",
        "normalize_p1",
        "cosine_similarity",
        "cosine_similarity_bc",
        "pairwise_distance",
        "pairwise_distance_p1",
        "embedding",
        "embedding_pad",
        "one_hot",
        "one_hot_n",
        "unfold",
        "unfold_args",
        "unfold_3d",
        "fold",
        "fold_args",
    }
]


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden(name):
    check_golden(name)


ACTS = {
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "elu": lambda x: F.elu(x, 0.7),
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "softplus": lambda x: F.softplus(x, 1.5, 3.0),
    "hardtanh": lambda x: F.hardtanh(x, -0.8, 0.9),
    "softmax": lambda x: F.softmax(x, 1),
    "softmax0": lambda x: F.softmax(x, 0),
    "log_softmax": lambda x: F.log_softmax(x, -1),
    "log_softmax0": lambda x: F.log_softmax(x, 0),
    "logsigmoid": F.logsigmoid,
}


@pytest.mark.parametrize("name", list(ACTS))
def test_gradcheck_activation(name):
    x = np.random.RandomState(3).uniform(-3, 3, size=(4, 5))
    x[np.abs(np.abs(x) - 0.85) < 0.02] += 0.1  # away from kinks
    fd_gradcheck(ACTS[name], x)


@pytest.mark.parametrize("name", list(ACTS))
@pytest.mark.parametrize("shape", [(), (0,), (1, 0, 3), (45, 65)])
def test_activation_shapes(name, shape):
    x = torch.randn(shape, requires_grad=True)
    if name in ("softmax0", "log_softmax0") or x.dim() < 2:
        f = {"softmax": lambda t: F.softmax(t, 0), "log_softmax": lambda t: F.log_softmax(t, 0)}.get(
            name.rstrip("0"), ACTS[name]
        )
    else:
        f = ACTS[name]
    y = f(x)
    assert tuple(y.shape) == shape
    y.sum().backward()
    assert tuple(x.grad.shape) == shape


@pytest.mark.parametrize("name", list(ACTS))
def test_activation_noncontiguous(name):
    base = torch.randn(6, 8, dtype=torch.float64)
    for x in (base.t(), base[::2, 1::3], base[:1].expand(4, 8)):
        ref = ACTS[name](x.contiguous())
        np.testing.assert_allclose(ACTS[name](x).numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)


def test_activation_values_numpy():
    x = np.linspace(-6, 6, 61)
    t = torch.tensor(x)
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(F.gelu(t).numpy(), 0.5 * x * (1 + erf(x / math.sqrt(2))), rtol=1e-12)
    np.testing.assert_allclose(F.silu(t).numpy(), x / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(F.softplus(t).numpy(), np.log1p(np.exp(x)), rtol=1e-12)
    np.testing.assert_allclose(F.mish(t).numpy(), x * np.tanh(np.log1p(np.exp(x))), rtol=1e-12)
    np.testing.assert_allclose(F.elu(t, 2.0).numpy(), np.where(x > 0, x, 2 * np.expm1(x)), rtol=1e-12)
    np.testing.assert_allclose(F.leaky_relu(t).numpy(), np.where(x > 0, x, 0.01 * x), rtol=1e-12)
    np.testing.assert_allclose(F.hardtanh(t).numpy(), np.clip(x, -1, 1))


def test_nan_propagation():
    x = torch.tensor([1.0, float("nan"), -2.0])
    for f in (F.gelu, F.silu, F.mish, F.softplus, F.elu, F.leaky_relu, F.hardtanh, F.relu):
        assert math.isnan(f(x)[1].item()), f
    assert all(math.isnan(v) for v in F.softmax(x, 0).tolist())
    assert all(math.isnan(v) for v in F.log_softmax(x, 0).tolist())


def test_softmax_stable():
    y = F.softmax(torch.tensor([1000.0, 1001.0, 1002.0]), 0)
    np.testing.assert_allclose(y.numpy(), [0.09003057, 0.24472847, 0.66524096], rtol=1e-6)
    ly = F.log_softmax(torch.tensor([1000.0, 1001.0, 1002.0]), 0)
    assert np.isfinite(ly.numpy()).all()
    assert F.log_softmax(torch.tensor([-float("inf"), 0.0]), 0).tolist() == [-float("inf"), 0.0]


def test_softmax_grad_fn_and_dtype():
    x = torch.randn(3, 4, requires_grad=True)
    assert F.softmax(x, 1).grad_fn.name() == "SoftmaxBackward0"
    assert F.log_softmax(x, 1).grad_fn.name() == "LogSoftmaxBackward0"
    assert F.gelu(x).grad_fn.name() == "GeluBackward0"
    assert x.softmax(0, dtype=torch.float64).dtype == torch.float64
    assert torch.softmax(x, dim=1).shape == (3, 4)
    with pytest.raises(
        NotImplementedError, match="\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"
    ):
        F.softmax(torch.tensor([1, 2]), 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.softmax(x, 2)
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh."):
        F.gelu(x, approximate="x")


def test_softmax_implicit_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(torch.randn(2, 3))
    np.testing.assert_allclose(y.sum(1).numpy(), [1, 1], rtol=1e-6)


def test_inplace_activations():
    x = torch.randn(5)
    ref = F.leaky_relu(x, 0.2)
    r = F.leaky_relu(x, 0.2, inplace=True)
    assert r is x or r.data_ptr() == x.data_ptr()
    np.testing.assert_allclose(x.numpy(), ref.numpy())
    x = torch.randn(5)
    ref = F.relu(x)
    F.relu_(x)
    np.testing.assert_allclose(x.numpy(), ref.numpy())


def test_linear_gradcheck():
    rs = np.random.RandomState(5)
    fd_gradcheck(F.linear, rs.randn(3, 4), rs.randn(2, 4), rs.randn(2))
    fd_gradcheck(lambda a, w: F.linear(a, w), rs.randn(2, 3, 4), rs.randn(5, 4))
    fd_gradcheck(F.bilinear, rs.randn(3, 2), rs.randn(3, 4), rs.randn(5, 2, 4), rs.randn(5))


def test_linear_noncontiguous_and_errors():
    x = torch.randn(8, 6, dtype=torch.float64)
    w = torch.randn(6, 5, dtype=torch.float64).t()
    b = torch.randn(5, dtype=torch.float64)
    ref = x.numpy() @ w.numpy().T + b.numpy()
    np.testing.assert_allclose(F.linear(x, w, b).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(F.linear(x.t().t()[::2], w, b).numpy(), ref[::2], rtol=1e-12)
    with pytest.raises(
        RuntimeError, match=r"^mm: mat1 and mat2 shapes cannot be multiplied \(8x6 and 4x5\)$"
    ):
        F.linear(x, torch.randn(5, 4, dtype=torch.float64))
    with pytest.raises(
        RuntimeError, match=r"^addmm: mat1 and mat2 shapes cannot be multiplied \(6x6 and 4x5\)$"
    ):
        F.linear(x[:6].reshape(2, 3, 6), torch.randn(5, 4, dtype=torch.float64), b)


def test_norm_gradchecks():
    rs = np.random.RandomState(6)
    fd_gradcheck(lambda a, w, b: F.layer_norm(a, (4,), w, b), rs.randn(3, 4), rs.randn(4), rs.randn(4))
    fd_gradcheck(lambda a, w, b: F.group_norm(a, 2, w, b), rs.randn(2, 4, 3), rs.randn(4), rs.randn(4))
    fd_gradcheck(lambda a: F.normalize(a, dim=1), rs.randn(3, 4))
    fd_gradcheck(lambda a, b: F.cosine_similarity(a, b), rs.randn(3, 4), rs.randn(3, 4))
    fd_gradcheck(lambda a, b: F.pairwise_distance(a, b), rs.randn(3, 4), rs.randn(3, 4))


def test_pad_interp_gradchecks():
    rs = np.random.RandomState(8)
    fd_gradcheck(lambda a: F.pad(a, (1, 2, 2, 1), mode="reflect"), rs.randn(1, 2, 3, 4))
    fd_gradcheck(lambda a: F.pad(a, (1, 2), value=3.0), rs.randn(2, 3))
    fd_gradcheck(lambda a: F.pad(a, (2, 2, 1, 0), mode="replicate"), rs.randn(1, 1, 3, 3))
    fd_gradcheck(
        lambda a: F.interpolate(a, size=(5, 3), mode="bilinear", align_corners=True), rs.randn(1, 2, 3, 4)
    )
    fd_gradcheck(lambda a: F.interpolate(a, scale_factor=2), rs.randn(1, 2, 2, 3))


def test_norm_errors():
    with pytest.raises(
        RuntimeError,
        match=r"Given normalized_shape=\[5\], expected input with shape \[\*, 5\], "
        r"but got input of size\[3, 4\]",
    ):
        F.layer_norm(torch.randn(3, 4), (5,))
    with pytest.raises(
        RuntimeError, match="Expected number of channels in input to be divisible by num_groups"
    ):
        F.group_norm(torch.randn(2, 6, 4), 4)


def test_layer_norm_fused():
    x = torch.randn(4, 3, 5, dtype=torch.float64)
    w, b = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    a = x.numpy().reshape(4, 15)
    ref = ((a - a.mean(1, keepdims=True)) / np.sqrt(a.var(1, keepdims=True) + 1e-5)).reshape(4, 3, 5)
    np.testing.assert_allclose(F.layer_norm(x, (3, 5), w, b).numpy(), ref * w.numpy() + b.numpy(), rtol=1e-10)
    np.testing.assert_allclose(
        F.layer_norm(x.transpose(0, 1).transpose(0, 1), (3, 5)).numpy(), ref, rtol=1e-10
    )
    assert (
        F.layer_norm(torch.randn(2, 3, requires_grad=True), (3,)).grad_fn.name() == "NativeLayerNormBackward0"
    )
    assert F.layer_norm(torch.randn(0, 3), (3,)).shape == (0, 3)
    fd_gradcheck(
        lambda t, ww: F.layer_norm(t, (2, 3), ww),
        np.random.RandomState(1).randn(2, 2, 3),
        np.random.RandomState(2).randn(2, 3),
    )
    with pytest.raises(
        RuntimeError,
        match=r"Expected weight to be of same shape as normalized_shape, but got weight "
        r"of shape \[4\] and normalized_shape = \[5\]",
    ):
        F.layer_norm(torch.randn(2, 5), (5,), torch.ones(4))


def test_pad_errors():
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(torch.randn(2, 3), (1,))
    with pytest.raises(
        RuntimeError, match="Padding size should be less than the corresponding input dimension"
    ):
        F.pad(torch.randn(1, 2, 3), (3, 0), mode="reflect")


def test_dropout_functional():
    x = torch.ones(1000)
    assert F.dropout(x, 0.3, training=False) is x
    y = F.dropout(x, 0.3)
    vals = y.numpy()
    assert np.all((vals == 0) | np.isclose(vals, 1 / 0.7))
    assert 0.6 < (y.numpy() != 0).mean() < 0.8
    assert F.dropout(x, 1.0).sum().item() == 0
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    z = torch.ones(4, 5, requires_grad=True)
    out = F.dropout(z, 0.5)
    out.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), out.detach().numpy())
    y2 = F.dropout2d(torch.ones(3, 8, 4, 4), 0.5)
    per_channel = y2.numpy().reshape(3, 8, 16)
    assert (per_channel.min(-1) == per_channel.max(-1)).all()


def test_embedding_and_one_hot_errors():
    w = torch.randn(5, 3)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(torch.tensor([0, 5]), w)
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        F.embedding(torch.tensor([0.0]), w)
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor of type LongTensor."):
        F.one_hot(torch.tensor([1.0]))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(torch.tensor([3]), 2)
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(torch.tensor([-1]))


def test_embedding_padding_grad():
    w = torch.randn(4, 3, requires_grad=True)
    out = F.embedding(torch.tensor([[0, 2], [2, 1]]), w, padding_idx=2)
    out.sum().backward()
    g = w.grad.numpy()
    np.testing.assert_allclose(g[2], 0)
    np.testing.assert_allclose(g[0], 1)
    np.testing.assert_allclose(out.detach().numpy()[0, 1], w.detach().numpy()[2])


def test_interpolate_errors():
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(torch.randn(1, 1, 2, 2), size=3, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(torch.randn(1, 1, 2, 2), size=3, align_corners=True)


def test_unfold_fold():
    rs = np.random.RandomState(9)
    fd_gradcheck(lambda a: F.unfold(a, 2, padding=1, stride=2), rs.randn(1, 2, 3, 3))
    fd_gradcheck(lambda a: F.fold(a, (3, 3), 2), rs.randn(1, 8, 4))
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    # fold(unfold(x)) multiplies each pixel by the number of blocks covering it
    cover = F.fold(F.unfold(torch.ones(1, 1, 4, 5, dtype=torch.float64), 2), (4, 5), 2)
    np.testing.assert_allclose(F.fold(F.unfold(x, 2), (4, 5), 2).numpy(), (x * cover).numpy(), rtol=1e-12)
    with pytest.raises(
        RuntimeError, match=r"calculated number of sliding blocks 3 \* 4 = 12, but got input.size\(2\)=5"
    ):
        F.fold(torch.randn(1, 4, 5), (4, 5), 2)
