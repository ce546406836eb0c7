"""The README's main demo trains the CIFAR tutorial ConvNet on the bundled data and learns."""

import re
import subprocess
import sys

import pytest


@pytest.mark.parametrize("mode", [[], ["--fit"]], ids=["eager", "fit"])
def test_demo_learns(tmp_path, mode):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ferrotorch.demo",
            "--epochs",
            "3",
            "--root",
            str(tmp_path),
            "--plot",
            str(tmp_path / "loss.png"),
            *mode,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "images/s" in out.stdout
    assert "ferrotorch.fit: running the eager loop" not in out.stderr
    acc = float(re.search(r"final validation accuracy: ([0-9.]+)", out.stdout).group(1))
    assert acc > 0.8, out.stdout
    assert (tmp_path / "cifar-10-batches-py" / "test_batch").exists()
    pytest.importorskip("matplotlib")
    assert (tmp_path / "loss.png").stat().st_size > 0, out.stdout
