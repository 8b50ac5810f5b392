"""File input/output shared by every stage: atomic writes, safe CSV, checksums.

Writes always go to a temporary file in the destination folder and are renamed into place
(``os.replace`` is atomic on POSIX and Windows), so a crash or Ctrl-C never leaves a
half-written output that a later stage or a reviewer could mistake for a result.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from sgreview.errors import OutputError

PathLike = str | os.PathLike[str]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()

#: Leading characters that spreadsheet programs treat as the start of a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


#: Filesystem errors that mean "this output cannot be written here": the user's to fix.
UNWRITABLE_ERRNOS = frozenset({
    errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
    errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG,
})


def unwritable(path: PathLike, err: OSError) -> OutputError:
    """The one-line error for an output that cannot be written (exit 2 at the CLI)."""
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return OutputError("cannot write output here (a file is in the way where a folder is "
                           "needed)", path=path)
    return OutputError(f"cannot write output here ({err.strerror or err})", path=path)


def check_writable(path: PathLike) -> None:
    """Refuse (exit 2) an output path that cannot be created, before any work is done.

    The nearest existing ancestor must be a folder this process may write into; a read-only
    disk, a missing permission or a file where a folder is needed is found now, not after
    a ten-minute theme fit.
    """
    target = Path(path).expanduser().absolute()
    probe = target if target.is_dir() else target.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise unwritable(path, OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError("cannot write output here (no permission, or a read-only disk)",
                          path=path)


def make_dirs(path: PathLike) -> Path:
    """``mkdir -p`` that reports an unwritable location as an :class:`OutputError`."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        if err.errno in UNWRITABLE_ERRNOS:
            raise unwritable(path, err) from None
        raise
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(outputs: Iterable[PathLike | None], inputs: Iterable[PathLike | None]) -> None:
    """Refuse (exit 2) any output that is, or would be written over, an input file, or that
    cannot be written at all (:func:`check_writable`).

    Inputs are only ever read. A path "resolves to" an input when it names the same file
    after following symlinks (or is a hard link to it); an output folder collides when it is
    the input itself. Callers writing named files into a folder pass those file paths too.
    """
    ins = [Path(p).expanduser() for p in inputs if p not in (None, "")]
    for out in outputs:
        if out in (None, ""):
            continue
        target = Path(out).expanduser()
        for src in ins:
            if target.resolve() == src.resolve() or _same_file(target, src):
                raise OutputError(
                    f"output would overwrite the input file {src}; inputs are only ever "
                    "read, so choose another output path",
                    path=out,
                )
        check_writable(target)


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing and rename it into place on success.

    On any exception the temporary file is removed and ``path`` is left untouched. A
    location that cannot be written is an :class:`OutputError` naming it.
    """
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:  # the folder exists: any failure to create a file in it is ours
        raise unwritable(path, err) from None
    try:
        # mkstemp makes owner-only files; give outputs the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_UMASK)
        if "b" in mode:
            encoding = None
        with os.fdopen(fd, mode, encoding=encoding, newline="" if "b" not in mode else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if err.errno in UNWRITABLE_ERRNOS:
            raise unwritable(path, err) from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy where text cells that a spreadsheet would run as formulas are quoted.

    A leading apostrophe is the convention Excel and LibreOffice honour (OWASP "CSV
    injection"). Numbers are untouched, so a negative count stays a number.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        text = s.astype("string")
        risky = text.str.startswith(FORMULA_PREFIXES, na=False)
        # Plain numbers such as "-3" or "+44" are data, not formulas.
        numeric = pd.to_numeric(text.where(risky), errors="coerce").notna()
        risky &= ~numeric
        if risky.any():
            out[col] = s.astype(object).where(~risky, "'" + text.astype(object))
    return out


#: Columns that exist in memory but are never written to any file: the person pseudonym
#: links one person's incidents, so it stays inside the process that loaded the data.
NEVER_WRITTEN = ("person_key",)


def without_private(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without the :data:`NEVER_WRITTEN` columns (every table writer calls this)."""
    drop = [c for c in NEVER_WRITTEN if c in df.columns]
    return df.drop(columns=drop) if drop else df


def write_csv(df: pd.DataFrame, path: PathLike, *, index: bool = False) -> Path:
    """Write ``df`` as UTF-8 CSV atomically, with formula-like cells neutralised and the
    person key left out."""
    path = Path(path)
    with atomic_write(path) as fh:
        neutralise_formulas(without_private(df)).to_csv(fh, index=index, lineterminator="\n")
    return path


def write_parquet(df: pd.DataFrame, path: PathLike) -> Path:
    """Write ``df`` as Parquet atomically: how stages hand tables to each other.

    Why not the CSV: CSV outputs are for people, so their cells are formula-neutralised
    (a locality named "=North" is written "'=North"), and a stage reading that back would
    see a different value. Parquet keeps every value and type exactly.
    """
    import io as _io

    buf = _io.BytesIO()
    df.to_parquet(buf, index=False)
    return write_bytes(buf.getvalue(), path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """Serialise ``obj`` to stable, human-readable JSON (sorted keys, numpy-aware)."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=False)


def write_json(obj: Any, path: PathLike) -> Path:
    """Write ``obj`` as JSON atomically."""
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(to_json(obj) + "\n")
    return path


def write_text(text: str, path: PathLike) -> Path:
    """Write ``text`` atomically (UTF-8)."""
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(text)
    return path


def write_bytes(data: bytes, path: PathLike) -> Path:
    """Write ``data`` atomically."""
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return path


def sha256_file(path: PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large exports do not fill memory."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
