"""The example scripts run, learn, and print what PyTorch prints for the same script.

Goldens: tests/golden/<example>.torch.txt, written by tests/golden/make_examples_golden.sh with real
PyTorch. Each script asserts that its model learned; the CIFAR script is checked on its accuracy.
"""

import functools
import math
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if (GOLDEN / f"{p.stem}.torch.txt").exists())

# Examples whose full-precision numbers still differ from PyTorch's in the last bits, and why. The
# byte-for-byte test is a strict xfail for them (it fails loudly once the cause is fixed, so the entry
# gets removed); the tolerant comparison below must pass for every example.
# Examples whose output may differ from PyTorch's in the last printed bits (name -> why); empty since
# float32 sums/means and arange follow torch's own order (src/kernels/sum_order.rs, ops/creation.rs).
LAST_BIT_DIFFERENCES: dict[str, str] = {}


@functools.lru_cache(maxsize=None)
def _run(script: pathlib.Path) -> str:
    env = {"MPLBACKEND": "Agg", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _exact_params():
    for p in EXAMPLES:
        reason = LAST_BIT_DIFFERENCES.get(p.stem)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(p, marks=marks, id=p.stem)


@pytest.mark.parametrize("script", list(_exact_params()))
def test_example_output_equals_pytorch(script):
    assert _run(script) == (GOLDEN / f"{script.stem}.torch.txt").read_text()


_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def _split(text):
    """The text with every decimal number replaced by a marker, and the numbers."""
    return _NUMBER.sub("#", text), [float(m) for m in _NUMBER.findall(text)]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_output_matches_pytorch_to_float32_rounding(script):
    got_text, got = _split(_run(script))
    want_text, want = _split((GOLDEN / f"{script.stem}.torch.txt").read_text())
    assert got_text == want_text
    bad = [(g, w) for g, w in zip(got, want) if not math.isclose(g, w, rel_tol=1e-5, abs_tol=1e-7)]
    assert not bad, f"numbers differ from PyTorch's beyond float32 rounding: {bad[:5]}"


def test_cifar10_convnet_learns():
    """The CIFAR tutorial script on the bundled digits (CIFAR-10 format): 2 epochs, well above chance."""
    script = ROOT / "examples" / "cifar10_convnet.py"
    env = dict(os.environ, MPLBACKEND="Agg", EPOCHS="2")
    env.pop("CIFAR10_ROOT", None)
    env.pop("SUBSET", None)
    started = time.time()
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert "1500 training images, 297 test images, 10 classes" in out.stdout
    assert "epoch 2/2:" in out.stdout and "epochs: 100%" in out.stderr  # the loop and its tqdm bars ran
    acc = float(re.search(r"final validation accuracy: ([0-9.]+)", out.stdout).group(1))
    assert acc > 0.7, out.stdout  # chance is 0.1
    plot = (ROOT / "examples" / "cifar10_convnet_loss.png").stat()
    assert plot.st_size > 1000 and plot.st_mtime >= started - 1
