"""Tensor printing: ``repr`` must equal PyTorch's text character for character.

Two layers:

* The formatter (``ferrotorch._tensor_str._str``) is checked against every golden case through a tiny
  NumPy-backed fake tensor, so a formatting bug shows up apart from any binding bug.
* The same golden cases are rebuilt with the real ``ferrotorch`` (``from_numpy``/``tensor``) and
  ``repr(t)`` is compared, which checks the binding's ``__repr__`` and the attributes it exposes.

The expected strings come from real PyTorch (tests/golden/make_printing_golden.py); torch is never
imported here.
"""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import sys
import time

import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
GOLDEN = json.loads((HERE / "golden" / "printing.json").read_text())


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered before running, as an import would, so dataclasses can resolve the module.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The recipe that turns a case's description into NumPy data is shared with the generator, so the
# two sides cannot drift apart.  Importing it does not import torch.
_gen = _load("_make_printing_golden", HERE / "golden" / "make_printing_golden.py")
build_array = _gen.build_array
NP_DTYPES = _gen.NP_DTYPES

try:
    import ferrotorch
    from ferrotorch import _tensor_str as ts

    _FT_ERROR = None
except ImportError as exc:  # the extension is not built: still test the formatter on its own
    ferrotorch = None
    _FT_ERROR = exc
    ts = _load("_ferrotorch_tensor_str", ROOT / "python" / "ferrotorch" / "_tensor_str.py")


# --------------------------------------------------------------------------------------------------
# A fake tensor: exactly the attributes _str reads, backed by a NumPy array.


class _Dtype:
    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return "torch." + self.name


class _GradFn:
    def __init__(self, name: str):
        self._name = name

    def name(self) -> str:
        return self._name


class Tensor:
    """Named ``Tensor`` because the class name decides the ``tensor(`` prefix, as in torch."""

    def __init__(self, arr, dtype: str | None = None, requires_grad=False, grad_fn=None):
        arr = np.asarray(arr)
        self._arr = arr
        self.dtype = _Dtype(dtype or arr.dtype.name)
        self.shape = tuple(arr.shape)
        self.requires_grad = requires_grad
        self.grad_fn = grad_fn

    def dim(self):
        return self._arr.ndim

    def numel(self):
        return self._arr.size

    def is_floating_point(self):
        return self._arr.dtype.kind == "f"

    def detach(self):
        return Tensor(self._arr, self.dtype.name)

    def numpy(self):
        return self._arr

    def tolist(self):
        return self._arr.tolist()


class MyTensor(Tensor):
    pass


@pytest.fixture
def opts(monkeypatch):
    """Default print options and float32 as default dtype; restored after the test."""
    saved = ts.get_printoptions()
    ts.set_printoptions(profile="default")
    default = {"dtype": "torch.float32"}
    monkeypatch.setattr(ts, "_default_dtype_str", lambda: default["dtype"])
    yield default
    ts.set_printoptions(**saved)


def fake_from_case(case: dict, default_float: str) -> Tensor:
    spec = case["build"]
    arr = build_array(spec)
    dtype = case.get("dtype")
    if arr is None:
        # torch.tensor(list) inference: bools -> bool, ints -> int64, anything else -> default float.
        data = np.array(spec["data"])
        if dtype is None:
            kind = data.dtype.kind
            dtype = "bool" if kind == "b" else "int64" if kind in "iu" else default_float
        arr = data
    arr = np.array(arr, dtype=NP_DTYPES[dtype], order="C")
    if case.get("transpose"):
        arr = arr.T
    return Tensor(arr, dtype, requires_grad=bool(case.get("requires_grad")))


def _ids(cases):
    return [c["name"] for c in cases]


# --------------------------------------------------------------------------------------------------
# Formatter against the golden strings.


@pytest.mark.parametrize("case", GOLDEN, ids=_ids(GOLDEN))
def test_golden_formatter(case, opts):
    default_float = case.get("default_dtype") or "float32"
    opts["dtype"] = "torch." + default_float
    t = fake_from_case(case, default_float)
    ts.set_printoptions(**case.get("options", {}))
    assert ts._str(t) == case["expected"]


# --------------------------------------------------------------------------------------------------
# Things the golden file cannot carry: grad_fn objects, subclasses, option plumbing, speed.


