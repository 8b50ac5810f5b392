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
* ``percentage_reveals_count``: a percentage beside a suppressed count, or percentages in
  one column that do not follow the rounded counts beside them (then an exact count could
  be recovered from the percentage and the total).
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
    r"incidents .*|.* incidents|number of .*|.* count)$",
    re.IGNORECASE,
)
PERCENT_HEADERS = re.compile(r"share|percent|%", re.IGNORECASE)
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


def table_findings(frame: pd.DataFrame, threshold: int, symbol: str = "*") -> list[str]:
    """Small counts in count columns, and percentages that give a count back."""
    out = []
    cols = list(frame.columns)
    for col in count_columns(frame):
        values = frame[col].map(_number)
        is_pct = frame[col].astype(str).str.contains("%", regex=False)
        small = values.map(lambda v: v is not None and float(v).is_integer() and 1 <= v <= threshold) & ~is_pct
        for i in np.flatnonzero(small.to_numpy()):
            out.append(("small_count", f"column '{col}' shows {frame[col].iloc[i]} (row {i + 1})"))
        j = cols.index(col) + 1
        if j < len(cols) and PERCENT_HEADERS.search(str(cols[j])):
            out.extend(_percent_findings(frame[col], frame[cols[j]], col, cols[j], symbol))
    return out


def _percent_findings(counts: pd.Series, pcts: pd.Series, ccol: str, pcol: str, symbol: str) -> list:
    out = []
    hidden = counts.astype(str).str.strip() == symbol
    shown_pct = pcts.map(_number)
    for i in np.flatnonzero(hidden.to_numpy() & shown_pct.notna().to_numpy()):
        out.append(("percentage_reveals_count",
                    f"'{pcol}' shows {pcts.iloc[i]} beside a suppressed '{ccol}' (row {i + 1})"))
    # Percentages from rounded counts over one denominator imply one denominator for every
    # row (count / share); an exact-count percentage does not, within display precision.
    lo, hi = 0.0, np.inf
    used = 0
    for c_text, p_text in zip(counts, pcts, strict=True):
        c, p = _number(c_text), _number(p_text)
        if c is None or p is None or c <= 0 or p <= 0:
            continue
        half = 0.5 * 10 ** -_decimals(p_text)
        lo = max(lo, 100 * c / (p + half))
        hi = min(hi, 100 * c / max(p - half, 1e-9))
        used += 1
    if used >= 2 and lo > hi * (1 + 1e-9):
        out.append(("percentage_reveals_count",
                    f"'{pcol}' does not follow the rounded '{ccol}': an exact count can be recovered"))
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
        return out + identifier_findings(visible, services)
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        out = [] if weakened else table_findings(frame, threshold)
        # One cell per line: a pattern must not match across two cells ("2025-01-15 0700").
        return out + identifier_findings("\n;\n".join(frame.astype(str).to_numpy().ravel()), services)
    if suffix == ".md":
        text = path.read_text(encoding="utf-8", errors="replace")
        return identifier_findings(text, services)
    if suffix == ".docx":
        return identifier_findings(docx_text(path), services)
    return []


def write_audit(result: AuditResult) -> Path:
    """Write ``audit.json`` (analyst audience: it names files and findings) into the run."""
    from sgreview.io import write_json

    return write_json(result.to_json(), result.run_dir / "audit.json")
