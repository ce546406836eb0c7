"""Losses: functional and module forms against real-torch goldens, float64 gradient checks, errors."""

import json
import os
import sys
import warnings

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
from make_nn_golden import CASES

with open(os.path.join(HERE, "golden", "nn_golden.json")) as fh:
    GOLDEN = json.load(fh)

PREFIXES = (
    "ce_",
    "nll",
    "mse_",
    "l1_",
    "smooth_l1",
    "huber_",
    "margin_ranking",
    "cosine_embedding",
    "kl_div",
    "bce",
)
LOSS_NAMES = [n for n in CASES if n.startswith(PREFIXES)]


def fd_gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4):
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


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_golden(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = CASES[name](torch, F)
    g = GOLDEN[name]
    np.testing.assert_allclose(
        np.array(r["out"], dtype=float), np.array(g["out"], dtype=float), rtol=1e-6, atol=1e-8
    )
    if "grads" in g:
        for a, b in zip(r["grads"], g["grads"]):
            np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-8)


RS = np.random.RandomState(11)
X = RS.randn(4, 3)
Y = RS.randn(4, 3)
T = np.array([2, 0, 1, 2])
P = RS.uniform(0.05, 0.95, size=(4, 3))
WT = np.array([0.3, 1.2, 2.0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradchecks(reduction):
    r = reduction
    t = torch.tensor(T)
    fd_gradcheck(lambda a: F.cross_entropy(a, t, reduction=r), X)
    fd_gradcheck(
        lambda a: F.cross_entropy(a, t, weight=torch.tensor(WT), label_smoothing=0.3, reduction=r), X
    )
    fd_gradcheck(lambda a: F.cross_entropy(a, torch.tensor([2, -100, 1, 2]), reduction=r), X)
    fd_gradcheck(lambda a, p: F.cross_entropy(a, p, reduction=r), X, P)
    fd_gradcheck(lambda a: F.nll_loss(a, t, weight=torch.tensor(WT), reduction=r), X)
    t3 = torch.tensor([[0, 2], [1, 1]])
    fd_gradcheck(lambda a: F.cross_entropy(a, t3, reduction=r), X.reshape(2, 3, 2))
    fd_gradcheck(lambda a, b: F.mse_loss(a, b, reduction=r), X, Y)
    fd_gradcheck(lambda a, b: F.l1_loss(a, b, reduction=r), X, Y)
    fd_gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction=r, beta=0.5), X, Y)
    fd_gradcheck(lambda a, b: F.huber_loss(a, b, reduction=r, delta=0.5), X, Y)
    fd_gradcheck(
        lambda a, p: F.binary_cross_entropy(a, p, weight=torch.tensor(WT), reduction=r), P, P[::-1].copy()
    )
    fd_gradcheck(
        lambda a, p: F.binary_cross_entropy_with_logits(a, p, pos_weight=torch.tensor(WT), reduction=r), X, P
    )
    fd_gradcheck(lambda a, b: F.kl_div(a, b, reduction=r if r != "mean" else "batchmean"), X, P)
    fd_gradcheck(
        lambda a, b: F.margin_ranking_loss(a, b, torch.tensor([1.0, -1, 1]), margin=0.1, reduction=r),
        X[0],
        Y[0],
    )
    fd_gradcheck(
        lambda a, b: F.cosine_embedding_loss(a, b, torch.tensor([1.0, -1, 1, -1]), reduction=r), X, Y
    )


def test_stability():
    loss = F.cross_entropy(torch.tensor([[1e4, -1e4]]), torch.tensor([1]))
    assert abs(loss.item() - 2e4) < 1
    assert np.isfinite(
        F.binary_cross_entropy_with_logits(torch.tensor([1e4, -1e4]), torch.tensor([0.0, 1.0])).item()
    )
    assert F.binary_cross_entropy(torch.tensor([0.0]), torch.tensor([1.0])).item() == 100.0


def test_grad_fn_names():
    x = torch.randn(3, 5, requires_grad=True)
    assert F.cross_entropy(x, torch.tensor([1, 0, 2])).grad_fn.name() == "NllLossBackward0"
    assert F.nll_loss(x, torch.tensor([1, 0, 2])).grad_fn.name() == "NllLossBackward0"
    x4 = torch.randn(2, 5, 3, 3, requires_grad=True)
    assert F.cross_entropy(x4, torch.zeros(2, 3, 3).long()).grad_fn.name() == "NllLoss2DBackward0"


def test_cross_entropy_backward_is_softmax_minus_onehot():
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 5, 2, 2])
    F.cross_entropy(x, t, reduction="sum").backward()
    p = F.softmax(x.detach(), 1).numpy()
    p[np.arange(4), t.numpy()] -= 1
    np.testing.assert_allclose(x.grad.numpy(), p, rtol=1e-12, atol=1e-14)


