"""Writes matmul.json and join.json: real torch's results and errors for matrix products and joins.

Run with a Python that has torch: /opt/torchenv/bin/python tests/golden/make_matmul_golden.py
Each case is an expression over `torch` (and `A`, `B`, ... fixed arrays built by `tensors()`);
test_matmul.py / test_join.py evaluate the same expression with ferrotorch.
"""

import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

MATMUL = [
    "torch.arange(6.).reshape(2, 3) @ torch.arange(3.)",
    "torch.arange(3.) @ torch.arange(6.).reshape(3, 2)",
    "torch.arange(3.) @ torch.arange(3.)",
    "torch.arange(24.).reshape(2, 3, 4) @ torch.arange(4.)",
    "torch.arange(4.) @ torch.arange(24.).reshape(2, 4, 3)",
    "torch.arange(24.).reshape(2, 1, 3, 4) @ torch.arange(60.).reshape(5, 4, 3)",
    "torch.arange(6).reshape(2, 3) @ torch.arange(12).reshape(3, 4)",
    "torch.arange(6, dtype=torch.uint8).reshape(2, 3) @ torch.arange(12, dtype=torch.uint8).reshape(3, 4) * 9",
    "torch.arange(6, dtype=torch.int32).reshape(2, 3) @ torch.arange(3, dtype=torch.int32)",
    "torch.tensor([[1., float('nan')], [0., 1.]]) @ torch.eye(2)",
    "torch.zeros(2, 0) @ torch.zeros(0, 3)",
    "torch.zeros(0, 3) @ torch.zeros(3, 2)",
    "torch.addmm(torch.tensor([1., 2.]), torch.ones(3, 4), torch.ones(4, 2), beta=0.5, alpha=2)",
    "torch.addmm(torch.tensor([float('nan'), 2.]), torch.ones(3, 4), torch.ones(4, 2), beta=0)",
    "torch.outer(torch.arange(3), torch.arange(2.))",
    "torch.einsum('ii->i', torch.arange(9.).reshape(3, 3))",
    "torch.einsum('ii', torch.arange(9.).reshape(3, 3))",
    "torch.einsum('ij->ji', torch.arange(6.).reshape(2, 3))",
    "torch.einsum('ij->', torch.arange(6.).reshape(2, 3))",
    "torch.einsum('i,j->ij', torch.arange(3.), torch.arange(2.))",
    "torch.einsum('bij,bjk->bik', torch.arange(24.).reshape(2, 3, 4), torch.arange(40.).reshape(2, 4, 5))",
    "torch.einsum('...ij,...jk', torch.arange(24.).reshape(2, 3, 4), torch.arange(20.).reshape(4, 5))",
    "torch.einsum('ij,jk,kl->il', torch.arange(6.).reshape(2, 3), torch.arange(12.).reshape(3, 4), torch.arange(8.).reshape(4, 2))",
    "torch.einsum('ba,ca', torch.arange(6.).reshape(2, 3), torch.arange(12.).reshape(4, 3))",
    "torch.einsum('i,i', torch.arange(3.), torch.arange(3.))",
    "torch.einsum('ij,kj->ikj', torch.arange(6.).reshape(2, 3), torch.arange(3.).reshape(1, 3))",
    "torch.einsum('bhqd,bhkd->bhqk', torch.arange(48.).reshape(1, 2, 4, 6), torch.arange(36.).reshape(1, 2, 3, 6))",
    # errors
    "torch.randn(64, 10) @ torch.randn(20, 5)",
    "torch.mm(torch.randn(64, 10), torch.randn(20, 5))",
    "torch.matmul(torch.tensor(1.), torch.randn(2, 2))",
    "torch.matmul(torch.randn(2, 2), torch.tensor(1.))",
    "torch.randn(3) @ torch.randn(4)",
    "torch.randn(3, 4) @ torch.randn(5)",
    "torch.randn(5) @ torch.randn(3, 4)",
    "torch.randn(2, 3, 4) @ torch.randn(3, 5, 6)",
    "torch.randn(2, 3, 4) @ torch.randn(2, 5, 6)",
    "torch.randn(3, 4) @ torch.randn(4, 5).double()",
    "torch.randn(3) @ torch.randn(3).double()",
    "torch.randn(2, 3, 4) @ torch.randn(2, 4, 5).double()",
    "torch.ones(3, 4, dtype=torch.bool) @ torch.ones(4, 5, dtype=torch.bool)",
    "torch.mm(torch.randn(3), torch.randn(3, 3))",
    "torch.mm(torch.randn(3, 3), torch.randn(3))",
    "torch.bmm(torch.randn(3, 3), torch.randn(3, 3))",
    "torch.bmm(torch.randn(2, 3, 3), torch.randn(3, 3, 3))",
    "torch.bmm(torch.randn(2, 3, 4), torch.randn(2, 3, 3))",
    "torch.mv(torch.randn(3, 4), torch.randn(3))",
    "torch.mv(torch.randn(3, 4), torch.randn(3, 4))",
    "torch.dot(torch.randn(3, 4), torch.randn(3))",
    "torch.outer(torch.randn(3, 4), torch.randn(3))",
    "torch.addmm(torch.randn(4), torch.randn(2, 4), torch.randn(4, 3))",
    "torch.addmm(torch.randn(3), torch.randn(2, 4), torch.randn(5, 3))",
    "torch.einsum('ij,jk->ik', torch.randn(2, 3), torch.randn(4, 5))",
    "torch.einsum('ij,jk', torch.randn(2, 3))",
    "torch.einsum('ij->ik', torch.randn(2, 3))",
    "torch.einsum('ijk->ij', torch.randn(2, 3))",
]

