"""The wheel a user installs: one abi3 wheel of at most 10 MB that works in a venv holding only NumPy.

Builds with ``maturin build --release`` into a temporary folder, reusing the project's cargo target
folder (so after ``pip install -e .`` only the wheel packing is new work), installs the wheel into a
fresh virtual environment with NumPy and nothing else, and checks the import time, a few ops and the
demo there.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import venv
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_WHEEL_BYTES = 10 * 1024 * 1024
MAX_IMPORT_SECONDS = 0.2


def _maturin():
    here = pathlib.Path(sys.executable).parent / "maturin"
    found = str(here) if here.exists() else shutil.which("maturin")
    assert found, "maturin is not installed: pip install -e '.[test]' brings it"
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    out = subprocess.run(
        [_maturin(), "build", "--release", "--interpreter", sys.executable, "--out", str(dist)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def env(wheel, tmp_path_factory):
    """A fresh venv (no pip of its own) with NumPy and the wheel installed by this interpreter's pip."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--disable-pip-version-check",
            "numpy",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return python


def _run(python, *args, cwd):
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    out = subprocess.run(
        [str(python), *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=clean
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout


@pytest.mark.timeout(1800)
def test_one_small_abi3_wheel_with_stubs(wheel):
    assert wheel.name.startswith("ferrotorch-") and "-cp310-abi3-" in wheel.name, wheel.name
    assert wheel.stat().st_size <= MAX_WHEEL_BYTES, f"{wheel.name} is {wheel.stat().st_size / 2**20:.1f} MB"
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "ferrotorch/_C.abi3.so",
        "ferrotorch/_C.pyi",
        "ferrotorch/py.typed",
        "ferrotorch/__init__.py",
        "ferrotorch/demo/data/digits.csv.gz",
        "ferrotorch/demo/data/LICENSE-digits.txt",
    ):
        assert required in names, required
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


@pytest.mark.timeout(1800)
def test_installs_next_to_numpy_only_and_imports_fast(env, tmp_path):
    listed = _run(
        env,
        "-c",
        "import importlib.metadata as m; print(sorted(d.metadata['Name'].lower() "
        "for d in m.distributions()))",
        cwd=tmp_path,
    )
    assert listed.strip() == "['ferrotorch', 'numpy']", listed
    probe = "import time; t = time.perf_counter(); import ferrotorch; print(time.perf_counter() - t, ferrotorch.__file__)"
    runs = [_run(env, "-c", probe, cwd=tmp_path).split() for _ in range(5)]
    assert all(pathlib.Path(f).is_relative_to(env.parent.parent) for _, f in runs), (
        runs
    )  # the wheel, not the tree
    best = min(float(s) for s, _ in runs)
    assert best < MAX_IMPORT_SECONDS, f"import ferrotorch took {best:.3f} s (best of 5)"
    ops = (
        "import ferrotorch as torch\n"
        "x = torch.arange(6.0).reshape(2, 3).requires_grad_()\n"
        "(x * x).sum().backward()\n"
        "assert x.grad.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]], x.grad\n"
        "print(torch.nn.Linear(3, 1)(x).shape, torch.tensor([1, 2]).numpy().dtype)\n"
    )
    assert _run(env, "-c", ops, cwd=tmp_path).strip() == "torch.Size([2, 1]) int64"


@pytest.mark.timeout(1800)
def test_demo_runs_from_the_installed_wheel(env, tmp_path):
    out = _run(env, "-m", "ferrotorch.demo", "--epochs", "1", "--root", str(tmp_path), cwd=tmp_path)
    assert "images/s" in out and "final validation accuracy" in out, out
