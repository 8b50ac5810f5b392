"""Practice themes from Safeguarding Adults Reviews, found sentence by sentence.

A keyword in a narrative is not a practice finding: "duty doctor" is not legal literacy,
"responsive to voice" is not the person's voice, and "was not escalated" is a different
finding from "was escalated". So each narrative is split into sentences and each practice
theme is judged per sentence with the rules in ``sgreview/data/practice_rules.yaml``:

* **cues** describe the theme as practice; ambiguous words only count inside a phrase that
  fixes their meaning (``the patient's voice``, ``statutory duty``, ``handover to the
  community team``);
* **masks** remove phrases that use a cue word in another sense before the cues are tried;
* **"no concern" spans** ("no concerns about his capacity") are removed for themes that say
  so: a sentence ruling a concern out is not a finding about it;
* **negation and hedging** mark a hit as an ``omission`` ("not escalated", "failed to
  share") or ``hedged`` ("may have", "unclear whether"); otherwise it is ``affirmed``.

Everything is regular expressions run with pandas' vectorised string methods over the
exploded sentences: deterministic, offline, no model. How well each theme is detected is
measured on a hand-labelled sample (``benchmarks/bench_practice.py``) and recorded in
``sgreview/data/practice_precision.yaml``; :func:`reportable_themes` lets reports show only the
themes whose measured precision is at least 0.8 (docs/decisions/practice-themes.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sgreview.errors import ParameterError

DATA = Path(__file__).resolve().parent / "data"
RULES_PATH = DATA / "practice_rules.yaml"
PRECISION_PATH = DATA / "practice_precision.yaml"
MIN_PRECISION = 0.8
#: Fewer predicted sentences than this in the labelled sample and a precision is not trusted.
MIN_PREDICTED = 8
POLARITIES = ("affirmed", "omission", "hedged")

#: National SAR analysis domains, in the order a briefing presents them.
SAR_DOMAINS = {
    "individual": "Direct practice with the person",
    "team_organisation": "Team and organisational support",
    "inter_agency": "Inter-agency working",
    "governance": "Safeguarding Adults Board governance",
}

#: Split after . ! ? when the next sentence starts with a capital, digit or quote, and at
#: line breaks. Changing it renumbers sentences: the labelled sample depends on it
#: (SPLIT_VERSION is recorded beside the labels and checked by the benchmark).
SENTENCE_SPLIT = r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[\u201c])|\s*\n+\s*"
SPLIT_VERSION = 1
_WINDOW = r"(?:\W+\w+){0,3}?\W+"


@cache
def _rules_cached(path: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ParameterError(f"cannot read the practice rules ({err})", path=path) from None
    if not isinstance(data, dict) or not isinstance(data.get("themes"), dict):
        raise ParameterError("practice rules need a 'themes' mapping", path=path)
    return data


def load_rules(path: str | Path | None = None) -> dict[str, Any]:
    """The practice-theme rules (``sgreview/data/practice_rules.yaml`` by default)."""
    return _rules_cached(str(path or RULES_PATH))


def split_sentences(texts: pd.Series) -> pd.DataFrame:
    """One row per non-empty sentence: ``row`` (the index label of ``texts``), ``sentence_no``
    (1-based within its text) and ``sentence``. Vectorised split + explode."""
    s = texts.astype("string").fillna("").str.split(SENTENCE_SPLIT, regex=True)
    long = s.explode().astype("string").str.strip()
    long = long[long.str.len() > 0]
    out = pd.DataFrame({"row": long.index, "sentence": long.to_numpy(dtype=object)})
    out["sentence_no"] = out.groupby("row", sort=False).cumcount() + 1
    return out[["row", "sentence_no", "sentence"]].reset_index(drop=True)


def _normalise(s: pd.Series) -> pd.Series:
    return (s.astype("string").fillna("").str.lower()
            .str.replace("[\u2018\u2019`]", "'", regex=True)
            .str.replace("[\u201c\u201d\"]", "", regex=True))


def _alternation(patterns: Sequence[str]) -> str:
    return r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + ")"


@cache
def _compiled(path: str) -> dict[str, dict[str, str]]:
    rules = _rules_cached(path)
    neg, hedge, concern = rules["negation"].strip(), rules["hedge"].strip(), rules["concern"].strip()
    out = {}
    for key, theme in rules["themes"].items():
        cues = [str(c) for c in theme.get("cues", [])]
        if not cues:
            continue
        cue = _alternation(cues)
        masks = [str(m) for m in theme.get("mask", [])]
        out[str(key)] = {
            "cue": cue,
            "mask": _alternation(masks) if masks else "",
            "concern": f"{concern}{cue}\\w*" if theme.get("concern") else "",
            "concern_after": (f"{cue}\\w*(?:\\s+\\w+){{0,4}}?\\s+(?:was|were|is|are)\\s+not\\s+"
                              f"(?:in doubt|in question|an issue|a concern|questioned)"
                              if theme.get("concern") else ""),
            # before the cue ("not escalated"), inside it ("were not told"), or after it
            # ("a risk assessment was not done")
            "negated": f"{neg}{_WINDOW}{cue}|{neg}\\s*{cue}|(?={cue})(?:\\w+\\W+){{0,2}}?(?:not|never)\\b|"
                       f"{cue}\\w*(?:\\s+\\w+){{0,4}}?\\s+"
                       f"(?:was|were|had|has|have|is|are|did|does)\\s+(?:not|never)\\b",
            "hedged": f"{hedge}(?:\\W+\\w+){{0,5}}?\\W+{cue}|{hedge}\\s*{cue}",
        }
    return out


def detect_sentences(sentences: pd.Series, rules_path: str | Path | None = None) -> pd.DataFrame:
    """Per sentence and practice theme: ``""`` (not present) or its polarity.

    Returns a frame indexed like ``sentences`` with one string column per theme holding
    ``affirmed``, ``omission``, ``hedged`` or ``""``. Each theme costs a handful of
    vectorised regex passes over the whole Series.
    """
    text = _normalise(sentences)
    out = {}
    for key, rx in _compiled(str(rules_path or RULES_PATH)).items():
        t = text
        if rx["mask"]:
            t = t.str.replace(rx["mask"], " ", regex=True)
        if rx["concern"]:
            t = t.str.replace(rx["concern"], " ", regex=True)
            t = t.str.replace(rx["concern_after"], " ", regex=True)
        hit = t.str.contains(rx["cue"], regex=True).fillna(False).to_numpy(bool)
        col = np.full(len(t), "", dtype=object)
        if hit.any():
            # Negation and hedging only on the sentences that hit: they are the slow passes.
            th = t[hit]
            neg = th.str.contains(rx["negated"], regex=True).fillna(False).to_numpy(bool)
            hedge = th.str.contains(rx["hedged"], regex=True).fillna(False).to_numpy(bool)
            col[hit] = np.where(neg, "omission", np.where(hedge, "hedged", "affirmed"))
        out[key] = col
    return pd.DataFrame(out, index=sentences.index)


def practice_hits(narratives: pd.Series, rules_path: str | Path | None = None) -> pd.DataFrame:
    """Long table of practice-theme hits: ``row``, ``sentence_no``, ``practice_theme``,
    ``polarity`` (no sentence text: callers that quote must redact and reference it)."""
    sents = split_sentences(narratives)
    found = detect_sentences(sents["sentence"], rules_path)
    long = found.assign(row=sents["row"], sentence_no=sents["sentence_no"]).melt(
        id_vars=["row", "sentence_no"], var_name="practice_theme", value_name="polarity")
    long = long[long["polarity"] != ""]
    return long.sort_values(["row", "sentence_no", "practice_theme"], kind="stable").reset_index(drop=True)


def practice_by_narrative(narratives: pd.Series, rules_path: str | Path | None = None) -> pd.DataFrame:
    """Boolean frame, rows = narratives, columns = practice themes: at least one sentence of
    the narrative describes the theme (affirmed, omission or hedged)."""
    keys = list(_compiled(str(rules_path or RULES_PATH)))
    hits = practice_hits(narratives, rules_path)
    if hits.empty:
        return pd.DataFrame(False, index=narratives.index, columns=keys)
    table = pd.crosstab(hits["row"], hits["practice_theme"]) > 0
    return table.reindex(index=narratives.index, columns=keys, fill_value=False).astype(bool)


def keyword_by_narrative(narratives: pd.Series, practice_themes: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The earlier method, kept as the benchmark's baseline: any taxonomy term on word
    boundaries anywhere in the text, no negation or context."""
    text = narratives.astype("string").fillna("")
    out = {}
    for theme in practice_themes:
        terms = [str(t).strip() for t in theme.get("terms", []) if str(t).strip()]
        if terms:
            pattern = r"\b(?:" + "|".join(
                pd.Series(sorted(terms, key=len, reverse=True)).str.replace(
                    r"([.^$*+?{}\[\]\\|()])", r"\\\1", regex=True)) + r")\b"
            out[str(theme["key"])] = text.str.contains(pattern, case=False, regex=True).fillna(False)
    return pd.DataFrame(out, index=narratives.index, dtype=bool)