def test_grad_fn_suffix(opts):
    t = Tensor(np.array(0.6931471805599453, dtype=np.float32), grad_fn=_GradFn("NllLossBackward0"))
    t.requires_grad = True
    assert ts._str(t) == "tensor(0.6931, grad_fn=<NllLossBackward0>)"


def test_grad_fn_wins_over_requires_grad(opts):
    t = Tensor(
        np.array([1.0, 2.0], dtype=np.float64), "float64", requires_grad=True, grad_fn=_GradFn("AddBackward0")
    )
    assert ts._str(t) == "tensor([1., 2.], dtype=torch.float64, grad_fn=<AddBackward0>)"


def test_grad_fn_cpp_namespace_stripped(opts):
    t = Tensor(np.array([1.0], dtype=np.float32), grad_fn=_GradFn("torch::autograd::CopySlices"))
    assert ts._str(t) == "tensor([1.], grad_fn=<CopySlices>)"


def test_grad_fn_without_name_method_uses_class_name(opts):
    class MulBackward0:
        pass

    t = Tensor(np.array([2.0], dtype=np.float32), grad_fn=MulBackward0())
    assert ts._str(t) == "tensor([2.], grad_fn=<MulBackward0>)"


def test_grad_fn_error_prints_invalid(opts):
    class Broken(Tensor):
        @property
        def grad_fn(self):
            raise RuntimeError("view modified inplace")

        @grad_fn.setter
        def grad_fn(self, value):
            pass

    t = Broken(np.array([1.0], dtype=np.float32))
    assert ts._str(t) == "Broken([1.], grad_fn=<Invalid>)"


def test_grad_fn_suffix_wraps(opts):
    # torch: tensor([...long line...],\n       grad_fn=<...>) once the line would pass linewidth.
    arr = np.random.RandomState(0).randn(8).astype(np.float32)
    t = Tensor(arr, grad_fn=_GradFn("MulBackward0"))
    text = ts._str(t)
    assert text.endswith(",\n       grad_fn=<MulBackward0>)")
    assert text.startswith("tensor([ 1.7641,  0.4002,")


def test_subclass_prefix_uses_class_name(opts):
    t = MyTensor(np.array([1.0, 1.0], dtype=np.float32))
    assert ts._str(t) == "MyTensor([1., 1.])"


