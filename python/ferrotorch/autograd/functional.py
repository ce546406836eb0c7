"""torch.autograd.functional: Jacobians of small functions."""

from __future__ import annotations

from .. import _C
from .._lazy import np


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``out.shape + in.shape`` (nested tuples as in torch)."""
    if create_graph:
        raise NotImplementedError("ferrotorch's jacobian does not support create_graph=True yet")
    if strategy != "reverse-mode":
        raise NotImplementedError("ferrotorch's jacobian supports strategy='reverse-mode' only")
    from . import grad

    single_in = isinstance(inputs, _C.Tensor)
    ins = (inputs,) if single_in else tuple(inputs)
    ins = tuple(x.detach().requires_grad_(True) for x in ins)
    out = func(*ins)
    single_out = isinstance(out, _C.Tensor)
    outs = (out,) if single_out else tuple(out)
    result = []
    for o in outs:
        rows = [np.zeros((o.numel(), x.numel()), dtype=x.detach().numpy().dtype) for x in ins]
        if o.requires_grad:
            for r in range(o.numel()):
                g = np.zeros(o.numel(), dtype=o.detach().numpy().dtype)
                g[r] = 1
                gs = grad(o, ins, _C.from_numpy(g.reshape(o.shape)), retain_graph=True, allow_unused=True)
                for i, gi in enumerate(gs):
                    if gi is None:
                        if strict:
                            raise RuntimeError(
                                f"Output {r} of the user-provided function is independent of "
                                f"input {i}. This is not allowed in strict mode."
                            )
                        continue
                    rows[i][r, :] = gi.detach().numpy().reshape(-1)
        per_in = tuple(
            _C.from_numpy(rows[i].reshape(tuple(o.shape) + tuple(x.shape))) for i, x in enumerate(ins)
        )
        result.append(per_in[0] if single_in else per_in)
    return result[0] if single_out else tuple(result)