# ---------------------------------------------------------------------------------------------
# Measured quality, and which themes a report may show


def load_precision(path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Measured precision/recall per theme (``practice_precision.yaml``), or ``{}``."""
    p = Path(path) if path else PRECISION_PATH
    if not p.exists():
        return {}
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    return {str(k): dict(v) for k, v in (data.get("themes") or {}).items()}


def reportable_themes(min_precision: float = MIN_PRECISION, path: str | Path | None = None) -> set[str]:
    """Themes whose detector reached ``min_precision`` on the labelled sample, with at least
    :data:`MIN_PREDICTED` predicted sentences; a theme never measured is not reportable."""
    out = set()
    for key, m in load_precision(path).items():
        prec, n = m.get("precision"), m.get("predicted", 0)
        if prec is not None and not pd.isna(prec) and prec >= min_precision and n >= MIN_PREDICTED:
            out.add(key)
    return out


def theme_info(practice_themes: Sequence[Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """One row per practice theme: key, name, SAR domain (key and title), SEIPS factor,
    measured precision and recall, and whether reports may show it."""
    if practice_themes is None:
        from sgreview.themes.labels import load_taxonomy

        practice_themes = load_taxonomy()["practice_themes"]
    rules = load_rules()["themes"]
    measured = load_precision()
    ok = reportable_themes()
    rows = []
    for t in practice_themes:
        key = str(t["key"])
        domain = str(t.get("sar_domain") or rules.get(key, {}).get("sar_domain") or "individual")
        m = measured.get(key, {})
        rows.append({"practice_theme": key, "name": str(t.get("name", key)),
                     "sar_domain": domain, "sar_domain_title": SAR_DOMAINS.get(domain, domain),
                     "seips": ", ".join([t["seips"]] if isinstance(t.get("seips"), str)
                                        else [str(x) for x in t.get("seips") or []]),
                     "precision": m.get("precision"), "recall": m.get("recall"),
                     "reportable": key in ok})
    return pd.DataFrame(rows)
