"""Autograd semantics: accumulation, retain_graph, hooks, grad modes, in-place rules, errors, memory."""

import gc

import ferrotorch as torch
import numpy as np
import pytest
from conftest import load_golden

GOLD = {n: (c, m) for n, c, m in load_golden("core_golden.json")["errors"]}


def test_leaf_attributes():
    x = torch.ones(2, requires_grad=True)
    assert x.is_leaf and x.grad is None and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name() == "MulBackward0"
    assert repr(y.grad_fn).startswith("<MulBackward0 object at 0x")
    nf = y.grad_fn.next_functions
    assert nf[0][0].name() == "torch::autograd::AccumulateGrad" and nf[1][0] is None
    z = torch.ones(2)
    assert not (z * 2).requires_grad


def test_accumulation_and_zeroing():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(torch.ones(2))
    assert x.grad.tolist() == [2.0, 4.0]
    (x * 3).backward(torch.ones(2))
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0]
    x.grad = None
    assert x.grad is None


def test_two_leaves_of_one_add_do_not_share_grad():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    (a + b).backward(torch.ones(2))
    a.grad.zero_()
    assert b.grad.tolist() == [1.0, 1.0]


def test_retain_graph_and_second_backward_error():
    x = torch.tensor([3.0], requires_grad=True)
    y = x * x
    y.backward(torch.ones(1), retain_graph=True)
    y.backward(torch.ones(1))
    assert x.grad.tolist() == [12.0]
    z = x * x
    z.backward(torch.ones(1))
    cls, msg = GOLD["backward_twice"]
    with pytest.raises(RuntimeError) as e:
        z.backward(torch.ones(1))
    assert str(e.value) == msg


def test_error_messages():
    for name, fn in [
        ("nonscalar", lambda: (torch.ones(2, requires_grad=True) * 2).backward()),
        ("leaf_inplace", lambda: torch.ones(2, requires_grad=True).add_(1)),
        ("int_requires_grad", lambda: torch.ones(2, dtype=torch.long).requires_grad_()),
    ]:
        with pytest.raises(RuntimeError) as e:
            fn()
        assert str(e.value) == GOLD[name][1]
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        torch.ones(2).backward(torch.ones(2))


def test_modified_saved_tensor_detected():
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError) as e:
        z.backward(torch.ones(3))
    expected_head = GOLD["version"][1].split(" Hint:")[0]
    assert str(e.value).startswith(expected_head)


def test_inplace_on_non_leaf_is_differentiable():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.add_(1)
    y.mul_(x)  # y = (2x + 1) * x  => dy/dx = 4x + 1
    assert y.grad_fn.name() == "MulBackward0"
    y.backward(torch.ones(2))
    assert x.grad.tolist() == [5.0, 9.0]
    w = torch.tensor([-1.0, 2.0], requires_grad=True)
    h = w * 1
    h.relu_()
    h.backward(torch.ones(2))
    assert w.grad.tolist() == [0.0, 1.0]


def test_no_grad_enable_grad_set_grad_enabled_inference_mode():
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        y = x * 2
        with torch.enable_grad():
            assert (x * 2).requires_grad
    assert not y.requires_grad and torch.is_grad_enabled()

    @torch.no_grad()
    def f(v):
        return v * 2

    assert not f(x).requires_grad
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    assert not torch.is_grad_enabled()
    torch.set_grad_enabled(True)
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled() and not (x * 2).requires_grad
    assert not torch.is_inference_mode_enabled()

    @torch.inference_mode()
    def g(v):
        return v * 3

    assert not g(x).requires_grad
    with torch.no_grad():
        x.add_(1)  # in-place on a leaf is fine without grad mode
    assert x.tolist() == [2.0, 2.0]


