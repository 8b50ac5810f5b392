"""The incident data contract: map columns, parse values, and account for every row.

Every later stage starts from :func:`load_incidents` (a file) or :func:`validate_incidents`
(a frame already in memory). Both return a :class:`LoadResult` in which each input row is in
exactly one place: ``incidents`` (accepted, typed) or ``rejects`` (with its spreadsheet row
number, the column at fault, a reason code and the offending value). ``reconciliation``
states rows read = accepted + rejected, which the CLI prints and the manifest stores.

All checks are vectorised over the whole column; there is no per-row Python loop.

Columns are kept by allow-list: the contract's columns, plus only the extra columns a caller
names in ``keep_columns`` (checked by content: a column of free text or identifiers is
refused). Every other column of the export is never read into the frame, so it cannot reach
an output by any route. Recognised person-name columns are read only to redact those names
from the same row's narrative (:attr:`LoadResult.names`), and are never written.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from sgreview.errors import InputError, ParameterError
from sgreview.readers import RawTable, read_table

REQUIRED: tuple[str, ...] = ("incident_id", "incident_date", "locality", "narrative")
OPTIONAL: tuple[str, ...] = (
    "reported_date",
    "team",
    "service",
    "category",
    "harm",
    "safeguarding_referral",
    "age_band",
    "sex",
    "ethnicity",
    "case_ref",
    "person_id",
)
CANONICAL: tuple[str, ...] = REQUIRED + OPTIONAL
HARM_LEVELS: tuple[str, ...] = ("none", "low", "moderate", "severe", "death")

#: Before this, an incident date is a typing error (or a placeholder such as 1900-01-01).
EARLIEST_DATE = date(1990, 1, 1)
#: Columns read only to redact the names they hold from the same row's narrative.
NAME_COLUMNS: tuple[str, ...] = ("patient_name", "name", "forename", "surname")

#: The honest bucket in every assignments table: incidents no theme fits (DESIGN.md).
UNTHEMED_ID = "T00"
UNTHEMED_LABEL = "Unthemed"

#: Header spellings seen in Datix-style exports, matched after folding case and punctuation.
ALIASES: dict[str, tuple[str, ...]] = {
    "incident_id": ("incident id", "id", "incident ref", "incident reference", "ref", "datix id",
                    "incident number", "record id"),
    "incident_date": ("incident date", "date of incident", "date", "occurred date",
                      "date occurred", "event date"),
    "locality": ("locality", "area", "location locality", "directorate", "borough"),
    "narrative": ("narrative", "description", "incident description", "details",
                  "description of incident", "what happened"),
    "reported_date": ("reported date", "date reported", "reported", "date opened"),
    "team": ("team", "team name", "ward team", "unit", "ward"),
    "service": ("service", "service line", "specialty"),
    "category": ("category", "incident category", "type", "incident type"),
    "harm": ("harm", "harm level", "degree of harm", "severity", "actual harm", "result"),
    "safeguarding_referral": ("safeguarding referral", "safeguarding", "referral made",
                              "safeguarding referral made"),
    "age_band": ("age band", "age group"),
    "sex": ("sex", "gender"),
    "ethnicity": ("ethnicity", "ethnic group", "ethnic origin"),
    "case_ref": ("case ref", "case reference", "review ref", "sar ref"),
    "person_id": ("person id", "patient id", "service user id", "client id", "person ref",
                  "nhs number", "rio number", "mrn"),
}

#: Environment variable holding the secret that keys the person pseudonym. Set it to link the
#: same person across separate loads and runs; without it each load draws a fresh random key,
#: so pseudonyms are only comparable within one load (enough for repeat-incident counts).
PERSON_KEY_ENV = "SGREVIEW_PERSON_KEY"
_PROCESS_KEY: bytes | None = None

_HARM_MAP = {
    "none": "none", "no harm": "none", "no": "none", "nil": "none", "near miss": "none",
    "low": "low", "low harm": "low", "minor": "low", "minimal": "low",
    "moderate": "moderate", "moderate harm": "moderate", "medium": "moderate",
    "severe": "severe", "severe harm": "severe", "major": "severe", "serious": "severe",
    "death": "death", "catastrophic": "death", "fatal": "death", "catastrophic death": "death",
}
_YES = {"yes", "y", "true", "t", "1", "referred", "made"}
_NO = {"no", "n", "false", "f", "0", "not referred", "none"}

#: Tried in order on the still-unparsed remainder; UK day-first throughout.
_DATE_FORMATS: tuple[str, ...] = (
    "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y", "%d/%m/%y %H:%M",
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
    "%d-%m-%Y", "%d.%m.%Y", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y", "%Y/%m/%d",
)
_REASONS = {
    "ragged_row": "row has {value} fields but the header has {width}",
    "missing_incident_id": "incident_id is empty",
    "duplicate_incident_id": "incident_id already used at row {first}",
    "empty_narrative": "narrative is empty",
    "missing_locality": "locality is empty",
    "missing_date": "incident_date is empty",
    "unparseable_date": "incident_date is not a date (UK day-first expected)",
    "future_date": "incident_date is in the future",
    "implausible_date": "incident_date is before the earliest plausible date",
    "nul_byte": "a value holds a NUL byte (a damaged export)",
}


@dataclass
class LoadResult:
    """Accepted incidents, rejected rows and the reconciliation between them."""

    incidents: pd.DataFrame
    rejects: pd.DataFrame
    reconciliation: dict
    source: str = "<frame>"
    column_map: dict[str, str] = field(default_factory=dict)
    #: Person-name columns of accepted rows (same index as ``incidents``), for redaction only.
    names: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Header names of the export that were not read (outside the contract and keep_columns).
    dropped_columns: list[str] = field(default_factory=list)


def parse_column_map(items: Iterable[str] | None) -> dict[str, str]:
    """Turn ``["narrative=Description", ...]`` (the CLI's ``--map``) into a dict."""
    mapping: dict[str, str] = {}
    for item in items or ():
        canonical, sep, source = item.partition("=")
        canonical, source = canonical.strip(), source.strip()
        if not sep or not canonical or not source:
            raise ParameterError(f"--map expects CANONICAL=SOURCE, got '{item}'")
        if canonical not in CANONICAL:
            raise ParameterError(
                f"--map {item}: '{canonical}' is not a canonical column; "
                f"use one of {', '.join(CANONICAL)}"
            )
        mapping[canonical] = source
    return mapping


def load_incidents(
    path: str | Path,
    columns: Mapping[str, str] | None = None,
    *,
    today: date | None = None,
    keep_columns: Sequence[str] = (),
    earliest_date: date | str | None = EARLIEST_DATE,
    name_columns: Sequence[str] = (),
    vet_kept: bool = True,
    services: Sequence[str] = (),
) -> LoadResult:
    """Read and validate an incident export. The input file is only ever read.

    ``keep_columns`` names extra (non-contract) columns to carry through to outputs; each is
    checked by content and refused when it holds free text or identifiers (``vet_kept``
    False skips that check, for a column that is only read, never written, such as a human
    coding being evaluated). ``earliest_date`` is the first plausible incident date: earlier
    ones are rejected as ``implausible_date``. ``name_columns`` (beyond the recognised
    :data:`NAME_COLUMNS`) are read only to redact those names from narratives. ``services``
    (the trust's listed service names, :mod:`sgreview.services`) are not identifiers when a
    kept column (a ward column) is checked.
    """
    path_text = str(path)
    wanted = _wanted(columns, keep_columns, name_columns, path_text)
    table = read_table(path, select=wanted)
    return _validate(table, columns, today, keep_columns=keep_columns, earliest_date=earliest_date,
                     name_columns=name_columns, vet_kept=vet_kept, services=services)


def _wanted(columns: Mapping[str, str] | None, keep_columns: Sequence[str],
            name_columns: Sequence[str], path: str):
    """The reader's column selector: contract columns, kept extras and name columns."""
    def select(names: Sequence[str]) -> list[str]:
        names = [str(n) for n in names]
        missing = [c for c in (*keep_columns, *name_columns) if c not in names]
        if missing:
            raise ParameterError(
                f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)} not found "
                f"(keep_columns / name columns); columns found: {_listing(names)}",
                path=path,
                column=missing[0],
            )
        chosen = set(resolve_columns(names, columns, path))
        chosen |= set(keep_columns) | set(name_columns)
        chosen |= {n for n in names if n.casefold() in NAME_COLUMNS}
        return [n for n in names if n in chosen]

    return select


