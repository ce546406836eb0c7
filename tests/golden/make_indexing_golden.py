"""Writes indexing.json: results, gradients and errors of indexing expressions under real PyTorch.

Run with a Python that has torch: /opt/torchenv/bin/python tests/golden/make_indexing_golden.py
Each case is Python source evaluated with `torch` bound to the library under test; the test file
evaluates the same source with ferrotorch and compares.
"""

import json
import os
import warnings

import torch

warnings.simplefilter("ignore")

SETUP = "x = torch.arange(60.).reshape(3, 4, 5)\nv = torch.arange(12.).reshape(3, 4)\n"

# expressions on x (3,4,5) and v (3,4)
GET = [
    "x[1]",
    "x[-1]",
    "x[:, 2]",
    "x[..., 3]",
    "x[1:, ::2, -2:]",
    "x[None]",
    "x[:, None, 1]",
    "x[..., None]",
    "x[True]",
    "x[False]",
    "x[1, 2, 3]",
    "x[0:0]",
    "x[5:]",
    "x[-10:2]",
    "x[:, 1:100:3]",
    "x[[0, 2]]",
    "x[[0, 2], [1, 3]]",
    "x[[0, 2], :, [1, 3]]",
    "x[:, [0, 1], [2, 3]]",
    "x[:, [0, 1], :]",
    "x[:, [[0], [3]], [1, 2]]",
    "x[1, :, [0, 4]]",
    "x[[1], ..., [0, 4]]",
    "x[torch.tensor([[2, 0], [1, 1]])]",
    "x[x > 30]",
    "x[x[:, :, 0] > 20]",
    "x[:, v[0] > 1]",
    "x[torch.tensor([-1, -3])]",
    "x[[True, False, True]]",
    "x[torch.tensor(1)]",
    "x[torch.tensor([1], dtype=torch.int32)]",
    "x[[0, 0, 2]]",
    "x[None, [0, 1], None]",
    "x[0, [1, 2], 0]",
    "x[0, 7]",
    "x[None, 0, 7]",
    "x[..., 9]",
    "x[0, :, 9]",
    "x[torch.tensor(True)]",
    "v[:, 1]",
    "v[v > 5]",
    "v[[0, 1, 2], [3, 2, 1]]",
    "v.t()[1]",
    "v.t()[[1, 0]]",
    "v.t()[v.t() > 4]",
    "v[::2][:, [0, 3]]",
]

ERR = [
    "x[3]",
    "x[:, 4]",
    "x[0, 0, 0, 0]",
    "x[::-1]",
    "x[::0]",
    "x[torch.tensor([5])]",
    "x[:, torch.tensor([5])]",
    "x[torch.tensor([0.])]",
    "x[1.5]",
    "x[torch.tensor([True, False])]",
    "x[:, torch.tensor([True, False, True])]",
    "x[[0, 1], [1, 2, 3]]",
    "x[..., ...]",
    "torch.tensor(1.)[0]",
    "v.gather(0, torch.tensor([[0]], dtype=torch.int32))",
    "v.gather(0, torch.tensor([[5]]))",
    "v.gather(0, torch.tensor([0]))",
    "v.gather(1, torch.zeros(4, 5, dtype=torch.long))",
    "v.index_select(0, torch.tensor([5]))",
    "v.index_select(0, torch.tensor([[0]]))",
    "v.index_select(0, torch.tensor([0.]))",
    "v.take(torch.tensor([50]))",
    "v.take(torch.tensor([0.]))",
    "v.masked_fill(torch.tensor([1, 0, 1, 0]), 1.)",
    "v.masked_fill(torch.tensor([True, True, True]), 1.)",
    "v.masked_fill(torch.tensor([True, False, True, True]), torch.tensor([1., 2.]))",
    "v.masked_select(torch.tensor([1, 0, 1, 0]))",
    "v.scatter(0, torch.tensor([[5]]), 1.)",
    "v.scatter(0, torch.tensor([[0]]), torch.tensor([[1]]))",
    "v.scatter(0, torch.tensor([[0]]), 1., reduce='foo')",
    "v.index_add(0, torch.tensor([5]), torch.ones(1, 4))",
    "v.index_add(0, torch.tensor([0]), torch.ones(1, 3))",
    "v.index_fill(0, torch.tensor([5]), 1.)",
    "v.clone().put_(torch.tensor([50]), torch.ones(1))",
]

# statements that mutate y = v.clone(); the golden is y afterwards
SET = [
    "y[0] = 5",
    "y[:, 1] = torch.tensor([7., 8., 9.])",
    "y[y > 5] = -1",
    "y[[0, 0, 2]] = torch.tensor([1., 2., 3., 4.])",
    "y[[0, 2], [1, 3]] = torch.tensor([10., 20.])",
    "y[..., 2] = 0.5",
    "y[1:, ::2] = torch.ones(2, 1)",
    "y[:, [True, False, True, False]] = 7",
    "y[[0, 0], [1, 1]] = torch.tensor([1., 2.])",
    "y[1] = 2.7",
    "y[torch.tensor([-1])] = 3",
    "y[None, 0] = 4",
    "y[True] = 1",
    "y.t()[1] = 11",
    "y[0] = y[1]",
    "y[:] = y[0:1].clone()",
]
SET_ERR = [
    "y[torch.tensor([0])] = torch.ones(1, dtype=torch.float64)",
    "y[torch.tensor([0, 1])] = torch.ones(3)",
    "y[0] = torch.ones(3)",
    "y[0] = torch.ones(2, 4)",
    "y[5] = 1",
]