def test_grad_mode_is_thread_local():
    import threading

    seen = []
    with torch.no_grad():
        t = threading.Thread(target=lambda: seen.append(torch.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_detach_data_and_requires_grad_flags():
    x = torch.ones(2, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.data_ptr() == x.data_ptr()
    x.data.mul_(3)
    assert x.tolist() == [3.0, 3.0] and x.requires_grad
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)
    x.data = torch.zeros(3)
    assert x.shape == (3,) and x.requires_grad
    w = torch.zeros(2)
    w.requires_grad = True
    assert w.requires_grad


def test_retain_grad_and_hooks():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    z = y * y
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    z.backward(torch.ones(2))
    assert y.grad.tolist() == [6.0, 12.0]
    assert seen == [[6.0, 12.0]]
    assert x.grad.tolist() == [180.0, 360.0]


def test_autograd_grad_and_backward_functions():
    x = torch.tensor([2.0], requires_grad=True)
    y = x * x * x
    (g,) = torch.autograd.grad(y, x, torch.ones(1))
    assert g.tolist() == [12.0] and x.grad is None
    a = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        torch.autograd.grad(a * 2, [a, b], torch.ones(1))
    ga, gb = torch.autograd.grad(a * 2, [a, b], torch.ones(1), allow_unused=True)
    assert ga.tolist() == [2.0] and gb is None
    torch.autograd.backward([a * 5], [torch.ones(1)])
    assert a.grad.tolist() == [5.0]
    c = torch.tensor([1.0, 2.0], requires_grad=True)
    d = torch.tensor([1.0, 2.0], requires_grad=True)
    (c * d).backward(torch.ones(2), inputs=[c])
    assert c.grad.tolist() == [1.0, 2.0] and d.grad is None


def test_create_graph_second_derivative():
    x = torch.tensor([3.0], requires_grad=True)
    y = x * x * x
    (g,) = torch.autograd.grad(y, x, torch.ones(1), create_graph=True)
    assert g.requires_grad
    (gg,) = torch.autograd.grad(g, x, torch.ones(1))
    assert gg.tolist() == [18.0]


def test_deep_chain_does_not_recurse():
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0
    y.backward(torch.ones(1))
    assert x.grad.tolist() == [1.0]


def test_graph_is_freed_memory_flat():
    x = torch.ones(64, 64, requires_grad=True)
    import resource

    def step():
        y = (x * 2 + 1).exp() * x
        y.backward(torch.ones(64, 64))

    for _ in range(200):
        step()
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(10000):
        step()
    gc.collect()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 20_000, (before, after)  # KiB: no per-iteration growth
    assert np.isfinite(x.grad.numpy()).all()


def test_inplace_through_view_rebases_history():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = y.narrow(0, 1, 2)
    v.mul_(x.narrow(0, 0, 2))
    assert y.grad_fn.name() == "CopySlices" and v.grad_fn.name() == "AsStridedBackward0"
    assert y.tolist() == [2.0, 4.0, 12.0]
    y.backward(torch.ones(3))
    # y = [2 x0, 2 x1 x0, 2 x2 x1]
    assert x.grad.tolist() == [6.0, 8.0, 4.0]


def test_copy_into_view_of_plain_tensor_makes_it_differentiable():
    z = torch.zeros(3)
    w = torch.tensor([5.0], requires_grad=True)
    z.narrow(0, 1, 1).copy_(w * 2)
    assert z.requires_grad and z.grad_fn.name() == "CopySlices" and z.tolist() == [0.0, 10.0, 0.0]
    (z * torch.tensor([1.0, 3.0, 1.0])).backward(torch.ones(3))
    assert w.grad.tolist() == [6.0]


def test_view_of_leaf_inplace_error():
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x.narrow(0, 0, 1).add_(1)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        (x * 1).narrow(0, 0, 1).expand(3).mul_(torch.ones(3, requires_grad=True))


def test_public_gradcheck_and_jacobian():
    x = torch.tensor([[0.3, 0.7], [1.1, 2.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: (v * v).exp(), (x,))
    with pytest.raises(torch.autograd.GradcheckError):
        torch.autograd.gradcheck(lambda v: v.detach() * v, (x,))
    assert not torch.autograd.gradcheck(lambda v: v.detach() * v, (x,), raise_exception=False)
    j = torch.autograd.functional.jacobian(lambda v: v * v, torch.tensor([1.0, 2.0]))
    assert j.tolist() == [[2.0, 0.0], [0.0, 4.0]]
    ja, jb = torch.autograd.functional.jacobian(
        lambda a, b: a * b, (torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]))
    )
    assert ja.tolist() == [[3.0, 0.0], [0.0, 4.0]] and jb.tolist() == [[1.0, 0.0], [0.0, 2.0]]


def test_float_of_a_tensor_requiring_grad_warns_once_like_torch():
    # torch: TORCH_WARN_ONCE in float() only; item() and int() stay silent. Run in a fresh process
    # so an earlier test's float() cannot have used up the once-per-process warning.
    import subprocess
    import sys

    code = (
        "import warnings, ferrotorch as torch\n"
        "t = torch.ones(1, requires_grad=True) * 2\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    t.item(); int(t); float(torch.ones(1)); assert not w, w\n"
        "    assert float(t) == 2.0; float(t)\n"
        "print(len(w), w[0].category.__name__, repr(str(w[0].message)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == (
        "1 UserWarning 'Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior."
        "\\nConsider using tensor.detach() first.'"
    )


def test_pow_overloads_name_their_nodes_and_differentiate_like_torch():
    # torch: tensor ** number -> PowBackward0, tensor ** tensor -> PowBackward1, number ** tensor -> PowBackward2
    x = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    assert (x**3).grad_fn.name() == "PowBackward0"
    assert x.pow(0.5).grad_fn.name() == "PowBackward0"
    assert (x ** torch.tensor(3.0)).grad_fn.name() == "PowBackward1"
    assert (2**x).grad_fn.name() == "PowBackward2"
    # a zero exponent has zero gradient everywhere, also at x == 0 (not 0 * 0**-1 = nan)
    (x**0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x.grad = None
    (x ** torch.tensor([0.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 12.0]
    # x ** 3's gradient is 3 * x ** 2 with x ** 2 = x * x, in float32 as torch rounds it
    y = torch.tensor([1.1, -2.3, 0.7], requires_grad=True)
    (y**3).sum().backward()
    assert torch.equal(y.grad, 3 * (y.detach() * y.detach()))
