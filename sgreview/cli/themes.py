"""``sgreview themes fit | apply | evaluate``: discover, reuse and check themes.

Every command loads and validates the export, redacts the narratives (the model never sees
identifiers), then fits or applies. Exit codes: 0 done; 1 done but some rows were rejected
(counts printed on stderr); 2 unusable input, model or codebook (one line, nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from sgreview.cli.data import add_map_argument, load_options
from sgreview.errors import ParameterError
from sgreview.io import check_outputs, to_json, write_csv
from sgreview.schema import UNTHEMED_ID, LoadResult, load_incidents


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``themes fit|apply|evaluate`` to the top-level parser."""
    themes = sub.add_parser(
        "themes",
        help="discover themes, apply a saved model, or evaluate against a human coding",
        description="Theme discovery for incident narratives (narratives are redacted first).",
    )
    tsub = themes.add_subparsers(dest="themes_command", metavar="ACTION", parser_class=type(themes))
    tsub.required = True

    p = tsub.add_parser(
        "fit",
        help="discover themes, save model + editable codebook",
        description="Discover themes and save the model with its editable codebook.yaml.",
    )
    p.add_argument("data", help="incident export: .csv, .xlsx or .parquet")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="folder for the model")
    _add_k_seed(p)
    add_map_argument(p)
    p.add_argument(
        "--codebook",
        metavar="FILE|taxonomy",
        help="codebook YAML whose themes with seed_terms are seeded; 'taxonomy' seeds the "
        "built-in safeguarding taxonomy",
    )
    p.add_argument(
        "--previous",
        metavar="MODEL_DIR",
        help="earlier model: matching themes keep its ids, names, merges and retirements",
    )
    p.add_argument("--assignments", metavar="FILE", help="also write the assignments CSV")
    _add_services(p)
    p.set_defaults(handler=_fit)

    p = tsub.add_parser(
        "apply",
        help="assign themes with a saved model",
        description="Assign themes to incidents with a saved model, honouring its codebook.yaml.",
    )
    p.add_argument("model", metavar="MODEL_DIR", help="folder written by `sgreview themes fit`")
    p.add_argument("data", help="incident export: .csv, .xlsx or .parquet")
    p.add_argument("--out", required=True, metavar="FILE", help="assignments CSV to write")
    add_map_argument(p)
    p.add_argument("--themes", metavar="FILE", help="also write the themes table (themes.csv)")
    p.add_argument("--evidence", metavar="FILE", help="also write evidence sentences (CSV)")
    _add_services(p)
    p.set_defaults(handler=_apply)

    p = tsub.add_parser(
        "evaluate",
        help="agreement with a human coding (prints JSON)",
        description="Fit on the narratives (never on the labels), then print NMI, ARI, "
        "best-match F1 per label, k, unthemed share, stability and seconds as one JSON object.",
    )
    p.add_argument("data", help="incident export: .csv, .xlsx or .parquet")
    p.add_argument("--label-column", required=True, metavar="COL", help="the human coding")
    _add_k_seed(p)
    add_map_argument(p)
    _add_services(p)
    p.set_defaults(handler=_evaluate)


def _add_services(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--services",
        metavar="FILE",
        help="YAML list of the trust's service names (wards, units, clinics) to keep as they are "
        "when narratives are redacted (as `sgreview redact --services`)",
    )


def _add_k_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", default="auto", metavar="N|auto", help="number of themes (default auto)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")


