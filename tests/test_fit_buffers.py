"""fit's fixed-buffer step: full-batch replay of elementwise models writes every value into buffers
made once per call. It must give the eager loop's bits, and leave .grad as eager code leaves it."""

import warnings

import ferrotorch as torch
import ferrotorch.nn as nn
import numpy as np
import pytest
from ferrotorch import _C
from test_fit import captured_step


def captured(model, loss_fn, x, y):
    prog, why = captured_step(model, loss_fn, x, y)
    assert why is None, why
    return prog


def eager(model, loss_fn, opt, x, y, epochs):
    losses = []
    for _ in range(epochs):
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def fitted(model, loss_fn, opt, x, y, epochs):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="ferrotorch.fit")
        return torch.fit(model, (x, y), loss_fn, opt, epochs=epochs, progress=False)["loss"]


class LinearRegression(nn.Module):
    def __init__(self, dtype):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(1, dtype=dtype))
        self.bias = nn.Parameter(torch.randn(1, dtype=dtype))

    def forward(self, x):
        return self.weights * x + self.bias


class Elementwise(nn.Module):
    """Unary math, the four arithmetic ops, Python numbers, broadcasting and a sum over a dim."""

    def __init__(self, dtype):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, dtype=dtype))
        self.b = nn.Parameter(torch.randn(1, 3, dtype=dtype))
        self.c = nn.Parameter(torch.rand(3, dtype=dtype) + 0.5)

    def forward(self, x):
        h = (self.w * x + self.b).tanh()
        g = (x * self.c).sigmoid() / self.c - h.exp() * 0.25
        return (h - g * h).relu().sum(1) - (g * g + 1).sqrt().log().sum(1) / 3 + self.b.abs().mean()


def squared_error(out, y):
    return ((out - y) * (out - y)).mean()


def data(dtype, cols):
    torch.manual_seed(1)
    x = torch.randn(24, cols, dtype=dtype)
    return x, torch.randn(24, dtype=dtype) if cols == 3 else 0.7 * x + 0.3


CASES = {
    "linear regression, L1Loss": (LinearRegression, nn.L1Loss(), 1),
    "elementwise net, composed loss": (Elementwise, squared_error, 3),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_buffered_replay_is_bitwise_eager(case, dtype, opt):
    make, loss_fn, cols = CASES[case]
    x, y = data(dtype, cols)
    torch.manual_seed(0)
    assert captured(make(dtype), loss_fn, x, y).buffers_refusal() is None
    runs = []
    for train in (eager, fitted):
        torch.manual_seed(42)
        m = make(dtype)
        o = getattr(torch.optim, opt)(m.parameters(), lr=0.01, **({"momentum": 0.9} if opt == "SGD" else {}))
        runs.append((train(m, loss_fn, o, x, y, 60), m))
    (ref, m1), (got, m2) = runs
    assert got == ref
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2) and torch.equal(p1.grad, p2.grad)
        assert p2.grad.dtype == p2.dtype and p2.grad.shape == p2.shape and not p2.grad.requires_grad


def test_grads_left_by_fit_are_fresh_and_unshared():
    x, y = data(torch.float32, 1)
    torch.manual_seed(42)
    m = LinearRegression(torch.float32)
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    eager(m, nn.L1Loss(), opt, x, y, 1)
    held = m.weights.grad
    before = held.clone()
    fitted(m, nn.L1Loss(), opt, x, y, 30)
    assert torch.equal(held, before)  # a gradient the user kept is not written by later steps
    assert m.weights.grad is not held
    assert m.weights.grad.data_ptr() != m.bias.grad.data_ptr()
    # writing a .grad between two fit calls changes nothing: zero_grad() drops it, as in eager code
    m.weights.grad.fill_(1e6)
    torch.manual_seed(42)
    m2 = LinearRegression(torch.float32)
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.01)
    ref = eager(m2, nn.L1Loss(), opt2, x, y, 41)
    got = fitted(m, nn.L1Loss(), opt, x, y, 10)
    assert got == ref[31:]
    assert torch.equal(m.weights, m2.weights) and torch.equal(m.weights.grad, m2.weights.grad)


class WithExtraLeaf(LinearRegression):
    """A tensor that requires grad but is not given to the optimizer: nothing zeroes its .grad, so
    each step adds to it — a buffer rewritten every step would lose that, so replay builds graphs."""

    def __init__(self, dtype):
        super().__init__(dtype)
        self.extra = torch.randn(1, requires_grad=True)

    def forward(self, x):
        return super().forward(x) * self.extra


def test_a_leaf_the_optimizer_does_not_zero_accumulates_like_eager():
    x, y = data(torch.float32, 1)
    runs = []
    for train in (eager, fitted):
        torch.manual_seed(42)
        m = WithExtraLeaf(torch.float32)
        opt = torch.optim.SGD([m.weights, m.bias], lr=0.01)
        runs.append((train(m, nn.L1Loss(), opt, x, y, 20), m))
    (ref, m1), (got, m2) = runs
    assert got == ref
    assert torch.equal(m1.extra.grad, m2.extra.grad)
    assert torch.equal(m1.weights, m2.weights)


def test_ops_without_a_buffer_form_keep_the_tensor_replay():
    x, y = data(torch.float32, 3)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Flatten(0))
    why = captured(model, nn.MSELoss(), x, y).buffers_refusal()
    assert why is not None and "has no buffer form" in why
    runs = []
    for train in (eager, fitted):
        torch.manual_seed(3)
        m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Flatten(0))
        runs.append((train(m, nn.MSELoss(), torch.optim.SGD(m.parameters(), lr=0.05), x, y, 10), m))
    assert runs[0][0] == runs[1][0]
    for p1, p2 in zip(runs[0][1].parameters(), runs[1][1].parameters()):
        np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())


def test_zero_epochs_of_a_buffered_step_change_nothing():
    x, y = data(torch.float32, 1)
    torch.manual_seed(42)
    m = LinearRegression(torch.float32)
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    prog = captured(m, nn.L1Loss(), x, y)
    grad, w = m.weights.grad, m.weights.detach().clone()
    step = _C._TrainStep(prog, list(m.parameters()), opt._fit_groups(), False)
    assert step.run(x, y, None, 0) == []
    assert m.weights.grad.data_ptr() == grad.data_ptr() and torch.equal(m.weights, w)
    ((_, _, count),) = step.run(x, y, None, 1)
    assert count == 24 and m.weights.grad.data_ptr() != grad.data_ptr() and not torch.equal(m.weights, w)
