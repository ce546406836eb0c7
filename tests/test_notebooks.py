"""Every example notebook runs top to bottom in a Jupyter kernel and its model learns.

The notebooks are generated from the example scripts (tools/make_notebooks.py); one test checks that
they are up to date and carry no outputs. The CIFAR notebook runs with EPOCHS=2 (environment variable).
"""

import json
import pathlib
import re
import subprocess
import sys

import pytest

nbformat = pytest.importorskip(
    "nbformat", reason="the notebook tests need the test extra (nbformat, nbclient)"
)
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_notebooks_are_generated_from_the_scripts_and_stripped():
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_notebooks.py"), "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr + "\nrun: python tools/make_notebooks.py"
    assert {p.stem for p in NOTEBOOKS} >= {"linear_regression_scratch", "tabular_mlp", "cifar10_convnet"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert all(
            not c.get("outputs") and c.get("execution_count") is None
            for c in nb.cells
            if c.cell_type == "code"
        )


def _execute(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("EPOCHS", "2")
    monkeypatch.delenv("CIFAR10_ROOT", raising=False)
    monkeypatch.delenv("SUBSET", raising=False)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute()  # raises CellExecutionError (with the traceback) if any cell fails, e.g. "did not learn"
    return "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream" and o.name == "stdout"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_learns(path, monkeypatch):
    stdout = _execute(path, monkeypatch)
    if path.stem == "linear_regression_scratch":
        learned = re.findall(
            r"OrderedDict\(\[\('weights', tensor\(\[([0-9.]+)\]\)\), \('bias', tensor\(\[([0-9.]+)\]\)\)\]\)",
            stdout,
        )[-1]
        assert abs(float(learned[0]) - 0.7) < 0.02 and abs(float(learned[1]) - 0.3) < 0.02, stdout
    elif path.stem == "tabular_mlp":
        assert float(re.search(r"test accuracy: ([0-9.]+)", stdout).group(1)) > 0.9, stdout
    elif path.stem == "cifar10_convnet":
        assert "epoch 2/2:" in stdout
        assert float(re.search(r"final validation accuracy: ([0-9.]+)", stdout).group(1)) > 0.7, stdout
    else:  # a notebook added later (e.g. a fit version) must at least end its run with a learning check
        assert "assert" in json.dumps(nbformat.read(path, as_version=4).cells[-1].source)
