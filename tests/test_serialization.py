"""torch.save / torch.load on safetensors: round trips, interop with safetensors and PyTorch files,
the hostile-file table, and checkpoint resume. Never imports torch."""

import io
import json
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import ferrotorch as torch
import numpy as np
import pytest

GOLD = os.path.join(os.path.dirname(__file__), "golden", "optim")
DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool"]


def roundtrip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf)


def arr(dt, shape):
    n = int(np.prod(shape))
    if dt == "uint8":
        return (np.arange(n) * 37 % 256).astype(np.uint8).reshape(shape)
    a = (np.arange(n) % 7 - 2).reshape(shape)
    if dt == "bool":
        return a.astype(bool)
    if dt.startswith("float"):
        return np.asarray((a / 3).astype(dt))  # non-integral values (0-d stays an array)
    return a.astype(dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (1, 0, 3), (5,), (45, 65), (2, 3, 4)])
def test_round_trip_every_dtype(dt, shape):
    a = arr(dt, shape)
    t = torch.tensor(a)
    got = roundtrip(t)
    assert got.dtype == t.dtype and tuple(got.shape) == shape
    np.testing.assert_array_equal(got.numpy(), a)


def test_round_trip_non_contiguous_and_requires_grad():
    base = torch.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4))
    views = {"t": base.t(), "step": base[:, ::2], "narrow": base.narrow(1, 1, 2)}
    got = roundtrip(views)
    for k, v in views.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy())
    p = torch.nn.Parameter(torch.ones(2))
    g = roundtrip({"p": p, "r": torch.ones(1, requires_grad=True)})
    assert type(g["p"]).__name__ == "Parameter" and g["p"].requires_grad
    assert g["r"].requires_grad and g["r"].is_leaf


def test_nested_structures_keep_types_and_order():
    sd = OrderedDict((k, torch.tensor([float(i)])) for i, k in enumerate(["z.weight", "a.bias", "m.x"]))
    sd._metadata = OrderedDict([("", {"version": 1}), ("z", {"version": 2})])
    obj = {
        "epoch": 3,
        "loss": 0.1,
        "inf": float("inf"),
        "name": "run-1",
        "none": None,
        "flag": True,
        "sd": sd,
        "list": [torch.zeros(2), 1, "x", [torch.ones(1)]],
        "tuple": (1, 2.5, torch.ones(())),
        3: "int key",
        (1, "a"): "tuple key",
        "dtype": torch.float64,
    }
    got = roundtrip(obj)
    assert list(got) == list(obj)
    assert got["epoch"] == 3 and isinstance(got["epoch"], int)
    assert got["loss"] == 0.1 and got["inf"] == float("inf") and got["none"] is None and got["flag"] is True
    assert isinstance(got["sd"], OrderedDict) and list(got["sd"]) == ["z.weight", "a.bias", "m.x"]
    assert got["sd"]._metadata == {"": {"version": 1}, "z": {"version": 2}}
    assert isinstance(got["tuple"], tuple) and isinstance(got["list"], list)
    assert got[3] == "int key" and got[(1, "a")] == "tuple key" and got["dtype"] == torch.float64
    np.testing.assert_array_equal(got["list"][3][0].numpy(), [1.0])


def test_paths_and_errors(tmp_path):
    f = tmp_path / "x.pt"
    torch.save({"a": torch.ones(2)}, f)
    torch.save({"a": torch.ones(2)}, str(f))
    assert list(torch.load(str(f), map_location="cpu", weights_only=False)) == ["a"]
    assert list(torch.load(f, map_location=torch.device("cpu"))) == ["a"]
    with pytest.raises(FileNotFoundError):
        torch.load(tmp_path / "missing.pt")
    with pytest.raises(RuntimeError, match="CPU only"):
        torch.load(f, map_location="cuda:0")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2))

    # a whole module saves when its class can be found by name at load (tests/test_basics_tutorials.py)
    with pytest.raises(
        AttributeError, match=r"Can't pickle local object 'test_paths_and_errors.<locals>.Net'"
    ):
        torch.save(Net(), io.BytesIO())
    with pytest.raises(TypeError, match="cannot save an object of type"):
        torch.save({"f": lambda: 1}, io.BytesIO())


