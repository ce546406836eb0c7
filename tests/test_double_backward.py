"""Second derivatives (create_graph=True): every op either differentiates its gradient exactly
(checked by gradgradcheck against finite differences in float64) or raises NotImplementedError
when the second backward reaches it. Never a silently dropped term."""

import pathlib
import sys

import ferrotorch as torch
import ferrotorch.nn.functional as F
import numpy as np
import pytest
from ferrotorch.autograd import gradcheck, gradgradcheck

sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
from double_backward_cases import cases, second_derivative  # noqa: E402

D = torch.float64


def _x(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=D)


X2 = _x(3, 4)
X4 = _x(2, 2, 4, 4, seed=1)

GOLDEN = np.load(pathlib.Path(__file__).parent / "golden" / "double_backward_golden.npz")
# ops whose gradient is differentiated again: name -> (shape, f)
TWICE = cases(torch, F)


@pytest.mark.parametrize("name", sorted(TWICE))
def test_second_derivative_matches_finite_differences(name):
    shape, f = TWICE[name]
    x = _x(*shape).requires_grad_(True)
    assert gradgradcheck(f, (x,))


@pytest.mark.parametrize("name", sorted(TWICE))
def test_second_derivative_matches_pytorch(name):
    if name + "/x" not in GOLDEN:
        pytest.skip(f"PyTorch has no double backward for {name}")
    _, f = TWICE[name]
    x, u, w = (torch.from_numpy(GOLDEN[f"{name}/{k}"]) for k in "xuw")
    g, h = second_derivative(torch, f, x, u, w)
    np.testing.assert_allclose(g.numpy(), GOLDEN[name + "/g"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), GOLDEN[name + "/h"], rtol=1e-10, atol=1e-12)


# ops whose backward is one fused kernel: a second backward through them must raise
ONCE = {
    "prod": (X2, lambda x: x.prod(1)),
    "cumprod": (X2, lambda x: x.cumprod(1)),
    "norm_inf": (X2, lambda x: x.norm(p=float("inf"))),
    "median": (X2, lambda x: (x * x).median()),
    "scatter": (X2, lambda x: x.scatter(1, torch.tensor([[0], [1], [2]]), 1.0)),
    "index_fill": (X2, lambda x: x.index_fill(1, torch.tensor([1]), 0.5)),
}


@pytest.mark.parametrize("name", sorted(ONCE))
def test_fused_backward_refuses_a_second_derivative(name):
    x0, f = ONCE[name]
    x = x0.detach().clone().requires_grad_(True)
    y = f(x)
    (g,) = torch.autograd.grad((y * y).sum(), x, create_graph=True)
    # the first derivative is right and usable as a value
    (g1,) = torch.autograd.grad((f(x) * f(x)).sum(), x)
    assert torch.allclose(g.detach(), g1)
    assert g.requires_grad
    with pytest.raises(NotImplementedError, match="the derivative for '.*' is not implemented"):
        torch.autograd.grad(g.sum(), x)


def test_second_derivative_through_a_dtype_cast():
    # the engine casts float32 gradients back to float64 inside the graph (finite differences
    # through float32 are too coarse for gradgradcheck, so the exact answer is checked: d²/dx² x² = 2)
    x = X2.detach().clone().requires_grad_(True)
    y = x.to(torch.float32)
    (g,) = torch.autograd.grad((y * y).sum(), x, create_graph=True)
    assert g.dtype == D and g.requires_grad
    (h,) = torch.autograd.grad(g.sum(), x)
    assert torch.equal(h, torch.full_like(x, 2.0))


def test_a_summed_gradient_does_not_drop_the_fused_term():
    # x·x (composed) plus cumprod (fused): the sum has a graph through the first term only,
    # which used to give a wrong second derivative silently
    x = X2.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad((x * x).sum() + x.cumprod(1).pow(2).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError):
        g.sum().backward()


def test_third_derivative_of_a_smooth_activation_raises():
    x = X2.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.silu(x).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError):
        torch.autograd.grad(h.sum(), x)


