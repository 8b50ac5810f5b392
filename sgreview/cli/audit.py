"""CLI command ``sgreview audit RUN_DIR``: the disclosure audit of a finished run.

Exit 0 when every reviewer file is clean, 1 naming each file and finding, 2 when the folder
is not a run. ``sgreview review`` runs the same audit at the end of every review.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="check a finished run: no small count, revealing percentage, small-count chart "
             "or identifier in any reviewer file",
        description="Audit every reviewer file of a run folder for disclosure problems.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run folder (holds manifest.json)")
    p.set_defaults(handler=_audit)


def _audit(args: argparse.Namespace) -> int:
    from sgreview.audit import audit_run

    result = audit_run(args.run_dir)
    for finding in result.findings:
        print(f"sgreview: audit: {finding}", file=sys.stderr)
    state = "clean" if result.clean else f"{len(result.findings)} finding(s)"
    print(f"audit of {result.run_dir}: {result.files_checked} reviewer file(s) checked, {state}")
    return result.exit_code
