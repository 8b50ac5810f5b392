"""Batch speed-up (1 worker against 2) and the fixed cost of running one notebook.

Run on purpose, not in the test suite:

    .venv/bin/python benchmarks/bench_batch.py                 # 12 CPU-bound fixture jobs
    .venv/bin/python benchmarks/bench_batch.py --work-seconds 5
    .venv/bin/python benchmarks/bench_batch.py --real          # 12 x notebooks/03 on demo data

The default workload is ``tests/fixtures/work.ipynb``, which keeps one core busy for
``--work-seconds``: it measures the runner (pool, kernels, papermill, HTML export), not the
analysis. ``--real`` runs the locality review notebook for 12 localities (the 7 demo
localities, cycled) and is much slower. Per-notebook overhead is the wall time of a job whose
notebook does no work, run one at a time: kernel start, papermill, shutdown, HTML export.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sgreview.params import load_parameter_files, validate_for_notebook  # noqa: E402
from sgreview.runs import Job, run_jobs, run_notebook  # noqa: E402

WORK = REPO / "tests" / "fixtures" / "work.ipynb"


def fixture_jobs(n: int, seconds: float, out: Path) -> list[Job]:
    return [Job(WORK, {"work_seconds": seconds, "locality": f"L{i:02d}"}, f"l{i:02d}", out)
            for i in range(n)]  # fmt: skip


def real_jobs(n: int, out: Path) -> list[Job]:
    notebook = REPO / "notebooks" / "03_locality_review.ipynb"
    files = sorted((REPO / "parameters" / "localities").glob("*.yaml"))
    if not notebook.exists() or not files:
        sys.exit("--real needs notebooks/03_locality_review.ipynb and parameters/localities/")
    jobs = []
    for i in range(n):
        raw = load_parameter_files([REPO / "parameters" / "demo.yaml", files[i % len(files)]])
        raw["output_dir"] = str(out)
        params = validate_for_notebook(notebook, raw)
        jobs.append(Job(notebook, params, f"{files[i % len(files)].stem}-{i:02d}", out))
    return jobs


def timed(jobs: list[Job], workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    results = run_jobs(jobs, workers=workers, progress=False)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"  failed: {r.name}: {r.error}", file=sys.stderr)
    return elapsed, len(failed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=12)
    ap.add_argument("--work-seconds", type=float, default=3.0)
    ap.add_argument("--overhead-runs", type=int, default=5)
    ap.add_argument("--real", action="store_true", help="use notebooks/03 on the demo data")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="sgreview-bench-") as tmp:
        tmp = Path(tmp)
        overhead = []
        for i in range(args.overhead_runs):
            job = Job(WORK, {"work_seconds": 0.0}, f"empty{i}", tmp / "overhead")
            overhead.append(run_notebook(job, progress=False, threads=1).seconds)
        print(f"per-notebook overhead (empty notebook, serial, n={len(overhead)}): "
              f"median {statistics.median(overhead):.2f} s, min {min(overhead):.2f} s, "
              f"max {max(overhead):.2f} s")  # fmt: skip

        make = (lambda d: real_jobs(args.jobs, d)) if args.real else (
            lambda d: fixture_jobs(args.jobs, args.work_seconds, d))  # fmt: skip
        what = "notebooks/03 (demo data)" if args.real else f"work.ipynb ({args.work_seconds} s)"
        times = {}
        for workers in (1, 2):
            elapsed, failed = timed(make(tmp / f"w{workers}"), workers)
            times[workers] = elapsed
            print(f"{args.jobs} jobs x {what}, {workers} worker(s): {elapsed:.1f} s "
                  f"({elapsed / args.jobs:.2f} s per job){' FAILED ' + str(failed) if failed else ''}")  # fmt: skip
        speedup = times[1] / times[2]
        print(f"speed-up 2 workers vs 1: {speedup:.2f}x (target >= 1.7x)")
        if not args.real:
            ideal = args.jobs * args.work_seconds
            print(f"runner overhead per job at 1 worker: {(times[1] - ideal) / args.jobs:.2f} s")


if __name__ == "__main__":
    main()
