"""ferrotorch vs PyTorch benchmark suite: one command, both libraries side by side, ratios against targets.

    PYTHONPATH=python /opt/torchenv/bin/python bench/run.py                  # full run, 1 and 2 threads
    ... bench/run.py --quick -k conv -k matmul                               # development: subset, fewer reps
    ... bench/run.py --json bench/results.json --update-readme               # regenerate README's table
    ... bench/run.py --from-json bench/results.json --update-readme          # re-render a saved run

PyTorch is optional: without it only ferrotorch's times are printed. In-process benchmarks alternate
the two libraries repetition by repetition at equal thread counts (`torch.set_num_threads` and
`ferrotorch.set_num_threads`) and report medians; import time and peak memory use fresh subprocesses.
See bench/README.md for what each row measures.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import configure_environment  # noqa: E402

configure_environment()  # before numpy or torch is imported

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import cases_data  # noqa: E402
import cases_ops  # noqa: E402
import cases_process  # noqa: E402
import cases_train  # noqa: E402
import report  # noqa: E402
from harness import Context, load_libraries, set_threads  # noqa: E402

ALL_CASES = cases_ops.CASES + cases_train.CASES + cases_data.CASES + cases_process.CASES
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    return f"{os.cpu_count()}-core {model}"


def _git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=here
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _command():
    py = os.environ.get("PYTHONPATH")
    return (f"PYTHONPATH={py} " if py else "") + shlex.join([sys.executable, *sys.argv])


def select(cases, patterns):
    if not patterns:
        return list(cases)
    pats = [p.lower() for arg in patterns for p in arg.split(",") if p]
    return [c for c in cases if any(p in c.key.lower() or p in c.title.lower() for p in pats)]


def run_case(case, ctx):
    base = {
        "key": case.key,
        "title": case.title,
        "target": case.target,
        "rate_unit": case.rate_unit,
        "threads": None if case.threadless else ctx.threads,
        "loadavg": os.getloadavg()[0],
    }
    reason = case.requires(ctx) if case.requires else None
    if reason:
        return dict(base, skipped=reason)
    try:
        m = case.measure(ctx)
    except Exception as e:  # one broken benchmark must not hide the others
        traceback.print_exc()
        return dict(base, skipped=f"{type(e).__name__}: {e}".splitlines()[0][:120])
    ratio = m.values["ferrotorch"] / m.values["torch"] if m.values.get("torch") else None
    return dict(
        base,
        unit=m.unit,
        values=m.values,
        samples=m.samples,
        ratio=ratio,
        work=m.work if m.work is not None else case.work,
        note=m.note,
        preemptions=m.preemptions,
        foreign_load=m.foreign_load,
    )


def _progress(row):
    if row.get("skipped"):
        print(f"  {row['title']}: skipped ({row['skipped']})", flush=True)
        return
    v = row["values"]
    ratio = f"  ratio {row['ratio']:.3f}" if row["ratio"] is not None else ""
    print(
        f"  {row['title']}: ferrotorch {report.fmt_value(v['ferrotorch'], row['unit'])}"
        f"  PyTorch {report.fmt_value(v.get('torch'), row['unit'])}{ratio}",
        flush=True,
    )


def wait_for_quiet(limit, timeout_s):
    """Block until the 1-minute load average drops to `limit` (other processes would skew the timings)."""
    t0 = time.monotonic()
    while os.getloadavg()[0] > limit:
        if time.monotonic() - t0 > timeout_s:
            print(f"load average still {os.getloadavg()[0]:.2f} after {timeout_s:.0f} s: measuring anyway")
            return
        print(f"waiting for load average ≤ {limit} (now {os.getloadavg()[0]:.2f})", flush=True)
        time.sleep(30)


def measure_all(args, libs, cases):
    threads = sorted(set(args.threads))
    main = report.TARGET_THREADS if report.TARGET_THREADS in threads else max(threads)
    ctx = Context(libs, threads[0], args.quick, args.reps or (3 if args.quick else 7))
    rows = []
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    try:
        for n in threads:
            ctx.threads = n
            set_threads(libs, n)
            todo = [
                c for c in cases if (c.per_thread and not c.threadless) or (n == main and not c.per_thread)
            ]
            if n == main:
                todo += [c for c in cases if c.threadless]
            print(f"--- {n} thread{'s' if n > 1 else ''} (load average {os.getloadavg()[0]:.2f})", flush=True)
            for case in todo:
                rows.append(run_case(case, ctx))
                _progress(rows[-1])
    finally:
        for tmp in ctx.scratch.get("cleanup", []):
            tmp.cleanup()
    torch = libs["torch"]
    meta = {
        "command": _command(),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "threads": threads,
        "quick": args.quick,
        "selection": args.k or [],
        "reps": ctx.reps,
        "loadavg_start": list(load0),
        "loadavg_end": list(os.getloadavg()),
        "duration_s": time.perf_counter() - t0,
        "cpu": _cpu_name(),
        "ferrotorch_commit": _git_commit(),
        "torch_version": torch.__version__ if torch else None,
        "python": sys.version.split()[0],
        "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS")},
    }
    return {"meta": meta, "rows": rows}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    ap.add_argument("-k", action="append", help="run only benchmarks whose key or title contains this")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and smaller data (development)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per benchmark (default 7; quick 3)")
    ap.add_argument("--json", help="write the results (with every sample) to this file")
    ap.add_argument("--from-json", help="render a saved run instead of measuring")
    ap.add_argument("--update-readme", action="store_true", help="rewrite README.md's table from this run")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        metavar="LOAD",
        help="first wait (up to an hour) until the 1-minute load average is at most LOAD",
    )
    args = ap.parse_args(argv)

    if args.list:
        for c in select(ALL_CASES, args.k):
            print(f"{c.key:20s} {c.title}" + (f"  (target ≤ {c.target})" if c.target is not None else ""))
        return
    if args.from_json:
        with open(args.from_json) as f:
            result = json.load(f)
    else:
        if args.wait_quiet is not None:  # before importing, so the build measured is the one present then
            wait_for_quiet(args.wait_quiet, 3600)
        libs = load_libraries()
        try:
            from models import check_convnet_matches_demo

            check_convnet_matches_demo()
        except ImportError:  # a ferrotorch without the demo package: nothing to compare against
            pass
        if libs["torch"] is None:
            print("PyTorch is not importable here: timing ferrotorch alone (no ratios)")
        result = measure_all(args, libs, select(ALL_CASES, args.k))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
    m = result["meta"]
    print(
        f"\nferrotorch ÷ PyTorch, medians of {m['reps']} interleaved repetitions; load average "
        f"{m['loadavg_start'][0]:.2f} → {m['loadavg_end'][0]:.2f}; {m['duration_s']:.0f} s; {m['cpu']}"
    )
    print(report.render_text(result))
    if args.update_readme:
        if m["quick"] or m["selection"] or not m["torch_version"]:
            raise SystemExit("--update-readme needs a full run (no --quick, no -k) with PyTorch importable")
        report.update_readme(README, report.render_markdown(result))
        print(f"rewrote the table in {README}")


if __name__ == "__main__":
    main()
