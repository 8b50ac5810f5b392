"""``sgreview params``: the parameter reference (every key, type, default and meaning)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``params`` to the top-level parser."""
    p = sub.add_parser(
        "params",
        help="list every parameter a review or notebook file may set (type, default, meaning)",
        description="Print the parameter reference, generated from the validated schema "
                    "(the same text as docs/parameters.md with --markdown).",
    )
    p.add_argument("--markdown", action="store_true", help="print docs/parameters.md as Markdown")
    p.set_defaults(handler=_params)


def _params(args: argparse.Namespace) -> int:
    from sgreview.params_reference import reference_markdown, reference_text

    print(reference_markdown() if args.markdown else reference_text())
    return 0
