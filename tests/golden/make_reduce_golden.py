"""Writes reduce.json: real torch's outputs for reductions where semantics are subtle.

Run with a Python that has torch: /opt/torchenv/bin/python tests/golden/make_reduce_golden.py
Each case is an expression over `torch`; test_reduce.py evaluates it with ferrotorch.
"""

import json
import math
import os

import torch

NAN = "float('nan')"
CASES = [
    # ties and first-occurrence
    "torch.tensor([3, 1, 3]).argmax()",
    "torch.tensor([1, 1, 3, 3]).argmin()",
    "torch.tensor([[1., 3, 3], [2, 2, 1]]).max(1)",
    "torch.tensor([[1., 3, 3], [2, 2, 1]]).min(0)",
    "torch.tensor([[1., 3, 3], [2, 2, 1]]).argmax(1, keepdim=True)",
    # NaN propagation
    f"torch.tensor([1., {NAN}, 3, {NAN}]).max(0)",
    f"torch.tensor([1., {NAN}, 3]).max()",
    f"torch.tensor([1., {NAN}, 3]).min()",
    f"torch.tensor([1., {NAN}, 3]).argmax()",
    f"torch.tensor([1., {NAN}, 3]).argmin()",
    f"torch.tensor([[1., {NAN}], [2., 0.]]).amax(1)",
    f"torch.tensor([1., {NAN}, 2]).sort()",
    f"torch.tensor([1., {NAN}, 2]).sort(descending=True)",
    f"torch.tensor([1., {NAN}, 2]).topk(2)",
    f"torch.tensor([1., {NAN}, 2]).median()",
    f"torch.tensor([[1., {NAN}, 2], [3., 1., 2.]]).median(1)",
    f"torch.tensor([1., {NAN}, 2]).nansum()",
    f"torch.tensor([1., {NAN}, 2]).nanmean()",
    f"torch.tensor([1., {NAN}, 2]).sum()",
    f"torch.tensor([{NAN}, 1.]).logsumexp(0)",
    # medians / kth / mode
    "torch.tensor([4., 1, 2, 3]).median()",
    "torch.tensor([[4., 1, 2, 3], [0., 9, 5, 7]]).median(1)",
    "torch.tensor([[4., 1, 2, 3], [0., 9, 5, 7]]).median(0, keepdim=True)",
    "torch.tensor([5., 1, 4, 2, 3]).kthvalue(2)",
    "torch.tensor([[5., 1, 4], [2, 3, 0]]).kthvalue(1, 0)",
    "torch.tensor([1, 2, 2, 3, 3]).mode()",
    "torch.tensor([3, 3, 1, 1]).mode()",
    "torch.tensor([[1, 2, 2], [0, 0, 7]]).mode(1)",
    # sorting
    "torch.tensor([[3, 1, 2], [9, 7, 8]]).sort(0, descending=True)",
    "torch.tensor([2, 1, 2, 1, 2]).sort(stable=True)",
    "torch.tensor([2, 1, 2, 1, 2]).argsort(stable=True)",
    "torch.tensor([[1., 5, 3, 4], [8, 2, 7, 0]]).topk(2, dim=1)",
    "torch.tensor([[1., 5, 3, 4], [8, 2, 7, 0]]).topk(3, largest=False)",
    "torch.tensor(5.).topk(1)",
    "torch.tensor(5.).max(0)",
    # unique / bincount / histc
    "torch.tensor([3, 1, 2, 1]).unique(return_inverse=True, return_counts=True)",
    "torch.tensor([[1, 2], [1, 2], [0, 5]]).unique(dim=0, return_inverse=True, return_counts=True)",
    "torch.tensor([[1, 2, 1], [0, 5, 0]]).unique(dim=1)",
    "torch.tensor([0, 1, 1, 4]).bincount()",
    "torch.tensor([0, 1, 1, 4]).bincount(minlength=7)",
    "torch.tensor([0, 1, 1]).bincount(weights=torch.tensor([0.5, 1., 2.]))",
    "torch.tensor([0, 1, 1]).bincount(weights=torch.tensor([0.5, 1., 2.], dtype=torch.float64))",
    "torch.tensor([1., 2, 1]).histc(bins=4)",
    "torch.tensor([1., 2, 1, 3, 7]).histc(bins=4, min=0, max=3)",
    # dtypes
    "torch.tensor([True, False, True]).sum()",
    "torch.tensor([1, 2], dtype=torch.uint8).prod()",
    "torch.tensor([1, 2], dtype=torch.int32).cumsum(0)",
    "torch.tensor([True, True]).cumsum(0)",
    "torch.tensor([1, 2, 3]).mean(dtype=torch.float64)",
    "torch.tensor([1., 2.7]).sum(dtype=torch.int64)",
    "torch.tensor([1, 2], dtype=torch.uint8).all()",
    "torch.tensor([[1., 0], [0, 0]]).count_nonzero(0)",
    "torch.tensor([1, 2]).logsumexp(0)",
    "torch.tensor([[1., 2], [3, 5]]).var(1, correction=0)",
    "torch.tensor([[1., 2], [3, 5]]).std(0, unbiased=False)",
    "torch.tensor([[1., 2], [3, 5]]).std(False)",
    "torch.std_mean(torch.tensor([1., 2, 4]))",
    "torch.var_mean(torch.tensor([[1., 2], [3, 5]]), 1, correction=0, keepdim=True)",
    "torch.tensor([[1., -2], [3, 4]]).norm(dim=1)",
    "torch.tensor([[1., -2], [3, 4]]).norm(p=1)",
    "torch.tensor([[1., -2], [3, 4]]).norm(float('inf'), dim=0)",
    "torch.tensor([[1., -2], [3, 4]]).norm(3)",
    "torch.tensor([[1., -2], [0, 4]]).norm(0)",
    "torch.tensor([float('inf'), float('inf')]).logsumexp(0)",
    "torch.tensor([-float('inf'), -float('inf')]).logsumexp(0)",
    "torch.zeros(0).mean()",
    "torch.zeros(0).prod()",
    "torch.zeros(2, 0).sum(1)",
    "torch.zeros(0, 3).max(1)",
    "torch.tensor([1, 0, 3]).cumprod(0)",
    "torch.tensor([[1., 2], [3, 4]]).amax(dim=())",
]

