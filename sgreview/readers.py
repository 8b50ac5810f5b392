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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sgreview.errors import InputError

#: How many extra fields beyond the header a ragged row may carry before we give up reading.
_EXTRA_FIELDS = 64
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


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

    @property
    def width(self) -> int:
        return self.data.shape[1]


def read_table(path: str | Path) -> RawTable:
    """Read ``path`` by its content and suffix; raise :class:`InputError` when unusable."""
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
        table = _read_xlsx(path, raw)
    elif suffix == ".xls":
        raise InputError("old .xls workbooks are not supported; save as .xlsx or CSV", path=path)
    elif suffix in {".parquet", ".pq"}:
        table = _read_parquet(path, raw)
    else:
        if raw.startswith(b"PK\x03\x04"):
            raise InputError("looks like an XLSX/zip file; give it a .xlsx name", path=path)
        table = _read_csv(path, raw)
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


def _read_csv(path: Path, raw: bytes) -> RawTable:
    if b"\x00" in raw[:8192]:
        raise InputError("looks like a binary file, not CSV text", path=path)
    text, encoding = _decode(path, raw)
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
    try:
        header = pd.read_csv(io.StringIO(text), nrows=0, dtype=str).columns
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"cannot read the header ({_short(err)})", path=path, row=1) from None
    width = len(header)
    names = [str(c).strip() for c in header]
    _check_header(path, names)
    try:
        body = pd.read_csv(
            io.StringIO(text),
            header=None,
            skiprows=1,
            names=range(width + _EXTRA_FIELDS),
            dtype=str,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.ParserError as err:
        m = re.search(r"line (\d+)", str(err))
        row = int(m.group(1)) if m else None
        raise InputError(f"a row has far more fields than the header ({_short(err)})",
                         path=path, row=row) from None
    # pandas pads short rows silently, so count each record's real fields with the C csv
    # reader (``map(len, ...)`` keeps the loop in C).
    counts = np.fromiter(map(len, csv.reader(io.StringIO(text))), dtype=np.int64)[1:]
    if len(counts) != len(body):
        raise InputError("unbalanced quotes: records could not be split reliably", path=path)
    n_fields = pd.Series(counts, index=body.index)
    data = body.iloc[:, :width].copy()
    data.columns = names
    source_row = pd.Series(range(2, len(body) + 2), index=body.index, name="source_row")
    return RawTable(path, data, source_row, n_fields, encoding)


def _read_xlsx(path: Path, raw: bytes) -> RawTable:
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise InputError("is not a real XLSX workbook (not a zip archive)", path=path)
    try:
        data = pd.read_excel(io.BytesIO(raw), dtype=str, engine="openpyxl", keep_default_na=False,
                             na_values=[])
    except Exception as err:  # openpyxl raises many types for damaged workbooks
        raise InputError(f"cannot read the workbook ({_short(err)})", path=path) from None
    data.columns = [str(c).strip() for c in data.columns]
    _check_header(path, list(data.columns))
    data = data.reset_index(drop=True)
    source_row = pd.Series(range(2, len(data) + 2), index=data.index, name="source_row")
    n_fields = pd.Series(data.shape[1], index=data.index)
    return RawTable(path, data, source_row, n_fields, "xlsx")


def _read_parquet(path: Path, raw: bytes) -> RawTable:
    if not raw.startswith(b"PAR1"):
        raise InputError("is not a Parquet file", path=path)
    try:
        data = pd.read_parquet(io.BytesIO(raw))
    except Exception as err:  # pyarrow raises several types for damaged files
        raise InputError(f"cannot read the Parquet file ({_short(err)})", path=path) from None
    data.columns = [str(c).strip() for c in data.columns]
    data = data.reset_index(drop=True)
    for col in data.columns:
        if not pd.api.types.is_datetime64_any_dtype(data[col]):
            data[col] = data[col].astype("string").astype(object).where(data[col].notna(), "")
    source_row = pd.Series(range(2, len(data) + 2), index=data.index, name="source_row")
    n_fields = pd.Series(data.shape[1], index=data.index)
    return RawTable(path, data, source_row, n_fields, "parquet")


def _check_header(path: Path, names: list[str]) -> None:
    blank = [i + 1 for i, n in enumerate(names) if not n or n.startswith("Unnamed:")]
    if len(blank) == len(names):
        raise InputError("has no header row of column names", path=path, row=1)
    seen: set[str] = set()
    for n in names:
        if n.casefold() in seen:
            raise InputError("column name appears twice in the header", path=path, row=1, column=n)
        seen.add(n.casefold())


def _short(err: BaseException) -> str:
    return " ".join(str(err).split())[:160] or type(err).__name__
