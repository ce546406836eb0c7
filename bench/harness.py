"""Timing machinery shared by every benchmark: library loading, thread settings, interleaved medians.

Both libraries share one process, so idle thread pools must not spin: PyTorch's OpenMP workers and
NumPy's OpenBLAS workers busy-wait after each op by default and would steal the cores the other
library's pool is about to use. `configure_environment()` tells both to sleep when idle; it must run
before numpy or torch is imported (bench/run.py calls it first thing).
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

ENV = {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"}


def configure_environment():
    for k, v in ENV.items():
        os.environ.setdefault(k, v)


def load_libraries():
    """{"ferrotorch": module, "torch": module or None}; PyTorch is optional."""
    import ferrotorch

    try:
        import torch
    except ImportError:
        torch = None
    return {"ferrotorch": ferrotorch, "torch": torch}


def set_threads(libs, n):
    for lib in libs.values():
        if lib is not None:
            lib.set_num_threads(n)


@dataclass
class Context:
    """What a benchmark needs to know about the run it is part of."""

    libs: dict
    threads: int
    quick: bool
    reps: int
    scratch: dict = field(default_factory=dict)  # shared across thread counts (e.g. written data files)

    @property
    def present(self):
        return {name: lib for name, lib in self.libs.items() if lib is not None}


@dataclass
class Measurement:
    """Median value per library (seconds, or bytes when unit == "bytes") plus the raw samples."""

    values: dict
    samples: dict
    unit: str = "s"
    work: float | None = None  # units of work per timed call, for rates (flop, images)
    note: str = ""
    preemptions: dict | None = None  # involuntary context switches per sample, per library
    foreign_load: dict | None = None  # other processes' CPU use (cores) during each kept sample


_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy():
    """CPU-seconds the whole machine has spent busy (from /proc/stat), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    return (sum(v) - v[3] - v[4]) / _HZ


def foreign_load(fn):
    """Runs `fn()`; returns (its result, CPU-seconds other processes used meanwhile per wall second)."""
    b0, own0, w0 = _machine_busy(), time.process_time(), time.perf_counter()
    r = fn()
    b1, own1, w1 = _machine_busy(), time.process_time(), time.perf_counter()
    if b0 is None:
        return r, 0.0
    # busy time comes in 10 ms ticks: allow two ticks of slack before blaming anyone else
    return r, max(0.0, (b1 - b0) - (own1 - own0) - 2 / _HZ) / max(w1 - w0, 1e-9)


def wait_idle(window=0.5, max_wait=60.0):
    """Waits (up to `max_wait` s) for a `window` in which other processes use < 5% of one core."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < max_wait:
        _, load = foreign_load(lambda: time.sleep(window))
        if load < 0.05:
            return time.perf_counter() - t0
    return time.perf_counter() - t0


def timed(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def interleaved(fns: dict[str, Callable[[], object]], number: int, reps: int, warmup: int | None = None):
    """Time each callable `reps` times (`number` calls per repetition, seconds per call), alternating the
    libraries repetition by repetition and flipping the order every repetition so neither always runs
    second; returns (medians, samples)."""
    warmup = max(1, number // 5) if warmup is None else warmup
    for f in fns.values():
        for _ in range(warmup):
            f()
    names = list(fns)
    samples = {n: [] for n in names}
    # as timeit does: collect once, then no collector during the repetitions. A gc.collect() before
    # every sample walked torch's ~10^6 objects (~80 ms) and left the next call cold: a fixed
    # ~0.3 ms penalty that swamped the sub-millisecond benchmarks (ferrotorch.fit on linreg)
    gc.collect()
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        _alternate(fns, names, number, reps, samples)
    finally:
        if gc_was_on:
            gc.enable()
    return {n: statistics.median(v) for n, v in samples.items()}, samples


def _alternate(fns, names, number, reps, samples):
    for r in range(reps):
        for n in names if r % 2 == 0 else names[::-1]:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
            # a sample during which other processes took a sizeable share of the cores is retaken
            # (the machine is shared; its 2 cores are what both libraries' pools count on)
            for _attempt in range(4):
                value, load = foreign_load(lambda n=n: timed(fns[n], number))
                if load < 0.15:
                    break
                wait_idle()
                fns[n]()  # warm again after the pause, as the other samples are
            samples[n].append(value)
            FOREIGN.setdefault(n, []).append(round(load, 3))
            # involuntary context switches: threads preempted (oversubscribed cores) during this sample
            PREEMPTIONS.setdefault(n, []).append(resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw - before)


PREEMPTIONS: dict = {}  # filled by `interleaved`, drained by Case.measure into the row's JSON
FOREIGN: dict = {}  # per sample: other processes' CPU use during it (cores), likewise


@dataclass
class Case:
    """One row of the table.

    `make(lib)` builds inputs outside the timing and returns the zero-argument callable that is timed
    (`number` calls per repetition; `quick_number` under --quick). Cases that are not a callable in this
    process (subprocesses, data files) set `custom(ctx) -> Measurement` instead.
    `rate(work, seconds)` turns a time into a throughput string (GFLOP/s, images/s).
    """

    key: str
    title: str
    target: float | None = None
    make: Callable | None = None
    number: int = 1
    quick_number: int | None = None
    custom: Callable | None = None
    work: float | None = None
    rate_unit: str | None = None
    per_thread: bool = True  # False: measured once, at the largest requested thread count
    threadless: bool = False  # True: thread count does not apply (import time)
    requires: Callable | None = None  # returns a reason string when the case cannot run here
    warmup: int | None = None  # calls before timing (default: a fifth of `number`, at least one)

    def measure(self, ctx: Context) -> Measurement:
        if self.custom is not None:
            return self.custom(ctx)
        number = (self.quick_number or max(1, self.number // 5)) if ctx.quick else self.number
        fns, notes = {}, []
        for name, lib in ctx.present.items():
            made = self.make(lib)  # a callable, or (callable, note) when setup has something to report
            fns[name], note = made if isinstance(made, tuple) else (made, "")
            notes += [note] if note else []
        PREEMPTIONS.clear()
        FOREIGN.clear()
        wait_idle()
        values, samples = interleaved(fns, number, ctx.reps, self.warmup)
        return Measurement(
            values,
            samples,
            work=self.work,
            note="; ".join(notes),
            preemptions=dict(PREEMPTIONS),
            foreign_load=dict(FOREIGN),
        )
