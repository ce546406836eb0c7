"""torch.autograd.gradcheck: analytical gradients against central finite differences."""

from __future__ import annotations

from .. import _C
from .._lazy import np


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical Jacobians disagree (as torch's)."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func, inputs):
    return [o for o in _as_tuple(func(*inputs)) if isinstance(o, _C.Tensor)]


def _numerical(func, inputs, eps):
    """J[k][i] = d out_k / d input_i as (out.numel(), in.numel()) arrays, by central differences."""
    outs = _outputs(func, inputs)
    jac = [[np.zeros((o.numel(), x.numel())) for x in inputs] for o in outs]
    for i, x in enumerate(inputs):
        if not (isinstance(x, _C.Tensor) and x.requires_grad):
            continue
        flat = x.detach().numpy().reshape(-1)  # shares memory with x: perturb in place
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = [o.detach().numpy().astype(np.float64).reshape(-1).copy() for o in _outputs(func, inputs)]
            flat[j] = orig - eps
            minus = [o.detach().numpy().astype(np.float64).reshape(-1).copy() for o in _outputs(func, inputs)]
            flat[j] = orig
            for k in range(len(outs)):
                jac[k][i][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _analytical(func, inputs):
    from . import grad

    outs = _outputs(func, inputs)
    diff = [x for x in inputs if isinstance(x, _C.Tensor) and x.requires_grad]
    jac = [[np.zeros((o.numel(), x.numel())) for x in inputs] for o in outs]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o.numel()):
            g = np.zeros(o.numel(), dtype=o.detach().numpy().dtype)
            g[r] = 1
            gs = grad(o, diff, _C.from_numpy(g.reshape(o.shape)), retain_graph=True, allow_unused=True)
            it = iter(gs)
            for i, x in enumerate(inputs):
                if isinstance(x, _C.Tensor) and x.requires_grad:
                    gi = next(it)
                    if gi is not None:
                        jac[k][i][r, :] = gi.detach().numpy().astype(np.float64).reshape(-1)
    return jac


def gradcheck(
    func,
    inputs,
    *,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    raise_exception=True,
    nondet_tol=0.0,
    check_undefined_grad=True,
    check_grad_dtypes=False,
    check_batched_grad=False,
    check_batched_forward_grad=False,
    check_forward_ad=False,
    check_backward_ad=True,
    fast_mode=False,
    masked=None,
):
    """Checks gradients of ``func`` at ``inputs`` (tensors that require grad, ideally float64)."""
    if check_forward_ad or check_batched_grad or check_batched_forward_grad:
        raise NotImplementedError("ferrotorch's gradcheck checks backward mode only")
    inputs = _as_tuple(inputs)
    if not any(isinstance(x, _C.Tensor) and x.requires_grad for x in inputs):
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of the them "
            "have requires_grad=True."
        )
    num = _numerical(func, inputs, eps)
    ana = _analytical(func, inputs)
    for k, (nrow, arow) in enumerate(zip(num, ana)):
        for i, (n, a) in enumerate(zip(nrow, arow)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {k} with respect to input {i},\n"
                    f"numerical:{_C.from_numpy(n)}\nanalytical:{_C.from_numpy(a)}\n"
                )
    return True


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps=1e-6,
    atol=1e-5,
    rtol=1e-3,
    gen_non_contig_grad_outputs=False,
    raise_exception=True,
    nondet_tol=0.0,
    check_undefined_grad=True,
    check_grad_dtypes=False,
    check_batched_grad=False,
    check_fwd_over_rev=False,
    check_rev_over_rev=True,
    fast_mode=False,
    masked=False,
):
    """Checks second derivatives: gradcheck of the function that maps (inputs, grad_outputs) to
    the gradients of ``func`` taken with ``create_graph=True``."""
    if check_fwd_over_rev or check_batched_grad:
        raise NotImplementedError("ferrotorch's gradgradcheck checks reverse-over-reverse only")
    from . import grad

    inputs = _as_tuple(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        # random gradients in the outputs' dtypes, as torch draws them (values differ from torch's)
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            _C.from_numpy(
                rng.uniform(-1.0, 1.0, tuple(o.shape)).astype(o.detach().numpy().dtype)
            ).requires_grad_(o.dtype.is_floating_point)
            for o in outs
        )
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def new_func(*args):
        ins, gos = args[:n], args[n:]
        diff = [x for x in ins if isinstance(x, _C.Tensor) and x.requires_grad]
        pairs = [(o, g) for o, g in zip(_outputs(func, ins), gos) if o.requires_grad]
        outputs, gos = [o for o, _ in pairs], [g for _, g in pairs]
        gs = grad(outputs, diff, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(
        new_func,
        inputs + grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        fast_mode=fast_mode,
    )
