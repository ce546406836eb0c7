"""torch.meshgrid, torch.diff and torch.repeat_interleave against real PyTorch
(tests/golden/make_composite_golden.py runs the same `cases` under torch) and float64 finite differences."""

import json
import os
import sys

import ferrotorch as torch
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
from make_composite_golden import cases  # noqa: E402

with open(os.path.join(HERE, "golden", "composite_golden.json")) as f:
    GOLDEN = json.load(f)
OURS = json.loads(json.dumps(cases(torch)))


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_matches_pytorch(key):
    assert OURS[key] == GOLDEN[key]


def _d(*values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize(
    "fn, inputs",
    [
        (
            lambda x, y: torch.meshgrid(x, y, indexing="xy")[0] * torch.meshgrid(x, y, indexing="xy")[1],
            (_d(1, 2, 3), _d(4, 5)),
        ),
        (lambda x: torch.diff(x, n=2), (_d(1, 4, 9, 16, 30),)),
        (lambda x, p: torch.diff(x, prepend=p), (_d(1, 4, 9), _d(0.5, 2))),
        (lambda x: torch.repeat_interleave(x, torch.tensor([2, 0, 3])), (_d(1, 2, 3),)),
    ],
)
def test_gradients_pass_finite_differences(fn, inputs):
    assert torch.autograd.gradcheck(fn, inputs)
