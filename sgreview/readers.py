"""Read incident exports (CSV, XLSX, Parquet) into a frame of text cells, losing no row.

Why hand-written around pandas: NHS exports arrive as UTF-8, UTF-8 with a BOM or Windows
cp1252, sometimes with rows whose field count is wrong. ``pandas.read_csv`` either stops at
the first ragged row or silently pads short ones, and guesses encodings badly. Here every
record is kept with its spreadsheet row number (header = row 1) and its field count, so the
validator can reject ragged rows by name instead of losing them, and every unusable file gets
one clear :class:`~sgreview.errors.InputError` naming the file (and row where it applies).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sgreview.errors import InputError

_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
#: More NUL bytes than this in the first 8 KiB means a binary (or UTF-16) file, not damaged text.
_BINARY_NULS = 8
#: Stands in for a NUL byte while parsing (a private-use character no export contains), so the
#: row holding it can be rejected by name instead of the parser choking on the whole file.
NUL_MARK = "\ue000"
#: Picks the header names to read (given all of them); the rest are never parsed into a frame.
Selector = Callable[[Sequence[str]], Sequence[str]]


@dataclass(frozen=True)
class RawTable:
    """A file read as text: ``data`` has the header's columns (all ``str`` or missing).

    ``source_row`` is the spreadsheet row number of each record (header is row 1);
    ``n_fields`` is how many fields the record really had (CSV only; equals the header width
    for XLSX and Parquet).
    """

    path: Path
    data: pd.DataFrame
    source_row: pd.Series
    n_fields: pd.Series
    encoding: str
    header: tuple[str, ...] = ()
    nul_column: pd.Series | None = None

    def __post_init__(self) -> None:
        if not self.header:
            object.__setattr__(self, "header", tuple(self.data.columns))

    @property
    def width(self) -> int:
        """How many columns the header has (all of them, read or not)."""
        return len(self.header)


def read_table(path: str | Path, select: Selector | None = None) -> RawTable:
    """Read ``path`` by its content and suffix; raise :class:`InputError` when unusable.

    ``select`` sees every header name and returns the ones to keep: columns a review does not
    use are never turned into a frame, which keeps a 20,000-column export quick to read and
    keeps columns outside the data contract out of memory altogether.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.is_dir():
        raise InputError("is a folder, not a data file", path=path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read file ({err.strerror})", path=path) from None
    if not raw.strip():
        raise InputError("file is empty", path=path)
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        table = _read_xlsx(path, raw, select)
    elif suffix == ".xls":
        raise InputError("old .xls workbooks are not supported; save as .xlsx or CSV", path=path)
    elif suffix in {".parquet", ".pq"}:
        table = _read_parquet(path, raw, select)
    else:
        if raw.startswith(b"PK\x03\x04"):
            raise InputError("looks like an XLSX/zip file; give it a .xlsx name", path=path)
        table = _read_csv(path, raw, select)
    if table.data.empty:
        raise InputError("has a header but no data rows", path=path)
    return table


def _decode(path: Path, raw: bytes) -> tuple[str, str]:
    """Decode UTF-8 (BOM or not), else cp1252; name the row of undecodable bytes."""
    try:
        return raw.decode("utf-8-sig"), "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError as err:
        utf8_err = err
    # A file with genuine multi-byte UTF-8 and some invalid bytes is damaged UTF-8, not cp1252.
    looks_utf8 = _UTF8_MULTIBYTE.search(raw[: utf8_err.start]) is not None
    if not looks_utf8:
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as err:
            utf8_err = err
    row = raw[: utf8_err.start].count(b"\n") + 1
    byte = raw[utf8_err.start : utf8_err.start + 1].hex()
    raise InputError(
        f"invalid byte 0x{byte} (not UTF-8 or Windows-1252 text); re-export the file as UTF-8",
        path=path,
        row=row,
    )


def _read_csv(path: Path, raw: bytes, select: Selector | None = None) -> RawTable:
    head = raw[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("is UTF-16 text; re-export the file as CSV UTF-8", path=path)
    if head.count(b"\x00") > _BINARY_NULS:
        raise InputError("looks like a binary file, not CSV text", path=path)
    text, encoding = _decode(path, raw)
    has_nul = "\x00" in text
    if has_nul:
        text = text.replace("\x00", NUL_MARK)
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    if "," not in first_line:
        for name, sep in (("semicolon", ";"), ("tab", "\t"), ("pipe", "|")):
            if sep in first_line:
                raise InputError(
                    f"header is {name}-delimited; sgreview reads comma-separated CSV "
                    "(re-export as CSV UTF-8, or save as .xlsx)",
                    path=path,
                    row=1,
                )
    _allow_big_fields()
    try:
        # The C csv module counts each record's real fields (pandas pads short rows silently);
        # ``map(len, ...)`` keeps the loop in C.
        records = csv.reader(io.StringIO(text))
        header = next(records, [])
        counts = np.fromiter(map(len, records), dtype=np.int64)
    except csv.Error as err:
        raise InputError(f"cannot split the file into records ({_short(err)})", path=path) from None
    names = [str(c).replace(NUL_MARK, "").strip() for c in header]
    _check_header(path, names)
    width = len(names)
    keep = _selected(names, select)
    try:
        body = pd.read_csv(
            io.StringIO(text),
            header=None,
            skiprows=1,
            names=range(max(width, int(counts.max(initial=0)))),
            usecols=keep or [0],
            dtype=str,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.ParserError as err:
        m = re.search(r"line (\d+)", str(err))
        row = int(m.group(1)) if m else None
        raise InputError(f"rows cannot be split into fields ({_short(err)})",
                         path=path, row=row) from None
    if len(counts) != len(body):
        raise InputError("unbalanced quotes: records could not be split reliably", path=path)
    body = body.reset_index(drop=True)
    n_fields = pd.Series(counts, index=body.index)
    data = body.loc[:, keep].copy()
    data.columns = [names[i] for i in keep]
    source_row = pd.Series(range(2, len(body) + 2), index=body.index, name="source_row")
    nul_column = _nul_columns(data) if has_nul else None
    return RawTable(path, data, source_row, n_fields, encoding, tuple(names), nul_column)


def _allow_big_fields() -> None:
    """A narrative can exceed the csv module's 131,072-character default; allow 1 GiB fields."""
    if csv.field_size_limit() < 1 << 30:
        csv.field_size_limit(1 << 30)


def _selected(names: list[str], select: Selector | None) -> list[int]:
    """Positions of the header names ``select`` keeps (all, without a selector)."""
    if select is None:
        return list(range(len(names)))
    wanted = set(select(names))
    return [i for i, n in enumerate(names) if n in wanted]


def _nul_columns(data: pd.DataFrame) -> pd.Series:
    """Per record, the first column whose value held a NUL byte ("" when none); NULs removed."""
    found = pd.Series("", index=data.index, dtype=object)
    for col in data.columns:  # a loop over columns (a handful), never over rows
        values = data[col].astype("string")
        hit = values.str.contains(NUL_MARK, regex=False, na=False)
        if hit.any():
            found = found.where((found != "") | ~hit, col)
            data[col] = data[col].where(~hit, values.str.replace(NUL_MARK, "", regex=False))
    return found


def _read_xlsx(path: Path, raw: bytes, select: Selector | None = None) -> RawTable:
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise InputError("is not a real XLSX workbook (not a zip archive)", path=path)
    try:
        # header=None: pandas would rename a repeated heading "x.1" before we could see it.
        sheet = pd.read_excel(io.BytesIO(raw), dtype=str, engine="openpyxl", header=None,
                              keep_default_na=False, na_values=[])
    except Exception as err:  # openpyxl raises many types for damaged workbooks
        raise InputError(f"cannot read the workbook ({_short(err)})", path=path) from None
    if sheet.empty:
        raise InputError("has no header row of column names", path=path, row=1)
    names = [str(c).strip() for c in sheet.iloc[0].tolist()]
    _check_header(path, names)
    keep = _selected(names, select)
    data = sheet.iloc[1:, keep].reset_index(drop=True)
    data.columns = [names[i] for i in keep]
    source_row = pd.Series(range(2, len(data) + 2), index=data.index, name="source_row")
    n_fields = pd.Series(len(names), index=data.index)
    return RawTable(path, data, source_row, n_fields, "xlsx", tuple(names))


def _read_parquet(path: Path, raw: bytes, select: Selector | None = None) -> RawTable:
    if not raw.startswith(b"PAR1"):
        raise InputError("is not a Parquet file", path=path)
    try:
        import pyarrow.parquet as pq

        schema_names = list(pq.read_schema(io.BytesIO(raw)).names)
        names = [str(c).strip() for c in schema_names]
        _check_header(path, names)
        keep = _selected(names, select)
        data = pd.read_parquet(io.BytesIO(raw), columns=[schema_names[i] for i in keep])
    except InputError:
        raise
    except Exception as err:  # pyarrow raises several types for damaged files
        raise InputError(f"cannot read the Parquet file ({_short(err)})", path=path) from None
    data.columns = [names[i] for i in keep]
    data = data.reset_index(drop=True)
    for col in data.columns:
        if not pd.api.types.is_datetime64_any_dtype(data[col]):
            data[col] = data[col].astype("string").astype(object).where(data[col].notna(), "")
    source_row = pd.Series(range(2, len(data) + 2), index=data.index, name="source_row")
    n_fields = pd.Series(len(names), index=data.index)
    return RawTable(path, data, source_row, n_fields, "parquet", tuple(names))


def _check_header(path: Path, names: list[str]) -> None:
    """No header at all, or a heading used twice (either copy could be the one mapped), is exit 2."""
    blank = [i + 1 for i, n in enumerate(names) if not n or n.startswith("Unnamed:")]
    if not names or len(blank) == len(names):
        raise InputError("has no header row of column names", path=path, row=1)
    positions: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        if n:
            positions.setdefault(n.casefold(), []).append(i + 1)
    repeated = [(names[p[0] - 1], p) for p in positions.values() if len(p) > 1]
    if repeated:
        listed = "; ".join(
            f"'{name}' (columns {', '.join(map(str, pos))})" for name, pos in repeated
        )
        raise InputError(
            f"column names appear more than once in the header: {listed}; rename or remove "
            "the copies so each column has one name",
            path=path,
            row=1,
            column=repeated[0][0],
        )


def _short(err: BaseException) -> str:
    return " ".join(str(err).split())[:160] or type(err).__name__
