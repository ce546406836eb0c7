"""A graph dropped without a backward frees every node (and with them the saved tensors).

Ops that save their own output for backward (exp, tanh, sigmoid, relu, softmax, ...) used to keep
it with its autograd metadata, so node -> backward -> output -> node was a reference cycle that
neither Rust nor Python's GC frees: every evaluation in grad mode leaked its activations. The
count of live graph nodes must come back to where it was once the outputs are gone.
"""

import gc
import sys
from pathlib import Path

import ferrotorch as torch
import ferrotorch.nn as nn
import ferrotorch.nn.functional as F
import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from grad_cases import X, Y, cases  # noqa: E402

live = torch._C._live_grad_nodes


def _img():
    return torch.randn(2, 3, 8, 8, requires_grad=True)


def _seq(x):
    return x.float().unsqueeze(1)


MORE = {
    "softmax": lambda x, y: F.softmax(x, 1),
    "log_softmax": lambda x, y: F.log_softmax(x, 1),
    "logsumexp": lambda x, y: x.logsumexp(1),
    "cumprod": lambda x, y: x.cumprod(1),
    "norm": lambda x, y: x.norm(),
    "norm_inf": lambda x, y: x.norm(float("inf")),
    "max": lambda x, y: x.max(),
    "amax": lambda x, y: x.amax(1),
    "prod": lambda x, y: x.prod(),
    "var": lambda x, y: x.var(),
    "std_dim": lambda x, y: x.std(1),
    "var_mean": lambda x, y: torch.var_mean(x, 1),
    "matmul": lambda x, y: x @ y,
    "gelu": lambda x, y: F.gelu(x),
    "silu": lambda x, y: F.silu(x),
    "elu": lambda x, y: F.elu(x),
    "softplus": lambda x, y: F.softplus(x),
    "logsigmoid": lambda x, y: F.logsigmoid(x),
    "dropout": lambda x, y: F.dropout(x, 0.5),
    "l1_loss": lambda x, y: F.l1_loss(x, y.expand(2, 3)),
    "smooth_l1_loss": lambda x, y: F.smooth_l1_loss(x, y.expand(2, 3)),
    "cross_entropy": lambda x, y: F.cross_entropy(x, torch.tensor([0, 2])),
    "bce": lambda x, y: F.binary_cross_entropy(x.sigmoid(), torch.ones(2, 3, dtype=torch.float64)),
    "normalize": lambda x, y: F.normalize(x),
    "cosine_similarity": lambda x, y: F.cosine_similarity(x, x),
    "kl_div": lambda x, y: F.kl_div(F.log_softmax(x, 1), F.softmax(x, 1).detach(), reduction="batchmean"),
    "conv_bn_relu_pool": lambda x, y: F.max_pool2d(F.relu(nn.BatchNorm2d(4)(nn.Conv2d(3, 4, 3)(_img()))), 2),
    "lstm": lambda x, y: nn.LSTM(3, 4)(_seq(x)),
    "gru": lambda x, y: nn.GRU(3, 4)(_seq(x)),
    "rnn": lambda x, y: nn.RNN(3, 4)(_seq(x)),
}

CASES = {**cases(torch), **MORE}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_graph_dropped_without_backward_frees_its_nodes(name):
    gc.collect()
    before = live()
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(Y, dtype=torch.float64, requires_grad=True)
    out = CASES[name](x, y)
    assert live() > before, "the case builds a graph"
    del out
    gc.collect()
    assert live() == before, f"{live() - before} graph node(s) of {name} outlive their outputs"


def test_an_evaluation_loop_in_grad_mode_keeps_no_graphs():
    # the tutorials' mistake that used to leak every activation: evaluating without no_grad()
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=1))
    x = torch.randn(32, 8)
    gc.collect()
    before = live()
    for _ in range(50):
        model(x).argmax(1)
    gc.collect()
    assert live() == before


def test_a_backward_still_frees_and_a_retained_graph_still_backs_up_twice():
    x = torch.tensor([0.2, 0.7], dtype=torch.float64, requires_grad=True)
    before = live()
    y = x.exp().tanh().sum()
    y.backward(retain_graph=True)
    y.backward()
    assert torch.allclose(x.grad, 2 * x.detach().exp() * (1 - x.detach().exp().tanh() ** 2))
    del y
    assert live() == before


SECOND = {
    # f, f'' in closed form
    "exp": (lambda x: x.exp(), lambda x: x.exp()),
    "tanh": (lambda x: x.tanh(), lambda x: -2 * x.tanh() * (1 - x.tanh() ** 2)),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid() * (1 - x.sigmoid()) * (1 - 2 * x.sigmoid())),
    "sqrt": (lambda x: x.sqrt(), lambda x: -0.25 * x**-1.5),
    "rsqrt": (lambda x: x.rsqrt(), lambda x: 0.75 * x**-2.5),
    "reciprocal": (lambda x: x.reciprocal(), lambda x: 2 * x**-3),
    "tan": (lambda x: x.tan(), lambda x: 2 * x.tan() * (1 + x.tan() ** 2)),
    "exp2": (lambda x: x.exp2(), lambda x: 0.4804530139182014 * 2**x),
    "x_pow_x": (lambda x: x**x, lambda x: x**x * ((x.log() + 1) ** 2 + 1 / x)),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivatives_flow_through_a_saved_output(name):
    # the saved output rejoins its node inside a create_graph backward, as torch's does
    f, d2 = SECOND[name]
    x = torch.tensor([0.3, 0.5, 0.9], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    assert g.grad_fn is not None
    (h,) = torch.autograd.grad(g.sum(), x)
    want = d2(x.detach())
    assert torch.allclose(h, want, rtol=1e-12, atol=1e-12), (h, want)
    # and by central differences of the first derivative
    eps = 1e-6
    fd = []
    for i in range(3):
        xp, xm = x.detach().clone(), x.detach().clone()
        xp[i] += eps
        xm[i] -= eps
        gp = torch.autograd.grad(f(xp.requires_grad_()).sum(), xp)[0][i]
        gm = torch.autograd.grad(f(xm.requires_grad_()).sum(), xm)[0][i]
        fd.append(((gp - gm) / (2 * eps)).item())
    assert torch.allclose(h, torch.tensor(fd, dtype=torch.float64), rtol=1e-6, atol=1e-6)


def test_a_saved_output_changed_in_place_is_refused_naming_its_node():
    x = torch.randn(3, requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError) as e:
        y.sum().backward()
    assert str(e.value).startswith(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        "[torch.FloatTensor [3]], which is output 0 of Exp, is at version 1; expected version 0 instead."
    )
    x = torch.randn(3, requires_grad=True)
    y = x.tanh()
    z = y * 1
    y.mul_(2)
    with pytest.raises(
        RuntimeError, match=r"\[torch.FloatTensor \[3\]\], which is output 0 of Tanh, is at version 1"
    ):
        z.sum().backward()
