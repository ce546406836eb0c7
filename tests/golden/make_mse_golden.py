"""Golden mse_loss values and gradients (bit for bit, float hex), the weighted forms of mse/l1/huber
losses, and broadcast_shapes/broadcast_tensors results and errors from real PyTorch.

Run with PyTorch installed: python tests/golden/make_mse_golden.py
The same function runs under ferrotorch in tests/test_losses.py, which compares the two outputs.
"""

import json
import pathlib
import sys
import warnings

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from error_list import errors_of  # noqa: E402


def cases(torch):
    """Everything compared, as JSON-able values: loss bits, gradient bits, node names, messages."""
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    out = {}
    for dt in ("float32", "float64"):
        xa, ta, ga = (rng.standard_normal((5, 7)).astype(dt) for _ in range(3))
        for red in ("mean", "sum", "none"):
            for target_grad in (False, True):
                x, t = torch.tensor(xa, requires_grad=True), torch.tensor(ta, requires_grad=target_grad)
                loss = F.mse_loss(x, t, reduction=red)
                (loss * torch.tensor(ga) if red == "none" else loss * 1.5).sum().backward()
                out[f"{dt}-{red}-target_grad={target_grad}"] = [
                    loss.grad_fn.name(),
                    loss.detach().numpy().tobytes().hex(),
                    x.grad.numpy().tobytes().hex(),
                    None if t.grad is None else t.grad.numpy().tobytes().hex(),
                ]
    x = torch.tensor(rng.standard_normal((4, 3)).astype("float32"), requires_grad=True)
    t = torch.tensor(rng.standard_normal((1, 3)).astype("float32"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = F.mse_loss(x, t)
    loss.backward()
    out["broadcast target"] = [
        loss.grad_fn.name(),
        loss.detach().numpy().tobytes().hex(),
        x.grad.numpy().tobytes().hex(),
        [str(w.message) for w in caught],
    ]
    weight = torch.tensor(rng.random((4, 3)).astype("float32"))
    for red in ("mean", "sum", "none"):
        loss = F.mse_loss(x, t.expand(4, 3), weight=weight, reduction=red)
        out[f"weighted-{red}"] = [loss.grad_fn.name(), loss.detach().numpy().tobytes().hex()]
    # torch's weighted losses: mse and l1 divide a mean by the weights' sum, huber keeps the plain mean
    y = torch.tensor(rng.standard_normal((4, 3)).astype("float32"))
    for fn in (F.l1_loss, F.huber_loss):
        for red in ("mean", "sum", "none"):
            out[f"weighted-{fn.__name__}-{red}"] = (
                fn(x.detach(), y, weight=weight, reduction=red).numpy().tobytes().hex()
            )
    out["broadcast_shapes"] = [
        list(torch.broadcast_shapes(*s))
        for s in [((3, 1), (4,), (2, 1, 1)), (), (5, (2, 1)), ([2, 1], [1, 3])]
    ]
    a, b = torch.ones(3, 1), torch.ones(4)
    out["broadcast_tensors"] = [list(r.shape) for r in torch.broadcast_tensors(a, b)]
    out["errors"] = errors_of(
        (
            lambda: torch.broadcast_tensors(torch.ones(3), torch.ones(4)),
            lambda: torch.broadcast_tensors(torch.ones(2, 3), torch.ones(5, 3), torch.ones(3)),
            lambda: torch.broadcast_shapes((3,), (4,)),
            lambda: torch.broadcast_shapes((2, 3), (3, 2, 3), (4,)),
            lambda: torch.broadcast_shapes((-1,)),
            lambda: F.mse_loss(x, t.expand(4, 3), weight=torch.ones(3)),
            lambda: F.l1_loss(x, y, weight=torch.ones(3)),
            lambda: F.huber_loss(x, y, weight=torch.ones(3)),
        )
    )
    return out


if __name__ == "__main__":
    import torch

    path = pathlib.Path(__file__).with_name("mse_golden.json")
    path.write_text(json.dumps(cases(torch), indent=1, sort_keys=True) + "\n")
    print("wrote", path)
