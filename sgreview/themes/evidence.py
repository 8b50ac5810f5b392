"""Evidence for a theme: the few redacted sentences that best express it.

Reviewers believe a theme when they can read what it means, but a whole narrative says too
much (and is where identifiers hide). So evidence is *sentences*: taken from the incidents
most typical of the theme, scored by similarity to the theme's prototype (the mean LSA
vector of its incidents), one per incident, and dropped if they still contain anything that
looks like an identifier (:func:`sgreview.redact.contains_identifiers`), even though the
narratives were redacted before fitting: evidence is the one place free text reaches a
report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.preprocessing import normalize

from sgreview.schema import UNTHEMED_ID
from sgreview.themes.model import ThemeModel
from sgreview.themes.text import REDACTION_TAG, clean_arrow, split_sentences

#: Incidents per theme whose sentences are considered.
CANDIDATES = 40
MIN_WORDS, MAX_WORDS = 6, 60


def _identifier_check(sentences: pd.Series, services: Sequence[str] = ()) -> pd.Series:
    from sgreview.redact import contains_identifiers

    return contains_identifiers(sentences, services=services)


def theme_evidence(
    model: ThemeModel, incidents: pd.DataFrame, assignments: pd.DataFrame, n: int = 5,
    services: Sequence[str] = (),
) -> pd.DataFrame:
    """Up to ``n`` evidence sentences per theme: theme_id, incident_id, locality, sentence, score.

    ``services`` are the trust's listed service names: a sentence naming one is not dropped
    as if it held an identifier.
    """
    columns = ["theme_id", "incident_id", "locality", "sentence", "score"]
    if len(assignments) == 0 or n <= 0 or "narrative" not in incidents:
        return pd.DataFrame(columns=columns)
    a = assignments[["incident_id", "theme_id", "score"]].copy()
    a["incident_id"] = a["incident_id"].astype(str)
    inc = incidents[["incident_id", "narrative"]].assign(
        incident_id=incidents["incident_id"].astype(str)
    )
    if "locality" in incidents:
        inc["locality"] = incidents["locality"].to_numpy()
    else:
        inc["locality"] = ""
    a = a.merge(inc.drop_duplicates("incident_id"), on="incident_id", how="inner")
    a = a.loc[a["theme_id"] != UNTHEMED_ID]
    a = a.sort_values(
        ["theme_id", "score", "incident_id"], ascending=[True, False, True], kind="stable"
    )
    a = a.groupby("theme_id", sort=True).head(CANDIDATES)
    if a.empty:
        return pd.DataFrame(columns=columns)

    a["sentence"] = a["narrative"].fillna("").astype(str).map(split_sentences)
    s = a.drop(columns=["narrative"]).explode("sentence").dropna(subset=["sentence"])
    words = s["sentence"].str.split().str.len()
    tags = s["sentence"].str.count(REDACTION_TAG)
    s = s.loc[words.between(MIN_WORDS, MAX_WORDS) & (tags <= words / 4)]
    if s.empty:
        return pd.DataFrame(columns=columns)
    s = s.loc[~_identifier_check(s["sentence"], services).to_numpy()]
    if s.empty:
        return pd.DataFrame(columns=columns)

    z_sent, usable, _ = model._embed(clean_arrow(s["sentence"].to_numpy()))
    z_doc, _, _ = model._embed(clean_arrow(a["narrative"].to_numpy()))
    codes, themes = pd.factorize(a["theme_id"], sort=True)
    proto = np.zeros((len(themes), z_doc.shape[1]), dtype=np.float32)
    np.add.at(proto, codes, z_doc)
    proto = normalize(proto)
    theme_row = themes.get_indexer(s["theme_id"])
    s = s.assign(score=np.round(np.clip((z_sent * proto[theme_row]).sum(axis=1), 0, 1), 4))
    s = s.loc[usable & (s["score"].to_numpy() > 0)]
    s = s.sort_values(
        ["theme_id", "score", "incident_id"], ascending=[True, False, True], kind="stable"
    )
    s = s.drop_duplicates(["theme_id", "incident_id"])
    s = s.drop_duplicates(["theme_id", "sentence"])
    return s.groupby("theme_id", sort=True).head(n)[columns].reset_index(drop=True)
