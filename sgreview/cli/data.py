"""``sgreview validate``: check an incident export and account for every row."""

from __future__ import annotations

import argparse
import sys

from sgreview.errors import ParameterError
from sgreview.io import check_outputs, to_json, write_csv
from sgreview.schema import EARLIEST_DATE, LoadResult, load_incidents, parse_column_map


def add_map_argument(parser: argparse.ArgumentParser) -> None:
    """The shared loading options: ``--map CANONICAL=SOURCE``, ``--keep COL``, ``--earliest-date``."""
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="CANONICAL=SOURCE",
        help="map a source column to a canonical one, e.g. narrative=Description (repeatable)",
    )
    parser.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="COL",
        help="carry this extra (non-contract) column through to outputs (repeatable); refused "
        "when it holds free text or identifiers. Other extra columns are never read.",
    )
    parser.add_argument(
        "--earliest-date",
        default=str(EARLIEST_DATE),
        metavar="YYYY-MM-DD",
        help=f"earliest plausible incident date; earlier ones are rejected (default {EARLIEST_DATE})",
    )


def load_options(args: argparse.Namespace) -> dict:
    """``load_incidents`` keyword arguments from the shared loading options."""
    import datetime as dt

    try:
        earliest = dt.date.fromisoformat(str(args.earliest_date).strip())
    except ValueError:
        raise ParameterError(
            f"--earliest-date expects YYYY-MM-DD, got '{args.earliest_date}'"
        ) from None
    return {
        "columns": parse_column_map(args.map),
        "keep_columns": list(args.keep),
        "earliest_date": earliest,
    }


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
    if args.rejects:
        check_outputs([args.rejects], [args.data])
    result = load_incidents(args.data, **load_options(args))
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
