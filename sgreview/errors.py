"""User-facing errors.

Every problem a user can fix (a bad file, a wrong parameter, a corrupt model) is raised as an
:class:`SgreviewError`. The CLI catches it once, prints ``str(err)`` as a single line on stderr
and exits with :attr:`SgreviewError.exit_code` (2), so users never see a traceback for their
own input. Internal bugs are *not* wrapped: they should surface loudly.
"""

from __future__ import annotations

from os import PathLike


class SgreviewError(Exception):
    """An error the user can act on, rendered as one line naming file, row and column."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = " ".join(str(message).split())
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(self.path)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class InputError(SgreviewError):
    """The input data cannot be used (unreadable, wrong shape, missing columns)."""


class ParameterError(SgreviewError):
    """A parameter file or CLI parameter is invalid."""


class ModelError(SgreviewError):
    """A saved theme model is missing, corrupt or from an incompatible version."""


class OutputError(SgreviewError):
    """An output cannot be written (no permission, read-only disk, full disk) or would
    overwrite an input."""
