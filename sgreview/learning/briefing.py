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
#: The theme model's bucket for incidents no theme fits: counted, never quoted as a theme.
MAX_THEMES = 6
MAX_QUESTION_THEMES = 5

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


def _redactor():
    from sgreview.redact import contains_identifiers, redact_texts

    return redact_texts, contains_identifiers


def _clean_excerpts(ex: pd.DataFrame) -> pd.DataFrame:
    """Redact again and drop any excerpt still holding an identifier: defence in depth."""
    if ex.empty:
        return ex
    redact_texts, contains_identifiers = _redactor()
    ex = ex.assign(text=redact_texts(ex["text"].astype(str)).text.astype(str).str.strip())
    flagged = contains_identifiers(ex["text"])
    return ex[~flagged & (ex["text"].str.len() > 0)]


def case_evidence(case: pd.DataFrame, themes: pd.DataFrame, evidence: pd.DataFrame | None,
                  per_theme: int = EXCERPTS_PER_THEME) -> pd.DataFrame:
    """Excerpts (theme_id, incident_id, text) from the case set's own incidents.

    Uses the theme model's evidence sentences where they come from case-set incidents;
    otherwise the case-set sentences with most of the theme's top terms. Sentences are
    exploded and scored in vectorised string operations.
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
    ex = _clean_excerpts(ex.groupby("theme_id", sort=False).head(3 * per_theme))
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
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
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


_HIDDEN_NOTE = ("This part is suppressed: the case set has too few incidents to show counts or "
                "examples without risk of identifying the people involved.")


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
) -> Briefing:
    """Build the seven sections for one case set, and the tables behind their numbers.

    ``case_assignments`` are the case set's rows of the assignments (from
    :func:`~sgreview.learning.casesets.select_case_set`), with a redacted ``narrative`` column
    when practice themes and excerpts are wanted; ``all_assignments`` is the whole
    organisation; ``themes`` the theme model's table; ``evidence`` the model's evidence
    sentences (theme_id, incident_id, sentence) or None; ``actions_effects`` the output of
    :func:`~sgreview.learning.actions.action_effects` (None when there is no register).
    """
    if case_assignments.empty:
        raise InputError(f"case set '{case_set_name}' matches no incidents")
    case = case_assignments.copy()
    org = all_assignments.copy()
    for df in (case, org):
        df["theme_id"] = df["theme_id"].astype(str)
        df["incident_date"] = parse_dates(df["incident_date"])
    labels = dict(zip(themes["theme_id"].astype(str), themes["theme_label"].astype(str), strict=False))
    if "theme_label" in org.columns:
        labels = {**dict(zip(org["theme_id"], org["theme_label"].astype(str), strict=True)), **labels}
    ctx = _Context(case_set_name, case, org, themes, labels, policy)
    bank = question_bank if question_bank is not None else load_question_bank()
    if practice_themes is None:
        practice_themes = default_practice_themes()
    if ctx.full_hide:
        ctx.notices.append(f"case set '{case_set_name}' is fully suppressed ({ctx.n_case} incidents)")

    comp = _theme_comparison(ctx)
    s5, found = _learning(ctx, practice_themes)
    s6, s7 = _actions(ctx, actions_effects, comp)
    for key, name in found[:MAX_QUESTION_THEMES]:
        qs = _questions_for(bank, key, name)
        if qs:
            s7.questions.append((name, qs))
    s7.questions.append(("For every team", list(bank.get("general", []))))
    sections = [_background(ctx), _why_it_matters(ctx, comp), _what_happened(ctx, comp),
                _key_findings(ctx, comp, evidence), s5, s6, s7]
    return Briefing(name=case_set_name, title=title or f"7-minute briefing: {case_set_name}",
                    sections=sections, tables=ctx.tables, notices=ctx.notices,
                    fully_suppressed=ctx.full_hide, policy_text=_policy_text(policy))


def _background(ctx: _Context) -> Section:
    """1. How many incidents, when and where; no identifiers."""
    case = ctx.case
    localities = sorted(case["locality"].dropna().astype(str).unique()) if "locality" in case else []
    start, end = case["incident_date"].min(), case["incident_date"].max()
    ctx.tables["case_set_summary"] = pd.DataFrame({
        "measure": ["incidents", "localities", "first_month", "last_month", "themes",
                    "organisation_incidents"],
        "value": [ctx.n_case, len(localities), _month(start), _month(end),
                  case["theme_id"].nunique(), ctx.n_org],
    })
    loc_counts = (case.groupby("locality").size().rename("incidents").reset_index()
                  if "locality" in case else pd.DataFrame(columns=["locality", "incidents"]))
    ctx.tables["case_set_localities"] = loc_counts
    s = Section(1, TITLES[1], sources=["reviewer/case_set_summary.csv", "reviewer/case_set_localities.csv"])
    where = f"{len(localities)} {'locality' if len(localities) == 1 else 'localities'}"
    if ctx.full_hide:
        s.paragraphs.append(
            f"This briefing covers a small case set: fewer than {ctx.threshold + 1} incidents, "
            f"recorded between {_month(start)} and {_month(end)} in {where}.")
        s.paragraphs.append(
            "Every count in this case set is below the disclosure threshold, so theme counts, "
            "trends and excerpts are suppressed throughout. The actions and reflective questions "
            "below still apply.")
        return s
    s.paragraphs.append(
        f"This briefing covers {ctx.policy.about(ctx.n_case)} incidents recorded between "
        f"{_month(start)} and {_month(end)} in {where}: {', '.join(localities)}.")
    s.paragraphs.append("No names, ages or family details are included; excerpts are redacted.")
    loc_text, _ = _partition(ctx.policy, loc_counts["incidents"])
    s.tables.append(BriefTable(
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
    return comp


def _why_it_matters(ctx: _Context, comp: pd.DataFrame) -> Section:
    """2. The case set's themes against their prevalence and trend across the organisation."""
    s = Section(2, TITLES[2], sources=["reviewer/case_set_summary.csv", "reviewer/theme_comparison.csv"])
    if ctx.full_hide:
        s.paragraphs.append(_HIDDEN_NOTE)
        return s
    n_case, n_org = ctx.n_case, ctx.n_org
    s.paragraphs.append(
        f"Across the organisation, {ctx.policy.org_count(n_org)} incidents were themed in the "
        f"same data. For each of the case set's main themes, the table compares its share of the "
        f"case set with its share of all incidents, and states what the organisation-wide monthly "
        f"SPC chart shows.")
    top = comp.head(MAX_THEMES)
    for r in top.itertuples():
        if not r.shown or r.theme_id == UNTHEMED:
            continue
        shown_ratio = _shown_ratio(ctx.policy, r.case_incidents, n_case, r.org_incidents, n_org)
        ratio = ("" if not np.isfinite(shown_ratio)
                 else f", {shown_ratio:.1f} times its organisation-wide share")
        s.bullets.append(f"{r.theme_label}: {_pct(r.case_incidents, n_case, True, ctx.policy)} of the case set "
                         f"against {_pct(r.org_incidents, n_org, True, ctx.policy, exact_whole=True)} of all incidents{ratio}; "
                         f"{r.org_trend}.")
    s.tables.append(BriefTable(
        "Case set themes against the whole organisation",
        ["Theme", "Case set incidents", "Share of case set", "Organisation incidents",
         "Share of organisation", "Organisation trend"],
        [[r.theme_label, r.case_incidents_shown, _pct(r.case_incidents, n_case, r.shown, ctx.policy), o,
          _pct(r.org_incidents, n_org, True, ctx.policy, exact_whole=True), r.org_trend]
         for r, o in zip(top.itertuples(), _shown(ctx.policy, top["org_incidents"]), strict=True)],
        "reviewer/theme_comparison.csv"))
    return s


