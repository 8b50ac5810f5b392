"""CLI commands for the whole review: ``sgreview review`` and ``sgreview demo``.

Both end with a summary table of every report and exit 1 naming each failure (or the number
of rows validation rejected), so a scheduler can alert on the exit code while the finished
reports stay usable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``review`` and ``demo`` to the top-level parser."""
    p = sub.add_parser(
        "review",
        help="run the whole review: quality, discovery, every locality, comparison, learning",
        description="Run the whole review described by a review parameters file.",
    )
    p.add_argument("params", metavar="PARAMS.yaml", type=Path, nargs="?",
                   help="whole-review config (e.g. parameters/review_demo.yaml)")
    p.add_argument("--out", type=Path, default=None,
                   help="base output folder (default: outputs/); the run goes to OUT/<review>/<run-id>/")
    _parallel_options(p)
    p.add_argument("--retry-failed", "--resume", metavar="RUN_DIR", type=Path, default=None,
                   dest="retry_failed",
                   help="rerun only the reports that failed or did not finish in RUN_DIR (an "
                        "interrupted or killed run is completed); with PARAMS.yaml, they run "
                        "with its (corrected) localities, case sets and locality files")
    p.set_defaults(handler=_review)

    d = sub.add_parser(
        "demo",
        help="make the synthetic demo data and run a full review on it",
        description="Make the synthetic demo data (if missing) and run the whole review on it.",
    )
    d.add_argument("--out", type=Path, default=None, help="base output folder (default: outputs/)")
    d.add_argument("--n", type=int, default=None, help="number of synthetic incidents (default 6000)")
    d.add_argument("--seed", type=int, default=None, help="random seed (default 42)")
    _parallel_options(d)
    d.set_defaults(handler=_demo)


def _parallel_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=None, help="parallel notebook kernels (default: cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="dask.distributed scheduler address (default: a local pool)")


def _command() -> list[str]:
    """The command line as typed, for the manifest."""
    return ["sgreview", *sys.argv[1:]]


def _announce(message: str) -> None:
    print(f"sgreview: {message}", file=sys.stderr, flush=True)


def _review(args: argparse.Namespace) -> int:
    from sgreview.errors import ParameterError
    from sgreview.pipeline.review import retry_failed, run_review

    if args.retry_failed is not None:
        if args.out is not None:
            raise ParameterError("--out cannot be used with --retry-failed: the reruns go into RUN_DIR")
        outcome = retry_failed(args.retry_failed, args.params, workers=args.workers,
                               scheduler=args.scheduler, announce=_announce, command=_command())
    else:
        if args.params is None:
            raise ParameterError("review needs PARAMS.yaml (or --retry-failed RUN_DIR)")
        outcome = run_review(args.params, out=args.out, workers=args.workers,
                             scheduler=args.scheduler, announce=_announce, command=_command())
    return _report(outcome)


def _demo(args: argparse.Namespace) -> int:
    from sgreview.pipeline.review import run_demo

    outcome = run_demo(args.out, n=args.n, seed=args.seed, workers=args.workers,
                       scheduler=args.scheduler, announce=_announce, command=_command())
    return _report(outcome)


def _report(outcome) -> int:
    """Print the summary table (stdout) and name each failure (stderr)."""
    from sgreview.pipeline.review import summary_table

    print(summary_table(outcome))
    print(f"run folder: {outcome.run_dir}")
    if outcome.index is not None:
        print(f"open: {outcome.index}")
    for failure in outcome.failures:
        print(f"sgreview: failed: {failure.name}: {failure.error}", file=sys.stderr)
    if outcome.rows_rejected:
        print(f"sgreview: {outcome.rows_rejected:,} row(s) rejected at validation: see "
              f"{outcome.run_dir / 'data_quality' / 'rejects.csv'}", file=sys.stderr)
    for finding in outcome.audit_findings:
        print(f"sgreview: audit: {finding}", file=sys.stderr)
    print("disclosure audit: " + ("clean" if not outcome.audit_findings
                                  else f"{len(outcome.audit_findings)} finding(s); see audit.json"))
    return outcome.exit_code
