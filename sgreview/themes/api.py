"""Fit and apply themes on incident frames: ids, codebook edits, the tables DESIGN.md promises.

``fit_themes`` turns a validated, redacted incident frame into a :class:`ThemeModel` whose
themes carry stable ids: seeded themes keep their codebook ids, and discovered themes are
matched back to a ``previous`` model by Hungarian matching on their class-based TF-IDF term
profiles (cosine similarity of term weights, so two fits with different vocabularies can
still be compared). A match needs similarity of at least ``MATCH_MIN``; anything else is a
genuinely new theme and gets the next free id with status ``new``. ``apply_themes`` then
assigns incidents and honours the analyst's codebook (rename, merge, retire, split).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.preprocessing import normalize

from sgreview.errors import InputError, ParameterError
from sgreview.schema import UNTHEMED_ID, UNTHEMED_LABEL
from sgreview.themes.carryover import build_codebook
from sgreview.themes.codebook import (
    Codebook,
    ThemeEntry,
    starter_codebook,
)
from sgreview.themes.model import ThemeModel
from sgreview.themes.persist import load_model
from sgreview.themes.text import clean_arrow, count_terms, tokenise_terms

#: Minimum cosine similarity of term profiles for a refit theme to keep an old id.
MATCH_MIN = 0.5

ASSIGNMENT_COLUMNS = [
    "incident_id",
    "locality",
    "incident_date",
    "theme_id",
    "theme_label",
    "score",
    "secondary_themes",
]


def _narratives(incidents: pd.DataFrame) -> pd.Series:
    if not isinstance(incidents, pd.DataFrame):
        raise InputError("incidents must be a table (DataFrame)")
    if "narrative" not in incidents.columns:
        raise InputError("incidents have no 'narrative' column", column="narrative")
    return incidents["narrative"].astype(object).where(incidents["narrative"].notna(), "")


def _as_codebook(codebook: Codebook | str | Path | None) -> Codebook | None:
    if codebook is None or isinstance(codebook, Codebook):
        return codebook
    if str(codebook) == "taxonomy":
        return starter_codebook()
    return Codebook.load(codebook)


def fit_themes(
    incidents: pd.DataFrame,
    *,
    k: int | str = "auto",
    seed: int = 0,
    codebook: Codebook | str | Path | None = None,
    previous: ThemeModel | str | Path | None = None,
    **params,
) -> ThemeModel:
    """Discover themes in ``incidents['narrative']`` (already redacted by the caller).

    ``codebook``: a :class:`Codebook`, a YAML path, or ``"taxonomy"`` for the starter
    codebook; its themes with ``seed_terms`` are seeded (assigned first). ``previous``: an
    earlier model (or its folder) whose theme ids, analyst names, merges and retirements
    carry over to matching themes. Extra keyword arguments go to :class:`ThemeModel`.
    """
    texts = _narratives(incidents)
    book = _as_codebook(codebook)
    if previous is not None and not isinstance(previous, ThemeModel):
        previous = load_model(previous)
    seeds = book.seeded() if book else []
    names = [e.label for e in seeds]
    if len(set(names)) != len(names):
        raise ParameterError("seeded themes in the codebook must have different labels")
    seed_terms = {e.label: list(e.seed_terms) for e in seeds} or None
    if isinstance(k, str) and k != "auto":
        k = _parse_k(k)
    model = ThemeModel(k=k, random_state=seed, seed_terms=seed_terms, **params).fit(texts)
    _assign_ids(model, seeds, previous, book)
    model.codebook_ = build_codebook(model, previous, book)
    return model


def _parse_k(k: str) -> int:
    try:
        return int(k)
    except ValueError:
        raise ParameterError(f"k must be a positive whole number or 'auto', got {k!r}") from None


def _profile(model: ThemeModel, vocab: pd.Index) -> np.ndarray:
    out = np.zeros((model.n_themes_, len(vocab)), dtype=np.float32)
    cols = vocab.get_indexer(pd.Index(model.vocabulary_))
    out[:, cols] = model.term_weights_
    return normalize(out)


def match_themes(
    new: ThemeModel, old: ThemeModel, rows: np.ndarray | None = None
) -> dict[int, tuple[int, float]]:
    """``{new theme index: (old theme index, similarity)}`` by Hungarian matching.

    Only pairs with similarity >= ``MATCH_MIN`` are returned; ``rows`` limits which new
    themes take part (seeded themes already have their ids).
    """
    if new.n_themes_ == 0 or old.n_themes_ == 0:
        return {}
    vocab = pd.Index(
        np.union1d(new.vocabulary_.astype(str), np.asarray(old.vocabulary_, dtype=str))
    )
    sim = _profile(new, vocab) @ _profile(old, vocab).T
    rows = np.arange(new.n_themes_) if rows is None else np.asarray(rows)
    if len(rows) == 0:
        return {}
    r, c = linear_sum_assignment(-sim[rows])
    return {
        int(rows[i]): (int(j), float(sim[rows[i], j]))
        for i, j in zip(r, c, strict=True)
        if sim[rows[i], j] >= MATCH_MIN
    }


def _assign_ids(
    model: ThemeModel, seeds: list[ThemeEntry], previous: ThemeModel | None, book: Codebook | None
) -> None:
    n_seeded = sum(o == "seeded" for o in model.origin_)
    ids: list[str | None] = [e.id for e in seeds[:n_seeded]] + [None] * (model.n_themes_ - n_seeded)
    status = ["active"] * model.n_themes_
    matched: list[str | None] = [None] * model.n_themes_
    taken = set(i for i in ids if i)
    if previous is not None:
        pairs = match_themes(model, previous, rows=np.arange(n_seeded, model.n_themes_))
        for new_i, (old_j, sim) in sorted(pairs.items()):
            old_id = previous.theme_ids_[old_j]
            if old_id in taken:
                continue
            ids[new_i] = old_id
            taken.add(old_id)
            matched[new_i] = f"{old_id} ({sim:.2f})"
    highest = max(
        [int(i[1:]) for i in taken]
        + ([previous.codebook_.max_id()] if previous is not None and previous.codebook_ else [])
        + (
            [max(int(t[1:]) for t in previous.theme_ids_)]
            if previous is not None and previous.theme_ids_
            else []
        )
        + ([book.max_id()] if book else [])
        + [0]
    )
    for i in range(model.n_themes_):
        if ids[i] is None:
            highest += 1
            ids[i] = f"T{highest:02d}"
            if previous is not None:
                status[i] = "new"
    model.theme_ids_ = [str(i) for i in ids]
    model.status_ = status
    model.matched_from_ = matched


def apply_themes(model: ThemeModel, incidents: pd.DataFrame) -> pd.DataFrame:
    """Assign each incident a primary theme, score and secondary themes (DESIGN.md columns).

    Honours ``model.codebook_``: labels as renamed, merged themes counted under their
    target, retired themes' incidents moved to their next best theme (or unthemed), and
    splits or analyst themes taking the incidents that use their seed terms. Narratives are
    never copied into the result.
    """
    texts = _narratives(incidents)
    book = model.codebook_
    book.check("codebook.yaml", known_ids=set(model.theme_ids_))
    primary, score, scores = model.assign(texts)
    retired = np.array(
        [(book.get(t) is not None and book.get(t).retired) for t in model.theme_ids_], dtype=bool
    )
    if retired.any():
        scores = scores.copy()
        scores[:, retired] = 0.0
        moved = (primary >= 0) & retired[np.maximum(primary, 0)]
        best = scores.argmax(axis=1) if scores.shape[1] else np.zeros(len(primary), dtype=np.int64)
        top = scores.max(axis=1) if scores.shape[1] else np.zeros(len(primary))
        primary = np.where(moved, np.where(top >= model.min_score, best, -1), primary)
        score = np.where(primary >= 0, scores[np.arange(len(primary)), np.maximum(primary, 0)], 0.0)
    final_of = np.array(
        [book.resolve_merge(t) for t in model.theme_ids_] + [UNTHEMED_ID], dtype=object
    )
    theme_id = final_of[np.where(primary >= 0, primary, len(model.theme_ids_))]
    score = np.asarray(score, dtype=np.float64)
    theme_id, score = _apply_seed_rules(
        book, set(model.theme_ids_), texts, theme_id, score, model.min_seed_hits
    )
    secondary = _secondary_ids(model.secondary(primary, scores), final_of, theme_id)

    labels = {e.id: e.label for e in book.themes}
    labels[UNTHEMED_ID] = UNTHEMED_LABEL
    out = pd.DataFrame(
        {
            "incident_id": incidents["incident_id"].to_numpy()
            if "incident_id" in incidents
            else np.arange(len(texts)),
            "locality": incidents["locality"].to_numpy() if "locality" in incidents else "",
            "incident_date": incidents["incident_date"].to_numpy()
            if "incident_date" in incidents
            else pd.NaT,
            "theme_id": theme_id.astype(str),
            "theme_label": [labels[t] for t in theme_id],
            "score": np.round(np.clip(score, 0.0, 1.0), 4),
            "secondary_themes": secondary,
        }
    )
    extra = [c for c in incidents.columns if c not in ASSIGNMENT_COLUMNS and c != "narrative"]
    for col in extra:
        out[col] = incidents[col].to_numpy()
    return out


def _apply_seed_rules(
    book: Codebook,
    model_ids: set[str],
    texts: pd.Series,
    theme_id: np.ndarray,
    score: np.ndarray,
    min_hits: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Splits and analyst themes: incidents using enough of their seed terms move to them."""
    rules = [e for e in book.themes if e.seed_terms and e.id not in model_ids and not e.retired]
    if not rules:
        return theme_id, score
    token_sets = [tokenise_terms(e.seed_terms) for e in rules]
    vocab = sorted({t for ts in token_sets for t in ts})
    if not vocab:
        return theme_id, score
    present = (count_terms(clean_arrow(texts), vocab) > 0).astype(np.float32).tocsc()
    index = {t: i for i, t in enumerate(vocab)}
    theme_id, score = theme_id.copy(), score.copy()
    moved = np.zeros(len(theme_id), dtype=bool)
    for entry, tokens in zip(rules, token_sets, strict=True):
        if not tokens:
            continue
        hits = np.asarray(present[:, [index[t] for t in tokens]].sum(axis=1)).ravel()
        ok = (hits >= min(min_hits, len(tokens))) & ~moved
        if entry.split_from:
            ok &= theme_id == book.resolve_merge(entry.split_from)
        else:
            score = np.where(
                ok & (theme_id == UNTHEMED_ID), np.minimum(hits / len(tokens), 1.0), score
            )
        target = book.resolve_merge(entry.id)
        theme_id = np.where(ok, target, theme_id)
        moved |= ok
    return theme_id, score