def _what_happened(ctx: _Context, comp: pd.DataFrame) -> Section:
    """3. The case set by theme and by recorded harm."""
    s = Section(3, TITLES[3], sources=["reviewer/theme_comparison.csv"])
    if "harm" in ctx.case.columns:
        harm = ctx.case["harm"].astype("string").fillna("not recorded").value_counts()
        order = [h for h in (*HARM_LEVELS, "not recorded") if h in harm.index]
        harm = harm.reindex(order + [h for h in harm.index if h not in order])
        ctx.tables["case_set_harm"] = harm.rename("incidents").rename_axis("harm").reset_index()
        s.sources.append("reviewer/case_set_harm.csv")
    if ctx.full_hide:
        s.paragraphs.append(_HIDDEN_NOTE)
        return s
    s.paragraphs.append(
        f"The case set's incidents fall into {len(comp)} {'theme' if len(comp) == 1 else 'themes'}; "
        f"themes with enough incidents to be described here: {int(comp['examples_allowed'].sum())}.")
    s.tables.append(BriefTable(
        "Incidents by theme", ["Theme", "Incidents", "Share of case set"],
        [[r.theme_label, r.case_incidents_shown, _pct(r.case_incidents, ctx.n_case, r.shown, ctx.policy)]
         for r in comp.itertuples()],
        "reviewer/theme_comparison.csv"))
    if "case_set_harm" in ctx.tables:
        h = ctx.tables["case_set_harm"]
        s.tables.append(BriefTable(
            "Incidents by recorded harm", ["Harm", "Incidents"],
            [[k, c] for k, c in zip(h["harm"], _partition(ctx.policy, h["incidents"])[0], strict=True)],
            "reviewer/case_set_harm.csv"))
    return s