def _listing(names: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" ... ({len(names) - limit} more)" if len(names) > limit else "")


def validate_incidents(
    df: pd.DataFrame,
    source: str = "<frame>",
    columns: Mapping[str, str] | None = None,
    *,
    today: date | None = None,
    keep_columns: Sequence[str] = (),
    earliest_date: date | str | None = EARLIEST_DATE,
    name_columns: Sequence[str] = (),
    vet_kept: bool = True,
) -> LoadResult:
    """Validate a frame already in memory (e.g. the synthetic generator's output)."""
    data = df.reset_index(drop=True).copy()
    for col in data.columns:
        if not pd.api.types.is_datetime64_any_dtype(data[col]):
            data[col] = data[col].astype("string").astype(object).where(data[col].notna(), "")
    data.columns = [str(c) for c in data.columns]
    table = RawTable(
        path=Path(source),
        data=data,
        source_row=pd.Series(np.arange(2, len(data) + 2), index=data.index, name="source_row"),
        n_fields=pd.Series(data.shape[1], index=data.index),
        encoding="frame",
    )
    wanted = _wanted(columns, keep_columns, name_columns, source)(list(data.columns))
    header = tuple(data.columns)
    table = RawTable(table.path, data[wanted], table.source_row, table.n_fields, "frame", header)
    return _validate(table, columns, today, keep_columns=keep_columns, earliest_date=earliest_date,
                     name_columns=name_columns, vet_kept=vet_kept)


