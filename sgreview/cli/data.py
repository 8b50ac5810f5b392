"""``sgreview validate``: check an incident export and account for every row."""

from __future__ import annotations

import argparse
import sys

from sgreview.io import to_json, write_csv
from sgreview.schema import LoadResult, load_incidents, parse_column_map


def add_map_argument(parser: argparse.ArgumentParser) -> None:
    """The shared ``--map CANONICAL=SOURCE`` option (repeatable)."""
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="CANONICAL=SOURCE",
        help="map a source column to a canonical one, e.g. narrative=Description (repeatable)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check an incident file and print a summary",
        description="Check an incident export (CSV, XLSX or Parquet). Exit 0 when every row is "
        "accepted, 1 when some rows are rejected, 2 when the file cannot be used.",
    )
    p.add_argument("data", help="incident export: .csv, .xlsx or .parquet")
    add_map_argument(p)
    p.add_argument("--rejects", metavar="FILE", help="write rejected rows with reasons to FILE")
    p.add_argument("--json", action="store_true", help="print the reconciliation as JSON")
    p.set_defaults(handler=_validate)


def print_reconciliation(result: LoadResult, stream=None) -> None:
    """Print 'rows read = accepted + rejected' and the reasons, one per line."""
    stream = stream or sys.stdout
    rec = result.reconciliation
    print(
        f"{rec['source']}: {rec['rows_read']} rows read, {rec['rows_accepted']} accepted, "
        f"{rec['rows_rejected']} rejected",
        file=stream,
    )
    for reason, count in rec["by_reason"].items():
        print(f"  rejected {reason}: {count}", file=stream)
    for warning, count in rec.get("warnings", {}).items():
        print(f"  warning {warning}: {count} (kept, value set to missing)", file=stream)


def _validate(args: argparse.Namespace) -> int:
    result = load_incidents(args.data, parse_column_map(args.map))
    if args.rejects:
        write_csv(result.rejects, args.rejects)
    if args.json:
        print(to_json(result.reconciliation))
    else:
        print_reconciliation(result)
        if args.rejects:
            print(f"rejects written to {args.rejects}")
        elif len(result.rejects):
            print("(use --rejects FILE to see each rejected row with its reason)")
    return 1 if len(result.rejects) else 0
