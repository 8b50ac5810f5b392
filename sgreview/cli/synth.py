"""``sgreview synth``: write a synthetic incident file and its ground-truth sidecars."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``synth`` to the top-level parser."""
    p = sub.add_parser(
        "synth",
        help="write a synthetic incident file (plus truth, identifiers, signals, actions, denominators)",
        description=(
            "Write synthetic safeguarding incidents with planted themes, signals and fake "
            "identifiers. The format follows the suffix of --out (.csv, .xlsx, .parquet); "
            "sidecars <stem>_truth.csv, _identifiers.csv, _signals.json, _actions.csv and "
            "_denominators.csv are written next to it."
        ),
    )
    p.add_argument("--out", required=True, type=Path, help="incident file to write")
    p.add_argument("--n", type=int, default=6000, help="number of incidents (default 6000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--start", default="2023-04", help="first month, YYYY-MM (default 2023-04)")
    p.add_argument("--months", type=int, default=30, help="number of months (default 30)")
    p.add_argument(
        "--no-signals",
        dest="signals",
        action="store_false",
        help="no planted signals: pure common-cause data for false-alarm checks",
    )
    p.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    """Generate and write; print one line per file written."""
    from sgreview.errors import ParameterError
    from sgreview.synth import generate, write_synth
    from sgreview.synth.write import SUFFIXES

    if args.out.suffix.lower() not in SUFFIXES:
        raise ParameterError(
            f"--out must end in one of {', '.join(SUFFIXES)}, got {args.out.name!r}"
        )
    from sgreview.io import check_outputs

    check_outputs([args.out], [])
    data = generate(args.n, args.seed, start=args.start, months=args.months, signals=args.signals)
    paths = write_synth(data, args.out)
    print(
        f"wrote {len(data.incidents)} incidents ({data.signals['start']} to "
        f"{data.signals['end']}, seed {args.seed}) to {paths['incidents']}"
    )
    for key, path in paths.items():
        if key != "incidents":
            print(f"  {key}: {path}")
    return 0