GRAD_CASES = [
    # (input, expression of x to backprop through .sum())
    ("[[1., 3, 3], [2, 2, 1]]", "x.max()"),
    ("[[1., 3, 3], [2, 2, 1]]", "x.min()"),
    ("[[1., 3, 3], [2, 2, 1]]", "x.amax(1)"),
    ("[[1., 3, 3], [2, 2, 1]]", "x.amin(0)"),
    ("[[1., 3, 3], [2, 2, 1]]", "x.max(1).values"),
    ("[[1., 3, 3], [2, 2, 1]]", "x.min(1, keepdim=True)[0]"),
    ("[0., 2, 0, 3]", "x.prod()"),
    ("[0., 2, 1, 3]", "x.prod()"),
    ("[[0., 2], [1, 3]]", "x.prod(1)"),
    ("[1., 0, 1, 3]", "x.norm(float('inf'))"),
    ("[1., -3, 1, 3]", "x.norm(float('inf'))"),
    ("[0., 0]", "x.norm()"),
    ("[2., 0, 3, 0]", "x.cumprod(0) * torch.tensor([1., 2, 3, 4])"),
    ("[[4., 1, 2, 3], [0., 9, 5, 7]]", "x.median(1).values"),
    ("[4., 1, 2, 3]", "x.median()"),
    ("[1., 5, 3, 4]", "x.topk(2).values * torch.tensor([1., 10])"),
    ("[3., 1, 2]", "x.sort().values * torch.tensor([1., 10, 100])"),
    ("[1., 2, 2, 3]", "x.mode().values"),
    ("[1., float('nan'), 2]", "x.nansum()"),
    ("[1., float('nan'), 2]", "x.nanmean()"),
]


def enc(v):
    if isinstance(v, torch.Tensor):
        vals = v.detach().reshape(-1).tolist()
        vals = [("nan" if isinstance(a, float) and math.isnan(a) else a) for a in vals]
        return {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""), "values": vals}
    if isinstance(v, tuple):
        return [enc(a) for a in v]
    raise TypeError(type(v))


out = {"cases": [], "grads": []}
for e in CASES:
    out["cases"].append({"expr": e, "out": enc(eval(e))})
for data, e in GRAD_CASES:
    x = torch.tensor(eval(data), requires_grad=True)
    eval(e).sum().backward()
    out["grads"].append({"data": data, "expr": e, "grad": enc(x.grad)})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reduce.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path, len(out["cases"]), "cases", len(out["grads"]), "grads")
