"""``torch.save`` / ``torch.load`` on safetensors: no pickle is ever executed.

A ferrotorch file is a safetensors file: every tensor is a safetensors entry (a flat
``state_dict`` keeps its keys, so the file loads with the ``safetensors`` package and into a
PyTorch model), and the nested Python structure around the tensors (dicts and their order, lists,
tuples, numbers, strings, None) is JSON in the header's ``__metadata__``.

``load`` also reads plain safetensors files and PyTorch's own zip-format ``torch.save`` files; the
latter through a restricted unpickler that resolves only the weights-only globals (OrderedDict,
the tensor rebuild functions and storage types) and rejects everything else.

A whole ``nn.Module`` (``torch.save(model, PATH)``) is stored as data too: its class's module and
qualified name, and its attributes (parameters and buffers as safetensors entries named as in its
``state_dict``). ``load`` rebuilds it only with ``weights_only=False`` (as torch, which refuses
modules by default): it imports the named class, which must be an ``nn.Module`` subclass, creates
the object without calling ``__init__`` and restores its attributes, as pickle would, but nothing
else in the file can name code.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections import OrderedDict

from . import _C
from ._C import Tensor
from ._lazy import np

__all__ = ["load", "save"]

_META_KEY = "ferrotorch"
_FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------------------
# save


def _encode(obj, path, tensors, seen):
    """The JSON node for ``obj``; tensors are collected as (name, tensor) under their dotted path."""
    if isinstance(obj, Tensor):
        base = ".".join(path) if path else "tensor"
        name, n = base, 1
        while name in seen:
            name = f"{base}#{n}"
            n += 1
        seen.add(name)
        tensors.append((name, obj.detach()))
        node = {"__t__": name}
        if type(obj).__name__ == "Parameter":
            node["p"] = bool(obj.requires_grad)
        elif obj.requires_grad:
            node["rg"] = True
        return node
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    from .nn import Module

    if isinstance(obj, Module):
        cls = type(obj)
        if "<locals>" in cls.__qualname__:  # load could not find the class by name (pickle's error)
            raise AttributeError(f"Can't pickle local object '{cls.__qualname__}'")
        state = []
        for k, v in vars(obj).items():
            # parameters, buffers and submodules are named as in the state_dict
            sub = path if k in ("_parameters", "_buffers", "_modules") else path + [k]
            try:
                state.append([k, _encode(v, sub, tensors, seen)])
            except TypeError as e:
                raise TypeError(f"ferrotorch.save: {cls.__name__}.{k}: {e}") from None
        return {"__m__": [cls.__module__, cls.__qualname__], "s": state}
    if isinstance(obj, (set, frozenset)):
        return {"__s__": [_encode_key(v) for v in obj], "f": isinstance(obj, frozenset)}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            items.append([_encode_key(k), _encode(v, path + [str(k)], tensors, seen)])
        node = {"__d__": items}
        if isinstance(obj, OrderedDict):
            node["od"] = True
        meta = getattr(obj, "_metadata", None)
        if isinstance(meta, dict):
            node["m"] = _encode(meta, path + ["_metadata"], tensors, seen)
        return node
    if isinstance(obj, list):
        return {"__l__": [_encode(v, path + [str(i)], tensors, seen) for i, v in enumerate(obj)]}
    if isinstance(obj, tuple):
        return {"__u__": [_encode(v, path + [str(i)], tensors, seen) for i, v in enumerate(obj)]}
    if isinstance(obj, _C.dtype):
        return {"__dtype__": str(obj).replace("torch.", "")}
    _unsupported(obj)


def _encode_key(k):
    if k is None or isinstance(k, (bool, int, float, str)):
        return k
    if isinstance(k, tuple):
        return {"__u__": [_encode_key(x) for x in k]}
    raise TypeError(
        f"ferrotorch.save cannot save a dict key of type {type(k).__name__}: use str, int or float keys"
    )


def _unsupported(obj):
    raise TypeError(
        f"ferrotorch.save cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__}: "
        "only tensors, dicts (state_dicts), lists, tuples, numbers, strings and None can be saved"
    )


def save(
    obj,
    f,
    pickle_module=None,
    pickle_protocol=2,
    _use_new_zipfile_serialization=True,
    _disable_byteorder_record=False,
):
    r"""Save ``obj`` (tensors and nested dicts/lists/tuples of tensors, numbers and strings) to ``f``.

    ``f`` is a path or a writable binary file object (e.g. ``io.BytesIO``). The file is safetensors.
    """
    tensors, seen = [], set()
    structure = _encode(obj, [], tensors, seen)
    meta = {"format": "pt", _META_KEY: json.dumps({"version": _FORMAT_VERSION, "obj": structure})}
    data = _C._safetensors_save(tensors, list(meta.items()))
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    else:
        f.write(data)


# ----------------------------------------------------------------------------------------------
# load


def _bad(msg):
    return RuntimeError(f"invalid ferrotorch checkpoint: {msg}")


def _module_class(ref, weights_only):
    from .nn import Module

    if not (isinstance(ref, list) and len(ref) == 2 and all(isinstance(x, str) for x in ref)):
        raise _bad(f"bad module class reference {str(ref)[:80]!r}")
    name = f"{ref[0]}.{ref[1]}"
    if weights_only:
        raise pickle.UnpicklingError(
            "Weights only load failed. This file can still be loaded, to do so you have two options, do those "
            "steps only if you trust the source of the checkpoint. \n\t(1) Re-running `torch.load` with "
            "`weights_only` set to `False` will likely succeed, but it can result in arbitrary code execution "
            "(ferrotorch imports the module that defines the saved class). Do it only if you got the file from "
            "a trusted source.\n\t(2) Alternatively, save and load the model's state_dict() instead.\n\t"
            f"WeightsUnpickler error: Unsupported global: GLOBAL {name} was not an allowed global by default."
        )
    import importlib
    import sys

    try:
        obj = sys.modules.get(ref[0]) or importlib.import_module(ref[0])
        for part in ref[1].split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise AttributeError(f"Can't get attribute '{ref[1]}' on module '{ref[0]}' ({e})") from None
    if not (isinstance(obj, type) and issubclass(obj, Module)):
        raise _bad(f"{name} is not an nn.Module subclass")
    return obj


def _decode(node, tensors, depth=0, weights_only=True):
    if depth > 200:
        raise _bad("the structure is nested too deeply")
    if isinstance(node, dict) and "__m__" in node:
        cls = _module_class(node["__m__"], weights_only)
        state = node.get("s")
        if not isinstance(state, list):
            raise _bad("a module node has no attribute list")
        obj = cls.__new__(cls)
        for pair in state:
            if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
                raise _bad("a module node's attributes are not (name, value) pairs")
            obj.__dict__[pair[0]] = _decode(pair[1], tensors, depth + 1, weights_only)
        return obj
    if isinstance(node, dict) and "__s__" in node and isinstance(node["__s__"], list):
        try:
            items = [_decode(v, tensors, depth + 1, weights_only) for v in node["__s__"]]
            return frozenset(items) if node.get("f") else set(items)
        except TypeError as e:
            raise _bad(f"unhashable set item: {e}") from None
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict):
        if "__t__" in node:
            name = node["__t__"]
            if not isinstance(name, str) or name not in tensors:
                raise _bad(f"the structure refers to a tensor {name!r} that is not in the file")
            t = tensors[name]
            if "p" in node:
                from .nn import Parameter

                return Parameter(t, requires_grad=bool(node["p"]))
            if node.get("rg"):
                t.requires_grad_(True)
            return t
        if "__d__" in node:
            items = node["__d__"]
            if not isinstance(items, list):
                raise _bad("a dict node is not a list of pairs")
            out = OrderedDict() if node.get("od") else {}
            for pair in items:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _bad("a dict node is not a list of pairs")
                k = _decode(pair[0], tensors, depth + 1, weights_only)
                try:
                    out[k] = _decode(pair[1], tensors, depth + 1, weights_only)
                except TypeError as e:
                    raise _bad(f"unhashable dict key: {e}") from None
            if "m" in node:
                out._metadata = _decode(node["m"], tensors, depth + 1, weights_only)
            return out
        if "__l__" in node and isinstance(node["__l__"], list):
            return [_decode(v, tensors, depth + 1, weights_only) for v in node["__l__"]]
        if "__u__" in node and isinstance(node["__u__"], list):
            return tuple(_decode(v, tensors, depth + 1, weights_only) for v in node["__u__"])
        if "__dtype__" in node:
            dt = getattr(_C, str(node["__dtype__"]), None)
            if not isinstance(dt, _C.dtype):
                raise _bad(f"unknown dtype {node['__dtype__']!r}")
            return dt
    raise _bad(f"unknown structure node {str(node)[:80]!r}")


def _read_all(f):
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return fh.read()
    if hasattr(f, "read"):
        data = f.read()
        if isinstance(data, str):
            raise TypeError("torch.load needs a file opened in binary mode ('rb')")
        return bytes(data)
    raise TypeError(f"torch.load expects a path or a binary file object, not {type(f).__name__}")


def _check_map_location(map_location):
    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return
    s = str(map_location)
    if not (s == "cpu" or s.startswith("cpu:")):
        raise RuntimeError(
            f"ferrotorch runs on the CPU only: cannot map tensors to {s!r} (use map_location='cpu')"
        )


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    r"""Load an object saved with :func:`save`, a safetensors file, or a PyTorch zip checkpoint.

    No pickle is ever executed. A whole saved ``nn.Module`` loads only with ``weights_only=False``
    (its class is imported by name, as torch's unpickler would); everything else loads either way.
    """
    _check_map_location(map_location)
    data = _read_all(f)
    if data[:4] == b"PK\x03\x04":
        return _load_torch_zip(data)
    # torch's legacy (pre-1.6) format starts with a pickled magic number (a PROTO opcode), which
    # read as a safetensors header length is absurd
    if data[:1] == b"\x80" and len(data) >= 8 and int.from_bytes(data[:8], "little") > len(data):
        raise RuntimeError(
            "this looks like a legacy (non-zip) PyTorch checkpoint, which ferrotorch cannot read "
            "safely; re-save it with a current torch.save"
        )
    entries, meta = _C._safetensors_load(data)
    tensors = dict(entries)
    if meta and _META_KEY in meta:
        try:
            doc = json.loads(meta[_META_KEY])
        except (ValueError, RecursionError) as e:
            raise _bad(f"the structure metadata is not valid JSON ({e})") from None
        if not isinstance(doc, dict) or "obj" not in doc:
            raise _bad("the structure metadata has no 'obj'")
        try:
            return _decode(doc["obj"], tensors, weights_only=weights_only is not False)
        except RecursionError:
            raise _bad("the structure is nested too deeply") from None
    return OrderedDict(entries)


# ----------------------------------------------------------------------------------------------
# PyTorch's zip format, through a restricted unpickler


_STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "HalfStorage": "float16",
    "ShortStorage": "int16",
    "CharStorage": "int8",
}


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.np_dtype = np.dtype(_STORAGE_DTYPES[name])


def _to_tensor(arr):
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype in (np.int16, np.int8):
        arr = arr.astype(np.int32)
    # copy(order='C') keeps 0-d arrays 0-d (ascontiguousarray would make them 1-d)
    return _C.from_numpy(arr.copy(order="C"))


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("torch checkpoint: tensor storage is not a storage")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if (
        len(size) != len(stride)
        or any(s < 0 for s in size)
        or any(s < 0 for s in stride)
        or storage_offset < 0
    ):
        raise pickle.UnpicklingError("torch checkpoint: invalid tensor size/stride")
    numel = 1
    for s in size:
        numel *= s
    if numel > 0:
        last = storage_offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= storage.size:
            raise pickle.UnpicklingError(
                f"torch checkpoint: tensor of size {list(size)} at offset {storage_offset} runs past its "
                f"storage of {storage.size} elements"
            )
        item = storage.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage[storage_offset:], shape=size, strides=[st * item for st in stride], writeable=False
        )
        arr = np.array(view, copy=True)
    else:
        arr = np.zeros(size, dtype=storage.dtype)
    t = _to_tensor(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks=None, *args):
    from .nn import Parameter

    return Parameter(data, requires_grad=bool(requires_grad))


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals of torch's weights-only subset; refuses everything else."""

    def __init__(self, file, zf, prefix, byteorder):
        super().__init__(file)
        self._zf = zf
        self._prefix = prefix
        self._byteorder = byteorder
        self._storages = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and name == "Size":
            return tuple
        raise pickle.UnpicklingError(
            f"Weights only load failed: the checkpoint needs the global '{module}.{name}', which "
            "ferrotorch's restricted reader does not allow (only OrderedDict, tensors and storages are "
            "accepted; no code from a checkpoint is ever run)"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"torch checkpoint: unsupported persistent id {str(pid)[:60]!r}")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError("torch checkpoint: unsupported storage type")
        key = str(key)
        if key in self._storages:
            return self._storages[key]
        member = f"{self._prefix}data/{key}"
        try:
            info = self._zf.getinfo(member)
        except KeyError:
            raise pickle.UnpicklingError(f"torch checkpoint: missing storage record {member!r}") from None
        item = np.dtype(stype.np_dtype).itemsize
        if not isinstance(numel, int) or numel < 0 or info.file_size != numel * item:
            raise pickle.UnpicklingError(
                f"torch checkpoint: storage {key} holds {info.file_size} bytes, not {numel} x {item}"
            )
        raw = self._zf.read(member)
        dt = np.dtype(stype.np_dtype).newbyteorder("<" if self._byteorder == "little" else ">")
        arr = np.frombuffer(raw, dtype=dt).astype(np.dtype(stype.np_dtype).newbyteorder("="))
        self._storages[key] = arr
        return arr


def _load_torch_zip(data):
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise RuntimeError(f"PytorchStreamReader failed reading zip archive: {e}") from None
    with zf:
        pkl = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")
        prefix = pkl[0][: -len("data.pkl")]
        for info in zf.infolist():
            # torch stores records uncompressed; refuse anything that would expand past the file
            if info.file_size > len(data):
                raise RuntimeError(
                    f"torch checkpoint: record {info.filename!r} claims {info.file_size} bytes"
                )
        byteorder = "little"
        if f"{prefix}byteorder" in zf.namelist():
            byteorder = zf.read(f"{prefix}byteorder").decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                raise RuntimeError(f"torch checkpoint: unknown byteorder {byteorder!r}")
        up = _RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), zf, prefix, byteorder)
        try:
            return up.load()
        except pickle.UnpicklingError:
            raise
        except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
            raise pickle.UnpicklingError(
                f"torch checkpoint: corrupt pickle ({type(e).__name__}: {e})"
            ) from None
