"""Writes examples/<name>.ipynb from examples/<name>.py, so each notebook is its script, cell by cell.

A script marks cells the way Jupyter/VS Code "percent" scripts do: ``# %%`` starts a code cell and
``# %% [markdown]`` a markdown cell whose lines are comments. The module docstring becomes the first
markdown cell. Outputs are empty. Run ``python tools/make_notebooks.py`` after editing an example;
``--check`` only reports notebooks that are out of date (tests/test_notebooks.py runs it).
"""

from __future__ import annotations

import argparse
import ast
import json
import pathlib
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _cell(kind: str, lines: list[str], index: int) -> dict:
    source = [line + "\n" for line in lines]
    if source:
        source[-1] = source[-1][:-1]
    cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(script: pathlib.Path) -> dict:
    text = script.read_text()
    doc = ast.get_docstring(ast.parse(text), clean=True)
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("# %%"))
    cells = []
    if doc:
        title, _, rest = doc.partition("\n")
        cells.append(("markdown", [f"# {title}", "", *_trim(rest.splitlines())]))
    kind, body = None, []
    for line in lines[first:] + ["# %%"]:
        if line.startswith("# %%"):
            if kind is not None and _trim(body):
                cells.append((kind, _trim(body)))
            kind, body = ("markdown" if "[markdown]" in line else "code"), []
        elif kind == "markdown":
            body.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        else:
            body.append(line)
    return {
        "cells": [_cell(k, b, i) for i, (k, b) in enumerate(cells)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(script: pathlib.Path) -> str:
    return json.dumps(notebook(script), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def scripts() -> list[pathlib.Path]:
    """Every example script with cell markers."""
    return sorted(p for p in EXAMPLES.glob("*.py") if "\n# %%" in p.read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report out-of-date notebooks, write nothing")
    args = ap.parse_args(argv)
    stale = []
    for script in scripts():
        target, text = script.with_suffix(".ipynb"), render(script)
        if target.exists() and target.read_text() == text:
            continue
        stale.append(target.name)
        if not args.check:
            target.write_text(text)
    if stale:
        print(("out of date: " if args.check else "wrote: ") + ", ".join(stale))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
