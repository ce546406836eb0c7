"""Peak resident memory of a CIFAR ConvNet training epoch, for one library, in a fresh process.

Usage (by bench/cases_process.py): python bench/peak_memory.py {ferrotorch|torch} THREADS BATCHES
Prints one JSON line: the post-import RSS baseline, the high-water mark after training, and their
difference in bytes. The high-water mark is reset right after the baseline (/proc/self/clear_refs), so
transient peaks during import do not count. Batches of 64 cycle over 10 distinct random batches
(7.9 MB of input on both sides) so data generation does not dominate the figure.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _status_kb(field):
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1))


def main():
    name, threads, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lib = __import__(name)
    from models import convnet

    lib.set_num_threads(threads)
    baseline = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    lib.manual_seed(0)
    xs = lib.randn(10, 64, 3, 32, 32)
    ys = lib.randint(0, 10, (10, 64))
    model = convnet(lib)
    criterion = lib.nn.CrossEntropyLoss()
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    t0 = time.perf_counter()
    for i in range(batches):
        optimizer.zero_grad()
        loss = criterion(model(xs[i % 10]), ys[i % 10])
        loss.backward()
        optimizer.step()
        loss.item()
    seconds = time.perf_counter() - t0
    peak = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "baseline": baseline * 1024,
                "peak": peak * 1024,
                "growth": (peak - baseline) * 1024,
                "seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
