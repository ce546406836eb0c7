"""torch.autograd.Function: custom ops with their own forward and backward.

Gradients are checked against closed forms (NumPy) and by float64 finite differences (gradcheck); the
error messages, grad_fn names and reprs are torch 2.x's, copied from real PyTorch.
"""

import gc
import math
import re
import warnings

import ferrotorch as torch
import numpy as np
import pytest
from ferrotorch.autograd import Function, once_differentiable


class LegendrePolynomial3(Function):
    """The "Learning PyTorch with Examples" tutorial's custom function."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


class Exp(Function):
    """Saves its own output (torch's docs example)."""

    @staticmethod
    def forward(ctx, i):
        result = i.exp()
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        (result,) = ctx.saved_tensors
        return grad_output * result


class Scale(Function):
    """A tensor and a Python number: the number gets no gradient."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        ctx.seen = ctx.needs_input_grad
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


def test_the_tutorials_legendre_polynomial_matches_its_closed_form():
    xs = np.linspace(-math.pi, math.pi, 7)
    x = torch.tensor(xs, requires_grad=True)
    y = LegendrePolynomial3.apply(x)
    np.testing.assert_allclose(y.detach().numpy(), 0.5 * (5 * xs**3 - 3 * xs), rtol=1e-14)
    assert y.grad_fn.name() == "LegendrePolynomial3Backward"
    assert re.fullmatch(
        r"<torch\.autograd\.function\.LegendrePolynomial3Backward object at 0x[0-9a-f]+>", repr(y.grad_fn)
    )
    assert repr(y.grad_fn.next_functions[0][0]).startswith("<AccumulateGrad object at")
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.5 * (5 * xs**2 - 1), rtol=1e-14)


@pytest.mark.parametrize("fn", [LegendrePolynomial3, Exp])
def test_gradcheck(fn):
    x = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn.apply, (x,))


def test_needs_input_grad_and_a_python_number_argument():
    x = torch.randn(2, 3, requires_grad=True)
    y = Scale.apply(x, 2.5)
    y.sum().backward()
    assert torch.equal(x.grad, torch.full((2, 3), 2.5))
    ctx_seen = []

    class Peek(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            ctx_seen.append(ctx.needs_input_grad)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            return g, g, None

    Peek.apply(x, torch.ones(2, 3), 3)
    assert ctx_seen == [(True, False, False)]
    # no input requires grad: nothing is recorded
    out = Peek.apply(torch.ones(2), torch.ones(2), 1)
    assert out.grad_fn is None and not out.requires_grad


def test_forward_runs_without_grad_and_the_output_has_the_functions_node():
    modes = []

    class F(Function):
        @staticmethod
        def forward(ctx, x):
            modes.append(torch.is_grad_enabled())
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = torch.randn(3, requires_grad=True)
    y = F.apply(x)
    assert modes == [False]
    assert y.requires_grad and not y.is_leaf and y.grad_fn.name() == "FBackward"
    assert F._backward_cls.__name__ == "FBackward"


def test_second_derivative_through_a_saved_output():
    x = torch.tensor([0.2, 0.9], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), np.exp([0.2, 0.9]), rtol=1e-14)


def test_graphs_of_custom_functions_are_freed_without_a_backward():
    class Same(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = torch.randn(4, requires_grad=True)
    gc.collect()
    before = torch._C._live_grad_nodes()
    for _ in range(20):
        Exp.apply(x)
        LegendrePolynomial3.apply(x)
        Same.apply(x)
    gc.collect()
    assert torch._C._live_grad_nodes() == before


def test_an_input_returned_as_it_is_becomes_a_view_with_the_functions_history():
    class Same(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = torch.randn(3, requires_grad=True)
    y = Same.apply(x)
    assert y is not x and y.grad_fn.name() == "SameBackward"
    y.sum().backward()
    assert torch.equal(x.grad, torch.full((3,), 3.0))


def test_mark_non_differentiable_and_materialized_grads():
    got = []

    class SortWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            v, i = x.sort()
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            return v, i

        @staticmethod
        def backward(ctx, gv, gi):
            got.append(gi)
            (i,) = ctx.saved_tensors
            g = torch.zeros_like(gv)
            g[i] = gv
            return g

    x = torch.tensor([3.0, 1.0, 2.0], requires_grad=True)
    v, i = SortWithIndex.apply(x)
    assert v.requires_grad and not i.requires_grad and i.grad_fn is None
    (v * torch.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]
    assert torch.equal(got[0], torch.zeros(3, dtype=torch.int64))

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            got.append(gb)
            return ga * 2

    a, _ = Two.apply(x)
    a.sum().backward()
    assert got[-1] is None


def test_mark_dirty_rebases_the_inputs_history():
    class MulTwoInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    a = torch.tensor([1.0, 2.0], requires_grad=True)
    x = a * 1
    y = MulTwoInPlace.apply(x)
    assert y is x and x.grad_fn.name() == "MulTwoInPlaceBackward"
    assert x.tolist() == [2.0, 4.0]
    (x * x).sum().backward()
    assert a.grad.tolist() == [8.0, 16.0]  # d/da (2a)^2 = 8a
    leaf = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(
        RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation."
    ):
        MulTwoInPlace.apply(leaf)


def test_setup_context_style_with_keywords():
    class Mul(Function):
        @staticmethod
        def forward(x, k=2.0):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = torch.ones(2, requires_grad=True)
    Mul.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    Mul.apply(x, k=5.0).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_gradients_are_cast_to_the_input_dtype_and_summed_to_its_shape():
    class Widen(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return g.double() * torch.ones(2, 3, dtype=torch.float64)

    x = torch.ones(3, requires_grad=True)
    Widen.apply(x).backward()
    assert x.grad.dtype == torch.float32 and x.grad.tolist() == [2.0, 2.0, 2.0]


def test_once_differentiable_runs_backward_without_grad():
    modes = []

    class F(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            modes.append(torch.is_grad_enabled())
            return g * 2

    x = torch.ones(2, requires_grad=True)
    (g,) = torch.autograd.grad(F.apply(x).sum(), x, create_graph=True)
    assert modes == [False] and g.grad_fn is None


class _BadCount(Function):
    @staticmethod
    def forward(ctx, x, k):
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g


class _GradForNumber(_BadCount):
    @staticmethod
    def backward(ctx, g):
        return g, g


class _BadShape(_BadCount):
    @staticmethod
    def backward(ctx, g):
        return g.sum(0), None


@pytest.mark.parametrize(
    "fn, message",
    [
        (
            _BadCount,
            "function _BadCountBackward returned an incorrect number of gradients (expected 2, got 1)",
        ),
        (
            _GradForNumber,
            "function _GradForNumberBackward returned a gradient different than None at position 2, but the "
            "corresponding forward input was not a Variable",
        ),
        (
            _BadShape,
            "Function _BadShapeBackward returned an invalid gradient at index 0 - got [3] but expected shape "
            "compatible with [2, 3]",
        ),
    ],
)
def test_bad_backward_results_raise_torchs_errors(fn, message):
    x = torch.randn(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError) as e:
        fn.apply(x, 2.0).sum().backward()
    assert str(e.value) == message


def test_misuse_raises_torchs_errors():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    x = torch.randn(3, requires_grad=True)
    with pytest.raises(NotImplementedError, match="You must implement either the backward or vjp method"):
        NoBackward.apply(x).sum().backward()

    class Legacy(Function):
        def forward(self, x):
            return x

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(
            RuntimeError, match="Legacy autograd function with non-static forward method is deprecated"
        ):
            Legacy()(x)

    kept = []

    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            kept.append(ctx)
            return g * 2

    Keep.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
        _ = kept[0].saved_tensors


def test_a_saved_input_changed_in_place_is_refused():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    x = a * 1
    y = LegendrePolynomial3.apply(x)
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_exceptions_raised_in_backward_and_in_hooks_reach_the_caller_unchanged():
    class Boom(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise KeyError("from backward")

    x = torch.randn(2, requires_grad=True)
    with pytest.raises(KeyError, match="from backward"):
        Boom.apply(x).sum().backward()

    def hook(g):
        raise ValueError("from a hook")

    y = x * 3
    y.register_hook(hook)
    with pytest.raises(ValueError, match="from a hook"):
        y.sum().backward()


def test_fit_runs_a_model_with_a_custom_function_as_the_eager_loop_does():
    # fit cannot replay the function's node, so it must not replay its forward ops without it
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.tensor(0.1))
            self.b = torch.nn.Parameter(torch.tensor(-1.0))

        def forward(self, x):
            return self.a + self.b * LegendrePolynomial3.apply(x * self.b)

    x = torch.linspace(-1, 1, 50)
    y = torch.sin(x)
    m1, m2 = Model(), Model()
    opt1 = torch.optim.SGD(m1.parameters(), lr=1e-2)
    opt2 = torch.optim.SGD(m2.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        opt1.zero_grad()
        loss = torch.nn.MSELoss()(m1(x), y)
        loss.backward()
        opt1.step()
        losses.append(loss.item())
    with pytest.warns(RuntimeWarning, match="is a custom autograd.Function, which fit cannot replay"):
        h = torch.fit(m2, (x, y), torch.nn.MSELoss(), opt2, epochs=5, progress=False)
    assert h["loss"] == losses
    assert torch.equal(m1.a, m2.a) and torch.equal(m1.b, m2.b)
