"""Benchmarks that need a fresh interpreter per sample: `import` time and peak memory of a training epoch.

Children run under the same interpreter with PYTHONPATH pointing at the ferrotorch being measured, and
the two libraries alternate sample by sample.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from harness import ENV, Case, Measurement

HERE = os.path.dirname(os.path.abspath(__file__))
MEMORY_BATCHES, QUICK_MEMORY_BATCHES = 200, 20


def _child_env(ctx):
    ft_dir = os.path.dirname(os.path.dirname(os.path.abspath(ctx.libs["ferrotorch"].__file__)))
    path = os.pathsep.join(p for p in (ft_dir, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, **ENV, PYTHONPATH=path, PYTHONWARNINGS="ignore")
    # pip compiles an installed wheel's bytecode; an editable checkout gets its __pycache__ from the
    # first (untimed) import, unless PYTHONDONTWRITEBYTECODE forbids it and every import recompiles
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(args, env):
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=HERE)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def _alternate(ctx, reps, sample):
    names = list(ctx.present)
    samples = {n: [] for n in names}
    for r in range(reps):
        for n in names if r % 2 == 0 else names[::-1]:
            samples[n].append(sample(n))
    return samples


IMPORT_CODE = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"


def measure_import(ctx):
    env = _child_env(ctx)
    for name in ctx.present:  # warm the page cache once, untimed
        _run(["-c", IMPORT_CODE.format(name)], env)
    samples = _alternate(
        ctx, 3 if ctx.quick else 9, lambda n: float(_run(["-c", IMPORT_CODE.format(n)], env))
    )
    return Measurement({n: statistics.median(v) for n, v in samples.items()}, samples)


def measure_memory(ctx):
    env = _child_env(ctx)
    batches = QUICK_MEMORY_BATCHES if ctx.quick else MEMORY_BATCHES
    script = os.path.join(HERE, "peak_memory.py")
    runs = _alternate(
        ctx,
        1 if ctx.quick else 3,
        lambda n: json.loads(_run([script, n, str(ctx.threads), str(batches)], env)),
    )
    samples = {n: [r["growth"] for r in v] for n, v in runs.items()}
    values = {n: statistics.median(v) for n, v in samples.items()}
    note = f"{batches} batches of 64; post-import RSS " + ", ".join(
        f"{n} {statistics.median(r['baseline'] for r in v) / 2**20:.0f} MB" for n, v in runs.items()
    )
    return Measurement(values, samples, unit="bytes", note=note)


CASES = [
    Case("import", "import time", 0.05, custom=measure_import, threadless=True),
    Case("peak_memory", "peak memory, ConvNet training epoch", 0.5, custom=measure_memory, per_thread=False),
]
