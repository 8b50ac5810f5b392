"""Theme names: class-based TF-IDF terms, matched to the safeguarding taxonomy when it fits.

A safeguarding lead trusts a theme called "Self-harm and ligatures (ligature, observations,
cut)" more than "cluster 4". The distinctive terms come from class-based TF-IDF (Grootendorst
2022, as in BERTopic): term frequency within the theme times ``log(1 + A / f_t)``, so a word
common in every theme does not name any of them. A taxonomy name from DOMAIN.md is added only
when it clearly fits; otherwise the label is just the top three terms, which is honest.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import yaml

from sgreview.errors import ParameterError
from sgreview.themes.text import tokenise_terms

TAXONOMY_PATH = Path(__file__).resolve().parents[1] / "data" / "taxonomy.yaml"

#: Distinctive terms of a theme considered when matching it to a taxonomy entry.
MATCH_DEPTH = 20


def class_tfidf(counts: sp.csr_matrix, labels: np.ndarray, k: int) -> np.ndarray:
    """Class-based TF-IDF weights (themes x terms); ``labels < 0`` are ignored."""
    keep = labels >= 0
    onehot = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float64), (labels[keep], np.flatnonzero(keep))),
        shape=(k, counts.shape[0]),
    )
    tf = np.asarray((onehot @ counts).todense(), dtype=np.float64)
    totals = tf.sum(axis=1, keepdims=True)
    freq = np.divide(tf, totals, out=np.zeros_like(tf), where=totals > 0)
    f_t = tf.sum(axis=0)
    avg = tf.sum() / max(k, 1)
    idf = np.log1p(np.divide(avg, f_t, out=np.zeros_like(f_t), where=f_t > 0))
    return (freq * idf).astype(np.float32)


def top_terms(weights: np.ndarray, vocabulary: np.ndarray, n: int = 10) -> list[list[str]]:
    """The ``n`` highest-weighted terms of each theme (ties broken alphabetically)."""
    out = []
    for row in weights:
        order = np.lexsort((vocabulary, -row))[:n]
        out.append([str(vocabulary[i]) for i in order if row[i] > 0])
    return out


@lru_cache(maxsize=1)
def _taxonomy_cached(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as err:
        raise ParameterError(f"cannot read the taxonomy: {err}", path=path) from err
    if not isinstance(data, dict) or not {"incident_themes", "practice_themes"} <= set(data):
        raise ParameterError(
            "taxonomy needs 'incident_themes' and 'practice_themes' lists", path=path
        )
    return data


def load_taxonomy(path: str | Path | None = None) -> dict:
    """The safeguarding taxonomy: ``{"incident_themes": [...], "practice_themes": [...]}``.

    Each entry has ``key``, ``name`` and ``terms``; practice themes also have ``seips``
    (the PSIRF SEIPS work-system factor). Returns a fresh copy the caller may change.
    """
    import copy

    return copy.deepcopy(_taxonomy_cached(str(path or TAXONOMY_PATH)))


def taxonomy_name(terms: list[str], weights: list[float], entries: list[dict]) -> dict | None:
    """The taxonomy entry that clearly fits a theme's distinctive terms, else ``None``.

    An entry term counts when *all* its words are among the theme's top terms ("care home"
    needs both "care" and "home"), so generic words inside phrases cannot name a theme on
    their own. "Clearly" means: at least two distinct theme terms matched, and the matched
    weight is at least 1.5 times that of the runner-up entry.
    """
    scored = _entry_scores(terms, weights, entries, min_hits=2)
    if not scored:
        return None
    if len(scored) > 1 and scored[0][0] < 1.5 * scored[1][0]:
        return None
    return scored[0][2]


def nearest_taxonomy_key(terms: list[str], weights: list[float], entries: list[dict]) -> str | None:
    """The taxonomy entry a theme leans to most (one matched term is enough), else ``None``.

    Weaker than :func:`taxonomy_name` on purpose: it is not used to *name* a theme, only to
    tell whether two neighbouring themes belong to the same domain category. A sub-theme
    such as "ligature, neck, en suite" matches self-harm through one word only, yet it
    plainly leans to self-harm and not to violence. Ties give ``None``.
    """
    scored = _entry_scores(terms, weights, entries, min_hits=1)
    if not scored or (len(scored) > 1 and scored[0][0] <= scored[1][0]):
        return None
    return str(scored[0][1])


def _entry_scores(
    terms: list[str], weights: list[float], entries: list[dict], *, min_hits: int
) -> list[tuple[float, str, dict]]:
    """(matched weight, key, entry) of each entry with ``min_hits`` matched terms, best first."""
    if not terms:
        return []
    w = np.asarray(weights[:MATCH_DEPTH], dtype=np.float64)
    w = w / w.max() if w.max() > 0 else w
    position = {t: i for i, t in enumerate(terms[:MATCH_DEPTH])}
    scored = []
    for entry in entries:
        hits: set[int] = set()
        for phrase in _entry_phrases(entry):
            found = [next((position[v] for v in forms if v in position), None) for forms in phrase]
            if found and all(f is not None for f in found):
                hits.update(found)
        if len(hits) >= min_hits:
            scored.append((float(w[sorted(hits)].sum()), entry["key"], entry))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return scored


def _entry_phrases(entry: dict) -> tuple[tuple[tuple[str, ...], ...], ...]:
    return _phrases_cached(tuple(str(t) for t in entry.get("terms", ())))


@lru_cache(maxsize=512)
def _phrases_cached(terms: tuple[str, ...]) -> tuple[tuple[tuple[str, ...], ...], ...]:
    """Each term as a tuple of words, each word with its singular/plural forms."""
    out = []
    for term in terms:
        words = tokenise_terms([term])
        if words:
            out.append(tuple(_forms(w) for w in words))
    return tuple(out)


def _forms(word: str) -> tuple[str, ...]:
    forms = {word, word + "s"}
    if word.endswith("s") and len(word) > 3:
        forms.add(word[:-1])
    return tuple(sorted(forms))


def make_label(name: str | None, terms: list[str]) -> str:
    """``"Name (t1, t2, t3)"`` when a name is known, else ``"t1, t2, t3"``."""
    head = ", ".join(terms[:3]) if terms else "no distinctive terms"
    return f"{name} ({head})" if name else head