def resolve_columns(found: Sequence[str], columns: Mapping[str, str] | None, path: str) -> dict:
    """Return ``{source_column: canonical}`` from an explicit map plus unambiguous aliases."""
    found = list(found)
    explicit = dict(columns or {})
    for canonical, source in explicit.items():
        if canonical not in CANONICAL:
            raise ParameterError(f"column map: '{canonical}' is not a canonical column", path=path)
        if source not in found:
            raise InputError(
                f"mapped column '{source}' (for {canonical}) not found; "
                f"columns found: {', '.join(found)}",
                path=path,
                column=source,
            )
    rename = {source: canonical for canonical, source in explicit.items()}
    taken_sources = set(rename)
    folded = {_fold(c): c for c in found if c not in taken_sources}
    for canonical in CANONICAL:
        if canonical in explicit:
            continue
        if canonical in found and canonical not in taken_sources:
            rename[canonical] = canonical
            folded.pop(_fold(canonical), None)
            continue
        for alias in (canonical.replace("_", " "), *ALIASES.get(canonical, ())):
            source = folded.get(_fold(alias))
            if source is not None:
                rename[source] = canonical
                folded.pop(_fold(alias))
                break
    missing = [c for c in REQUIRED if c not in rename.values()]
    if missing:
        raise InputError(
            f"missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; columns found: {_listing(found)} "
            "(map them with --map CANONICAL=SOURCE or a 'columns:' parameter)",
            path=path,
            column=missing[0],
        )
    return rename


