"""The disclosure audit of a finished run: can anything a reviewer opens reveal a small count
or a person?

The reports pass the disclosure gate (:mod:`sgreview.disclosure`) as they are written; this
audit checks the result from the outside, the way a safeguarding lead's information
governance colleague would, so a bug in one view cannot slip through silently. It reads only
the run folder, and checks every **reviewer** file (:mod:`sgreview.audience`):

* ``small_count``: a count from 1 to the threshold in a count column of a table (HTML
  tables, reviewer CSVs). Count columns are recognised by their header ("incidents",
  "count", "events", "n" ...); columns whose header says "organisation" hold
  whole-organisation totals, which DOMAIN.md exempts.
* ``percentage_reveals_count``: in tables, every share column is checked against every
  count column of the same table, wherever it sits (:func:`share_findings`): a share shown
  where the count it is a share of (found from the numbers: one common total, or the ratio
  of two count columns in the row) is suppressed, or shares that do not follow the rounded
  counts (then an exact count could be recovered from the share and the total). In running
  text, "N (P%)", "N of M (P%)" and "P% (N of M)" with N suppressed or from 1 to the
  threshold, or P of M meaning such a count (:func:`sentence_findings`).
* ``small_count_chart``: a figure whose record (``figures.json``, written by every stage
  beside its report) says it plotted a count from 1 to the threshold at its true value.
* ``identifier``: an NHS number, postcode, phone number, email, NI number or date of birth
  anywhere in the text, or a person's name in a quoted excerpt.
* ``model_vocabulary``: a term of the saved theme model that is a known given or family
  name (the model is meant to be shared) or holds a redaction tag.

The threshold is the run's own (from the manifest), so a run made with
``disclosure: analyst_only`` is audited against what it declared, and its banner is checked
instead. A folder without ``manifest.json`` is not a run: :class:`InputError` (exit 2).
"""

from __future__ import annotations

import html
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from sgreview.audience import REVIEWER, audience_of, run_files
from sgreview.disclosure import DEFAULT_THRESHOLD
from sgreview.errors import InputError
from sgreview.services import services_from_manifest

#: Header words that make a column a count column.
COUNT_HEADERS = re.compile(
    r"^(?:n|count|counts|events|incidents|rows|size|latest count|typical count.*|"
    r"incidents .*|.* incidents|number of .*|.* count|referrals|.* referrals|most incidents .*|"
    r"reported after .*|no person key)$",
    re.IGNORECASE,
)
PERCENT_HEADERS = re.compile(r"share|percent|%", re.IGNORECASE)
#: Headers with a percent sign that are not shares of a count.
NOT_SHARE_HEADERS = re.compile(r"limit|interval|\bci\b|confidence|percentile|likely|range|per 1,?000",
                               re.IGNORECASE)
#: Whole-organisation totals are exempt from suppression (DOMAIN.md).
EXEMPT_HEADERS = re.compile(r"organisation|whole", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """One problem in one reviewer file."""

    path: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}: {self.detail}"


@dataclass
class AuditResult:
    run_dir: Path
    threshold: int
    files_checked: int
    findings: list[Finding]

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        return 0 if self.clean else 1

    def summary(self) -> dict:
        return {"clean": self.clean, "threshold": self.threshold,
                "files_checked": self.files_checked, "findings": len(self.findings),
                "by_rule": pd.Series([f.rule for f in self.findings], dtype=object)
                .value_counts().sort_index().to_dict()}

    def to_json(self) -> dict:
        return {**self.summary(), "details": [asdict(f) for f in self.findings]}


# --- reading reviewer files -------------------------------------------------------------------