# (expression producing a float64 output from leaf a (3,4,5) float64, requires_grad)
GRAD = [
    "a[1]",
    "a[:, 2]",
    "a[[0, 0, 2]]",
    "a[[0, 2], :, [1, 1]]",
    "a[a > 30]",
    "a[:, [0, 1], [2, 2]]",
    "a.index_select(1, torch.tensor([0, 3, 0]))",
    "a.gather(2, torch.tensor([[[0, 0], [4, 1], [2, 2], [3, 3]]] * 3))",
    "a.take(torch.tensor([[0, 59], [0, 7]]))",
    "a.masked_fill(a > 20, 1.5)",
    "a.masked_select(a[0] > 7)",
    "a.scatter(0, torch.tensor([[[2, 0, 1, 0, 0]]]), 0.)",
    "a.scatter_add(1, torch.tensor([[[0, 0, 1, 3, 3]]]), a[:1, :1] * 2)",
    "a.scatter(1, torch.tensor([[[0, 1, 1, 3, 2]]]), a[:1, :1] * 3)",
    "a.index_add(0, torch.tensor([2, 2]), a[:2] * 2, alpha=3)",
    "a.index_fill(2, torch.tensor([1, -1]), 2.)",
    "a.put(torch.tensor([0, 5, 5]), a[0, 0, :3] * 2)",
    "a.put(torch.tensor([0, 5, 5]), a[0, 0, :3] * 2, accumulate=True)",
    "a[None, ..., 1:3][..., [1, 0]]",
]

OPS = [
    "v.gather(1, torch.tensor([[0, 0], [1, 0], [3, 3]]))",
    "v.index_select(0, torch.tensor([2, 0, 2]))",
    "v.index_select(1, torch.tensor(2))",
    "v.take(torch.tensor([[0, -1], [5, 5]]))",
    "v.masked_fill(v > 5, -2.)",
    "v.masked_fill(torch.tensor([True, False, True, False]), torch.tensor(9.))",
    "v.masked_select(v > 6)",
    "v.masked_select(torch.tensor([True, False, False, True]))",
    "v.scatter(0, torch.tensor([[2, 1, 0, 0]]), torch.ones(1, 4) * 7)",
    "v.scatter(1, torch.tensor([[0], [1], [2]]), 5.)",
    "v.scatter_add(0, torch.tensor([[0, 0, 0, 0], [0, 0, 0, 0]]), torch.ones(2, 4))",
    "v.scatter(0, torch.tensor([[0, 0, 0, 0], [0, 0, 0, 0]]), torch.ones(2, 4) * 3, reduce='multiply')",
    "v.scatter(0, torch.tensor([[0, 0, 0, 0]]), 2., reduce='add')",
    "v.index_add(0, torch.tensor([0, 0]), torch.ones(2, 4))",
    "v.index_fill(1, torch.tensor([0, 2]), -1.)",
    "v.put(torch.tensor([0, 11]), torch.tensor([100., 200.]))",
    "v.nonzero()",
    "(v > 5).nonzero()",
    "torch.tensor(0.).nonzero()",
    "torch.tensor(2.).nonzero()",
    "torch.zeros(0, 3).nonzero()",
    "torch.nonzero(v > 8, as_tuple=True)",
    "torch.tensor(3).nonzero(as_tuple=True)",
    "torch.tensor([[1, 0], [0, 1]], dtype=torch.int64).masked_fill(torch.tensor([True, False]), 2.7)",
    "torch.tensor(5.).gather(0, torch.tensor(0))",
    "v.long().scatter_add(1, torch.tensor([[1, 1]]), torch.tensor([[5, 6]]))",
]


def enc(r):
    if isinstance(r, (tuple, list)):
        return {"tuple": [enc(t) for t in r]}
    return {"shape": list(r.shape), "dtype": str(r.dtype).replace("torch.", ""), "data": r.detach().tolist()}


def run(src, env):
    try:
        return {"ok": enc(eval(src, env))}
    except Exception as e:  # noqa: BLE001
        return {"err": type(e).__name__, "msg": str(e).split("\n")[0]}


def main():
    out = {"get": {}, "err": {}, "set": {}, "set_err": {}, "grad": {}, "ops": {}}
    env = {"torch": torch}
    exec(SETUP, env)
    for s in GET:
        out["get"][s] = run(s, env)
    for s in ERR + OPS:
        out["err" if s in ERR else "ops"][s] = run(s, env)
    for s in SET + SET_ERR:
        env2 = dict(env)
        exec("y = v.clone()", env2)
        try:
            exec(s, env2)
            r = {"ok": enc(env2["y"])}
        except Exception as e:  # noqa: BLE001
            r = {"err": type(e).__name__, "msg": str(e).split("\n")[0]}
        out["set" if s in SET else "set_err"][s] = r
    for s in GRAD:
        a = torch.arange(60, dtype=torch.float64).reshape(3, 4, 5).requires_grad_()
        env2 = {"torch": torch, "a": a}
        y = eval(s, env2)
        w = torch.arange(y.numel(), dtype=torch.float64).reshape(y.shape) + 1
        (y * w).sum().backward()
        out["grad"][s] = {"out": enc(y), "grad": enc(a.grad), "grad_fn": type(y.grad_fn).__name__}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "indexing.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
