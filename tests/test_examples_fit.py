"""The `fit` versions of the tutorials run, learn, and agree with the eager versions."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def run(name, **env):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MPLBACKEND": "Agg", **env},
        cwd=EXAMPLES,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ferrotorch.fit: running the eager loop" not in out.stderr, out.stderr
    return out.stdout


def test_linear_regression_fit_prints_the_eager_losses():
    fit_lines = [ln for ln in run("linear_regression_fit.py").splitlines() if ln.startswith("Epoch:")]
    eager = run("linear_regression_scratch.py")
    # the eager tutorial prints the loss tensors; fit prints the same values rounded
    eager_lines = [ln for ln in eager.splitlines() if ln.startswith("Epoch:")]
    assert len(fit_lines) == len(eager_lines) == 20
    for f, e in zip(fit_lines, eager_lines):
        train_e = float(e.split("Train Loss: ")[1].split(" |")[0])
        test_e = float(e.split("Test Loss: ")[1].split()[0])
        assert f == f"Epoch: {e.split()[1]} | MAE Train Loss: {train_e:.4f} | MAE Test Loss: {test_e:.4f}"


def test_tabular_mlp_fit_learns():
    assert "test accuracy" in run("tabular_mlp_fit.py")


@pytest.mark.parametrize("name", ["cifar10_convnet_fit.py"])
def test_cifar_fit_learns(name):
    out = run(name, EPOCHS="2", SUBSET="1024")
    assert "images/s" in out and "final validation accuracy" in out
