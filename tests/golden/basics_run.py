"""Runs one of examples/basics/*.py (scripts following PyTorch's "Learn the Basics" tutorials),
examples/blitz/*.py ("Deep Learning with PyTorch: A 60 Minute Blitz") or examples/with_examples/*.py ("Learning
PyTorch with Examples") the same way under ferrotorch and under real PyTorch + torchvision, for
tests/test_basics_tutorials.py, tests/test_blitz_tutorials.py, tests/test_with_examples_tutorials.py and
make_basics_golden.py.

Each script runs in a fresh directory holding data/FashionMNIST/raw (basics) or data/cifar-10-batches-py
(blitz): small synthetic files in the real idx / pickle formats, from data_files.py (with_examples reads no
files); after ``manual_seed(0)`` (the scripts draw random numbers without seeding) and, for with_examples,
``random.seed(0)`` (dynamic_net draws its control flow from Python's random), with matplotlib's Agg backend.
Under PyTorch the script's text has its import lines turned back into torch's.
"""

import contextlib
import os
import pathlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data_files import cifar_learnable_arrays, write_cifar10, write_fashion_mnist  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BASICS = ROOT / "examples" / "basics"
NAMES = [
    "quickstart_tutorial",
    "tensorqs_tutorial",
    "data_tutorial",
    "transforms_tutorial",
    "buildmodel_tutorial",
    "autogradqs_tutorial",
    "optimization_tutorial",
    "saveloadrun_tutorial",
]

BLITZ = ROOT / "examples" / "blitz"
BLITZ_NAMES = ["tensor_tutorial", "autograd_tutorial", "neural_networks_tutorial", "cifar10_tutorial"]
WITH_EXAMPLES = ROOT / "examples" / "with_examples"
WITH_EXAMPLES_NAMES = [
    "polynomial_tensor",
    "polynomial_autograd",
    "polynomial_custom_function",
    "polynomial_nn",
    "polynomial_optim",
    "polynomial_module",
    "dynamic_net",
]
SERIES = {
    "basics": (BASICS, NAMES),
    "blitz": (BLITZ, BLITZ_NAMES),
    "with_examples": (WITH_EXAMPLES, WITH_EXAMPLES_NAMES),
}

RUNNER = """import runpy, sys
import {lib} as torch
{prelude}torch.manual_seed(0)
runpy.run_path(sys.argv[1], run_name="__main__")
"""

# Real PyTorch's venv here has no matplotlib: there the data tutorial's plotting calls (which print nothing
# and draw no torch random numbers) go to this no-op stand-in. ferrotorch's runs use real matplotlib (Agg).
PYPLOT_SHIM = '''"""No-op stand-in for matplotlib.pyplot (matplotlib not installed where the goldens were made)."""
import numpy as _np
class _Any:
    def __call__(self, *args, **kwargs):
        for a in args:
            if hasattr(a, "__array__"):
                _np.asarray(a)
        return _Any()
    def __getattr__(self, name):
        return _Any()
def __getattr__(name):
    return _Any()
'''


def torch_source(text):
    """The script with ferrotorch's import lines turned back into PyTorch's."""
    return text.replace("ferrotorch.vision", "torchvision").replace("ferrotorch", "torch")


# The synthetic CIFAR-10 files are not the published ones, so under torchvision their MD5 check (which
# ferrotorch's CIFAR10 does not make) is replaced by the check that they exist.
CIFAR_EXISTS = """import os, torchvision.datasets.cifar as cifar
cifar.check_integrity = lambda fpath, md5=None: os.path.isfile(fpath)
"""
# "Pretrained" ResNet-18 weights in the hub cache ($TORCH_HOME/hub/checkpoints, under the file name torchvision
# downloads), written by the library under test from a seeded resnet18(): ``weights=ResNet18_Weights.DEFAULT``
# then reads them and downloads nothing.
RESNET_CACHE = """import os, {vision} as tv
torch.manual_seed(123)
os.makedirs(os.environ["TORCH_HOME"] + "/hub/checkpoints", exist_ok=True)
torch.save(tv.models.resnet18().state_dict(), os.environ["TORCH_HOME"] + "/hub/checkpoints/resnet18-f37072fd.pth")
"""


def run(name, python, lib, workdir, n_train=256, n_test=128, series="basics"):
    """stdout of examples/<series>/<name>.py run by ``python`` importing ``lib`` ("ferrotorch" or "torch")."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    folder = SERIES[series][0]
    prelude = ""
    if series == "blitz":
        write_cifar10(str(workdir / "data"), arrays=cifar_learnable_arrays(1000, 100))
        if lib == "torch":
            prelude += CIFAR_EXISTS
        if name == "autograd_tutorial":
            prelude += RESNET_CACHE.format(vision="torchvision" if lib == "torch" else "ferrotorch.vision")
    elif series == "with_examples":
        prelude += "import random\nrandom.seed(0)\n"
    else:
        write_fashion_mnist(str(workdir / "data"), n_train, n_test)
    script = folder / f"{name}.py"
    if lib == "torch":
        text = torch_source(script.read_text())
        script = workdir / f"{name}.py"
        script.write_text(text)
    env = {"MPLBACKEND": "Agg", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"}
    env["TORCH_HOME"] = str(workdir / "torch_home")
    shim = workdir / "shim"
    if subprocess.run([python, "-c", "import matplotlib"], capture_output=True, env=env).returncode != 0:
        (shim / "matplotlib").mkdir(parents=True, exist_ok=True)
        (shim / "matplotlib" / "__init__.py").write_text("")
        (shim / "matplotlib" / "pyplot.py").write_text(PYPLOT_SHIM)
        env["PYTHONPATH"] = str(shim)
    code = RUNNER.format(lib=lib, prelude=prelude)
    out = subprocess.run(
        [python, "-c", code, str(script)], capture_output=True, text=True, timeout=600, env=env, cwd=workdir
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed under {lib}:\n{out.stderr}")
    return out.stdout


@contextlib.contextmanager
def selected_outputs(request, tmp_path_factory, series):
    """For a test module's fixture: runs, two at a time in subprocesses, each script of `series` that the
    session's selected tests of that module name (their ``name`` parameter); yields name -> its stdout."""
    wanted = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.path == request.node.path and "name" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(
                run, name, sys.executable, "ferrotorch", tmp_path_factory.mktemp(name), series=series
            )
            for name in dict.fromkeys(wanted)
        }
        yield lambda name: futures[name].result()