def _validate(
    table: RawTable,
    columns: Mapping[str, str] | None,
    today: date | None,
    *,
    keep_columns: Sequence[str] = (),
    earliest_date: date | str | None = EARLIEST_DATE,
    name_columns: Sequence[str] = (),
    vet_kept: bool = True,
    services: Sequence[str] = (),
) -> LoadResult:
    path = str(table.path)
    rename = resolve_columns(list(table.data.columns), columns, path)
    data = table.data.rename(columns=rename)
    # A source column that collides with a canonical name it was not mapped to is dropped.
    data = data.loc[:, ~data.columns.duplicated()]
    name_cols = [c for c in data.columns
                 if c not in CANONICAL and (c in name_columns or c.casefold() in NAME_COLUMNS)]
    kept = [c for c in keep_columns if c in data.columns and c not in CANONICAL]
    allowed = [c for c in data.columns if c in CANONICAL or c in kept]
    names = data[name_cols]
    data = data[allowed]
    dropped = [c for c in table.header if c not in rename and c not in kept]
    n = len(data)
    blank = _blank_rows(data)
    data, source_row, n_fields = data[~blank], table.source_row[~blank], table.n_fields[~blank]
    names = names[~blank]

    text = {c: _clean_text(data[c]) for c in ("incident_id", "locality", "narrative")}
    dates, too_early, too_late = _parse_dates_bounded(data["incident_date"], earliest_date)
    today_ts = pd.Timestamp(today or date.today())
    earliest_text = "" if earliest_date is None else str(pd.Timestamp(earliest_date).date())

    reason = pd.Series("", index=data.index, dtype=object)
    column = pd.Series("", index=data.index, dtype=object)
    value = pd.Series("", index=data.index, dtype=object)

    def mark(mask: pd.Series, code: str, col: pd.Series | str, val: pd.Series | str) -> None:
        mask = mask & (reason == "")
        reason[mask] = code
        column[mask] = col[mask] if isinstance(col, pd.Series) else col
        value[mask] = val[mask] if isinstance(val, pd.Series) else val

    mark(n_fields != table.width, "ragged_row", "", n_fields.astype(str))
    if table.nul_column is not None:
        nul = table.nul_column[~blank].map(lambda c: rename.get(c, c))
        mark(nul != "", "nul_byte", nul, "")
    mark(text["incident_id"] == "", "missing_incident_id", "incident_id", "")
    mark(text["narrative"] == "", "empty_narrative", "narrative", "")
    mark(text["locality"] == "", "missing_locality", "locality", "")
    raw_date = data["incident_date"].astype(str).str.strip()
    if pd.api.types.is_datetime64_any_dtype(data["incident_date"]):
        raw_date = data["incident_date"].dt.strftime("%Y-%m-%d").fillna("")
    mark(raw_date == "", "missing_date", "incident_date", "")
    mark(too_early, "implausible_date", "incident_date", raw_date.str.slice(0, 40))
    mark(too_late, "future_date", "incident_date", raw_date.str.slice(0, 40))
    mark(dates.isna(), "unparseable_date", "incident_date", raw_date.str.slice(0, 40))
    mark(dates > today_ts, "future_date", "incident_date", raw_date.str.slice(0, 40))
    # Duplicates among otherwise-valid rows: the first occurrence is kept.
    ok_ids = text["incident_id"].where(reason == "")
    dup = ok_ids.duplicated(keep="first") & ok_ids.notna()
    first_row = source_row.groupby(ok_ids).transform("first")
    mark(dup, "duplicate_incident_id", "incident_id", text["incident_id"])
    detail_first = first_row.where(dup)

    rejected = reason != ""
    rejects = pd.DataFrame(
        {
            "source_row": source_row[rejected].astype(int),
            "incident_id": text["incident_id"][rejected],
            "column": column[rejected],
            "reason": reason[rejected],
            "detail": _details(reason[rejected], value[rejected], table.width,
                               detail_first[rejected], earliest_text),
            "value": value[rejected].astype(str).str.slice(0, 80),
        }
    ).reset_index(drop=True)

    acc = data[~rejected].copy()
    acc["incident_id"] = text["incident_id"][~rejected]
    # Narratives keep their line breaks (paragraphs help sentence splitting); only trimmed.
    acc["narrative"] = (
        data["narrative"][~rejected].astype(str).str.replace("\r\n?", "\n", regex=True).str.strip()
    )
    acc["locality"] = tidy_labels(text["locality"][~rejected])
    acc["incident_date"] = dates[~rejected]
    warnings: dict[str, int] = {}
    if "reported_date" in acc:
        rep = parse_dates(acc["reported_date"], earliest_date)
        bad = rep.isna() & (acc["reported_date"].astype(str).str.strip() != "")
        warnings["reported_date_unparseable"] = int(bad.sum())
        acc["reported_date"] = rep
    if "harm" in acc:
        harm, bad = _map_values(acc["harm"], _HARM_MAP)
        warnings["harm_unrecognised"] = int(bad.sum())
        acc["harm"] = pd.Categorical(harm, categories=HARM_LEVELS, ordered=True)
    if "safeguarding_referral" in acc:
        flag, bad = parse_flags(acc["safeguarding_referral"])
        warnings["safeguarding_referral_unrecognised"] = int(bad.sum())
        acc["safeguarding_referral"] = flag
    for c in ("team", "service"):
        if c in acc:
            acc[c] = tidy_labels(_clean_text(acc[c]))
    if "person_id" in acc:
        acc["person_key"] = pseudonymise(acc.pop("person_id"))
        warnings["person_id_blank"] = int(acc["person_key"].isna().sum())
        acc["person_incidents"] = acc.groupby("person_key")["incident_id"].transform("size").astype("Int64")
    acc.insert(0, "source_row", source_row[~rejected].astype(int))
    acc = acc.reset_index(drop=True)
    ordered = ["incident_id", "incident_date", "locality", "narrative"]
    ordered += [c for c in OPTIONAL if c in acc]
    ordered += [c for c in acc.columns if c not in ordered and c != "source_row"] + ["source_row"]
    acc = acc[ordered]
    if kept and vet_kept:
        vet_kept_columns(acc, kept, path, services=services)

    by_reason = rejects["reason"].value_counts().sort_index()
    reconciliation = {
        "source": path,
        "rows_read": int(n - int(blank.sum())),
        "rows_accepted": int(len(acc)),
        "rows_rejected": int(len(rejects)),
        "by_reason": {str(k): int(v) for k, v in by_reason.items()},
        "blank_lines_skipped": int(blank.sum()),
        "warnings": {k: v for k, v in warnings.items() if v},
        "encoding": table.encoding,
        "column_map": {v: k for k, v in rename.items() if k != v},
        "columns_kept": kept,
        "columns_dropped": len(dropped),
    }
    assert reconciliation["rows_read"] == reconciliation["rows_accepted"] + reconciliation[
        "rows_rejected"], "reconciliation failed"
    return LoadResult(acc, rejects, reconciliation, path, {v: k for k, v in rename.items()},
                      names=names[~rejected].reset_index(drop=True), dropped_columns=dropped)


