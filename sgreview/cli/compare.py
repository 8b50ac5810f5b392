"""``sgreview compare``: theme x group table, funnel limits and SPC charts from assignments."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from sgreview.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's subcommands to the top-level parser."""
    p = sub.add_parser(
        "compare",
        help="compare groups: funnel.csv, spc.csv and the theme x group table",
        description="Compare localities (or any column) by theme: theme x group table with "
        "chi-square residuals, funnel limits with over-dispersion adjustment, and Making "
        "Data Count XmR charts per theme and group.",
    )
    p.add_argument("assignments", metavar="ASSIGNMENTS",
                   help="assignments CSV (incident_id, locality, incident_date, theme_id, ...)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the tables")
    p.add_argument("--group-by", default="locality", metavar="COL",
                   help="column to compare (default: locality)")
    p.add_argument("--denominators", metavar="FILE",
                   help="CSV of locality, period (YYYY-MM), denominator, unit: funnels become "
                   "rates per unit of exposure")
    p.add_argument("--unit", metavar="UNIT", help="which denominator unit to use when the file has several")
    p.add_argument("--period", choices=("month", "week"), default="month")
    p.add_argument("--run-length", type=int, choices=(6, 7), default=7,
                   help="points in a trend or shift (default 7, Making Data Count)")
    p.add_argument("--screen-outliers", action="store_true",
                   help="screen moving-range outliers (NHSRplotthedots default; MDC does not)")
    p.add_argument("--months", type=int, default=12, metavar="N",
                   help="funnels and the theme x group table use the most recent N months "
                   "(default 12; 0 = all data)")
    p.add_argument("--target", choices=("leave_one_out", "pooled"), default="leave_one_out",
                   help="funnel target: each group against all others combined (default) or "
                   "the pooled rate of all groups (FunnelPlotR)")
    p.set_defaults(handler=run_compare)


def _read(path: str) -> pd.DataFrame:
    from sgreview.readers import read_table

    table = read_table(path)
    bad = table.n_fields != table.data.shape[1]
    if bad.any():
        row = int(table.source_row[bad].iloc[0])
        raise InputError("wrong number of fields", path=path, row=row)
    return table.data.assign(source_row=table.source_row.to_numpy())


def run_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sgreview.compare import compare, prepare_assignments, write_comparison
    from sgreview.io import check_outputs

    out = Path(args.out)
    written = ("funnel.csv", "spc.csv", "theme_by_group.csv", "special_cause.csv", "dispersion.json")
    check_outputs([out, *(out / n for n in written)], [args.assignments, args.denominators])
    assignments = _read(args.assignments)
    assignments = prepare_assignments(assignments, args.group_by, source=args.assignments)
    denominators = None
    if args.denominators:
        denominators = _read(args.denominators)
        denominators.attrs["source"] = args.denominators
    result = compare(
        assignments,
        group_by=args.group_by,
        denominators=denominators,
        unit=args.unit,
        period=args.period,
        run_length=args.run_length,
        screen_outliers=args.screen_outliers,
        target=args.target,
        window_months=args.months or None,
    )
    written = write_comparison(result, args.out)
    for warning in result.warnings:
        print(f"sgreview: warning: {warning}", file=sys.stderr)
    flagged = result.funnel[result.funnel["flag"].astype(str).str.startswith("alarm")]
    print(f"compared {len(assignments)} incidents by {args.group_by}: "
          f"{result.funnel['theme_id'].nunique()} themes x {result.funnel['locality'].nunique()} groups; "
          f"{len(flagged)} funnel alarms; {len(result.special_cause)} series with recent special cause")
    print(f"wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0
