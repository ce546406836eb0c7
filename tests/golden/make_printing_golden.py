"""Write tests/golden/printing.json: PyTorch's exact ``repr`` for a set of tensors.

Run with a Python that has torch (the test suite itself never imports torch):

    /opt/torchenv/bin/python tests/golden/make_printing_golden.py

Each case describes how to build its tensor without torch's RNG (explicit lists, NumPy ranges,
seeded ``numpy.random.RandomState`` data), so tests/test_printing.py can rebuild the same tensor with
ferrotorch.  The test imports ``build_array`` and ``NP_DTYPES`` from this file, so torch is imported
only inside the functions that need it.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).with_name("printing.json")

NAN = math.nan
INF = math.inf


def build_array(spec: dict) -> np.ndarray | None:
    """The NumPy data of a case, or None when the case builds from a Python list instead."""
    kind = spec["kind"]
    if kind == "list":
        return None
    if kind == "array":
        arr = np.array(spec["data"], dtype=np.float64)
    elif kind == "arange":
        arr = np.arange(spec["start"], spec["stop"], spec.get("step", 1), dtype=np.float64)
    elif kind == "linspace":
        arr = np.linspace(spec["start"], spec["stop"], spec["num"], dtype=np.float64)
    elif kind == "randn":
        arr = np.random.RandomState(spec["seed"]).randn(*spec["shape"]) * spec.get("scale", 1.0)
    elif kind == "rand":
        arr = np.random.RandomState(spec["seed"]).rand(*spec["shape"]) * spec.get("scale", 1.0)
    elif kind == "randint":
        arr = np.random.RandomState(spec["seed"]).randint(spec["low"], spec["high"], size=spec["shape"])
        arr = arr.astype(np.int64)
    elif kind == "full":
        arr = np.full(spec["shape"], spec["value"], dtype=np.float64)
    else:
        raise ValueError(f"unknown build kind {kind!r}")
    if "shape" in spec and kind not in ("randn", "rand", "randint", "full"):
        arr = arr.reshape(spec["shape"])
    return arr


NP_DTYPES = {
    "float32": np.float32,
    "float64": np.float64,
    "int64": np.int64,
    "int32": np.int32,
    "uint8": np.uint8,
    "bool": np.bool_,
}


def make_tensor(case: dict):
    import torch

    spec = case["build"]
    dtype = case.get("dtype")
    arr = build_array(spec)
    if arr is None:
        kwargs = {} if dtype is None else {"dtype": getattr(torch, dtype)}
        t = torch.tensor(spec["data"], **kwargs)
    else:
        # np.array, not np.ascontiguousarray, which would turn a 0-d array into shape (1,).
        arr = np.array(arr, dtype=NP_DTYPES[dtype], order="C")
        t = torch.from_numpy(arr)
    if case.get("transpose"):
        t = t.t()
    if case.get("requires_grad"):
        t.requires_grad_(True)
    return t


def C(name, build, dtype="float32", **extra):
    case = {"name": name, "build": build, "dtype": dtype}
    case.update(extra)
    return case


def L(data):
    return {"kind": "list", "data": data}


def A(data, shape=None):
    spec = {"kind": "array", "data": data}
    if shape is not None:
        spec["shape"] = shape
    return spec


def R(seed, shape, scale=1.0):
    return {"kind": "randn", "seed": seed, "shape": list(shape), "scale": scale}


def AR(start, stop, step=1, shape=None):
    spec = {"kind": "arange", "start": start, "stop": stop, "step": step}
    if shape is not None:
        spec["shape"] = list(shape)
    return spec


def RI(seed, low, high, shape):
    return {"kind": "randint", "seed": seed, "low": low, "high": high, "shape": list(shape)}


def FULL(shape, value):
    return {"kind": "full", "shape": list(shape), "value": value}


def cases() -> list[dict]:
    out = []
    add = out.append

    # --- Python-list constructors: dtype inference and the tutorials' first prints.
    add(C("list_float", L([1.0, 2.0]), dtype=None))
    add(C("list_int", L([1, 2, 3]), dtype=None))
    add(C("list_bool", L([True, False]), dtype=None))
    add(C("list_bool_all_true", L([True, True, True]), dtype=None))
    add(C("list_2d_float", L([[1.0, -1.0], [1.0, -1.0]]), dtype=None))
    add(C("list_mixed_int_float", L([1, 2.5, 3]), dtype=None))
    add(C("list_float64", L([[0.1234, -1.0]]), dtype="float64"))
    add(C("list_int32", L([1, 2, 3]), dtype="int32"))
    add(C("list_uint8", L([0, 127, 255]), dtype="uint8"))
    add(C("list_scalar_float", L(0.6931471805599453), dtype=None))
    add(C("list_scalar_int", L(7), dtype=None))
    add(C("list_scalar_bool", L(True), dtype=None))
    add(C("list_empty", L([]), dtype=None))
    add(C("list_requires_grad", L([[1.0, 2.0]]), dtype=None, requires_grad=True))
    add(C("list_scalar_requires_grad", L(3.5), dtype=None, requires_grad=True))

    # --- Small float tensors: precision 4, int_mode, widths, signs.
    add(C("ints_as_float", A([1, 2, 3])))
    add(C("whole_and_negative", A([-1, 0, 10, 100])))
    add(C("fractional", A([0.5, 1.25, -3.125])))
    add(C("rounding", A([0.12345, 0.99995, 1.00005, -0.00005, 2.5])))
    add(C("rounding_f64", A([0.12345, 0.99995, 1.00005, 2.675, 1e-4]), dtype="float64"))
    add(C("neg_zero_scalar", A(-0.0)))
    add(C("neg_zero_vec", A([0.0, -0.0])))
    add(C("neg_zero_with_values", A([-0.0, 1.5, -2.25])))
    add(C("all_zeros", FULL([2, 3], 0.0)))
    add(C("all_zeros_int", FULL([4], 0.0), dtype="int64"))
    add(C("ones_3d", FULL([2, 2, 2], 1.0)))
    add(C("scalar_float", A(3.14159)))
    add(C("scalar_whole", A(3.0)))
    add(C("scalar_large", A(123456789.0)))
    add(C("scalar_tiny", A(1e-5)))
    add(C("scalar_nan", A(NAN)))
    add(C("scalar_inf", A(-INF)))
    add(C("scalar_int32", A(5), dtype="int32"))
    add(C("scalar_f64", A(0.5), dtype="float64"))

    # --- nan / inf.
    add(C("nan_inf_ints", A([1.0, NAN, INF, -INF])))
    add(C("nan_inf_frac", A([1.5, NAN, INF, -INF])))
    add(C("only_nan_inf", A([NAN, INF, -INF])))
    add(C("nan_zero", A([0.0, NAN])))
    add(C("nan_inf_sci", A([1e-8, NAN, INF, -INF, 1.0])))
    add(C("nan_2d", A([[1.0, NAN], [2.5, -INF]])))

    # --- Scientific notation triggers and magnitudes.
    add(C("large_1e10", A([1e10, 1.0])))
    add(C("large_1e10_frac", A([1e10, 1.5])))
    add(C("small_1e-5", A([1e-5, 1.0])))
    add(C("small_only_1e-5", A([1e-5, 2e-5])))
    add(C("ratio_gt_1000", A([0.5, 600.0])))
    add(C("ratio_exactly_1000", A([1.0, 1000.0])))
    add(C("ratio_just_over_1000", A([1.0, 1000.5])))
    add(C("max_1e8", A([1e8, 2e8])))
    add(C("max_just_under_1e8", A([9e7, 9.5e7])))
    add(C("huge_exponent_f64", A([1e100, -1e-100, 3.0]), dtype="float64"))
    add(C("huge_f32", A([3e38, -1e-38])))
    add(C("mixed_magnitudes", A([1e-3, 12.5, -1e4, 7e5])))
    add(C("large_ints_nonsci", A([123.0, 4567.0, 89.0])))
    add(C("large_whole_not_sci", A([100000.0, 200000.0, 300000.0])))

    # --- Random data (float32 and float64), shapes up to 3-d, wrapping at linewidth 80.
    add(C("randn_3", R(0, [3])))
    add(C("randn_2x3", R(1, [2, 3])))
    add(C("randn_2x3_f64", R(1, [2, 3]), dtype="float64"))
    add(C("randn_10x10", R(2, [10, 10])))
    add(C("randn_2x3x4", R(3, [2, 3, 4])))
    add(C("randn_2x2x2x2", R(4, [2, 2, 2, 2])))
    add(C("randn_30", R(5, [30])))
    add(C("randn_30_scaled", R(6, [30], 100.0)))
    add(C("randn_4x25", R(7, [4, 25])))
    add(C("randn_45x65", R(8, [45, 65])))
    add(C("randn_1x1", R(9, [1, 1])))
    add(C("randn_1x1x1", R(10, [1, 1, 1])))
    add(C("randn_5x1", R(11, [5, 1])))
    add(C("randn_req_grad_2x3", R(12, [2, 3]), requires_grad=True))
    add(C("randn_req_grad_f64", R(13, [4, 4]), dtype="float64", requires_grad=True))
    add(C("randn_req_grad_wrap", R(14, [3, 12]), dtype="float64", requires_grad=True))
    add(C("rand_sci", {"kind": "rand", "seed": 15, "shape": [3, 4], "scale": 1e-3}))
    add(C("transposed", R(16, [3, 4]), transpose=True))

    # --- Integer tensors.
    add(C("arange_10_int", AR(0, 10), dtype="int64"))
    add(C("arange_neg_int", AR(-5, 5), dtype="int64"))
    add(C("int_2d", RI(17, -1000, 1000, [4, 5]), dtype="int64"))
    add(C("int32_2d", RI(18, 0, 50, [3, 3]), dtype="int32"))
    add(C("uint8_img", RI(19, 0, 256, [2, 3, 4]), dtype="uint8"))
    add(C("int64_long_wrap", AR(0, 100), dtype="int64"))
    add(C("int64_big", A([2**40, -(2**40), 3]), dtype="int64"))
    add(C("bool_2d", A([[1, 0, 1], [0, 0, 1]]), dtype="bool"))
    add(C("bool_long", RI(20, 0, 2, [40]), dtype="bool"))

    # --- Ranges and linspace.
    add(C("arange_float", AR(0, 10)))
    add(C("arange_float_frac", AR(0, 1, 0.1)))
    add(C("linspace", {"kind": "linspace", "start": -1, "stop": 1, "num": 9}))
    add(C("linspace_f64", {"kind": "linspace", "start": 0, "stop": 1, "num": 7}, dtype="float64"))

    # --- Empty tensors.
    add(C("empty_0", FULL([0], 0.0)))
    add(C("empty_0x3", FULL([0, 3], 0.0)))
    add(C("empty_1x0x3", FULL([1, 0, 3], 0.0)))
    add(C("empty_int64", FULL([0], 0.0), dtype="int64"))
    add(C("empty_int64_2d", FULL([2, 0], 0.0), dtype="int64"))
    add(C("empty_f64", FULL([0], 0.0), dtype="float64"))
    add(C("empty_bool", FULL([0, 2], 0.0), dtype="bool"))
    add(C("empty_int32", FULL([0], 0.0), dtype="int32"))
    add(C("empty_req_grad", FULL([0, 3], 0.0), requires_grad=True))

    # --- Summarisation (threshold 1000, edgeitems 3).
    add(C("summ_2000", AR(0, 2000)))
    add(C("summ_2000_int", AR(0, 2000), dtype="int64"))
    add(C("summ_1000_not", AR(0, 1000)))
    add(C("summ_1001", AR(0, 1001)))
    add(C("summ_3x400", R(21, [3, 400])))
    add(C("summ_10x10x10", AR(0, 1000, shape=[10, 10, 10])))
    add(C("summ_10x10x11", R(22, [10, 10, 11])))
    add(C("summ_100x100", R(23, [100, 100])))
    add(C("summ_2x3x400_f64", R(24, [2, 3, 400]), dtype="float64"))
    add(C("summ_sci_edges", AR(0, 5000, shape=[5000]), options={"precision": 4}))
    add(C("summ_middle_outlier", A([1.0] * 500 + [1e12] + [2.0] * 600)))
    add(C("summ_req_grad", R(25, [40, 40]), requires_grad=True))
    add(C("summ_bool", RI(26, 0, 2, [1200]), dtype="bool"))
    add(C("summ_uint8", RI(27, 0, 256, [50, 50]), dtype="uint8"))

    # --- Print options.
    add(C("opt_precision_2", R(30, [3, 3]), options={"precision": 2}))
    add(C("opt_precision_0", A([1.5, 2.5, -0.4]), options={"precision": 0}))
    add(C("opt_precision_8_f64", R(31, [4]), dtype="float64", options={"precision": 8}))
    add(C("opt_precision_2_sci", A([1e-6, 1.0]), options={"precision": 2}))
    add(C("opt_sci_true", A([1.5, 2.0, 300.0]), options={"sci_mode": True}))
    add(C("opt_sci_true_ints", A([1.0, 2.0, 3.0]), options={"sci_mode": True}))
    add(C("opt_sci_true_zeros", FULL([3], 0.0), options={"sci_mode": True}))
    add(C("opt_sci_false_small", A([1e-5, 1.0]), options={"sci_mode": False}))
    add(C("opt_sci_false_large", A([1e10, 1.5]), options={"sci_mode": False}))
    add(C("opt_sci_false_large_ints", A([1e10, 1.0]), options={"sci_mode": False}))
    add(C("opt_profile_full", AR(0, 1500), options={"profile": "full"}))
    add(C("opt_profile_full_int", AR(0, 1200), dtype="int64", options={"profile": "full"}))
    add(C("opt_profile_short", R(32, [40, 40]), options={"profile": "short"}))
    add(C("opt_profile_short_small", R(33, [3, 3]), options={"profile": "short"}))
    add(C("opt_profile_default", R(34, [3, 3]), options={"profile": "default"}))
    add(C("opt_threshold_5", AR(0, 10), dtype="int64", options={"threshold": 5}))
    add(C("opt_threshold_5_2d", AR(0, 24, shape=[4, 6]), options={"threshold": 5}))
    add(C("opt_edgeitems_1", R(35, [20, 20]), options={"edgeitems": 1, "threshold": 10}))
    add(C("opt_edgeitems_0", AR(0, 10, shape=[2, 5]), options={"edgeitems": 0, "threshold": 5}))
    add(C("opt_edgeitems_0_1d", AR(0, 10), dtype="int64", options={"edgeitems": 0, "threshold": 5}))
    add(C("opt_edgeitems_0_scalar", A(3.0), options={"edgeitems": 0, "threshold": 5}))
    add(C("opt_edgeitems_0_small", A([1.0, 2.0]), options={"edgeitems": 0}))
    add(C("opt_edgeitems_0_empty", FULL([0, 2], 0.0), options={"edgeitems": 0}))
    add(C("randn_20", R(36, [20])))
    add(C("opt_linewidth_40", R(36, [20]), options={"linewidth": 40}))
    add(C("opt_linewidth_40_2d", R(37, [3, 9]), options={"linewidth": 40}))
    add(
        C(
            "opt_linewidth_20_req_grad",
            R(38, [6]),
            dtype="float64",
            requires_grad=True,
            options={"linewidth": 20},
        )
    )
    add(C("opt_linewidth_200", R(39, [4, 30]), options={"linewidth": 200}))
    add(C("opt_linewidth_1", A([1.0, 2.0, 3.0]), options={"linewidth": 1}))
    add(
        C(
            "opt_linewidth_30_suffix",
            A([1.5, 2.5]),
            dtype="float64",
            requires_grad=True,
            options={"linewidth": 30},
        )
    )
    add(C("opt_short_ints", AR(0, 2000), dtype="int64", options={"profile": "short"}))

    # --- Suffix wrapping: a last line near the linewidth pushes suffixes onto their own lines.
    add(C("suffix_wrap_f64", R(40, [9]), dtype="float64"))
    add(C("suffix_wrap_f64_grad", R(41, [8]), dtype="float64", requires_grad=True))
    add(C("suffix_wrap_int32", AR(0, 22), dtype="int32"))
    add(C("suffix_wrap_int32_long", AR(0, 25), dtype="int32"))
    add(C("suffix_2d_f64_grad", R(42, [2, 9]), dtype="float64", requires_grad=True))

    # --- Default dtype float64: float32 tensors then print their dtype, float64 ones do not.
    d64 = {"default_dtype": "float64"}
    add(C("def64_f32", R(50, [2, 3]), **d64))
    add(C("def64_f64", R(50, [2, 3]), dtype="float64", **d64))
    add(C("def64_list_float", L([1.0, 2.5]), dtype=None, **d64))
    add(C("def64_list_int", L([1, 2]), dtype=None, **d64))
    add(C("def64_empty_f32", FULL([0], 0.0), **d64))
    add(C("def64_empty_f64", FULL([0, 2], 0.0), dtype="float64", **d64))
    add(C("def64_empty_int64", FULL([0], 0.0), dtype="int64", **d64))
    add(C("def64_f32_req_grad", R(51, [3]), requires_grad=True, **d64))
    add(C("def64_scalar_f32", A(1.5), **d64))

    return out


def main() -> None:
    import torch

    records = []
    names = set()
    for case in cases():
        # A repeated name would make a failure ambiguous; number duplicates instead.
        name = case["name"]
        i = 2
        while name in names:
            name = f"{case['name']}_{i}"
            i += 1
        case["name"] = name
        names.add(name)

        torch.set_printoptions(profile="default")
        torch.set_default_dtype(torch.float32)
        if case.get("default_dtype"):
            torch.set_default_dtype(getattr(torch, case["default_dtype"]))
        t = make_tensor(case)
        if case.get("options"):
            torch.set_printoptions(**case["options"])
        try:
            case["expected"] = repr(t)
        finally:
            torch.set_printoptions(profile="default")
            torch.set_default_dtype(torch.float32)
        records.append(case)

    text = json.dumps(records, indent=1, allow_nan=True)
    OUT.write_text(text + "\n")
    print(f"wrote {len(records)} cases to {OUT}")


if __name__ == "__main__":
    main()