JOIN = [
    "torch.cat([torch.ones(2, 2), torch.zeros(2)], 0)",
    "torch.cat([torch.ones(2, 2), torch.zeros(0)], 0)",
    "torch.cat([torch.zeros(0), torch.ones(2, 2)], 1)",
    "torch.cat([torch.zeros(0), torch.zeros(0)])",
    "torch.cat([torch.arange(4).reshape(2, 2), torch.ones(2, 2, dtype=torch.float64)])",
    "torch.cat([torch.arange(4).reshape(2, 2), torch.ones(2, 2, dtype=torch.bool)])",
    "torch.cat([torch.ones(2, dtype=torch.uint8), torch.ones(2, dtype=torch.int32)])",
    "torch.cat((torch.arange(6.).reshape(2, 3), torch.arange(4.).reshape(2, 2)), -1)",
    "torch.cat([torch.ones(2, 2), torch.ones(3, 3)], 1)",
    "torch.cat([torch.ones(2, 2), torch.ones(3, 3)], 0)",
    "torch.cat([torch.ones(2, 2), torch.ones(2)], 0)",
    "torch.cat([], 0)",
    "torch.cat([torch.tensor(1.), torch.tensor(2.)])",
    "torch.cat([torch.ones(2, 2)], 2)",
    "torch.cat([torch.ones(2, 2)], -3)",
    "torch.cat([torch.ones(2, 2), 3])",
    "torch.cat(torch.ones(2, 2))",
    "torch.stack([torch.ones(2, 2), torch.ones(2, 3)])",
    "torch.stack([])",
    "torch.stack([torch.ones(2, 2)], 3)",
    "torch.stack([torch.arange(3), torch.arange(3)], -1)",
    "torch.hstack([torch.tensor(1.), torch.tensor(2.)])",
    "torch.hstack([torch.ones(2, 1), torch.zeros(2, 2)])",
    "torch.vstack([torch.tensor(1.), torch.tensor(2.)])",
    "torch.vstack([torch.arange(3), torch.arange(3)])",
    "torch.dstack([torch.arange(3), torch.arange(3)])",
    "torch.dstack([torch.ones(2, 2), torch.zeros(2, 2)])",
    "torch.arange(6).reshape(2, 3).flip(0, 1)",
    "torch.arange(6).reshape(2, 3).flip(-1)",
    "torch.arange(6).reshape(2, 3).flip(2)",
    "torch.arange(6).reshape(2, 3).flip(0, 0)",
    "torch.tensor(3.).flip(0)",
    "torch.arange(6).reshape(2, 3).fliplr()",
    "torch.arange(6).reshape(2, 3).flipud()",
    "torch.ones(2).fliplr()",
    "torch.arange(6).reshape(2, 3).roll(1)",
    "torch.arange(6).reshape(2, 3).roll(-4, 1)",
    "torch.arange(6).reshape(2, 3).roll((1, 2), (0, 1))",
    "torch.arange(6).reshape(2, 3).roll(1, (0, 1))",
    "torch.arange(6).reshape(2, 3).repeat(2, 1, 2)",
    "torch.arange(3).repeat(2)",
    "torch.tensor(5).repeat(2, 2)",
    "torch.ones(2, 3).repeat(2)",
    "torch.ones(2, 3).repeat(-1, 2)",
    "torch.arange(6).reshape(2, 3).tile((2,))",
    "torch.arange(6).reshape(2, 3).tile(2, 1, 1)",
    "torch.arange(12.).reshape(3, 4).tril()",
    "torch.arange(12.).reshape(3, 4).tril(-1)",
    "torch.arange(12.).reshape(3, 4).triu(1)",
    "torch.arange(24).reshape(2, 3, 4).triu(-1)",
    "torch.ones(3).tril()",
    "torch.arange(7).chunk(3)",
    "torch.arange(6).chunk(4)",
    "torch.arange(5).chunk(4)",
    "torch.zeros(0).chunk(3)",
    "torch.arange(6).reshape(2, 3).chunk(0)",
    "torch.arange(7).split(3)",
    "torch.arange(6).reshape(2, 3).split([1, 2], 1)",
    "torch.arange(6).reshape(2, 3).split(0)",
    "torch.arange(6).reshape(2, 3).split([1, 1], 1)",
    "torch.zeros(0).split(0)",
    "torch.arange(6).reshape(2, 3).unbind(1)",
    "torch.arange(24).reshape(2, 3, 4).movedim(0, -1)",
    "torch.arange(24).reshape(2, 3, 4).movedim((0, 1), (2, 0))",
    "torch.arange(24).reshape(2, 3, 4).moveaxis(1, 0)",
    "torch.ones(2, 3, 4).movedim((0, 1), (2,))",
    "torch.ones(2, 3, 4).movedim((0, 0), (1, 2))",
    "torch.arange(6).reshape(2, 3).unflatten(1, (3, 1))",
    "torch.arange(12).reshape(2, 6).unflatten(-1, (-1, 2))",
    "torch.ones(2, 3).unflatten(1, (2, 2))",
    "torch.arange(3).diag()",
    "torch.arange(3).diag(1)",
    "torch.arange(3).diag(-2)",
    "torch.arange(12).reshape(3, 4).diag()",
    "torch.arange(12).reshape(3, 4).diag(2)",
    "torch.arange(12).reshape(3, 4).diag(-1)",
    "torch.ones(2, 3, 4).diag()",
    "torch.arange(24).reshape(2, 3, 4).diagonal()",
    "torch.arange(24).reshape(2, 3, 4).diagonal(1, 1, 2)",
    "torch.arange(24).reshape(2, 3, 4).diagonal(-1, -1, 0)",
    "torch.arange(24).reshape(2, 3, 4).diagonal(0, 1, 1)",
    "torch.arange(12).reshape(3, 4).diagonal(5)",
    "torch.arange(12.).reshape(3, 4).trace()",
    "torch.arange(12).reshape(3, 4).trace()",
    "torch.ones(2, 3, 4).trace()",
]


def encode(v):
    if isinstance(v, torch.Tensor):
        return {"shape": list(v.shape), "dtype": str(v.dtype), "values": v.flatten().tolist()}
    if isinstance(v, (tuple, list)):
        return {"seq": [encode(x) for x in v]}
    return {"value": v}


def run(cases):
    out = []
    for expr in cases:
        try:
            out.append({"expr": expr, "result": encode(eval(expr))})
        except Exception as e:  # noqa: BLE001
            out.append({"expr": expr, "error": type(e).__name__, "message": str(e)})
    return out


def main():
    for name, cases in (("matmul.json", MATMUL), ("join.json", JOIN)):
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(run(cases), f, indent=1, allow_nan=True)


if __name__ == "__main__":
    main()