def _k(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        k = int(value)
    except ValueError:
        raise ParameterError(
            f"--k must be a positive whole number or 'auto', got '{value}'"
        ) from None
    if k < 1:
        raise ParameterError(f"--k must be a positive whole number or 'auto', got '{value}'")
    return k


def _load(args: argparse.Namespace, read_only: tuple[str, ...] = ()) -> tuple[pd.DataFrame, LoadResult]:
    """Load, validate and redact; rejected rows are reported on stderr.

    ``read_only`` columns are read for this command but never written (a human coding being
    evaluated), so they skip the free-text check that ``--keep`` columns get.
    """
    from sgreview.redact import redact_incidents
    from sgreview.services import read_services

    services = read_services(args.services)
    options = load_options(args)
    if read_only:
        options["keep_columns"] = [*options["keep_columns"], *read_only]
        options["vet_kept"] = not read_only
    result = load_incidents(args.data, services=list(services), **options)
    rec = result.reconciliation
    if rec.get("rows_rejected"):
        reasons = ", ".join(f"{r}: {c}" for r, c in rec.get("by_reason", {}).items())
        print(
            f"sgreview: {rec['rows_rejected']} of {rec['rows_read']} rows rejected ({reasons})",
            file=sys.stderr,
        )
    names = result.names
    incidents, _counts = redact_incidents(
        pd.concat([result.incidents, names], axis=1), name_columns=list(names.columns),
        services=list(services),
    )
    return incidents, result


def _exit(result: LoadResult) -> int:
    return 1 if result.reconciliation.get("rows_rejected") else 0


def _fit(args: argparse.Namespace) -> int:
    from sgreview.themes import apply_themes, fit_themes, save_model, themes_table

    k = _k(args.k)
    out = Path(args.out)
    check_outputs([out, args.assignments, out / "codebook.yaml", out / "manifest.json"],
                  [args.data, args.codebook if args.codebook != "taxonomy" else None])
    incidents, result = _load(args)
    model = fit_themes(
        incidents, k=k, seed=args.seed, codebook=args.codebook, previous=args.previous
    )
    assignments = apply_themes(model, incidents)
    table = themes_table(model, assignments)
    save_model(model, out)
    if args.assignments:
        write_csv(assignments, args.assignments)
    for note in model.notes_:
        print(f"sgreview: warning: {note}", file=sys.stderr)
    _print_summary(table, len(assignments))
    print(f"model and codebook written to {out}")
    return _exit(result)


def _apply(args: argparse.Namespace) -> int:
    from sgreview.services import read_services
    from sgreview.themes import apply_themes, load_model, theme_evidence, themes_table

    check_outputs([args.out, args.themes, args.evidence],
                  [args.data, args.model, Path(args.model) / "codebook.yaml"])
    model = load_model(args.model)
    incidents, result = _load(args)
    assignments = apply_themes(model, incidents)
    evidence = (theme_evidence(model, incidents, assignments, services=read_services(args.services))
                if args.evidence else None)
    table = themes_table(model, assignments, evidence)
    write_csv(assignments, args.out)
    if args.themes:
        write_csv(table, args.themes)
    if evidence is not None:
        write_csv(evidence, args.evidence)
    _print_summary(table, len(assignments))
    print(f"assignments written to {args.out}")
    return _exit(result)


def _evaluate(args: argparse.Namespace) -> int:
    from sgreview.themes import evaluate_themes

    k = _k(args.k)
    incidents, _result = _load(args, read_only=(args.label_column,))
    if args.label_column not in incidents.columns:
        raise ParameterError(
            f"label column '{args.label_column}' not found; columns are: "
            + ", ".join(map(str, incidents.columns)),
            path=args.data,
        )
    print(to_json(evaluate_themes(incidents, args.label_column, k=k, seed=args.seed)))
    return 0


def _print_summary(table: pd.DataFrame, n: int) -> None:
    themed = table.loc[(table["theme_id"] != UNTHEMED_ID) & (table["status"] != "merged")]
    unthemed = table.loc[table["theme_id"] == UNTHEMED_ID, "size"].sum()
    share = unthemed / n if n else 0.0
    print(f"{n} incidents, {len(themed)} themes, unthemed {unthemed} ({share:.1%})")
    for row in themed.itertuples():
        flag = "" if row.status == "active" else f"  [{row.status}]"
        print(
            f"  {row.theme_id}  {row.size:>6}  stability {row.stability:.2f}  {row.theme_label}{flag}"
        )
