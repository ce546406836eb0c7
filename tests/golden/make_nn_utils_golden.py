"""Golden torch.nn.utils results from real PyTorch: clip_grad_norm_ / clip_grad_value_ (total norms and
clipped gradients for several norm types), parameters_to_vector / vector_to_parameters, pad_sequence
(values and gradients), and the errors.

Run with PyTorch installed: python tests/golden/make_nn_utils_golden.py
The same function runs under ferrotorch in tests/test_nn_utils.py, which compares the two outputs.
"""

import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from error_list import errors_of  # noqa: E402


def _params(torch, seed):
    rng = np.random.default_rng(seed)
    ps = [
        torch.tensor(rng.standard_normal(s).astype("float32"), requires_grad=True)
        for s in ((3, 4), (4,), (2, 2))
    ]
    for p in ps:
        p.grad = torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * 3)
    return ps


def _nan_grad(torch):
    p = torch.ones(2, requires_grad=True)
    p.grad = torch.tensor([1.0, float("nan")])
    return [p]


def cases(torch):
    U = torch.nn.utils
    out = {}
    for norm_type in (2.0, 1.0, 3.0, float("inf"), 0.0):
        for max_norm in (0.5, 100.0):
            ps = _params(torch, 0)
            total = U.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
            out[f"clip_norm {norm_type} {max_norm}"] = [float(total), [p.grad.flatten().tolist() for p in ps]]
    ps = _params(torch, 1)
    out["clip_norm one tensor"] = float(U.clip_grad_norm_(ps[0], 1.0))
    out["clip_norm nan, no error"] = str(U.clip_grad_norm_(_nan_grad(torch), 1.0).item())
    out["clip_norm no grads"] = float(U.clip_grad_norm_([torch.ones(2, requires_grad=True)], 1.0))
    ps = _params(torch, 2)
    U.clip_grad_value_(ps, 0.75)
    out["clip_value"] = [p.grad.flatten().tolist() for p in ps]
    ps = _params(torch, 3)
    vec = U.parameters_to_vector(ps)
    out["to_vector"] = [list(vec.shape), vec.tolist(), vec.grad_fn is not None]
    U.vector_to_parameters(torch.arange(float(vec.numel())), ps)
    out["from_vector"] = [[p.flatten().tolist(), list(p.shape), p.requires_grad] for p in ps]
    rng = np.random.default_rng(4)
    seqs = [
        torch.tensor(rng.standard_normal((n, 2)).astype("float32"), requires_grad=True) for n in (3, 1, 4)
    ]
    for kw in ({}, {"batch_first": True}, {"padding_value": -1.0, "padding_side": "left"}):
        padded = torch.nn.utils.rnn.pad_sequence(seqs, **kw)
        (padded * torch.arange(float(padded.numel())).view(padded.shape)).sum().backward()
        out[f"pad {sorted(kw.items())}"] = [
            list(padded.shape),
            padded.tolist(),
            [s.grad.tolist() for s in seqs],
        ]
        for s in seqs:
            s.grad = None
    out["errors"] = errors_of(
        (
            lambda: U.clip_grad_norm_(_nan_grad(torch), 1.0, error_if_nonfinite=True),
            lambda: U.vector_to_parameters([1.0], _params(torch, 5)),
            lambda: torch.nn.utils.rnn.pad_sequence(seqs, padding_side="middle"),
        )
    )
    return out


if __name__ == "__main__":
    import torch

    path = pathlib.Path(__file__).with_name("nn_utils_golden.json")
    path.write_text(json.dumps(cases(torch), indent=1, sort_keys=True) + "\n")
    print("wrote", path)
