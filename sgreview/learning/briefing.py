"""The 7-minute briefing for a review case set: built from tables, never written by a model.

Safeguarding Adults Boards spread learning as a "7-minute briefing": seven short numbered
sections read aloud in a team meeting (DOMAIN.md). Here every sentence is either template
text filled with a number computed from a table that is written beside the briefing
(``reviewer/*.csv``, the gated versions of the exact ``tables/*.csv``, named under each section), or a quoted, redacted excerpt with its incident
reference. Every count passes through the disclosure policy; excerpts are only shown for
themes above the threshold, and are re-checked for identifiers before they are quoted.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sgreview.errors import InputError
from sgreview.learning.actions import complete_periods, period_freq
from sgreview.learning.casesets import actions_in_scope
from sgreview.schema import HARM_LEVELS, parse_dates
from sgreview.schema import UNTHEMED_ID as UNTHEMED
from sgreview.textsafe import CONTENT_SECURITY_POLICY, md

PACKAGE = Path(__file__).resolve().parents[1]
TEMPLATES = PACKAGE / "templates"
QUESTION_BANK = PACKAGE / "data" / "question_bank.yaml"
TITLES = {
    1: "Background",
    2: "Why it matters",
    3: "What happened",
    4: "Key findings",
    5: "Learning",
    6: "Things to remember",
    7: "What to do",
}
EXCERPTS_PER_THEME = 2
#: Key incidents listed in the chronology (section 3).
MAX_CHRONOLOGY = 6
#: Longer sentences are not quoted (a 7-minute briefing has no room for them).
MAX_EXCERPT_CHARS = 200
MIN_PRECISION_TEXT = "0.8"
#: The theme model's bucket for incidents no theme fits: counted, never quoted as a theme.
MAX_THEMES = 6
MAX_QUESTION_THEMES = 3
QUESTIONS_PER_THEME = 2

_TEXT_COLUMNS = ("sentence", "text", "evidence", "excerpt")
_SENTENCE_SPLIT = r"(?<=[.!?])\s+"


@dataclass
class BriefTable:
    """A reviewer-facing table: display strings only, with the CSV it comes from."""

    caption: str
    columns: list[str]
    rows: list[list[str]]
    source: str
    highlight: list[bool] = field(default_factory=list)


@dataclass
class Excerpt:
    theme_label: str
    incident_id: str
    text: str


@dataclass
class Section:
    number: int
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    tables: list[BriefTable] = field(default_factory=list)
    excerpts: list[Excerpt] = field(default_factory=list)
    questions: list[tuple[str, list[str]]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Briefing:
    """A built briefing: sections to render, and the tables behind every number in them.

    ``tables`` maps a file stem to the analyst-facing (unsuppressed) table written to
    ``tables/<stem>.csv``; ``fully_suppressed`` is True when the case set is so small that
    every count is hidden, in which case the briefing says so in sections 1-5.
    """

    name: str
    title: str
    sections: list[Section]
    tables: dict[str, pd.DataFrame]
    notices: list[str]
    fully_suppressed: bool
    policy_text: str
    #: Tables a reader may want after the seven sections (each names its CSV).
    appendix: list[BriefTable] = field(default_factory=list)
    #: The actions in scope for this case set: sections 6 and 7 and the one-minute summary
    #: all read this one frame (None when there is no register).
    actions_in_scope: pd.DataFrame | None = None

    def word_count(self) -> int:
        """Words a team reads in the seven sections (not the appendix tables)."""
        parts = [self.title]
        for s in self.sections:
            parts += [s.title, *s.paragraphs, *s.bullets, *(e.text for e in s.excerpts)]
            parts += [t for t, _ in s.links]
            for heading, qs in s.questions:
                parts += [heading, *qs]
        return sum(len(p.split()) for p in parts)

    def one_minute_summary(self, direction: str = "decrease") -> list[str]:
        """The actions part of the one-minute summary, from the same list as section 7."""
        acts = self.actions_in_scope
        if acts is None:
            return ["**What to do:** agree actions for the learning below and record them in "
                    "the actions register."]
        if acts.empty:
            return ["**What changed:** no action in the register is in scope for this case set "
                    "(same theme and locality, or its case reference).",
                    "**What to do:** use the reflective questions in section 7 at the next team "
                    "meeting."]
        done = acts[acts["status"].astype(str) == "completed"]
        live = acts[acts["status"].astype(str).isin(["open", "in_progress"])]
        improved = int((done["effect"] == "improved").sum())
        overdue = int(live["overdue"].astype(bool).sum())
        lines = [f"**What changed:** {len(done)} of {len(acts)} actions in scope are completed; "
                 f"{improved} of those were followed by a change in their theme, in the "
                 f"direction each action intended, beyond the trend and chance."]
        todo = [f"chase {overdue} overdue of the {len(live)} open actions in section 7"] if overdue else []
        todo.append("use the reflective questions in section 7 at the next team meeting")
        lines.append("**What to do:** " + "; ".join(todo) + ".")
        return lines

    def to_markdown(self) -> str:
        return _env().get_template("briefing.md.j2").render(b=self)

    def to_html(self) -> str:
        return _env().get_template("briefing.html.j2").render(b=self)

    def to_docx(self) -> bytes:
        """The same briefing as a Word document (boards circulate Word files)."""
        return _docx(self)


@cache
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["content_security_policy"] = CONTENT_SECURITY_POLICY
    env.filters["md"] = _md_text
    env.filters["md_cell"] = _md_cell
    env.filters["md_data"] = _md_cell
    env.filters["md_row"] = _md_row
    return env


def _md_text(value: Any) -> str:
    """Template text with data in it, safe for Markdown: no HTML, no links or images.

    The sentence's own emphasis stays; ``[``, ``]`` and ``://`` are escaped so a label or
    name holding ``[x](http://...)`` or ``![](...)`` shows as typed, never as a live link or
    a remote image.
    """
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("[", "\\[").replace("]", "\\]").replace("://", "\\://")


def _md_cell(value: Any) -> str:
    """A table cell or excerpt: wholly data, so every Markdown character is inert.

    A lone ``*`` (the disclosure symbol) cannot open emphasis, so it stays readable.
    """
    return "*" if str(value).strip() == "*" else md(value)


def _md_row(cells: Sequence[Any], bold: bool = False) -> str:
    text = [_md_cell(c) for c in cells]
    if bold:
        text = [f"**{t}**" if t else t for t in text]
    return "| " + " | ".join(text) + " |"


# ---------------------------------------------------------------------------------------------
# Inputs


def load_question_bank(path: str | Path | None = None) -> dict[str, Any]:
    """The curated reflective questions (``sgreview/data/question_bank.yaml`` by default)."""
    path = Path(path) if path else QUESTION_BANK
    try:
        bank = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"cannot read the question bank ({err})", path=path) from None
    if not isinstance(bank, dict) or not isinstance(bank.get("practice_themes"), dict):
        raise InputError("question bank has no 'practice_themes' mapping", path=path)
    return bank


def _questions_for(bank: Mapping[str, Any], key: str, name: str) -> list[str]:
    themes = bank.get("practice_themes", {})
    if key in themes:
        return list(themes[key].get("questions", []))
    wanted = {key.casefold().replace("_", " "), name.casefold()}
    for k, entry in themes.items():
        names = {k.replace("_", " "), str(entry.get("name", "")).casefold()}
        names |= {str(a).casefold() for a in entry.get("aliases", [])}
        if names & wanted:
            return list(entry.get("questions", []))
    return []


def default_practice_themes() -> list[dict[str, Any]]:
    """Practice themes (key, name, terms, seips) from the package taxonomy."""
    from sgreview.themes.labels import load_taxonomy

    return [dict(t) for t in load_taxonomy()["practice_themes"]]


def detect_practice_themes(narratives: pd.Series, practice_themes: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Which practice themes each (redacted) narrative describes, judged sentence by sentence.

    Themes with rules in ``sgreview/data/practice_rules.yaml`` use them (negation, hedging,
    ambiguous words in context: :mod:`sgreview.practice`); a theme only a custom taxonomy
    knows falls back to its ``terms`` on word boundaries. Returns a boolean frame: rows =
    narratives, columns = practice theme keys.
    """
    from sgreview.practice import keyword_by_narrative, load_rules, practice_by_narrative

    ruled = set(load_rules()["themes"])
    keys = [str(t["key"]) for t in practice_themes]
    out = practice_by_narrative(narratives)
    out = out[[k for k in keys if k in ruled]]
    rest = [t for t in practice_themes if str(t["key"]) not in ruled]
    if rest:
        out = out.join(keyword_by_narrative(narratives, rest))
    return out.reindex(columns=[k for k in keys if k in out.columns]).astype(bool)


# ---------------------------------------------------------------------------------------------
# Disclosure


def _shown(policy: Any, values: Sequence[int] | pd.Series) -> list[str]:
    """Counts as display text under the policy (``*`` for small ones, others rounded)."""
    s = pd.Series(values, dtype="float").fillna(0).astype(int)
    if s.empty:
        return []
    frame = policy.suppress_counts(pd.DataFrame({"n": s.to_numpy()}), ["n"])
    return [str(v) for v in frame["n"].tolist()]


def _partition(policy: Any, counts: pd.Series) -> tuple[list[str], np.ndarray]:
    """Display text for counts that add up to the case set (themes, harm, localities).

    Such a column sums to the case-set total shown in section 1, so a single hidden cell
    could be recovered by subtraction: the policy's secondary suppression hides a second
    cell whenever only one would be hidden. Returns (texts, hidden).
    """
    values = pd.Series(counts, dtype="float").fillna(0).to_numpy()
    if not len(values):
        return [], np.zeros(0, dtype=bool)
    table = pd.DataFrame({"n": values}, index=[f"r{i}" for i in range(len(values))])
    hidden = policy.hidden_cells(table)["n"].to_numpy()[:-1].astype(bool)
    return [str(t) for t in policy.format_counts(values, hidden)], hidden


def _visible(policy: Any, n: int) -> bool:
    return bool(policy.can_show_examples(int(n)))


def _pct(part: float, whole: float, show: bool, policy: Any = None, *, exact_whole: bool = False) -> str:
    """A share as text; under ``policy`` computed from the rounded counts shown beside it
    (a share of an exact total would give the count back: "10 | 50%" of 24 reveals 12)."""
    if not show:
        return "*"
    if not whole:
        return "-"
    if policy is not None:
        return policy.percent([part], [whole], exact_denominator=exact_whole)[0]
    return f"{100 * part / whole:.0f}%"


def _shown_ratio(policy: Any, case: float, n_case: float, org: float, n_org: float) -> float:
    """The case-set share over the organisation share, from the rounded counts shown."""
    r = policy.round_counts([case, n_case, org])
    if not (r[1] and r[2] and n_org):
        return float("nan")
    return float((r[0] / r[1]) / (r[2] / n_org))


def _policy_text(policy: Any) -> str:
    t, b = getattr(policy, "threshold", 7), getattr(policy, "base", 5)
    return (f"Counts from 1 to {t} are shown as *, and other counts are rounded to the nearest "
            f"{b}; percentages are computed from the rounded counts shown, and whole-organisation "
            "totals are exact.")


# ---------------------------------------------------------------------------------------------
# Evidence


def _clean_excerpts(ex: pd.DataFrame, services: Sequence[str] = ()) -> pd.DataFrame:
    """Redact again and drop any excerpt still holding an identifier: defence in depth.

    ``services`` (the trust's listed service names) are kept by both passes, or the second
    would tag a listed ward the first redaction kept.
    """
    if ex.empty:
        return ex
    from sgreview.redact import contains_identifiers, redact_texts

    text = redact_texts(ex["text"].astype(str), services=list(services)).text
    ex = ex.assign(text=text.astype(str).str.strip())
    flagged = contains_identifiers(ex["text"], services=services)
    return ex[~flagged & (ex["text"].str.len() > 0)]


def case_evidence(case: pd.DataFrame, themes: pd.DataFrame, evidence: pd.DataFrame | None,
                  per_theme: int = EXCERPTS_PER_THEME, services: Sequence[str] = ()) -> pd.DataFrame:
    """Excerpts (theme_id, incident_id, text) from the case set's own incidents.

    Uses the theme model's evidence sentences where they come from case-set incidents;
    otherwise the case-set sentences with most of the theme's top terms. Sentences are
    exploded and scored in vectorised string operations. ``services`` are kept un-redacted.
    """
    ids = set(case["incident_id"].astype(str))
    parts = []
    if evidence is not None and len(evidence):
        col = next((c for c in _TEXT_COLUMNS if c in evidence.columns), None)
        if col is None:
            raise InputError(f"evidence table needs a text column ({', '.join(_TEXT_COLUMNS)})")
        ev = evidence[evidence["incident_id"].astype(str).isin(ids)]
        parts.append(pd.DataFrame({"theme_id": ev["theme_id"].astype(str),
                                   "incident_id": ev["incident_id"].astype(str),
                                   "text": ev[col].astype(str), "score": np.inf}))
    if "narrative" in case.columns:
        sent = case[["incident_id", "theme_id", "narrative"]].astype({"theme_id": str}).copy()
        sent["text"] = sent["narrative"].astype("string").fillna("").str.split(_SENTENCE_SPLIT)
        sent = sent.explode("text")
        sent = sent[sent["text"].str.len().between(20, 400)]
        terms = _top_terms(themes)
        sent["score"] = 0.0
        for tid, words in terms.items():
            rows = sent["theme_id"] == tid
            if rows.any() and words:
                pattern = r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b"
                sent.loc[rows, "score"] = sent.loc[rows, "text"].str.count(pattern, flags=re.I)
        # A sentence with none of its theme's terms is not evidence for that theme.
        sent = sent[sent["score"] > 0]
        parts.append(sent[["theme_id", "incident_id", "text", "score"]].astype({"incident_id": str}))
    if not parts:
        return pd.DataFrame(columns=["theme_id", "incident_id", "text"])
    ex = pd.concat(parts, ignore_index=True)
    ex = ex.sort_values(["theme_id", "score"], ascending=[True, False], kind="stable")
    # One excerpt per incident per theme, and no sentence quoted twice.
    ex = ex.drop_duplicates(["theme_id", "incident_id"]).drop_duplicates(["theme_id", "text"])
    ex = _clean_excerpts(ex.groupby("theme_id", sort=False).head(3 * per_theme), services)
    return ex.groupby("theme_id", sort=False).head(per_theme)[["theme_id", "incident_id", "text"]]


def _top_terms(themes: pd.DataFrame) -> dict[str, list[str]]:
    if "top_terms" not in themes.columns:
        return {}
    raw = themes["top_terms"].astype("string").fillna("")
    split = raw.str.split(r"\s*[;,|]\s*", regex=True)
    return {str(t): [w for w in words if w][:10] for t, words in zip(themes["theme_id"], split, strict=True)}


# ---------------------------------------------------------------------------------------------
# Build


def _org_trends(all_a: pd.DataFrame, theme_ids: list[str], recent: int = 6) -> pd.DataFrame:
    """Whole-organisation monthly XmR per theme: what the last ``recent`` months show."""
    from sgreview.spc import ALL_GROUPS, spc_table

    periods = complete_periods(all_a["incident_date"], period_freq("month"), None)
    if len(periods) < 2:
        return pd.DataFrame({"theme_id": theme_ids, "org_trend": "too few months to chart",
                             "org_trend_rule": ""})
    inside = all_a["incident_date"].dt.to_period("M").isin(periods)
    chart = spc_table(all_a[inside].assign(locality="all"), group_by="locality")
    chart = chart[(chart["locality"] == ALL_GROUPS) & chart["theme_id"].astype(str).isin(theme_ids)]
    chart = chart.sort_values(["theme_id", "period"], kind="stable")
    tail = chart.groupby("theme_id").tail(recent)
    sc = tail[tail["special_cause"]]
    last = sc.groupby("theme_id").tail(1).set_index("theme_id")
    rows = []
    for tid in theme_ids:
        if tid in last.index:
            r = last.loc[tid]
            side = "higher" if r["value"] > r["centre"] else "lower"
            rows.append((tid, f"special cause variation: {side} than usual in the last {recent} months "
                              f"({r['special_cause_type']}, {r['period']})", r["rule"]))
        elif tid in set(chart["theme_id"].astype(str)):
            rows.append((tid, f"common cause variation only in the last {recent} months", ""))
        else:
            rows.append((tid, "not charted", ""))
    return pd.DataFrame(rows, columns=["theme_id", "org_trend", "org_trend_rule"])


def _month(ts: Any) -> str:
    return "" if pd.isna(ts) else pd.Timestamp(ts).strftime("%B %Y")


def _date(ts: Any) -> str:
    return "" if pd.isna(ts) else pd.Timestamp(ts).strftime("%d %b %Y")


def _num(x: float, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    if np.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


@dataclass
class _Context:
    """What every section builder reads: the case set, the organisation and the policy."""

    name: str
    case: pd.DataFrame
    org: pd.DataFrame
    themes: pd.DataFrame
    labels: dict[str, str]
    policy: Any
    services: tuple[str, ...] = ()
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    appendix: list[BriefTable] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def n_case(self) -> int:
        return len(self.case)

    @property
    def n_org(self) -> int:
        return len(self.org)

    @property
    def full_hide(self) -> bool:
        return not _visible(self.policy, self.n_case)

    @property
    def threshold(self) -> int:
        return int(getattr(self.policy, "threshold", 7))


def _about(policy: Any, n: int) -> str:
    """A count for a sentence: "none", "fewer than 8", or the rounded count ("about 15")."""
    n = int(n)
    if n == 0:
        return "none"
    if hasattr(policy, "about"):
        return policy.about(n)
    if not _visible(policy, n):
        return f"fewer than {int(getattr(policy, 'threshold', 7)) + 1}"
    shown = _shown(policy, [n])[0]
    return shown if shown == str(n) else f"about {shown}"


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _join(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _incidents(policy: Any, n: int) -> str:
    """ "no incidents", "fewer than 8 incidents", "about 15 incidents", "20 incidents"."""
    return "no incidents" if int(n) == 0 else f"{_about(policy, n)} incidents"


def build_briefing(
    case_set_name: str,
    case_assignments: pd.DataFrame,
    all_assignments: pd.DataFrame,
    themes: pd.DataFrame,
    evidence: pd.DataFrame | None,
    actions_effects: pd.DataFrame | None,
    *,
    policy: Any,
    practice_themes: Sequence[Mapping[str, Any]] | None = None,
    question_bank: Mapping[str, Any] | None = None,
    title: str | None = None,
    resources: Sequence[Mapping[str, str]] | None = None,
    services: Sequence[str] = (),
) -> Briefing:
    """Build the seven sections for one case set, and the tables behind their numbers.

    ``case_assignments`` are the case set's rows of the assignments (from
    :func:`~sgreview.learning.casesets.select_case_set`), with a redacted ``narrative`` column
    when practice themes and excerpts are wanted (and ``harm``, ``age_band``, ``service``,
    ``person_key`` when known); ``all_assignments`` is the whole organisation; ``themes`` the
    theme model's table; ``evidence`` the model's evidence sentences or None;
    ``actions_effects`` the output of :func:`~sgreview.learning.actions.action_effects` (None
    when there is no register): only the actions in scope for the case set are used
    (:func:`~sgreview.learning.casesets.actions_in_scope`). ``resources`` are
    ``{title, url}`` links for section 6 (checked by :func:`check_resources`); ``services``
    the trust's listed service names, kept as they are in excerpts (:mod:`sgreview.services`).
    A case set below the disclosure threshold gets one line in section 1 instead of
    sections 2-5, which would otherwise be all ``*``.
    """
    if case_assignments.empty:
        raise InputError(f"case set '{case_set_name}' matches no incidents")
    links = check_resources(resources)
    case = case_assignments.copy()
    org = all_assignments.copy()
    for df in (case, org):
        df["theme_id"] = df["theme_id"].astype(str)
        df["incident_date"] = parse_dates(df["incident_date"])
    labels = dict(zip(themes["theme_id"].astype(str), themes["theme_label"].astype(str), strict=False))
    if "theme_label" in org.columns:
        labels = {**dict(zip(org["theme_id"], org["theme_label"].astype(str), strict=True)), **labels}
    ctx = _Context(case_set_name, case, org, themes, labels, policy, tuple(services))
    bank = question_bank if question_bank is not None else load_question_bank()
    if practice_themes is None:
        practice_themes = default_practice_themes()
    if ctx.full_hide:
        ctx.notices.append(f"case set '{case_set_name}' is fully suppressed ({ctx.n_case} incidents)")

    comp = _theme_comparison(ctx)
    scope = _scope(ctx, actions_effects, comp)
    found, hits = _practice(ctx, practice_themes)
    s6, s7 = _actions(ctx, scope, links)
    for key, name in ([] if ctx.full_hide else found[:MAX_QUESTION_THEMES]):
        qs = _questions_for(bank, key, name)[:QUESTIONS_PER_THEME]
        if qs:
            s7.questions.append((name, qs))
    s7.questions.append(("For every team", list(bank.get("general", []))))
    if ctx.full_hide:
        sections = [_background(ctx), s6, s7]
    else:
        sections = [_background(ctx), _why_it_matters(ctx, comp), _chronology(ctx, comp),
                    _findings(ctx, hits), _learning(ctx), s6, s7]
    _key_findings_evidence(ctx, comp, evidence)
    return Briefing(name=case_set_name, title=title or f"7-minute briefing: {case_set_name}",
                    sections=sections, tables=ctx.tables, notices=ctx.notices,
                    fully_suppressed=ctx.full_hide, policy_text=_policy_text(policy),
                    appendix=ctx.appendix, actions_in_scope=scope)


def check_resources(resources: Sequence[Mapping[str, str]] | None) -> list[tuple[str, str]]:
    """``[{title, url}]`` -> ``[(title, url)]``; a missing title or a URL that is not an
    absolute http(s) address is a :class:`~sgreview.errors.ParameterError` (exit 2)."""
    from urllib.parse import urlparse

    from sgreview.errors import ParameterError

    out = []
    for i, item in enumerate(resources or [], start=1):
        if not isinstance(item, Mapping):
            raise ParameterError(f"resources item {i} must be a mapping with title and url",
                                 column="resources")
        title, url = str(item.get("title") or "").strip(), str(item.get("url") or "").strip()
        parsed = urlparse(url)
        if not title:
            raise ParameterError(f"resources item {i} has no title", column="resources")
        if parsed.scheme not in ("http", "https") or not parsed.netloc or re.search(r"\s", url):
            raise ParameterError(f"resources item {i} ({title!r}) has a bad URL {url!r}: use an "
                                 f"absolute http:// or https:// address", column="resources")
        out.append((title, url))
    return out


def _background(ctx: _Context) -> Section:
    """1. The anonymised case summary ("Adult A"): from structured fields only."""
    case = ctx.case
    localities = sorted(case["locality"].dropna().astype(str).unique()) if "locality" in case else []
    start, end = case["incident_date"].min(), case["incident_date"].max()
    months = 0 if pd.isna(start) else (end.year - start.year) * 12 + end.month - start.month + 1
    people = int(case["person_key"].nunique()) if "person_key" in case else 0
    ctx.tables["case_set_summary"] = pd.DataFrame({
        "measure": ["incidents", "localities", "first_month", "last_month", "span_months",
                    "people_with_key", "themes", "organisation_incidents"],
        "value": [ctx.n_case, len(localities), _month(start), _month(end), months, people,
                  case["theme_id"].nunique(), ctx.n_org],
    })
    loc_counts = (case.groupby("locality").size().rename("incidents").reset_index()
                  if "locality" in case else pd.DataFrame(columns=["locality", "incidents"]))
    ctx.tables["case_set_localities"] = loc_counts
    s = Section(1, TITLES[1])
    if ctx.full_hide:
        s.paragraphs.append(
            f"This case set has fewer than {ctx.threshold + 1} incidents ({_month(start)} to "
            f"{_month(end)}): too few to summarise without risk of identifying the people "
            f"involved, so sections 2 to 5 are left out; the review panel should read the records.")
        return s
    who = "Adult A" if people == 1 else ("The people in this case set" if people > 1 else "")
    age = ""
    if "age_band" in case and case["age_band"].notna().any():
        bands = case["age_band"].dropna().astype(str)
        age = (f", aged {bands.mode().iloc[0]}" if people == 1
               else f", age bands {bands.min()} to {bands.max()}" if bands.nunique() > 1
               else f", age band {bands.iloc[0]}")
    setting = ""
    if "service" in case and case["service"].notna().any():
        top = case["service"].dropna().astype(str).value_counts().index[:2].tolist()
        setting = f" by {' and '.join(top).lower()} services"
    where = (f"{setting} in {_join(localities)} between {_month(start)} and {_month(end)}, "
             f"a span of {months} {_plural(months, 'month', 'months')}")
    if who:
        verb = "was" if people == 1 else "were"
        s.paragraphs.append(f"{who}{age}{',' if age else ''} {verb} the subject of {_incidents(ctx.policy, ctx.n_case)} "
                            f"recorded{where}.")
    else:
        s.paragraphs.append(f"This case set holds {_incidents(ctx.policy, ctx.n_case)}{age}, "
                            f"recorded{where}.")
    facts = []
    if "harm" in case and case["harm"].notna().any():
        order = {h: i for i, h in enumerate(HARM_LEVELS)}
        harm = case["harm"].astype("string")
        worst = max(harm.dropna(), key=lambda h: order.get(h, -1))
        serious = int(harm.isin(["moderate", "severe", "death"]).sum())
        facts.append(f"the most serious recorded harm was {worst}, and "
                     f"{_incidents(ctx.policy, serious)} {_plural(serious, 'was', 'were')} "
                     f"moderate harm or worse")
    if "safeguarding_referral" in case and case["safeguarding_referral"].notna().any():
        ref = int(case["safeguarding_referral"].astype("boolean").fillna(False).sum())
        facts.append(f"{_incidents(ctx.policy, ref)} led to a safeguarding referral")
    if facts:
        s.paragraphs.append(facts[0][0].upper() + facts[0][1:] + "".join(f"; {f}" for f in facts[1:]) + ".")
    s.paragraphs.append("No names, dates of birth or family details are included; excerpts are redacted.")
    loc_text, _ = _partition(ctx.policy, loc_counts["incidents"])
    ctx.appendix.append(BriefTable(
        "Incidents by locality", ["Locality", "Incidents"],
        [[loc, c] for loc, c in zip(loc_counts["locality"], loc_text, strict=True)],
        "reviewer/case_set_localities.csv"))
    return s


def _theme_comparison(ctx: _Context) -> pd.DataFrame:
    """Each case-set theme: its count and share in the case set and in the organisation."""
    comp = pd.DataFrame({"case_incidents": ctx.case.groupby("theme_id").size()})
    comp = comp.join(ctx.org.groupby("theme_id").size().rename("org_incidents"), how="left")
    comp = comp.fillna({"org_incidents": 0}).astype(int)
    comp = comp.sort_values("case_incidents", ascending=False, kind="stable")
    comp["case_share"] = comp["case_incidents"] / ctx.n_case
    comp["org_share"] = comp["org_incidents"] / max(ctx.n_org, 1)
    comp["share_ratio"] = comp["case_share"] / comp["org_share"].replace(0, np.nan)
    comp = comp.rename_axis("theme_id").reset_index()
    comp.insert(1, "theme_label", comp["theme_id"].map(ctx.labels).fillna(comp["theme_id"]))
    comp = comp.merge(_org_trends(ctx.org, comp["theme_id"].tolist()), on="theme_id", how="left")
    text, hidden = _partition(ctx.policy, comp["case_incidents"])
    comp["shown"] = ~hidden
    comp["examples_allowed"] = [_visible(ctx.policy, n) for n in comp["case_incidents"]]
    comp["case_incidents_shown"] = text
    ctx.tables["theme_comparison"] = comp
    if not ctx.full_hide:
        ctx.appendix.append(BriefTable(
            "Case set themes against the whole organisation",
            ["Theme", "Case set incidents", "Share of case set", "Organisation incidents",
             "Share of organisation", "Organisation trend"],
            [[r.theme_label, r.case_incidents_shown, _pct(r.case_incidents, ctx.n_case, r.shown, ctx.policy), o,
              _pct(r.org_incidents, ctx.n_org, True, ctx.policy, exact_whole=True), r.org_trend]
             for r, o in zip(comp.itertuples(), _shown(ctx.policy, comp["org_incidents"]), strict=True)],
            "reviewer/theme_comparison.csv"))
    return comp


def _why_it_matters(ctx: _Context, comp: pd.DataFrame) -> Section:
    """2. The case set's main themes against their share and trend across the organisation."""
    s = Section(2, TITLES[2])
    top = comp[comp["shown"] & (comp["theme_id"] != UNTHEMED)].head(3)
    if top.empty:
        s.paragraphs.append(f"No theme has more than {ctx.threshold} incidents in this case set, so "
                            f"none is compared with the organisation.")
        return s
    s.paragraphs.append(
        f"The case set's main themes, against all {ctx.policy.org_count(ctx.n_org)} incidents "
        f"themed across the organisation:")
    for r in top.itertuples():
        shown_ratio = _shown_ratio(ctx.policy, r.case_incidents, ctx.n_case, r.org_incidents, ctx.n_org)
        ratio = ("" if not np.isfinite(shown_ratio)
                 else f" ({shown_ratio:.1f} times the organisation's share)")
        s.bullets.append(f"{r.theme_label}: {_pct(r.case_incidents, ctx.n_case, True, ctx.policy)} of "
                         f"this case set against "
                         f"{_pct(r.org_incidents, ctx.n_org, True, ctx.policy, exact_whole=True)} of all incidents"
                         f"{ratio}; across the organisation, {r.org_trend}.")
    return s


def _incident_excerpts(ctx: _Context, rows: pd.DataFrame) -> pd.Series:
    """One redacted sentence per incident (the one with most of its theme's top terms)."""
    if "narrative" not in rows or rows.empty:
        return pd.Series(dtype=object)
    from sgreview.practice import split_sentences

    sents = split_sentences(rows.set_index("incident_id")["narrative"])
    sents = sents[sents["sentence"].str.len().between(20, MAX_EXCERPT_CHARS)]
    if sents.empty:
        return pd.Series(dtype=object)
    theme_of = rows.set_index("incident_id")["theme_id"].astype(str)
    terms = _top_terms(ctx.themes)
    sents["score"] = 0.0
    for tid, words in terms.items():
        sel = sents["row"].map(theme_of) == tid
        if sel.any() and words:
            pattern = r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b"
            sents.loc[sel, "score"] = sents.loc[sel, "sentence"].str.count(pattern, flags=re.I)
    sents = sents.sort_values(["row", "score", "sentence_no"], ascending=[True, False, True], kind="stable")
    best = sents.drop_duplicates("row")
    ex = _clean_excerpts(pd.DataFrame({"theme_id": best["row"].map(theme_of), "incident_id": best["row"],
                                       "text": best["sentence"]}), ctx.services)
    return ex.set_index("incident_id")["text"]


def _chronology(ctx: _Context, comp: pd.DataFrame) -> Section:
    """3. Key incidents in date order: month, theme, harm and a redacted excerpt.

    Only incidents of themes with more than the threshold in the case set are listed (no
    example narratives for a small cell); the most harmful come first, then the chronology is
    put back in date order.
    """
    s = Section(3, TITLES[3])
    allowed = set(comp.loc[comp["examples_allowed"], "theme_id"]) - {UNTHEMED}
    case = ctx.case[ctx.case["theme_id"].isin(allowed)].copy()
    order = {h: i for i, h in enumerate(HARM_LEVELS)}
    has_harm = "harm" in case and case["harm"].notna().any()
    if has_harm:
        case["_harm"] = case["harm"].astype("string").map(order).fillna(-1)
        key = case.sort_values(["_harm", "incident_date"], ascending=[False, True], kind="stable")
        key = key.head(MAX_CHRONOLOGY).sort_values("incident_date", kind="stable")
    else:
        # No harm recorded: incidents spread evenly over the period, not just the first ones.
        case = case.sort_values(["incident_date", "incident_id"], kind="stable")
        pick = np.unique(np.linspace(0, len(case) - 1, min(MAX_CHRONOLOGY, len(case))).round().astype(int))
        key = case.iloc[pick] if len(case) else case
    excerpts = _incident_excerpts(ctx, key)
    rows = []
    for r in key.itertuples():
        harm = getattr(r, "harm", None)
        harm_text = (f", {harm} harm" if isinstance(harm, str) and harm
                     else ", harm not recorded" if has_harm else "")
        text = excerpts.get(r.incident_id)
        quote = f": \u201c{text}\u201d (incident {r.incident_id})" if text else f" (incident {r.incident_id})"
        s.bullets.append(f"{_month(r.incident_date)}: {ctx.labels.get(r.theme_id, r.theme_id)}{harm_text}{quote}")
        rows.append((r.incident_id, _month(r.incident_date), r.theme_id, harm_text.lstrip(", "), bool(text)))
    ctx.tables["chronology"] = pd.DataFrame(rows, columns=["incident_id", "month", "theme_id", "harm", "excerpt_shown"])
    left = ctx.n_case - len(key)
    if not rows:
        s.paragraphs.append(f"No theme has more than {ctx.threshold} incidents in this case set, so no "
                            f"incident is described individually.")
    else:
        how = ("with the most serious recorded harm" if has_harm
               else "spread over the period; harm is not recorded in this data")
        s.paragraphs.append(
            f"Key incidents (the {len(rows)} {how}), in date order; "
            f"{_incidents(ctx.policy, left).replace(' incidents', ' other incidents')} "
            f"{_plural(left, 'is', 'are')} not listed.")
    return s


def _key_findings_evidence(ctx: _Context, comp: pd.DataFrame, evidence: pd.DataFrame | None) -> None:
    """Analyst index of the theme evidence the model holds for the case set (no text)."""
    if ctx.full_hide:
        ex = pd.DataFrame(columns=["theme_id", "incident_id"])
    else:
        allowed = set(comp.loc[comp["examples_allowed"], "theme_id"]) - {UNTHEMED}
        ex = case_evidence(ctx.case, ctx.themes, evidence, services=ctx.services)
        ex = ex[ex["theme_id"].isin(allowed)]
    ctx.tables["evidence_index"] = ex[["theme_id", "incident_id"]].reset_index(drop=True)


def _practice(ctx: _Context, practice_themes: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[str, str]], pd.DataFrame]:
    """Practice themes in the case set's narratives (reportable ones only), by sentence.

    Writes ``tables/practice_themes.csv`` (incidents, omissions, SAR domain, SEIPS, measured
    precision) and returns the (key, name) found, most frequent first, and the sentence hits.
    """
    from sgreview.practice import SAR_DOMAINS, practice_hits, theme_info

    info = theme_info(practice_themes).set_index("practice_theme")
    held_back = info[~info["reportable"]]
    info = info[info["reportable"]]
    cols = ["practice_theme", "name", "sar_domain", "incidents", "omission_incidents",
            "seips_factors", "precision"]
    hits = pd.DataFrame(columns=["row", "sentence_no", "practice_theme", "polarity"])
    if "narrative" in ctx.case.columns and len(info):
        narratives = ctx.case.set_index("incident_id")["narrative"]
        hits = practice_hits(narratives)
        hits = hits[hits["practice_theme"].isin(info.index)]
    per = hits.groupby("practice_theme").agg(
        incidents=("row", "nunique"),
        omission_incidents=("row", lambda r: r[hits.loc[r.index, "polarity"] == "omission"].nunique()))
    pt = info.join(per, how="inner").reset_index()
    pt = pd.DataFrame({"practice_theme": pt["practice_theme"], "name": pt["name"],
                       "sar_domain": pt["sar_domain"], "incidents": pt["incidents"].astype(int),
                       "omission_incidents": pt["omission_incidents"].astype(int),
                       "seips_factors": pt["seips"], "precision": pt["precision"]}, columns=cols)
    pt = pt.sort_values(["incidents", "practice_theme"], ascending=[False, True], kind="stable").reset_index(drop=True)
    ctx.tables["practice_themes"] = pt
    ctx.tables["practice_held_back"] = held_back.reset_index()[["practice_theme", "name", "precision"]]
    if not ctx.full_hide and len(pt):
        ctx.appendix.append(BriefTable(
            "Practice themes", ["Practice theme", "SAR domain", "Incidents describing it",
                                "Of which something not done", "Work-system factor"],
            [[r.name, SAR_DOMAINS.get(r.sar_domain, r.sar_domain), c, o, r.seips_factors]
             for r, c, o in zip(pt.itertuples(), _shown(ctx.policy, pt["incidents"]),
                                _shown(ctx.policy, pt["omission_incidents"]), strict=True)],
            "reviewer/practice_themes.csv"))
    return list(zip(pt["practice_theme"], pt["name"], strict=True)), hits


def _findings(ctx: _Context, hits: pd.DataFrame) -> Section:
    """4. Findings by national SAR analysis domain: each with its count and one excerpt."""
    from sgreview.practice import SAR_DOMAINS, split_sentences

    s = Section(4, TITLES[4])
    pt = ctx.tables["practice_themes"]
    quotes = pd.Series(dtype=object)
    shown_themes = pt[[_visible(ctx.policy, n) for n in pt["incidents"]]]
    if len(shown_themes) and "narrative" in ctx.case.columns:
        # The first affirmed-or-omission sentence of the most frequent visible theme per domain.
        first = shown_themes.drop_duplicates("sar_domain")
        h = hits[hits["practice_theme"].isin(first["practice_theme"])]
        # A finding is usually something not done: quote an omission first, then the rest.
        h = h.assign(_p=h["polarity"].map({"omission": 0, "affirmed": 1, "hedged": 2}))
        h = h.sort_values(["practice_theme", "_p", "row", "sentence_no"], kind="stable")
        if len(h):
            sents = split_sentences(ctx.case.set_index("incident_id")["narrative"].loc[h["row"].unique()])
            h = h.merge(sents, on=["row", "sentence_no"])
            h = h[h["sentence"].str.len().between(15, MAX_EXCERPT_CHARS)].drop_duplicates("practice_theme")
            ex = _clean_excerpts(pd.DataFrame({"theme_id": h["practice_theme"], "incident_id": h["row"],
                                               "text": h["sentence"]}), ctx.services)
            quotes = ex.set_index("theme_id")[["incident_id", "text"]].apply(tuple, axis=1)
    rows = []
    for domain, title in SAR_DOMAINS.items():
        d = pt[pt["sar_domain"] == domain]
        if domain == "governance" and d.empty:
            s.bullets.append(f"{title}: incident records do not describe board governance; this "
                             f"domain is for the review panel.")
            continue
        if d.empty:
            s.bullets.append(f"{title}: no finding in the records.")
            continue
        parts, few = [], []
        for r in d.itertuples():
            name = r.name[0].lower() + r.name[1:]
            rows.append((domain, r.practice_theme, r.incidents, r.omission_incidents))
            if not _visible(ctx.policy, r.incidents):
                few.append(name)
                continue
            omit = (f" ({_about(ctx.policy, r.omission_incidents)} describing something not done)"
                    if _visible(ctx.policy, r.omission_incidents) else "")
            parts.append(f"{name} in {_incidents(ctx.policy, r.incidents)}{omit}")
        if few:
            parts.append(f"{'also ' if parts else ''}{_join(few)}, in fewer than "
                         f"{ctx.threshold + 1} incidents each")
        line = f"{title}: " + "; ".join(parts) + "."
        lead = d.iloc[0]["practice_theme"]
        if lead in quotes.index:
            inc, text = quotes[lead]
            line += f" \u201c{text}\u201d (incident {inc})"
        s.bullets.append(line)
    ctx.tables["findings_by_domain"] = pd.DataFrame(rows, columns=["sar_domain", "practice_theme",
                                                                   "incidents", "omission_incidents"])
    s.paragraphs.append("What the records describe about practice, by the four domains of the "
                        "national analysis of Safeguarding Adults Reviews:")
    return s


def _learning(ctx: _Context) -> Section:
    """5. The practice themes to learn from, with their SEIPS factor; themes held back."""
    s = Section(5, TITLES[5])
    pt = ctx.tables["practice_themes"]
    held = ctx.tables["practice_held_back"]
    if pt.empty:
        s.paragraphs.append("No practice theme that sgreview detects reliably is described in the "
                            "case set's records.")
    else:
        top = pt[[_visible(ctx.policy, n) for n in pt["incidents"]]].head(4)
        if top.empty:
            s.paragraphs.append(f"No practice theme is described in more than {ctx.threshold} of "
                                f"the case set's incidents.")
        else:
            s.paragraphs.append("The practice themes most often described, and the part of the "
                                "work system (people, tasks, tools, organisation, environment) "
                                "they usually involve:")
        for r in top.itertuples():
            s.bullets.append(f"{r.name} ({r.seips_factors}): {_incidents(ctx.policy, r.incidents)}.")
    if len(held):
        s.bullets.append(
            f"Not reported: {len(held)} practice {_plural(len(held), 'theme', 'themes')} "
            f"({', '.join(held['name'].str.lower())}) that sgreview cannot yet detect reliably "
            f"(precision below {MIN_PRECISION_TEXT} on its labelled sample).")
    return s


def _scope(ctx: _Context, effects: pd.DataFrame | None, comp: pd.DataFrame) -> pd.DataFrame | None:
    """The actions in scope for this case set (theme and locality, or case reference)."""
    if effects is None:
        return None
    eff = actions_in_scope(effects, ctx.case, set(comp["theme_id"]))
    for col in ("overdue", "days_overdue"):
        if col not in eff.columns:
            eff[col] = False if col == "overdue" else 0
    eff = eff.sort_values(["status", "due_date", "action_id"], kind="stable").reset_index(drop=True)
    ctx.tables["actions_in_scope"] = eff[[c for c in ("action_id", "theme_id", "locality", "scope", "status",
                                                      "effect", "owner", "due_date", "overdue")
                                          if c in eff.columns]]
    return eff


def _actions(ctx: _Context, eff: pd.DataFrame | None, links: list[tuple[str, str]]) -> tuple[Section, Section]:
    """6 (what has changed, good practice, resources) and 7 (open actions, questions)."""
    s6 = Section(6, TITLES[6])
    s7 = Section(7, TITLES[7])
    if eff is None:
        s6.paragraphs.append("No actions register was given for this review.")
        s7.paragraphs.append("No actions register was given for this review.")
    else:
        done = eff[eff["status"] == "completed"]
        live = eff[eff["status"].isin(["open", "in_progress"])]
        if done.empty:
            s6.paragraphs.append("No action in scope for this case set has been completed yet.")
        improved = int((done["effect"] == "improved").sum())
        if improved:
            s6.paragraphs.append(
                f"Good practice to keep: {improved} completed "
                f"{'action was' if improved == 1 else 'actions were'} followed by a change in "
                f"{'its theme' if improved == 1 else 'their themes'}, in the intended direction, "
                "that the data can detect beyond the trend and chance.")
        s6.bullets = [_effect_sentence(r, ctx.policy) for r in done.itertuples()]
        over = int(live["overdue"].astype(bool).sum())
        s7.paragraphs.append(
            f"Open actions in scope for this case set: {len(live)}; overdue: {over}.")
        s7.bullets = [
            f"Action {r.action_id} ({r.theme_label}, owner {r.owner}): {str(r.status).replace('_', ' ')}, "
            f"due {_date(r.due_date)}" + (f", overdue by {int(r.days_overdue)} days." if r.overdue else ".")
            for r in live.itertuples()]
        if len(done):
            ctx.appendix.append(BriefTable(
                "Completed actions and their effect",
                ["Action", "Theme", "Owner", "Completed", "Effect", "Rate ratio after/before (CI)"],
                [[r.action_id, r.theme_label, r.owner, _date(r.completed_date),
                  r.effect.replace("_", " "), _rr_text(r, ctx.policy)] for r in done.itertuples()],
                "reviewer/actions.csv"))
        if len(live):
            ctx.appendix.append(BriefTable(
                "Open actions", ["Action", "Theme", "Owner", "Due", "Status", "Overdue"],
                [[r.action_id, r.theme_label, r.owner, _date(r.due_date), str(r.status).replace("_", " "),
                  f"yes, {int(r.days_overdue)} days" if r.overdue else "no"] for r in live.itertuples()],
                "reviewer/actions.csv", highlight=[bool(v) for v in live["overdue"]]))
    if links:
        s6.links = links
    else:
        s6.bullets.append("Resources: none were listed for this review.")
    return s6, s7


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _rates_hidden(r: Any, policy: Any) -> bool:
    counts = [r.events_before, r.events_after]
    return any((not pd.isna(c)) and c > 0 and not _visible(policy, c) for c in counts)


def _rr_text(r: Any, policy: Any) -> str:
    if pd.isna(r.rate_ratio) or _rates_hidden(r, policy):
        return "*" if _rates_hidden(r, policy) else "-"
    level = f"{100 * r.ci_level:.1f}".rstrip("0").rstrip(".")
    return f"{_num(r.rate_ratio)} ({level}% CI {_num(r.ci_low)} to {_num(r.ci_high)})"


def _effect_sentence(r: Any, policy: Any) -> str:
    head = f"Action {r.action_id} ({r.theme_label}, owner {r.owner}) was completed on {_date(r.completed_date)}"
    if r.effect in ("too_early", "not_measured"):
        verdict = "it is too early to judge its effect" if r.effect == "too_early" else "its effect cannot be measured"
        return f"{head}; {verdict}: {r.reason}."
    if _rates_hidden(r, policy):
        return (f"{head}; the effect is {r.effect.replace('_', ' ')}, but the rates are suppressed "
                f"because the counts are small.")
    up = getattr(r, "direction", "decrease") == "increase"
    words = {"improved": "rose" if up else "fell", "worse": "fell" if up else "rose",
             "no_change": "did not change by more than a quarter either way",
             "inconclusive": "may or may not have changed: the data cannot tell"}[r.effect]
    return (f"{head}. {r.theme_label} incidents {words}: {_num(r.rate_before, 1)} {r.rate_unit} in "
            f"{int(r.months_before)} months before the action was agreed, {_num(r.rate_after, 1)} "
            f"in {int(r.months_after)} months after completion (rate ratio allowing for the trend "
            f"{_rr_text(r, policy)}; SPC: {r.spc_signal}). Effect: {r.effect.replace('_', ' ')}.")


# ---------------------------------------------------------------------------------------------
# Word


def _docx(b: Briefing) -> bytes:
    """Word rendering of the same sections: headings, tables (overdue rows shaded), quotes."""
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    doc = Document()
    doc.core_properties.author = "sgreview"
    doc.core_properties.title = b.title
    doc.add_heading(b.title, level=0)
    for s in b.sections:
        doc.add_heading(f"{s.number}. {s.title}", level=1)
        for p in s.paragraphs:
            doc.add_paragraph(p)
        for item in s.bullets:
            doc.add_paragraph(item, style="List Bullet")
        for t in s.tables:
            _docx_table(doc, t, OxmlElement, qn)
        for e in s.excerpts:
            doc.add_paragraph(f"\u201c{e.text}\u201d ({e.theme_label}; incident {e.incident_id})",
                              style="Quote")
        for heading, qs in s.questions:
            doc.add_paragraph(heading).runs[0].bold = True
            for q in qs:
                doc.add_paragraph(q, style="List Bullet")
        for title, url in s.links:
            doc.add_paragraph(f"{title}: {url}", style="List Bullet")
    if b.appendix:
        doc.add_heading("Appendix: tables", level=1)
        for t in b.appendix:
            _docx_table(doc, t, OxmlElement, qn)
    doc.add_paragraph(b.policy_text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _docx_table(doc: Any, t: BriefTable, OxmlElement: Any, qn: Any) -> None:
    doc.add_paragraph(t.caption, style="Caption")
    table = doc.add_table(rows=1, cols=len(t.columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, t.columns, strict=True):
        cell.paragraphs[0].add_run(name).bold = True
    for i, row in enumerate(t.rows):
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = str(value)
            if t.highlight and t.highlight[i]:
                shade = OxmlElement("w:shd")
                shade.set(qn("w:val"), "clear")
                shade.set(qn("w:fill"), "FCE4D6")
                cell._tc.get_or_add_tcPr().append(shade)
    doc.add_paragraph(f"Source: {t.source}")
