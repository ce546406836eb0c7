"""Writes tools/torch_api_names.json: the public names of PyTorch's user-facing modules.

Run with a real PyTorch + torchvision (never needed by ferrotorch or its tests):

    /path/to/torch-venv/bin/python tools/dump_torch_api_names.py

Each module's names are split into the ones a tutorial user meets (``names``) and the ones left out,
grouped by the reason (``excluded``), so tools/api_coverage.py can say what it does not count.
"""

from __future__ import annotations

import inspect
import json
import pathlib
import re
import types

import torch
import torch.nn
import torch.nn.functional
import torch.optim
import torch.utils.data
import torchvision
import torchvision.datasets
import torchvision.transforms

OUT = pathlib.Path(__file__).resolve().parent / "torch_api_names.json"

MODULES = {
    "torch": torch,
    "torch.Tensor": torch.Tensor,
    "torch.nn": torch.nn,
    "torch.nn.functional": torch.nn.functional,
    "torch.optim": torch.optim,
    "torch.utils.data": torch.utils.data,
    "torchvision.datasets": torchvision.datasets,
    "torchvision.transforms": torchvision.transforms,
}

# Submodules a tutorial user reaches through the module (others are implementation files or internals).
USER_SUBMODULES = {
    "torch": {
        "autograd",
        "backends",
        "cuda",
        "distributions",
        "fft",
        "hub",
        "linalg",
        "nn",
        "optim",
        "random",
        "special",
        "testing",
        "utils",
    },
    "torch.nn": {"functional", "init", "parameter", "utils"},
    "torch.optim": {"lr_scheduler", "swa_utils"},
    "torchvision.transforms": {"functional"},
}

# (reason, pattern on the name) in order; the first match wins.
RULES = [
    (
        "compiler, TorchScript and symbolic shapes",
        r"^(sym_|Sym)|jit|script|^fx$|^export|^compiled_with|^vmap$|while_loop|"
        r"^cond$|^classproperty$|^Tag$|^DispatchKey|torch_function|TorchFunction",
    ),
    (
        "accelerators (CUDA, MPS, XPU, cuDNN, MKL-DNN, ...)",
        r"cuda|cudnn|miopen|mkldnn|(^|_)(mps|xpu|mtia|hip|hpu|xla|ipu)($|_)|rocm|vulkan|fbgemm|^has_|accelerator|"
        r"pin_memory|^Stream$|^Event$|OutOfMemoryError|^AcceleratorError$",
    ),
    ("distributed and multi-device", r"distributed|rpc|c10d|DataParallel|SyncBatchNorm|DistributedSampler"),
    (
        "quantization",
        r"quantiz|fake_quant|^is_quantized$|qint|quint|qscheme|per_tensor|per_channel|int_repr|(^|_)q_|QUInt|QInt",
    ),
    (
        "sparse layouts",
        r"sparse|(^|_)(coo|csr|csc|bsr|bsc)(_|$)|to_dense|^values$|^indices$|crow_|ccol_|row_indices|col_indices",
    ),
    ("legacy storage classes", r"Storage"),
    ("float8 and sub-byte dtypes", r"^(float8_|float4_|bits\d|u?int[1-7]$)"),
    (
        "DataPipes (deprecated)",
        r"DataPipe|datapipe|DataChunk|runtime_validation|argument_validation|non_deterministic",
    ),
    ("automatic mixed precision", r"^(autocast|GradScaler|amp)$|autocast"),
    (
        "internal kernels exposed for other libraries",
        r"^(native_|batch_norm_(backward|elemt|gather|stats|update)|conv_tbc|segment_reduce|fused_|embedding_renorm_|"
        r"slice_inverse|get_file_path|prepare_multiprocessing_environment|profiler_allow|PRIVATE_OPS|USE_GLOBAL_DEPS|"
        r"USE_RTLD_GLOBAL|TYPE_CHECKING|annotations|LoggerBase|NoopLogger|LockingLogger|ThroughputBenchmark|"
        r"BenchmarkConfig|BenchmarkExecutionStats|handle_torch_function|boolean_dispatch|assert_int_or_pair|_notes$|"
        r"^DType$|^(Callable|Optional|Union|List|Tuple|Any|TypeVar|Generic|Iterable|Iterator|Sequence|Dict)$)",
    ),
]


def _reason(module_name: str, name: str, obj) -> str | None:
    if isinstance(obj, types.ModuleType):
        if not obj.__name__.startswith(("torch", "torchvision")):
            return "re-exported standard-library and typing modules"
        if name not in USER_SUBMODULES.get(module_name, set()):
            return "implementation submodules and internal packages"
    elif inspect.isclass(obj) and type(obj).__name__.startswith("pybind11"):
        return "TorchScript and C++ binding classes"
    elif getattr(obj, "__module__", None) in (
        "typing",
        "typing_extensions",
        "collections.abc",
        "abc",
        "enum",
    ):
        return "re-exported standard-library and typing modules"
    for reason, pattern in RULES:
        if re.search(pattern, name):
            return reason
    return None


def names_of(module_name: str, module) -> dict:
    kept, excluded = [], {}
    for name in sorted(dir(module)):
        if name.startswith("_"):
            continue
        try:
            obj = getattr(module, name)
        except Exception:  # a lazily imported attribute that fails here is not part of the CPU API
            continue
        reason = _reason(module_name, name, obj)
        if reason is None:
            kept.append(name)
        else:
            excluded.setdefault(reason, []).append(name)
    return {"names": kept, "excluded": dict(sorted(excluded.items()))}


def main() -> None:
    data = {
        "generated_by": "tools/dump_torch_api_names.py",
        "torch_version": torch.__version__.split("+")[0],
        "torchvision_version": torchvision.__version__.split("+")[0],
        "modules": {name: names_of(name, module) for name, module in MODULES.items()},
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    for name, entry in data["modules"].items():
        print(f"{name}: {len(entry['names'])} names, {sum(map(len, entry['excluded'].values()))} excluded")


if __name__ == "__main__":
    main()