#: A kept column whose typical value has this many words is free text, not a category.
FREE_TEXT_WORDS = 6
#: ... or whose values are this long (characters) at the median.
FREE_TEXT_CHARS = 48
#: A kept column where this share of values hold an identifier (NHS number, name, ...) leaks.
IDENTIFIER_SHARE = 0.02
#: A kept column with at least this many values, nearly all distinct, identifies people/records.
DISTINCT_MIN_VALUES = 20
DISTINCT_SHARE = 0.9


def vet_kept_columns(frame: pd.DataFrame, columns: Sequence[str], path: str = "<frame>",
                     *, services: Sequence[str] = ()) -> None:
    """Refuse (exit 2) a kept column that holds free text or identifiers, judged by content.

    Why by content: a column's name says nothing reliable ("Notes2", "Field 17"), and one
    unredacted free-text or identifier column in ``assignments.csv`` is a data breach.
    A category column (ward, shift, incident subtype) passes: short values, many repeats.
    Names in ``services`` (the trust's listed wards and units) are not identifiers.
    """
    from sgreview.redact import contains_identifiers

    for col in columns:
        values = frame[col].astype("string").str.strip()
        values = values[values.notna() & (values != "")]
        if values.empty:
            continue
        words = values.str.count(r"\S+").median()
        chars = values.str.len().median()
        sample = values.sample(min(len(values), 2000), random_state=0) if len(values) > 2000 else values
        idents = float(contains_identifiers(sample.astype(object), services=services).mean())
        distinct = values.nunique() / len(values)
        why = None
        if words >= FREE_TEXT_WORDS or chars >= FREE_TEXT_CHARS:
            why = f"looks like free text (median {words:.0f} words, {chars:.0f} characters)"
        elif idents >= IDENTIFIER_SHARE:
            why = f"holds identifiers (names, NHS numbers, dates of birth...) in {idents:.0%} of values"
        elif len(values) >= DISTINCT_MIN_VALUES and distinct >= DISTINCT_SHARE:
            why = f"looks like an identifier ({distinct:.0%} of its values are distinct)"
        if why:
            raise ParameterError(
                f"keep_columns: column '{col}' {why}; outputs may carry only short category "
                "columns, so leave it out of keep_columns",
                path=path,
                column=col,
            )



def _person_secret() -> bytes:
    global _PROCESS_KEY
    env = os.environ.get(PERSON_KEY_ENV, "")
    if env:
        return env.encode("utf-8")
    if _PROCESS_KEY is None:
        _PROCESS_KEY = secrets.token_bytes(32)
    return _PROCESS_KEY


def pseudonymise(values: pd.Series) -> pd.Series:
    """Replace person identifiers by a keyed hash (HMAC-SHA256, 16 hex characters).

    The raw value never leaves loading: callers get only the pseudonym, blank values become
    missing ("no person key", kept and counted), and because the hash is keyed an NHS number
    cannot be recovered by hashing every possible number. Values are compared after trimming,
    removing inner spaces and folding case ("943 476 5919" and "9434765919" are one person).
    """
    norm = values.astype("string").str.strip().str.replace(r"\s+", "", regex=True).str.casefold()
    norm = norm.where(norm.fillna("") != "")
    key = _person_secret()
    uniq = norm.dropna().unique()
    table = {v: hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:16] for v in uniq}
    return norm.map(table).astype("string")


def parse_dates(values: pd.Series, earliest_date: date | str | None = EARLIEST_DATE) -> pd.Series:
    """Parse UK day-first dates (and ISO, and Excel's ``YYYY-MM-DD 00:00:00``) to day precision.

    Each explicit format is tried only on what is still unparsed, so a US-style guess never
    turns 03/04 into the 4th of March. Dates before ``earliest_date`` and dates pandas cannot
    hold (0001-01-01, 9999-12-31) come back missing, never as an exception.
    """
    return _parse_dates_bounded(values, earliest_date)[0]