class _Tables(HTMLParser):
    """Every ``<table>`` of an HTML page as a list of rows of cell texts (header rows flagged)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[tuple[bool, list[str]]]] = []
        self._stack: list[list[tuple[bool, list[str]]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._header_row = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._stack.append([])
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._stack:
            self._row, self._header_row = [], self._in_head
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._stack:
            self._stack[-1].append((self._header_row, self._row))
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(text: str) -> list[pd.DataFrame]:
    """The tables of an HTML page as text frames; header rows are merged into column names
    (pandas writes the index name on a second header row), the first column is the index."""
    parser = _Tables()
    parser.feed(text)
    frames = []
    for rows in parser.tables:
        head = [r for is_head, r in rows if is_head]
        body = [r for is_head, r in rows if not is_head]
        if not body:
            continue
        if not head:  # Markdown-rendered tables put headers in the first row of <th>
            head, body = [body[0]], body[1:]
        width = max(len(r) for r in head + body)
        names = [" ".join(h[i] for h in head if i < len(h) and h[i]).strip() for i in range(width)]
        body = [r + [""] * (width - len(r)) for r in body]
        frames.append(pd.DataFrame(body, columns=_unique(names)))
    return frames


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}.{seen[n]}")
    return out


_SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def html_text(text: str) -> str:
    """The visible text of an HTML page (scripts, styles and embedded images removed)."""
    text = _IMG.sub(" ", _SCRIPT.sub(" ", text))
    return html.unescape(_TAG.sub(" ", text))


def docx_text(path: Path) -> str:
    """The text of a Word file (its XML with tags removed): enough for pattern checks."""
    with zipfile.ZipFile(path) as z:
        xml = " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()
                       if n.startswith("word/") and n.endswith(".xml"))
    return html.unescape(_TAG.sub(" ", re.sub(r"</w:p>", "\n", xml)))


# --- rules --------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^\s*(-?[\d,]*\.?\d+)\s*(%?)\s*$")


def _number(cell: str) -> float | None:
    m = _NUMBER.match(str(cell))
    if not m:
        return None
    try:
        return float(m.group(1).replace(",", ""))
    except ValueError:
        return None


def _decimals(cell: str) -> int:
    m = _NUMBER.match(str(cell))
    return len(m.group(1).split(".")[1]) if m and "." in m.group(1) else 0


def count_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding counts: by header (underscores read as spaces), never a share."""
    out = []
    for c in frame.columns:
        words = str(c).replace("_", " ").strip()
        if COUNT_HEADERS.match(words) and not EXEMPT_HEADERS.search(words) \
                and not PERCENT_HEADERS.search(words):
            out.append(c)
    return out


def share_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding percentages of a count: "share ...", "% ...", "percent ...", but not
    limits, intervals or percentiles (a "95% limits" or "90th percentile" column is no
    share), and not whole-organisation shares (DOMAIN.md exempts organisation figures)."""
    counts = set(count_columns(frame))
    out = []
    for c in frame.columns:
        words = str(c).replace("_", " ").strip()
        if (c not in counts and PERCENT_HEADERS.search(words) and not NOT_SHARE_HEADERS.search(words)
                and not EXEMPT_HEADERS.search(words)):
            out.append(c)
    return out


def table_findings(frame: pd.DataFrame, threshold: int, symbol: str = "*") -> list[str]:
    """Small counts in count columns, and percentages that give a count back.

    Every share column is checked against every count column of the same table, not only the
    one beside it (a table "theme | n | share of locality | n others | % others" has two
    pairs): see :func:`share_findings`.
    """
    out = []
    for col in count_columns(frame):
        values = frame[col].map(_number)
        is_pct = frame[col].astype(str).str.contains("%", regex=False)
        small = values.map(lambda v: v is not None and float(v).is_integer() and 1 <= v <= threshold) & ~is_pct
        for i in np.flatnonzero(small.to_numpy()):
            out.append(("small_count", f"column '{col}' shows {frame[col].iloc[i]} (row {i + 1})"))
    return out + share_findings(frame, symbol)


def _numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values of a column as floats (NaN where not a number) and each one's display half-width."""
    text = column.astype(str)
    values = np.array([np.nan if (v := _number(t)) is None else v for t in text], dtype=float)
    half = np.array([0.5 * 10 ** -_decimals(t) for t in text], dtype=float)
    return values, half


def _common_denominator(c: np.ndarray, p: np.ndarray, half: np.ndarray) -> tuple[int, bool]:
    """Rows used, and whether one denominator D explains every ``p = 100 c / D`` there.

    Percentages from rounded counts over one rounded denominator imply the same D for every
    row (count / share, within display precision); an exact-count percentage does not.
    """
    use = np.isfinite(c) & np.isfinite(p) & (c > 0) & (p > 0)
    if not use.any():
        return 0, True
    lo = np.max(100 * c[use] / (p[use] + half[use]))
    hi = np.min(100 * c[use] / np.maximum(p[use] - half[use], 1e-9))
    return int(use.sum()), bool(lo <= hi * (1 + 1e-9))


#: A share column is read as another count column's share of a common total only on this
#: many rows that agree (two rows can agree by chance; beside its count, two are enough).
MIN_ROWS_RELATED = 3
#: A share is read as ``numerator / denominator`` of two count columns in the same row when
#: it equals that ratio (within display precision) on at least this many rows ...
MIN_ROWS_RATIO = 2
#: ... and on at least this share of the rows where all three are shown.
MIN_SHARE_RATIO = 0.8


