"""Time the synthetic generator and the CSV write at demo and 100k scale.

Run on purpose: ``.venv/bin/python benchmarks/bench_synth.py [N ...]``. Each size runs in a
fresh subprocess so the reported peak resident memory (``ru_maxrss``) belongs to that size
alone; CPU time is printed beside wall time because the machine is shared. tracemalloc
is avoided because it slows the row loop about fifteenfold.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bench(n: int) -> None:
    from sgreview.synth import generate, write_synth

    t0, c0 = time.perf_counter(), time.process_time()
    data = generate(n, seed=42)
    t_gen, c_gen = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_synth(data, Path(tmp) / "incidents.csv")
        t_write = time.perf_counter() - t0
    words = data.incidents["narrative"].str.split().str.len()
    print(
        f"n={n:>7}: generate {t_gen:5.2f} s wall ({c_gen:5.2f} s CPU), peak RSS {peak:6.0f} MiB, write csv+sidecars "
        f"{t_write:5.2f} s, identifiers {len(data.identifiers)}, words median "
        f"{int(words.median())} max {int(words.max())}",
        flush=True,
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        bench(int(sys.argv[2]))
    else:
        for arg in sys.argv[1:] or ["6000", "100000"]:
            subprocess.run([sys.executable, __file__, "--one", arg], check=True)