#: The range a nanosecond timestamp can hold, with a day's margin.
_NS_MIN = pd.Timestamp.min.ceil("D") + pd.Timedelta(days=1)
_NS_MAX = pd.Timestamp.max.floor("D") - pd.Timedelta(days=1)


def _parse_dates_us(values: pd.Series) -> pd.Series:
    """Parse to microsecond precision, whose range (years 1-9999) holds any written date."""
    if pd.api.types.is_datetime64_any_dtype(values):
        if values.dt.tz is not None:
            values = values.dt.tz_localize(None)
        return values.astype("datetime64[us]").dt.normalize()
    text = values.astype("string").str.strip().fillna("")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    todo = text != ""
    for fmt in _DATE_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        hit = parsed.notna()
        out.loc[hit[hit].index] = parsed[hit].astype("datetime64[us]")
        todo &= out.isna()
    return out.dt.normalize()


def _parse_dates_bounded(
    values: pd.Series, earliest_date: date | str | None
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Dates (nanosecond, day precision), which parsed ones fell before ``earliest_date``, and
    which lie past what pandas can hold (9999-12-31).

    Out-of-range and implausible dates are set missing here; the validator turns them into
    row rejects with a reason.
    """
    wide = _parse_dates_us(values)
    lower = _NS_MIN if earliest_date is None else max(pd.Timestamp(earliest_date), _NS_MIN)
    too_early = wide.notna() & (wide < lower)
    ok = wide.notna() & ~too_early & (wide <= _NS_MAX)
    out = wide.where(ok).astype("datetime64[ns]")
    return out, too_early, wide.notna() & (wide > _NS_MAX)


def parse_flags(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yes/no text to a nullable boolean; also returns which non-empty cells were not understood."""
    key = values.astype("string").str.strip().str.casefold().fillna("")
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[key.isin(_YES)] = True
    out[key.isin(_NO)] = False
    bad = out.isna() & (key != "")
    return out, bad


def tidy_labels(values: pd.Series) -> pd.Series:
    """Make case and spacing variants of a label one label.

    "north east", "North  East " and "NORTH EAST" become whichever spelling is most common
    in the file (ties: alphabetical), so counts are never split by typing habits.
    """
    cleaned = _clean_text(values)
    key = cleaned.str.casefold()
    counts = pd.DataFrame({"key": key, "label": cleaned}).value_counts().reset_index()
    counts = counts.sort_values(["key", "count", "label"], ascending=[True, False, True])
    best = counts.drop_duplicates("key").set_index("key")["label"]
    return key.map(best).where(cleaned != "", "")


def _clean_text(values: pd.Series) -> pd.Series:
    s = values.astype("string").fillna("")
    return s.str.replace(r"\s+", " ", regex=True).str.strip().astype(object)


def _blank_rows(data: pd.DataFrame) -> pd.Series:
    """Rows where every cell is empty or whitespace, in one vectorised pass over all cells."""
    if data.shape[1] == 0:
        return pd.Series(False, index=data.index)
    cells = pd.Series(data.astype("string").to_numpy().ravel()).fillna("").str.strip()
    empty = (cells == "").to_numpy().reshape(data.shape)
    return pd.Series(empty.all(axis=1), index=data.index)


def _map_values(values: pd.Series, mapping: Mapping[str, str]) -> tuple[pd.Series, pd.Series]:
    key = values.astype("string").str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)
    key = key.fillna("")
    mapped = key.map(mapping)
    bad = mapped.isna() & (key != "")
    return mapped, bad


def _details(reason: pd.Series, value: pd.Series, width: int, first: pd.Series,
             earliest: str = "") -> pd.Series:
    out = pd.Series("", index=reason.index, dtype=object)
    for code, template in _REASONS.items():
        m = reason == code
        if not m.any():
            continue
        if code == "ragged_row":
            out[m] = "row has " + value[m].astype(str) + f" fields but the header has {width}"
        elif code == "implausible_date":
            out[m] = f"incident_date is before {earliest}, the earliest plausible date"
        elif code == "duplicate_incident_id":
            out[m] = "incident_id already used at row " + first[m].astype("Int64").astype(str)
        else:
            out[m] = template
    return out


def _fold(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(name).casefold()).strip()