def share_findings(frame: pd.DataFrame, symbol: str = "*") -> list[tuple[str, str]]:
    """Percentages that give back a count the table hides, or an exact count it rounds.

    For each share column, the count columns it was computed from are found from the
    numbers themselves, wherever they sit in the table:

    * the count right before it (the layout the views use): a share shown beside a
      suppressed count, or shares that do not follow the rounded counts, are findings;
    * any count column whose shares imply one common total on at least
      :data:`MIN_ROWS_RELATED` rows ("share of locality" for "n" two columns away): a share
      shown where that count is suppressed gives it back (share x total);
    * any two count columns whose ratio it is, row by row ("share with a referral" =
      referrals / incidents): a share shown where either is suppressed gives it back, and a
      share that does not equal the rounded ratio in a row came from exact counts.

    One finding per share cell.
    """
    cols = list(frame.columns)
    counts = count_columns(frame)
    parsed = {c: _numbers(frame[c])[0] for c in counts}
    hidden = {c: (frame[c].astype(str).str.strip() == symbol).to_numpy() for c in counts}
    found: dict[tuple[str, int], str] = {}
    column_level: list[tuple[str, str]] = []

    def flag(pcol: str, rows: np.ndarray, why: str) -> None:
        for i in np.flatnonzero(rows):
            found.setdefault((pcol, int(i)), f"'{pcol}' shows {frame[pcol].iloc[i]} {why} (row {i + 1})")

    for pcol in share_columns(frame):
        p, half = _numbers(frame[pcol])
        shown = np.isfinite(p)
        for ccol in counts:
            adjacent = cols.index(ccol) + 1 == cols.index(pcol)
            used, common = _common_denominator(parsed[ccol], p, half)
            if adjacent:
                flag(pcol, hidden[ccol] & shown, f"beside a suppressed '{ccol}'")
                if used >= 2 and not common:
                    column_level.append((pcol, f"'{pcol}' does not follow the rounded '{ccol}': an "
                                               "exact count can be recovered"))
            elif used >= MIN_ROWS_RELATED and common:
                flag(pcol, hidden[ccol] & shown & (p > 0),
                     f"where '{ccol}', whose share of one total it is, is suppressed")
        for num in counts:
            for den in counts:
                if num == den:
                    continue
                n, d = parsed[num], parsed[den]
                rows = shown & np.isfinite(n) & np.isfinite(d) & (d > 0) & (n > 0) & (p > 0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    match = rows & (np.abs(p - 100 * n / d) <= half + 1e-9)
                if match.sum() < MIN_ROWS_RATIO or match.sum() < MIN_SHARE_RATIO * rows.sum():
                    continue
                flag(pcol, (hidden[num] | hidden[den]) & shown & (p > 0),
                     f"where '{num}' or '{den}', whose ratio it is, is suppressed")
                flag(pcol, rows & ~match,
                     f"which is not the rounded '{num}' over the rounded '{den}': an exact count "
                     "can be recovered")
    out = [("percentage_reveals_count", detail) for detail in found.values()]
    return out + [("percentage_reveals_count", detail) for _, detail in column_level]


#: A count in a sentence: a number, "about N", or hidden ("*", "fewer than N").
_TEXT_COUNT = r"(?:\*|fewer than [\d,]+|about [\d,]+|[\d,]*\d)"
_TEXT_PCT = r"\d+(?:\.\d+)?"
#: "N (P%)", "N of M (P%)" and "P% (N of M)" in running text.
_SENTENCE_SHARES = (
    re.compile(rf"(?<![\w.,*])(?P<n>{_TEXT_COUNT}) (?:(?:out )?of (?P<m>{_TEXT_COUNT}) )?"
               rf"\((?P<p>{_TEXT_PCT})%\)"),
    re.compile(rf"(?<![\w.,])(?P<p>{_TEXT_PCT})% \((?P<n>{_TEXT_COUNT}) (?:out )?of "
               rf"(?P<m>{_TEXT_COUNT})(?: [a-z][a-z ]{{0,40}})?\)"),
)
_TABLE_BLOCK = re.compile(r"<table\b.*?</table>", re.IGNORECASE | re.DOTALL)
_SENTENCE_END = re.compile(r"[.!?;\n]\s")


def _text_count(text: str, symbol: str = "*") -> float | None:
    """A sentence count as a number; NaN when hidden; None when not a count."""
    t = text.strip()
    if t == symbol or t.startswith("fewer than"):
        return float("nan")
    return _number(t.removeprefix("about "))


def sentence_findings(text: str, threshold: int, symbol: str = "*") -> list[tuple[str, str]]:
    """Percentages in running text that reveal a small or suppressed count.

    Reads "N (P%)", "N of M (P%)" and "P% (N of M)": a percentage beside a hidden count
    ("fewer than 8 (3%)"), beside a count from 1 to the threshold, one that with its total M
    can only mean a count from 1 to the threshold, or one that is not the rounded N over M
    (then it came from an exact count). Sentences about whole-organisation figures are exempt
    (DOMAIN.md).
    """
    out = []
    for pattern in _SENTENCE_SHARES:
        for m in pattern.finditer(text):
            start = max((e.end() for e in _SENTENCE_END.finditer(text, 0, m.start())), default=0)
            stop = _SENTENCE_END.search(text, m.end())
            sentence = text[start: stop.start() if stop else len(text)]
            if EXEMPT_HEADERS.search(sentence):
                continue
            n, p = _text_count(m.group("n"), symbol), float(m.group("p"))
            total = _text_count(m.group("m"), symbol) if m.group("m") else None
            shown = " ".join(m.group(0).split())
            half = 0.5 * 10 ** -_decimals(m.group("p"))
            why = None
            if p > 0 and n is not None and np.isnan(n):
                why = "a percentage beside a suppressed count"
            elif p > 0 and total is not None and np.isnan(total):
                why = "a percentage of a suppressed total"
            elif n is not None and float(n).is_integer() and 1 <= n <= threshold:
                why = f"a percentage beside a count of {threshold} or fewer"
            elif total is not None and total > 0 and p > 0:
                lo, hi = (p - half) * total / 100, (p + half) * total / 100
                if lo >= 0.5 and hi < threshold + 0.5:
                    why = f"the percentage of {m.group('m')} means a count of {threshold} or fewer"
                elif n is not None and not lo - 1e-9 <= n <= hi + 1e-9:
                    why = "the percentage is not the rounded count over its total: an exact count " \
                          "can be recovered"
            if why:
                out.append(("percentage_reveals_count", f"“{shown}”: {why}"))
    return out


_STRUCTURED = None


def _structured_patterns() -> list[tuple[str, re.Pattern[str]]]:
    global _STRUCTURED
    if _STRUCTURED is None:
        from sgreview import redact

        _STRUCTURED = [("NHS number", redact._NHS), ("phone number", redact._PHONE),
                       ("email address", redact._EMAIL), ("NI number", redact._NI),
                       ("postcode", redact._POSTCODE), ("date of birth", redact._DOB)]
    return _STRUCTURED


_QUOTED = re.compile(r"[“\"]([^”\"]{12,})[”\"]")


def identifier_findings(text: str, services: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Structured identifiers anywhere; names only inside quoted excerpts (narrative text).

    ``services`` are the trust's listed service names the run kept (its manifest says which):
    "Mary Seacole Ward" in an excerpt is then a ward, not a person.
    """
    from sgreview.redact import redact_texts

    out = []
    for kind, pattern in _structured_patterns():
        for m in pattern.finditer(text):
            raw = m.group(0)
            if kind == "NHS number" and raw[0] == "0" and raw.isdigit():
                continue  # a bare run starting 0: the phone check decides
            if kind == "postcode" and not raw.isupper():
                continue
            out.append(("identifier", f"looks like a {kind}: {_mask(raw)}"))
    quotes = [q for q in _QUOTED.findall(text)]
    if quotes:
        series = pd.Series(quotes, dtype="str")
        redacted = redact_texts(series, services=list(services)).text
        for before, after in zip(series, redacted, strict=True):
            if before != after and "[NAME]" in after and after.count("[NAME]") > before.count("[NAME]"):
                out.append(("identifier", f"a name in a quoted excerpt: “{_mask(before[:60])}”"))
    return out


def _mask(value: str) -> str:
    """Findings are read by analysts, but still never echo an identifier whole."""
    value = str(value)
    return value[:2] + "…" if len(value) > 3 else "…"


def figure_findings(records: Iterable[dict], threshold: int) -> list[tuple[str, str]]:
    out = []
    for rec in records:
        smallest = rec.get("smallest_plotted_count")
        if smallest is not None and 1 <= float(smallest) <= threshold:
            out.append(("small_count_chart",
                        f"figure '{rec.get('title', '')}' ({rec.get('kind', '')}, from "
                        f"{rec.get('drawn_from', '')}) plots a count of {threshold} or fewer"))
    return out


def vocabulary_findings(terms: Iterable[str]) -> list[tuple[str, str]]:
    """Model terms that are given or family names (not also ordinary words) or tags."""
    from sgreview.redact import identifier_like_terms

    return [("model_vocabulary", f"term '{_mask(t)}' is a name or identifier")
            for t in identifier_like_terms(list(terms))]


# --- the audit -------------------------------------------------------------------------------


def _manifest(run_dir: Path) -> dict:
    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise InputError("not a folder", path=run_dir)
    if not path.is_file():
        raise InputError("not a run folder: no manifest.json", path=run_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"not a run folder: manifest.json unreadable ({err})", path=path) from None


def _model_terms(run_dir: Path) -> list[tuple[str, list[str]]]:
    out = []
    for meta in sorted(run_dir.glob("**/model/model.json")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        vocab = data.get("vocabulary_") or data.get("vocabulary") or []
        if isinstance(vocab, dict):
            vocab = list(vocab)
        out.append((meta.relative_to(run_dir).as_posix(), [str(t) for t in vocab]))
    return out


def audit_run(run_dir: str | Path) -> AuditResult:
    """Check every reviewer file of a finished run; see the module docstring for the rules."""
    run_dir = Path(run_dir).expanduser().resolve()
    manifest = _manifest(run_dir)
    params = manifest.get("parameters") or {}
    threshold = int(params.get("suppression_threshold", DEFAULT_THRESHOLD))
    weakened = bool((manifest.get("disclosure") or {}).get("weakened"))
    services = services_from_manifest(manifest)
    findings: list[Finding] = []
    files = [p for p in run_files(run_dir) if audience_of(p) == REVIEWER]
    for rel in files:
        findings.extend(Finding(str(rel), rule, detail)
                        for rule, detail in _file_findings(run_dir / rel, rel, threshold, weakened, services))
    for rec_file in sorted(run_dir.glob("**/figures.json")):
        try:
            records = json.loads(rec_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            findings.append(Finding(rec_file.relative_to(run_dir).as_posix(), "small_count_chart",
                                    "figure records unreadable"))
            continue
        if not weakened:
            findings.extend(Finding(rec_file.relative_to(run_dir).as_posix(), r, d)
                            for r, d in figure_findings(records, threshold))
    for rel, terms in _model_terms(run_dir):
        findings.extend(Finding(rel, r, d) for r, d in vocabulary_findings(terms))
    return AuditResult(run_dir=run_dir, threshold=threshold, files_checked=len(files),
                       findings=findings)


def _file_findings(path: Path, rel: PurePosixPath, threshold: int, weakened: bool,
                   services: Sequence[str] = ()) -> list:
    from sgreview.disclosure import BANNER

    suffix = rel.suffix.lower()
    if suffix == ".html":
        text = path.read_text(encoding="utf-8", errors="replace")
        visible = html_text(text)
        out = [] if not weakened else (
            [] if BANNER in visible or rel.name == "index.html" else
            [("missing_banner", "small numbers shown without the NOT FOR CIRCULATION banner")])
        if not weakened:
            for frame in html_tables(text):
                out.extend(table_findings(frame, threshold))
            out.extend(sentence_findings(html_text(_TABLE_BLOCK.sub(" ", text)), threshold))
        return out + identifier_findings(visible, services)
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        out = [] if weakened else table_findings(frame, threshold)
        # One cell per line: a pattern must not match across two cells ("2025-01-15 0700").
        return out + identifier_findings("\n;\n".join(frame.astype(str).to_numpy().ravel()), services)
    if suffix == ".md":
        text = path.read_text(encoding="utf-8", errors="replace")
        prose = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))
        out = [] if weakened else sentence_findings(prose, threshold)
        return out + identifier_findings(text, services)
    if suffix == ".docx":
        text = docx_text(path)
        out = [] if weakened else sentence_findings(text, threshold)
        return out + identifier_findings(text, services)
    return []


def write_audit(result: AuditResult) -> Path:
    """Write ``audit.json`` (analyst audience: it names files and findings) into the run."""
    from sgreview.io import write_json

    return write_json(result.to_json(), result.run_dir / "audit.json")