def test_flat_state_dict_reads_with_safetensors_package():
    st = pytest.importorskip("safetensors.numpy")
    sd = OrderedDict(
        [
            ("fc.weight", torch.tensor(np.ones((2, 3), np.float32))),
            ("fc.bias", torch.tensor([1.0, 2.0])),
            ("n", torch.tensor(5)),
            ("mask", torch.tensor([True, False])),
        ]
    )
    buf = io.BytesIO()
    torch.save(sd, buf)
    loaded = st.load(buf.getvalue())
    assert set(loaded) == set(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(loaded[k], v.numpy())
        assert loaded[k].dtype == v.numpy().dtype


def test_reads_safetensors_written_file():
    got = torch.load(os.path.join(GOLD, "safetensors_written.safetensors"))
    ref = np.load(os.path.join(GOLD, "safetensors_values.npz"))
    assert isinstance(got, OrderedDict) and set(got) == set(ref.files)
    for k in ref.files:
        np.testing.assert_array_equal(got[k].numpy(), ref[k])
        assert got[k].numpy().dtype == ref[k].dtype


def test_live_safetensors_round_trip_both_ways():
    st = pytest.importorskip("safetensors.numpy")
    d = {"a": np.arange(6, dtype=np.float64).reshape(2, 3), "b": np.array([], dtype=np.int32)}
    got = torch.load(io.BytesIO(st.save(d)))
    for k, v in d.items():
        np.testing.assert_array_equal(got[k].numpy(), v)
    buf = io.BytesIO()
    torch.save({k: torch.tensor(v) for k, v in d.items()}, buf)
    back = st.load(buf.getvalue())
    for k, v in d.items():
        np.testing.assert_array_equal(back[k], v)


def test_reads_pytorch_zip_state_dict():
    sd = torch.load(os.path.join(GOLD, "torch_state_dict.pt"))
    ref = np.load(os.path.join(GOLD, "torch_fixture_values.npz"))
    keys = [k[3:] for k in ref.files if k.startswith("sd/")]
    assert isinstance(sd, OrderedDict) and list(sd) == keys
    for k in keys:
        np.testing.assert_array_equal(sd[k].numpy(), ref["sd/" + k])
        assert sd[k].numpy().dtype == ref["sd/" + k].dtype
    assert sd._metadata[""] == {"version": 1} or "" in sd._metadata


def test_reads_pytorch_zip_checkpoint():
    ck = torch.load(os.path.join(GOLD, "torch_checkpoint.pt"), weights_only=True)
    ref = np.load(os.path.join(GOLD, "torch_fixture_values.npz"))
    assert ck["epoch"] == 3 and ck["loss"] == 0.1 and ck["names"] == ["a", "b"] and ck["pair"] == (1, 2.5)
    for k, v in ck["model_state_dict"].items():
        np.testing.assert_array_equal(v.numpy(), ref["model/" + k])
    osd = ck["optimizer_state_dict"]
    assert osd["param_groups"][0]["betas"] == (0.9, 0.999)
    for pid, st in osd["state"].items():
        for sk, sv in st.items():
            np.testing.assert_array_equal(sv.numpy(), ref[f"optim/{pid}/{sk}"])
    for k, v in ck["extra"].items():
        np.testing.assert_array_equal(v.numpy(), ref["extra/" + k])
        assert tuple(v.shape) == ref["extra/" + k].shape


def _torch_zip(pickle_bytes, extra=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/byteorder", "little")
        for k, v in (extra or {}).items():
            z.writestr(k, v)
    return buf.getvalue()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pytorch_zip_restricted_unpickler_rejects_code():
    for payload in [_Evil(), {"x": _Evil()}]:
        data = _torch_zip(pickle.dumps(payload, protocol=2))
        with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
            torch.load(io.BytesIO(data))
    # a storage record whose size disagrees with its element count (hand-written pickle opcodes)
    pid = b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x0atQ"
    data = _torch_zip(b"\x80\x02" + pid + b".", {"archive/data/0": b"\0" * 8})
    with pytest.raises(pickle.UnpicklingError, match="holds 8 bytes, not 10 x 4"):
        torch.load(io.BytesIO(data))
    # a tensor whose size/stride reach past its storage
    rebuild = (
        b"ctorch._utils\n_rebuild_tensor_v2\n("
        + pid.replace(b"K\x0a", b"K\x02")
        + b"K\x00K\x05\x85K\x01\x85\x89ctorch\nFloatStorage\n\x85tR."
    )
    data = _torch_zip(b"\x80\x02" + rebuild, {"archive/data/0": b"\0" * 8})
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(data))
    with pytest.raises(RuntimeError, match="data.pkl"):
        torch.load(io.BytesIO(_torch_zip(b"")[:0] or _zip_without_pkl()))


def _zip_without_pkl():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/other", "x")
    return buf.getvalue()


def _st(header, data=b"", raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
HOSTILE = {
    "empty file": b"",
    "truncated length": b"\x10\x00\x00",
    "header length past end": struct.pack("<Q", 1000) + b"{}",
    "huge header length": struct.pack("<Q", 2**63) + b"{}",
    "header not JSON": _st(None, raw_header=b"{not json!"),
    "header not UTF-8": _st(None, raw_header=b'{"\xff": 1}'),
    "header not object": _st([1, 2]),
    "truncated data": _st(GOOD, b"\0" * 4),
    "offsets out of range": _st(
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 10**12]}}, b"\0" * 8
    ),
    "begin after end": _st({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}, b"\0" * 8),
    "overlapping": _st(
        {
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
        },
        b"\0" * 12,
    ),
    "gap": _st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
    "trailing bytes": _st(GOOD, b"\0" * 12),
    "shape x dtype != bytes": _st({"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
    "huge shape": _st({"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, b"\0" * 8),
    "negative shape": _st({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8),
    "unknown dtype": _st({"a": {"dtype": "XYZ", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
    "duplicate keys": _st(
        None,
        b"\0" * 8,
        raw_header=(
            b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},'
            b' "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
        ),
    ),
    "misaligned": _st(
        {
            "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
            "b": {"dtype": "F32", "shape": [1], "data_offsets": [1, 5]},
        },
        b"\0" * 5,
    ),
    "bad bool byte": _st({"a": {"dtype": "BOOL", "shape": [1], "data_offsets": [0, 1]}}, b"\x07"),
    "metadata not strings": _st({"__metadata__": {"x": 1}}),
    "deep nesting": _st(None, raw_header=b"[" * 100000 + b"]" * 100000),
    "structure refers to missing tensor": _st(
        {"__metadata__": {"ferrotorch": json.dumps({"obj": {"__t__": "nope"}})}}
    ),
    "structure not JSON": _st({"__metadata__": {"ferrotorch": "{oops"}}),
    "missing data_offsets": _st({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_raise_clear_errors(case):
    with pytest.raises((RuntimeError, ValueError, NotImplementedError)) as e:
        torch.load(io.BytesIO(HOSTILE[case]))
    assert "safetensors" in str(e.value) or "checkpoint" in str(e.value)


def test_unsupported_but_valid_dtype_is_not_implemented():
    data = _st({"a": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4)
    with pytest.raises(NotImplementedError, match="F16"):
        torch.load(io.BytesIO(data))


def test_truncations_of_a_real_file_never_crash():
    buf = io.BytesIO()
    torch.save({"w": torch.ones(3, 3), "step": 4, "b": torch.zeros(2, dtype=torch.int64)}, buf)
    data = buf.getvalue()
    for cut in range(0, len(data), 7):
        with pytest.raises((RuntimeError, ValueError)):
            torch.load(io.BytesIO(data[:cut]))


def _model_and_data():
    rng = np.random.default_rng(0)
    w1 = torch.nn.Parameter(torch.tensor(rng.standard_normal((4, 8)).astype(np.float32) * 0.3))
    b1 = torch.nn.Parameter(torch.zeros(8))
    w2 = torch.nn.Parameter(torch.tensor(rng.standard_normal((8, 1)).astype(np.float32) * 0.3))
    x = torch.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = torch.tensor(rng.standard_normal((16, 1)).astype(np.float32))
    return [w1, b1, w2], x, y


def _loss(ps, x, y):
    h = (x @ ps[0] + ps[1]).relu()
    return ((h @ ps[2] - y) ** 2).mean()


def _train(ps, opt, sched, x, y, n):
    for _ in range(n):
        opt.zero_grad()
        loss = _loss(ps, x, y)
        loss.backward()
        opt.step()
        sched.step()
    return _loss(ps, x, y).item()


def test_checkpoint_resume_gives_same_next_loss(tmp_path):
    ps, x, y = _model_and_data()
    opt = torch.optim.Adam(ps, lr=0.01, amsgrad=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    _train(ps, opt, sched, x, y, 5)
    path = tmp_path / "ckpt.pt"
    torch.save(
        {
            "epoch": 5,
            "model_state_dict": OrderedDict((f"p{i}", p) for i, p in enumerate(ps)),
            "optimizer_state_dict": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "loss": 0.1,
        },
        path,
    )
    uninterrupted = _train(ps, opt, sched, x, y, 3)

    ps2, _, _ = _model_and_data()
    opt2 = torch.optim.Adam(ps2, lr=0.5)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, 2, 0.5)
    ck = torch.load(path)
    with torch.no_grad():
        for i, p in enumerate(ps2):
            p.copy_(ck["model_state_dict"][f"p{i}"])
    opt2.load_state_dict(ck["optimizer_state_dict"])
    sched2.load_state_dict(ck["scheduler"])
    assert ck["epoch"] == 5 and ck["loss"] == 0.1
    resumed = _train(ps2, opt2, sched2, x, y, 3)
    assert resumed == uninterrupted
