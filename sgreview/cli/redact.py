"""``sgreview redact``: write an incident file with identifiers in narratives replaced by tags."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pandas as pd

from sgreview.cli.data import add_map_argument, load_options, print_reconciliation
from sgreview.errors import ParameterError
from sgreview.io import (
    check_outputs,
    neutralise_formulas,
    sha256_file,
    without_private,
    write_bytes,
    write_csv,
    write_json,
)
from sgreview.redact import TAGS, load_service_names, redact_incidents, redact_texts
from sgreview.schema import load_incidents

OUTPUT_SUFFIXES = (".csv", ".xlsx", ".parquet")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "redact",
        help="write the file with narratives redacted",
        description="Load and validate an incident export, replace identifiers in the narratives "
        "with typed tags ([NHS_NUMBER], [NAME], ...) and write the accepted rows to --out "
        "(.csv, .xlsx or .parquet). Only the data contract's columns (and --keep columns, "
        "checked by content) are written; every other column is dropped and named. Prints "
        "counts by identifier type, never the values. "
        "Exit 0 when every row is accepted, 1 when some rows are rejected, 2 when the input "
        "cannot be used.",
    )
    p.add_argument("data", help="incident export: .csv, .xlsx or .parquet")
    p.add_argument("--out", required=True, metavar="FILE", help="redacted file to write")
    add_map_argument(p)
    p.add_argument(
        "--name-column",
        action="append",
        default=[],
        metavar="COL",
        help="a column holding a person's name (repeatable): its values are redacted from "
        "that row's narrative and the column is left out of the output",
    )
    p.add_argument(
        "--services",
        metavar="FILE",
        help="YAML list of the trust's service names (wards, units, clinics) to keep as they are; "
        "other care-home, house and street names become [ADDRESS]",
    )
    p.add_argument("--log", metavar="FILE", help="write counts and reconciliation as JSON")
    p.add_argument(
        "--rejects", metavar="FILE", help="write rejected rows (values redacted) to FILE"
    )
    p.set_defaults(handler=_redact)


def _check_out(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ParameterError(
            f"--out must end in {', '.join(OUTPUT_SUFFIXES)}", path=args.out
        )
    check_outputs([args.out, args.rejects, args.log], [args.data])
    return out


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` atomically as CSV, XLSX or Parquet by suffix (formula-safe for spreadsheets)."""
    suffix = path.suffix.lower()
    df = without_private(df)
    if suffix == ".csv":
        return write_csv(df, path)
    buf = io.BytesIO()
    if suffix == ".xlsx":
        neutralise_formulas(df).to_excel(buf, index=False)
    else:
        df.to_parquet(buf, index=False)
    return write_bytes(buf.getvalue(), path)


def _redact(args: argparse.Namespace) -> int:
    out = _check_out(args)
    services = load_service_names(args.services) if args.services else []
    result = load_incidents(args.data, name_columns=args.name_column, services=services,
                            **load_options(args))
    names = result.names
    redacted, counts = redact_incidents(
        pd.concat([result.incidents, names], axis=1), column="narrative",
        name_columns=list(names.columns), services=services,
    )
    write_table(redacted, out)
    if args.rejects:
        rejects = result.rejects.copy()
        rejects["value"] = redact_texts(rejects["value"].astype("str")).text
        write_csv(rejects, args.rejects)
    if args.log:
        write_json(
            {
                "input": {"path": str(args.data), "sha256": sha256_file(args.data)},
                "output": str(out),
                "rows_written": len(redacted),
                "redactions": counts,
                "reconciliation": result.reconciliation,
            },
            args.log,
        )
    print_reconciliation(result, stream=sys.stdout)
    total = sum(counts.values())
    print(f"redacted {total} identifiers in {len(redacted)} narratives:")
    for kind in TAGS:
        print(f"  {TAGS[kind]}: {counts[kind]}")
    dropped = result.dropped_columns
    if dropped:
        shown = ", ".join(dropped[:20]) + (f" and {len(dropped) - 20} more" if len(dropped) > 20 else "")
        print(f"dropped {len(dropped)} column(s) outside the data contract (not written): {shown}")
    print(f"written to {out}")
    return 1 if len(result.rejects) else 0