def test_subclass_indent_follows_prefix(opts):
    t = MyTensor(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    assert ts._str(t) == "MyTensor([[1., 2.],\n          [3., 4.]])"


def test_parameter_prefix_is_tensor(opts):
    class Parameter(Tensor):
        pass

    t = Parameter(np.array([1.0], dtype=np.float32), requires_grad=True)
    assert ts._str(t) == "tensor([1.], requires_grad=True)"


def test_numpy_failure_falls_back_to_tolist(opts):
    class NoNumpy(Tensor):
        def detach(self):
            return NoNumpy(self._arr, self.dtype.name)

        def numpy(self):
            raise TypeError("no numpy for this dtype")

    t = NoNumpy(np.array([0.5, 1.0], dtype=np.float32))
    assert ts._str(t) == "NoNumpy([0.5000, 1.0000])"


def test_huge_tensor_is_sliced_not_formatted_whole(opts):
    # A 4M-element print formats 6x6 numbers; it must be fast.
    arr = np.arange(4_000_000, dtype=np.float32).reshape(2000, 2000)
    t = Tensor(arr)
    start = time.perf_counter()
    text = ts._str(t)
    assert time.perf_counter() - start < 0.05
    assert text.startswith("tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03")
    assert "\n        ...,\n" in text


def test_10x10_prints_fast(opts):
    t = Tensor(np.random.RandomState(0).rand(10, 10).astype(np.float32))
    ts._str(t)
    best = math.inf
    for _ in range(20):
        start = time.perf_counter()
        ts._str(t)
        best = min(best, time.perf_counter() - start)
    assert best < 1e-3, f"printing a 10x10 tensor took {best * 1e3:.3f} ms"


def test_get_printoptions_defaults(opts):
    assert ts.get_printoptions() == {
        "precision": 4,
        "threshold": 1000,
        "edgeitems": 3,
        "linewidth": 80,
        "sci_mode": None,
    }


def test_set_printoptions_profiles(opts):
    ts.set_printoptions(profile="short")
    assert ts.get_printoptions() == {
        "precision": 2,
        "threshold": 1000,
        "edgeitems": 2,
        "linewidth": 80,
        "sci_mode": None,
    }
    ts.set_printoptions(profile="full")
    assert ts.get_printoptions()["threshold"] == math.inf
    ts.set_printoptions(profile="full", precision=6, linewidth=100)
    assert ts.get_printoptions()["precision"] == 6
    assert ts.get_printoptions()["linewidth"] == 100
    ts.set_printoptions(profile="default")
    assert ts.get_printoptions()["threshold"] == 1000


def test_set_printoptions_resets_sci_mode_like_torch(opts):
    ts.set_printoptions(sci_mode=True)
    assert ts.get_printoptions()["sci_mode"] is True
    # torch assigns sci_mode on every call, so leaving it out resets it.
    ts.set_printoptions(precision=3)
    assert ts.get_printoptions()["sci_mode"] is None
    assert ts.get_printoptions()["precision"] == 3


def test_get_printoptions_round_trips(opts):
    ts.set_printoptions(precision=2, threshold=10, edgeitems=1, linewidth=60, sci_mode=False)
    saved = ts.get_printoptions()
    ts.set_printoptions(profile="default")
    ts.set_printoptions(**saved)
    assert ts.get_printoptions() == saved


def test_printoptions_context_manager(opts):
    t = Tensor(np.array([1.12345], dtype=np.float32))
    with ts.printoptions(precision=2):
        assert ts._str(t) == "tensor([1.12])"
    assert ts._str(t) == "tensor([1.1235])"


def test_docstring_example_threshold(opts):
    # The example in torch.set_printoptions' docstring.
    t = Tensor(np.arange(10))
    ts.set_printoptions(threshold=5)
    assert ts._str(t) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    ts.set_printoptions(profile="default")
    assert ts._str(t) == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"


def test_float16_prints_dtype(opts):
    t = Tensor(np.array([0.5, 1.25], dtype=np.float16))
    assert ts._str(t) == "tensor([0.5000, 1.2500], dtype=torch.float16)"


def test_module_does_not_import_ferrotorch_at_import_time():
    # ferrotorch/__init__.py re-exports from this module; a top-level import would be circular.
    source = (ROOT / "python" / "ferrotorch" / "_tensor_str.py").read_text()
    assert "import ferrotorch" not in source
    assert "from ferrotorch" not in source


# --------------------------------------------------------------------------------------------------
# The real ferrotorch: rebuild every golden case and compare repr().


def _require_ferrotorch():
    if ferrotorch is None:
        pytest.fail(f"ferrotorch is not importable (build it with `maturin develop`): {_FT_ERROR}")
    return ferrotorch


def ft_from_case(torch, case: dict):
    spec = case["build"]
    dtype = case.get("dtype")
    arr = build_array(spec)
    if arr is None:
        kwargs = {} if dtype is None else {"dtype": getattr(torch, dtype)}
        t = torch.tensor(spec["data"], **kwargs)
    else:
        t = torch.from_numpy(np.array(arr, dtype=NP_DTYPES[dtype], order="C"))
    if case.get("transpose"):
        t = t.t()
    if case.get("requires_grad"):
        t.requires_grad_(True)
    return t


@pytest.mark.parametrize("case", GOLDEN, ids=_ids(GOLDEN))
def test_golden_ferrotorch(case):
    torch = _require_ferrotorch()
    torch.set_printoptions(profile="default")
    try:
        if case.get("default_dtype"):
            torch.set_default_dtype(getattr(torch, case["default_dtype"]))
        t = ft_from_case(torch, case)
        torch.set_printoptions(**case.get("options", {}))
        assert repr(t) == case["expected"]
        assert str(t) == case["expected"]
    finally:
        torch.set_printoptions(profile="default")
        if case.get("default_dtype"):
            torch.set_default_dtype(torch.float32)


def test_ferrotorch_reexports_printoptions():
    torch = _require_ferrotorch()
    assert torch.set_printoptions is ts.set_printoptions
    assert torch.get_printoptions is ts.get_printoptions


def test_ferrotorch_grad_fn_repr():
    torch = _require_ferrotorch()
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x + x
    assert repr(y) == "tensor([2., 4.], grad_fn=<AddBackward0>)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
