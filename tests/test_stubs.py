"""The type stubs of the extension (python/ferrotorch/_C.pyi) match the built module.

tools/gen_stubs.py writes them from the module's pyo3 text signatures; mypy's stubtest checks every
name, signature, property and class marker against the runtime. After changing a binding run
``maturin develop --release && python tools/gen_stubs.py``.
"""

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("mypy", reason="the stub test needs the test extra (mypy)")

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = "regenerate them: maturin develop --release && python tools/gen_stubs.py"


def test_stubs_are_generated_from_the_built_module():
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_stubs.py"), "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, f"{out.stdout}{out.stderr}\n_C.pyi is out of date: {FIX}"


def test_stubtest_passes(tmp_path):
    # Run outside the repository so mypy's cache does not land in the work tree.
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "ferrotorch._C"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=240,
    )
    assert out.returncode == 0, f"{out.stdout}{out.stderr}\n{FIX}"
    assert "Success" in out.stdout


def test_package_is_marked_typed():
    assert (ROOT / "python" / "ferrotorch" / "py.typed").exists()