def _key_findings(ctx: _Context, comp: pd.DataFrame, evidence: pd.DataFrame | None) -> Section:
    """4. Redacted excerpts, only for themes above the threshold, with their incident ids."""
    s = Section(4, TITLES[4], sources=["reviewer/evidence_index.csv"])
    ex = pd.DataFrame(columns=["theme_id", "incident_id", "text"])
    if ctx.full_hide:
        s.paragraphs.append(_HIDDEN_NOTE)
    else:
        allowed = set(comp.loc[comp["examples_allowed"], "theme_id"]) - {UNTHEMED}
        allowed &= set(comp["theme_id"].head(MAX_THEMES))
        ex = case_evidence(ctx.case, ctx.themes, evidence)
        ex = ex[ex["theme_id"].isin(allowed)]
        order = {t: i for i, t in enumerate(comp["theme_id"])}
        ex = ex.sort_values("theme_id", key=lambda t: t.map(order), kind="stable")
        s.paragraphs.append(
            "Redacted excerpts from the case set's own records, quoted as written, for each theme "
            "with enough incidents to show examples. Themes below the threshold have no excerpts.")
        s.excerpts = [Excerpt(ctx.labels.get(t, t), i, x)
                      for t, i, x in ex[["theme_id", "incident_id", "text"]].itertuples(index=False)]
        if not allowed:
            s.paragraphs.append(f"No theme in this case set has more than {ctx.threshold} "
                                f"incidents, so no excerpts are shown.")
        elif not s.excerpts:
            s.paragraphs.append("No excerpt from the case set's records passed the redaction checks.")
    ctx.tables["evidence_index"] = ex[["theme_id", "incident_id"]].reset_index(drop=True)
    return s


def _learning(ctx: _Context, practice_themes: Sequence[Mapping[str, Any]]) -> tuple[Section, list[tuple[str, str]]]:
    """5. Practice themes found in the narratives, with their SEIPS factors.

    Returns the section and the (key, name) of the practice themes found, most frequent first.
    """
    from sgreview.practice import reportable_themes

    s = Section(5, TITLES[5], sources=["reviewer/practice_themes.csv"])
    trusted = reportable_themes()
    practice_themes = [t for t in practice_themes if str(t["key"]) in trusted]
    names = {str(t["key"]): str(t.get("name", t["key"])) for t in practice_themes}
    seips = {str(t["key"]): ", ".join(_as_list(t.get("seips"))) for t in practice_themes}
    cols = ["practice_theme", "name", "incidents", "seips_factors"]
    if "narrative" in ctx.case.columns and practice_themes:
        hits = detect_practice_themes(ctx.case["narrative"], practice_themes)
        pt = pd.DataFrame({"practice_theme": hits.columns,
                           "name": [names[k] for k in hits.columns],
                           "incidents": hits.sum().to_numpy(dtype=int),
                           "seips_factors": [seips[k] for k in hits.columns]}, columns=cols)
        pt = pt[pt["incidents"] > 0].sort_values("incidents", ascending=False, kind="stable")
        if pt.empty:
            s.paragraphs.append("No practice theme was found in the case set's records.")
    else:
        pt = pd.DataFrame(columns=cols)
        s.paragraphs.append("Practice themes could not be detected: the case set has no narratives "
                            "or the taxonomy has no practice themes.")
        ctx.notices.append(f"case set '{ctx.name}': practice themes not detected")
    pt = pt.reset_index(drop=True)
    ctx.tables["practice_themes"] = pt
    if len(pt):
        counts = ["*"] * len(pt) if ctx.full_hide else _shown(ctx.policy, pt["incidents"])
        s.paragraphs.append(
            f"Practice themes from Safeguarding Adults Reviews found in the case set's records "
            f"({len(pt)} in all), with the parts of the work system (people, tasks, tools, "
            "organisation, environment) they usually involve.")
        s.tables.append(BriefTable(
            "Practice themes", ["Practice theme", "Incidents mentioning it", "Work-system factors"],
            [[r.name, c, r.seips_factors] for r, c in zip(pt.itertuples(), counts, strict=True)],
            "reviewer/practice_themes.csv"))
    return s, list(zip(pt["practice_theme"], pt["name"], strict=True))