def _secondary_ids(
    secondary: list[list[int]], final_of: np.ndarray, primary_ids: np.ndarray
) -> list[str]:
    out = []
    for sec, own in zip(secondary, primary_ids, strict=True):
        seen: list[str] = []
        for j in sec:
            tid = final_of[j]
            if tid != own and tid not in seen:
                seen.append(tid)
        out.append(";".join(seen))
    return out


def themes_table(
    model: ThemeModel, assignments: pd.DataFrame, evidence: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per theme (DESIGN ``themes.csv``) plus the honest ``T00 Unthemed`` row.

    ``size`` counts incidents in ``assignments`` (after merges, retirements and splits);
    ``fit_size`` is the theme's size when the model was fitted.
    """
    book = model.codebook_
    counts = assignments["theme_id"].astype(str).value_counts()
    n = max(len(assignments), 1)
    index = {t: i for i, t in enumerate(model.theme_ids_)}
    ev = (
        evidence["theme_id"].astype(str).value_counts()
        if evidence is not None and len(evidence)
        else pd.Series(dtype=int)
    )
    rows = []
    for e in book.themes:
        i = index.get(e.id)
        status = "retired" if e.retired else ("merged" if e.merge_into else e.status)
        rows.append(
            {
                "theme_id": e.id,
                "theme_label": e.label,
                "size": int(counts.get(e.id, 0)),
                "share": round(counts.get(e.id, 0) / n, 4),
                "stability": round(float(model.stability_[i]), 3) if i is not None else np.nan,
                "top_terms": "; ".join(
                    e.top_terms
                    if e.top_terms
                    else (model.top_terms_[i] if i is not None else e.seed_terms)
                ),
                "status": status,
                "origin": e.origin if i is not None or e.split_from is None else "analyst",
                "taxonomy": e.taxonomy or "",
                "merge_into": e.merge_into or "",
                "split_from": e.split_from or "",
                "fit_size": int(model.sizes_[i]) if i is not None else 0,
                "n_evidence": int(ev.get(e.id, 0)),
            }
        )
    unthemed = int(counts.get(UNTHEMED_ID, 0))
    rows.append(
        {
            "theme_id": UNTHEMED_ID,
            "theme_label": UNTHEMED_LABEL,
            "size": unthemed,
            "share": round(unthemed / n, 4),
            "stability": np.nan,
            "top_terms": "",
            "status": "unthemed",
            "origin": "",
            "taxonomy": "",
            "merge_into": "",
            "split_from": "",
            "fit_size": int(getattr(model, "n_unusable_", 0) or 0),
            "n_evidence": 0,
        }
    )
    return pd.DataFrame(rows)


def unthemed_share(assignments: pd.DataFrame) -> float:
    """Share of incidents in the unthemed bucket (report it; never hide it)."""
    if len(assignments) == 0:
        return 0.0
    return float((assignments["theme_id"].astype(str) == UNTHEMED_ID).mean())


def theme_names(model: ThemeModel) -> Mapping[str, str]:
    """``{theme_id: label}`` as the codebook currently says."""
    return {e.id: e.label for e in model.codebook_.themes}