def test_edge_cases():
    # all targets ignored: torch gives nan for mean, 0 for sum
    x = torch.randn(2, 3)
    assert np.isnan(F.cross_entropy(x, torch.tensor([-100, -100])).item())
    assert F.cross_entropy(x, torch.tensor([-100, -100]), reduction="sum").item() == 0
    # empty batch
    assert F.cross_entropy(torch.randn(0, 3), torch.zeros(0).long(), reduction="none").shape == (0,)
    # float32 in, float32 out; non-contiguous logits
    base = torch.randn(5, 4)
    xt = base.t()
    t = torch.tensor([0, 1, 2, 3])
    np.testing.assert_allclose(
        F.cross_entropy(xt, t).item(), F.cross_entropy(xt.contiguous(), t).item(), rtol=1e-6
    )
    assert F.cross_entropy(xt, t).dtype == torch.float32
    # NaN propagates
    assert np.isnan(F.cross_entropy(torch.tensor([[float("nan"), 0.0]]), torch.tensor([1])).item())
    assert np.isnan(F.mse_loss(torch.tensor([float("nan")]), torch.tensor([0.0])).item())


def test_errors():
    x = torch.randn(3, 5)
    with pytest.raises(IndexError, match=r"^Target 10 is out of bounds\.$"):
        F.cross_entropy(x, torch.tensor([1, 10, 2]))
    with pytest.raises(IndexError, match=r"Target -3 is out of bounds\."):
        F.nll_loss(x, torch.tensor([1, 0, -3]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float"):
        F.cross_entropy(x, torch.tensor([1.0, 0, 2]))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        F.cross_entropy(x, torch.randn(3, 4))
    with pytest.raises(
        ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)\."
    ):
        F.cross_entropy(x, torch.tensor([1, 0]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[3, 2\], got \[3\]"):
        F.cross_entropy(torch.randn(3, 5, 2), torch.tensor([1, 0, 2]))
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.mse_loss(x, x, reduction="foo")
    with pytest.raises(RuntimeError, match="The size of tensor a"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        F.mse_loss(x, torch.randn(3, 4))
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(torch.randn(3, 1), torch.randn(3))
    with pytest.raises(
        ValueError,
        match=r"Using a target size \(torch.Size\(\[4\]\)\) that is different to the "
        r"input size \(torch.Size\(\[3\]\)\) is deprecated",
    ):
        F.binary_cross_entropy(torch.rand(3), torch.rand(4))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        F.cross_entropy(x, torch.tensor([0, 2, 1], dtype=torch.int32))
    assert np.isfinite(F.cross_entropy(x, torch.tensor([0, 2, 1], dtype=torch.uint8)).item())
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        F.cross_entropy(x, torch.tensor([0, 2, 1]), weight=torch.ones(5, dtype=torch.float64))
    with pytest.raises(
        RuntimeError, match="weight tensor should be defined either for all 5 classes or no classes"
    ):
        F.cross_entropy(x, torch.tensor([0, 2, 1]), weight=torch.ones(4))
    with pytest.raises(
        RuntimeError, match="Expected floating point type for target with class probabilities, got Long"
    ):
        F.cross_entropy(torch.tensor(1.0), torch.tensor(0))
    with pytest.raises(RuntimeError, match=r"label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        F.cross_entropy(x, torch.tensor([0, 2, 1]), label_smoothing=1.5)
    with pytest.raises(NotImplementedError, match="\"mse_cpu\" not implemented for 'Long'"):
        F.mse_loss(torch.tensor([1, 2]), torch.tensor([1, 3]))
    with pytest.raises(RuntimeError, match="Found dtype Long but expected Float"):
        F.binary_cross_entropy(torch.tensor([0.5]), torch.tensor([1]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(torch.rand(3), torch.rand(4))


def test_modules():
    w = torch.tensor([1.0, 2.0, 3.0])
    ce = nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    assert repr(ce) == "CrossEntropyLoss()"
    assert list(ce.state_dict().keys()) == ["weight"]
    assert ce.reduction == "mean" and ce.ignore_index == -100
    x, t = torch.randn(4, 3), torch.tensor([0, 2, 1, 1])
    np.testing.assert_allclose(ce(x, t).item(), F.cross_entropy(x, t, weight=w, label_smoothing=0.1).item())
    assert list(nn.CrossEntropyLoss().state_dict().keys()) == []
    bl = nn.BCEWithLogitsLoss(pos_weight=torch.ones(3))
    assert list(bl.state_dict().keys()) == ["pos_weight"]
    assert nn.MSELoss(reduction="sum")(torch.ones(2), torch.zeros(2)).item() == 2.0
    assert nn.L1Loss(reduction="none")(torch.ones(2), torch.zeros(2)).tolist() == [1.0, 1.0]
    assert nn.SmoothL1Loss(beta=2.0).beta == 2.0
    assert nn.HuberLoss(delta=0.5).delta == 0.5
    assert nn.NLLLoss(ignore_index=1).ignore_index == 1
    assert nn.KLDivLoss(reduction="batchmean", log_target=True).log_target
    assert nn.MarginRankingLoss(margin=0.5).margin == 0.5
    assert nn.CosineEmbeddingLoss(margin=0.5).margin == 0.5
    assert nn.BCELoss()(torch.tensor([0.5]), torch.tensor([1.0])).item() == pytest.approx(0.693147, rel=1e-5)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        F.mse_loss(torch.ones(2), torch.zeros(2), size_average=False)
    assert nn.MSELoss(size_average=False).reduction == "sum"


@pytest.mark.parametrize("r", ["none", "mean", "sum"])
def test_bce_with_logits_is_one_op_with_input_and_target_gradients(r):
    """binary_cross_entropy_with_logits is one op with torch's BinaryCrossEntropyWithLogitsBackward0 node (the
    autograd tutorial prints it); its input and target gradients pass float64 finite differences."""
    x = torch.randn(4, 3, requires_grad=True)
    for kw in ({}, {"weight": torch.tensor(WT)}, {"pos_weight": torch.tensor(WT)}):
        loss = F.binary_cross_entropy_with_logits(x, torch.rand(4, 3), reduction=r, **kw)
        assert loss.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
    w, pw = torch.tensor(WT), torch.tensor(WT[::-1].copy())
    fd_gradcheck(lambda a, p: F.binary_cross_entropy_with_logits(a, p, reduction=r), X, P)
    fd_gradcheck(
        lambda a, p: F.binary_cross_entropy_with_logits(a, p, weight=w, pos_weight=pw, reduction=r), X, P
    )
    fd_gradcheck(lambda a, p: nn.BCEWithLogitsLoss(weight=w, reduction=r)(a, p), X, P)


def test_bce_with_logits_double_backward_and_non_differentiable_weights():
    x = torch.tensor([[-2.0, 0.5], [1.0, 3.0]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([[0.0, 1.0], [0.3, 0.9]], dtype=torch.float64)
    (g,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(x, t), x, create_graph=True)
    g.sum().backward()  # d²/dx² of the mean = σ(x)(1 − σ(x)) / N
    s = 1 / (1 + np.exp(-x.detach().numpy()))
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s) / 4, rtol=1e-12)
    for name in ("weight", "pos_weight"):
        kw = {name: torch.rand(2, dtype=torch.float64, requires_grad=True)}
        with pytest.raises(
            RuntimeError, match=f"not differentiable with respect to argument '{name}'. This input"
        ):
            F.binary_cross_entropy_with_logits(x, t, **kw)
        with torch.no_grad():  # allowed without autograd, as in torch
            assert F.binary_cross_entropy_with_logits(x, t, **kw).grad_fn is None


def test_mse_loss_and_broadcasting_match_pytorch_bit_for_bit():
    """F.mse_loss is one MseLossBackward0 op (values and input/target gradients equal torch's bits, float32 and
    float64, every reduction), torch's weighted form and broadcast warning; broadcast_shapes/broadcast_tensors
    results and errors. Golden: tests/golden/make_mse_golden.py, run by real PyTorch."""
    from make_mse_golden import cases

    with open(os.path.join(HERE, "golden", "mse_golden.json")) as f:
        golden = json.load(f)
    assert cases(torch) == golden


@pytest.mark.parametrize("r", ["none", "mean", "sum"])
def test_mse_loss_gradients_pass_finite_differences_and_double_backward(r):
    fd_gradcheck(lambda a, b: F.mse_loss(a, b, reduction=r), X, Y)
    with pytest.warns(UserWarning, match="Using a target size"):  # a broadcast target, as torch warns
        fd_gradcheck(lambda a, b: nn.MSELoss(reduction=r)(a, b[:1]), X, Y)
    x = torch.tensor(X, requires_grad=True)
    t = torch.tensor(Y, requires_grad=True)
    (gx,) = torch.autograd.grad(F.mse_loss(x, t, reduction=r).sum(), x, create_graph=True)
    gx.sum().backward()  # d/dt Σ d/dx = Σ −2/N (mean) or −2 per element
    n = X.size if r == "mean" else 1
    np.testing.assert_allclose(t.grad.numpy(), np.full(X.shape, -2.0 / n), rtol=1e-12)