def test_first_derivative_with_create_graph_equals_the_plain_one():
    for name, (x0, f) in [(n, (_x(*s), f)) for n, (s, f) in sorted(TWICE.items())] + sorted(ONCE.items()):
        x = x0.detach().clone().requires_grad_(True)
        (a,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        (b,) = torch.autograd.grad(f(x).sum(), x)
        assert torch.allclose(a.detach(), b, rtol=1e-12, atol=1e-12), name


def test_gradient_penalty_through_leaky_relu_and_linear():
    # WGAN-GP's penalty: ‖∇ₓ D(x)‖ in the loss, differentiated with respect to D's weights
    torch.manual_seed(0)
    d = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LeakyReLU(0.2), torch.nn.Linear(8, 1)).double()
    x = _x(5, 4).requires_grad_(True)

    def penalty(*ps):
        w1, b1, w2, b2 = ps
        h = F.leaky_relu(F.linear(x, w1, b1), 0.2)
        out = F.linear(h, w2, b2)
        (gx,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        return ((gx.norm(2, dim=1) - 1) ** 2).mean()

    ps = [p.detach().clone().requires_grad_(True) for p in d.parameters()]
    assert gradcheck(penalty, tuple(ps))


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x.detach()  # the second derivative misses half its term

    x = X2.detach().clone().requires_grad_(True)
    assert gradcheck(Bad.apply, (x,))
    assert not gradgradcheck(Bad.apply, (x,), raise_exception=False)


def test_once_differentiable_function_raises_torchs_error_on_a_second_backward():
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    x = X2.detach().clone().requires_grad_(True)
    y = Cube.apply(x)
    (g,) = torch.autograd.grad((y * y).sum(), x, create_graph=True)
    assert torch.allclose(g.detach(), 6 * x.detach() ** 5)
    with pytest.raises(
        RuntimeError,
        match="trying to differentiate twice a function that was marked with @once_differentiable",
    ):
        torch.autograd.grad(g.sum(), x)
    # without create_graph nothing changes
    (g2,) = torch.autograd.grad((Cube.apply(x) * 2).sum(), x)
    assert not g2.requires_grad


@pytest.mark.parametrize("name", ["softmax", "silu", "getitem", "max_pool2d"])
def test_double_backward_graphs_are_freed(name):
    from ferrotorch import _C

    shape, f = TWICE[name]
    base = _C._live_grad_nodes()
    x = _x(*shape).requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    g.sum().backward()
    del g
    x.grad = None
    assert _C._live_grad_nodes() == base


def test_delayed_error_graphs_are_freed():
    from ferrotorch import _C

    base = _C._live_grad_nodes()
    x = X2.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(x.cumprod(1).pow(2).sum(), x, create_graph=True)
    assert g.grad_fn.name() == "DelayedError"
    del g
    assert _C._live_grad_nodes() == base


def _grad_cases():
    import grad_cases

    return grad_cases, grad_cases.cases(torch)


# sinc at exactly 0: torch's second derivative there is NaN (the masked-out branch still
# differentiates 0/0), and ours is the same NaN; finite differences give -π²/3
@pytest.mark.parametrize("name", sorted(set(_grad_cases()[1]) - {"c_sinc_at_zero"}))
def test_elementwise_grad_cases_differentiate_twice(name):
    # the ops of the first-derivative goldens (golden/grad_cases.py), differentiated twice
    gc, cases = _grad_cases()
    f = cases[name]
    x = torch.tensor(gc.X, dtype=D, requires_grad=True)
    y = torch.tensor(gc.Y, dtype=D, requires_grad=True)
    assert gradgradcheck(lambda a, b: f(a, b), (x, y))


def test_gradient_penalty_through_conv_leaky_relu_and_batch_stats():
    # a convolutional critic's WGAN-GP penalty, differentiated with respect to every weight
    x = _x(2, 1, 5, 5, seed=3).requires_grad_(True)

    def penalty(cw, cb, lw, lb):
        h = F.leaky_relu(F.conv2d(x, cw, cb, stride=2, padding=1), 0.2)
        h = F.layer_norm(h, h.shape[1:])
        out = F.linear(h.flatten(1), lw, lb)
        (gx,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        return ((gx.flatten(1).norm(2, dim=1) - 1) ** 2).mean()

    ps = (_x(2, 1, 3, 3, seed=4), _x(2, seed=5), _x(1, 18, seed=6), _x(1, seed=7))
    assert gradcheck(penalty, tuple(p.requires_grad_(True) for p in ps))
