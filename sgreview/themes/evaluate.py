"""Agreement between discovered themes and a human coding, without using it to fit.

The labels only enter after fitting and assigning: NMI and ARI over incidents that have a
label (unthemed incidents count as one more group, so hiding hard cases cannot raise the
score), and for each label the best-matching theme's F1, which shows which human categories
the model recovers and which it splits or blurs.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from sgreview.errors import InputError
from sgreview.themes.api import apply_themes, fit_themes, unthemed_share


def best_match_f1(labels: pd.Series, themes: pd.Series) -> pd.DataFrame:
    """For each label: the theme with the highest F1 against it, and that F1."""
    table = pd.crosstab(labels.astype(str), themes.astype(str))
    inter = table.to_numpy(dtype=np.float64)
    size_l = inter.sum(axis=1, keepdims=True)
    size_t = inter.sum(axis=0, keepdims=True)
    f1 = 2 * inter / (size_l + size_t)
    best = f1.argmax(axis=1)
    return pd.DataFrame(
        {
            "label": table.index,
            "theme_id": table.columns[best],
            "f1": np.round(f1[np.arange(len(best)), best], 4),
            "n": size_l.ravel().astype(int),
        }
    )


def evaluate_themes(
    incidents: pd.DataFrame, label_column: str, *, k: int | str = "auto", seed: int = 0, **params
) -> dict:
    """Fit on the narratives, assign, then compare with ``label_column``; one JSON-able dict."""
    if label_column not in incidents.columns:
        raise InputError(f"label column '{label_column}' not found", column=label_column)
    start = time.perf_counter()
    model = fit_themes(incidents.drop(columns=[label_column]), k=k, seed=seed, **params)
    assignments = apply_themes(model, incidents.drop(columns=[label_column]))
    seconds = time.perf_counter() - start
    labels = incidents[label_column].astype(object)
    has = labels.notna().to_numpy() & (labels.astype(str).str.strip() != "").to_numpy()
    if has.sum() == 0:
        raise InputError(f"label column '{label_column}' is empty", column=label_column)
    y = labels[has].astype(str).to_numpy()
    pred = assignments["theme_id"].to_numpy()[has]
    f1 = best_match_f1(pd.Series(y), pd.Series(pred))
    sizes = model.sizes_.astype(float)
    stability = float(np.average(model.stability_, weights=sizes)) if sizes.sum() else float("nan")
    return {
        "nmi": round(float(normalized_mutual_info_score(y, pred)), 4),
        "ari": round(float(adjusted_rand_score(y, pred)), 4),
        "k": int(model.n_themes_),
        "k_requested": k,
        "n": int(len(incidents)),
        "n_labelled": int(has.sum()),
        "n_labels": int(len(set(y))),
        "unthemed_share": round(unthemed_share(assignments), 4),
        "stability": round(stability, 4),
        "resample_agreement": round(float(model.agreement_), 4)
        if np.isfinite(model.agreement_)
        else None,
        "seconds": round(seconds, 2),
        "seed": seed,
        "best_match_f1": dict(zip(f1["label"], f1["f1"].astype(float), strict=True)),
        "best_match_theme": dict(zip(f1["label"], f1["theme_id"], strict=True)),
        "notes": list(model.notes_),
    }