def _actions(ctx: _Context, effects: pd.DataFrame | None, comp: pd.DataFrame) -> tuple[Section, Section]:
    """6 (what has changed: completed actions and their effect) and 7 (open actions)."""
    s6 = Section(6, TITLES[6], sources=["reviewer/actions.csv", "reviewer/effect_chart.csv"])
    s7 = Section(7, TITLES[7], sources=["reviewer/actions.csv", "reviewer/practice_themes.csv"])
    eff = _case_actions(effects, comp)
    if eff is None:
        s6.paragraphs.append("No actions register was given for this review.")
        s7.paragraphs.append("No actions register was given for this review.")
        return s6, s7
    done = eff[eff["status"] == "completed"]
    live = eff[eff["status"].isin(["open", "in_progress"])]
    if done.empty:
        s6.paragraphs.append("No action linked to the case set's themes has been completed yet.")
    improved = int((done["effect"] == "improved").sum())
    if improved:
        s6.paragraphs.append(
            f"Good practice to keep: {improved} completed "
            f"{'action was' if improved == 1 else 'actions were'} followed by a fall in "
            f"{'its theme' if improved == 1 else 'their themes'} that the data can detect.")
    s6.bullets = [_effect_sentence(r, ctx.policy) for r in done.itertuples()]
    if len(done):
        s6.tables.append(BriefTable(
            "Completed actions and their effect",
            ["Action", "Theme", "Owner", "Completed", "Effect", "Rate ratio after/before (CI)"],
            [[r.action_id, r.theme_label, r.owner, _date(r.completed_date),
              r.effect.replace("_", " "), _rr_text(r, ctx.policy)] for r in done.itertuples()],
            "actions.csv"))
    s7.paragraphs.append(
        f"Open actions linked to the case set's themes: {len(live)}; overdue (highlighted): "
        f"{int(live['overdue'].astype(bool).sum())}.")
    if len(live):
        s7.tables.append(BriefTable(
            "Open actions", ["Action", "Theme", "Owner", "Due", "Status", "Overdue"],
            [[r.action_id, r.theme_label, r.owner, _date(r.due_date), str(r.status).replace("_", " "),
              f"yes, {int(r.days_overdue)} days" if r.overdue else "no"] for r in live.itertuples()],
            "actions.csv", highlight=[bool(v) for v in live["overdue"]]))
    return s6, s7


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def linked_to(effects: pd.DataFrame, theme_ids: set[str]) -> pd.Series:
    """Which actions are on one of ``theme_ids`` (an action may cover several themes)."""
    ids = effects["theme_ids"] if "theme_ids" in effects.columns else effects["theme_id"]
    per_action = ids.astype("string").fillna("").str.split(";")
    return per_action.map(lambda t: bool(theme_ids & set(t))).astype(bool)


def _case_actions(effects: pd.DataFrame | None, comp: pd.DataFrame) -> pd.DataFrame | None:
    """Actions whose theme is one of the case set's themes."""
    if effects is None:
        return None
    ids = set(comp["theme_id"])
    eff = effects.copy()
    eff = eff[linked_to(eff, ids)]
    for col in ("overdue", "days_overdue"):
        if col not in eff.columns:
            eff[col] = False if col == "overdue" else 0
    return eff.sort_values(["status", "due_date"], kind="stable")


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
    words = {"improved": "fell", "worse": "rose", "no_change": "did not change detectably"}[r.effect]
    return (f"{head}. {r.theme_label} incidents {words}: {_num(r.rate_before, 1)} {r.rate_unit} in "
            f"{int(r.months_before)} months before, {_num(r.rate_after, 1)} in {int(r.months_after)} "
            f"months after (rate ratio {_rr_text(r, policy)}; SPC: {r.spc_signal}). "
            f"Effect: {r.effect.replace('_', ' ')}.")


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
        for e in s.excerpts:
            doc.add_paragraph(f"\u201c{e.text}\u201d ({e.theme_label}; incident {e.incident_id})",
                              style="Quote")
        for heading, qs in s.questions:
            doc.add_paragraph(heading).runs[0].bold = True
            for q in qs:
                doc.add_paragraph(q, style="List Bullet")
        if s.sources:
            doc.add_paragraph("Numbers from: " + ", ".join(s.sources))
    doc.add_paragraph(b.policy_text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
