"""Golden ``Tensor.new_zeros/new_ones/new_empty/new_full/new_tensor`` results from real PyTorch: printed
values, dtypes, shapes, requires_grad, the copy warning and the errors.

Run with PyTorch installed: python tests/golden/make_tensor_new_golden.py
The same function runs under ferrotorch in tests/test_core.py, which compares the two outputs.
"""

import json
import pathlib
import sys
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from error_list import errors_of  # noqa: E402


def cases(torch):
    x = torch.ones(2, 3, dtype=torch.float64)
    i = torch.ones(2, dtype=torch.int64)
    made = {
        "zeros varargs": x.new_zeros(2, 3),
        "zeros tuple": x.new_zeros((1, 2)),
        "zeros list": x.new_zeros([2]),
        "zeros int base": i.new_zeros(3),
        "zeros dtype": x.new_zeros(2, dtype=torch.int32),
        "zeros scalar": x.new_zeros(()),
        "ones": x.new_ones(2),
        "ones int base": i.new_ones((2, 1)),
        "full": x.new_full((2,), 7),
        "full int base float value": i.new_full([3], 2.5),
        "full dtype": x.new_full((1,), 3, dtype=torch.float32),
        "zeros requires_grad": x.new_zeros(2, requires_grad=True),
        "tensor list": x.new_tensor([1, 2]),
        "tensor int base": i.new_tensor([1.5]),
        "tensor dtype": x.new_tensor([[1, 2]], dtype=torch.int32),
        "tensor scalar": x.new_tensor(3.0),
    }
    out = {k: [repr(t), str(t.dtype), list(t.shape), t.requires_grad] for k, t in made.items()}
    e = x.new_empty(2, 2)
    out["empty"] = [str(e.dtype), list(e.shape)]
    src = torch.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        copied = x.new_tensor(src)
    out["tensor from tensor"] = [repr(copied), copied.requires_grad, [str(w.message) for w in caught]]
    out["errors"] = errors_of((lambda: x.new_full(2, 1.0), lambda: x.new_zeros("a")))
    return out


if __name__ == "__main__":
    import torch

    path = pathlib.Path(__file__).with_name("tensor_new_golden.json")
    path.write_text(json.dumps(cases(torch), indent=1, sort_keys=True) + "\n")
    print("wrote", path)
