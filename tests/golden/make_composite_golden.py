"""Golden torch.meshgrid / torch.diff / torch.repeat_interleave results, gradients and errors from real PyTorch.

Run with PyTorch installed: python tests/golden/make_composite_golden.py
The same function runs under ferrotorch in tests/test_join.py, which compares the two outputs.
"""

import json
import pathlib
import sys
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from error_list import errors_of  # noqa: E402


def cases(torch):
    out = {}
    a, b, c = torch.arange(2), torch.arange(3.0, 6.0), torch.tensor([7.0, 8.0])
    for indexing in ("ij", "xy"):
        out[f"meshgrid {indexing}"] = [
            g.tolist() for g in torch.meshgrid(a, torch.arange(3), indexing=indexing)
        ]
        out[f"meshgrid3 {indexing}"] = [
            list(g.shape) for g in torch.meshgrid(b, c, torch.tensor(1.0), indexing=indexing)
        ]
    out["meshgrid list"] = [g.tolist() for g in torch.meshgrid([a, torch.arange(2, 4)], indexing="ij")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.meshgrid(a, a)
    out["meshgrid warning"] = [str(w.message).split(" (Triggered")[0] for w in caught]
    x = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    y = torch.tensor([0.5, 3.0], requires_grad=True)
    gx, gy = torch.meshgrid(x, y, indexing="xy")
    (gx * gy * torch.arange(6.0).reshape(2, 3)).sum().backward()
    out["meshgrid grad"] = [x.grad.tolist(), y.grad.tolist()]
    t = torch.tensor([[1, 3, 6, 10], [0, 2, 2, 5]])
    out["diff"] = torch.diff(t).tolist()
    out["diff n2 dim0"] = [torch.diff(t, n=2).tolist(), torch.diff(t, dim=0).tolist()]
    out["diff prepend append"] = torch.diff(
        t, prepend=torch.tensor([[0], [1]]), append=torch.tensor([[20], [30]])
    ).tolist()
    out["diff bool"] = torch.diff(torch.tensor([True, False, False, True])).tolist()
    out["diff too many"] = [list(torch.diff(torch.tensor([1.0, 4.0, 9.0]), n=5).shape)]
    z = torch.tensor([1.0, 4.0, 9.0, 16.0], requires_grad=True)
    (torch.diff(z, n=2) * torch.tensor([1.0, 3.0])).sum().backward()
    out["diff grad"] = z.grad.tolist()
    m = torch.tensor([[1, 2], [3, 4]])
    out["repeat_interleave"] = [
        torch.repeat_interleave(m, 2).tolist(),
        torch.repeat_interleave(m, torch.tensor([1, 2]), dim=0).tolist(),
        torch.repeat_interleave(m, 2, dim=1).tolist(),
        torch.repeat_interleave(m, torch.tensor([2]), dim=-1).tolist(),
        torch.repeat_interleave(torch.tensor([2, 0, 1])).tolist(),
        torch.repeat_interleave(m, 0, dim=0).tolist(),
    ]
    w = torch.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    (
        torch.repeat_interleave(w, torch.tensor([3, 1]), dim=1) * torch.arange(8.0).reshape(2, 4)
    ).sum().backward()
    out["repeat_interleave grad"] = w.grad.tolist()
    out["errors"] = errors_of(
        (
            lambda: torch.meshgrid(a, torch.arange(3), indexing="ab"),
            lambda: torch.meshgrid(a, torch.arange(3.0), indexing="ij"),
            lambda: torch.meshgrid(indexing="ij"),
            lambda: torch.diff(torch.tensor([1, 3]), n=-1),
            lambda: torch.diff(torch.tensor(1.0)),
            lambda: torch.repeat_interleave(torch.tensor([1, 2]), torch.tensor([1, 2, 3])),
            lambda: torch.repeat_interleave(torch.tensor([1, 2]), torch.tensor([1, -2])),
            lambda: torch.repeat_interleave(torch.tensor([1, 2]), -1),
            lambda: torch.repeat_interleave(torch.tensor([1.0, 2]), torch.tensor([1.5, 2])),
            lambda: torch.repeat_interleave(torch.tensor([[1, 2]]), torch.tensor([[1, 2]]), dim=1),
        )
    )
    return out


if __name__ == "__main__":
    import torch

    path = pathlib.Path(__file__).with_name("composite_golden.json")
    path.write_text(json.dumps(cases(torch), indent=1, sort_keys=True) + "\n")
    print("wrote", path)
