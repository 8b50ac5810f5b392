"""The ``sgreview`` command line: the contract users, schedulers and acceptance checks drive.

Each area of the package registers its own subcommands from a module in this folder
(``synth``, ``data``, ``redact``, ``themes``, ``compare``, ``runs``, ``review``, ``audit``,
``params``). Handlers return an exit code. User-facing errors
(:class:`sgreview.errors.SgreviewError`) are caught here, once, and printed as one line on
stderr with exit code 2: users never see a traceback for their own input.

Exit codes: 0 success; 1 finished but something failed or was rejected; 2 unusable input or
usage; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from sgreview import __version__
from sgreview.errors import SgreviewError


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from sgreview.cli import audit, compare, data, params, redact, review, runs, synth, themes

    parser = _Parser(prog="sgreview", description="Thematic review of safeguarding incidents.")
    parser.add_argument("--version", action="version", version=f"sgreview {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in (synth, data, redact, themes, compare, runs, review, audit, params):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sgreview`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SgreviewError as err:
        print(f"sgreview: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("sgreview: interrupted; completed outputs were kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as err:
        # A folder that cannot be created or written (permissions, read-only or full disk) is
        # the user's to fix: one line naming it, exit 2. Other OS errors stay loud.
        from sgreview.io import UNWRITABLE_ERRNOS

        if err.errno in UNWRITABLE_ERRNOS and err.filename:
            print(f"sgreview: error: {err.filename}: cannot write output here "
                  f"({err.strerror})", file=sys.stderr)
            return 2
        if err.errno == errno.ENOENT and err.filename:
            print(f"sgreview: error: {err.filename}: {err.strerror}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
