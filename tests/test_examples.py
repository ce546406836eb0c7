"""The examples run, learn, and print exactly what PyTorch prints for the same script."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if (GOLDEN / f"{p.stem}.torch.txt").exists())


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_output_equals_pytorch(script):
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (GOLDEN / f"{script.stem}.torch.txt").read_text()
