"""Theme names in practitioners' words: the taxonomy name when it fits, else the theme's phrases.

A safeguarding lead trusts a theme called "Self-harm and ligatures" or "Care home and risk of
falls" more than "cluster 4" or "department, surgery, emergency". Distinctive terms and
phrases come from class-based TF-IDF (Grootendorst 2022, as in BERTopic): frequency within
the theme times ``log(1 + A / f_t)``, so wording common to every theme names none of them.

* A taxonomy name (DOMAIN.md) is used when its terms are distinctive for the theme *and*
  used by enough of the theme's narratives (``TAXONOMY_MIN_COVERAGE``).
* Otherwise the label joins the theme's two best two- or three-word phrases, counted in its
  most representative narratives and shared by at least ``PHRASE_MIN_SHARE`` of them.
* Names of places, hospitals and people (words mostly capitalised mid-sentence in the
  redacted text) and report boilerplate ("inquest", "coroner", "court", "department",
  "hill") never make a label: a theme named after one hospital flags its area by wording.
* Labels are unique within a model: duplicates get the words that tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import yaml

from sgreview.errors import ParameterError
from sgreview.themes.text import STOP_WORDS, tokenise_terms

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


# ------------------------------------------------------------- readable labels
#: Words that never make a label: coroners' and report boilerplate, generic hospital
#: geography and building words ("Stepping Hill", "Royal ... Department") and words that say
#: how the account was written rather than what happened.
# fmt: off
LABEL_STOP_WORDS = frozenset({
    "inquest", "inquests", "coroner", "coroners", "court", "hill", "department", "departments",
    "hospital", "hospitals", "trust", "trusts", "nhs", "foundation", "royal", "university",
    "infirmary", "evidence", "heard", "investigation", "conclusion",
    "concluded", "regulation", "regulations", "prevention", "future", "deaths", "death",
    "died", "concern", "concerns", "matters", "matter", "action", "actions", "taken", "report",
    "reports", "narrative", "chief", "executive", "secretary", "witness", "witnesses", "jury",
    "verdict", "paragraph", "opinion", "aware", "regarding", "respect", "relation",
    "following", "did", "does", "would", "could", "should", "shall", "might", "must",
    "whether", "therefore", "however", "including", "particular", "date", "year", "years",
    "month", "months", "mr", "mrs", "ms", "miss", "dr", "deceased", "late", "born", "name",
    "named", "believe", "risk future", "circumstances", "recorded", "caused", "cause",
})
# fmt: on
#: Representative narratives per theme used to find its phrases.
PHRASE_DOCS = 200
#: A phrase must appear in at least this share of a theme's representative narratives.
PHRASE_MIN_SHARE = 0.08
#: A taxonomy name fits only when this share of the theme's narratives use its terms.
TAXONOMY_MIN_COVERAGE = 0.35


def proper_nouns(raw_texts: Sequence[str], min_count: int = 2, min_share: float = 0.6) -> frozenset[str]:
    """Words mostly written with a capital letter in mid-sentence: places, hospitals, people.

    A label built from "stepping hill" names one hospital, not what went wrong there, and
    flags its coroner area through wording alone. The raw (redacted) narratives still have
    their capitals, so a word capitalised in at least ``min_share`` of its mid-sentence uses
    is a name and is kept out of labels.
    """
    s = pd.Series(list(raw_texts), dtype=object).fillna("").astype(str)
    # A word after a lower-case word, comma or similar is mid-sentence.
    words = s.str.findall(r"(?<=[a-z,;:()] )([A-Za-z][a-z]+)").explode().dropna()
    if words.empty:
        return frozenset()
    lower = words.str.lower()
    capital = words.str[0].str.isupper()
    stats = pd.DataFrame({"w": lower.to_numpy(), "cap": capital.to_numpy()}).groupby("w")["cap"]
    share, count = stats.mean(), stats.size()
    return frozenset(share.index[(share >= min_share) & (count >= min_count)])


def acronyms(raw_texts: Sequence[str], min_share: float = 0.6) -> frozenset[str]:
    """Words mostly written in capitals ("CT", "GP", "ICU"), so a label can write them so."""
    s = pd.Series(list(raw_texts), dtype=object).fillna("").astype(str)
    words = s.str.findall(r"\b([A-Za-z]{2,5})\b").explode().dropna()
    if words.empty:
        return frozenset()
    frame = pd.DataFrame({"w": words.str.lower().to_numpy(), "up": words.str.isupper().to_numpy()})
    share = frame.groupby("w")["up"].mean()
    return frozenset(share.index[share >= min_share])


def _ok_phrase(words: list[str], banned: frozenset[str]) -> bool:
    if any(w in banned or w in LABEL_STOP_WORDS for w in words):
        return False
    if words[0] in STOP_WORDS or words[-1] in STOP_WORDS:
        return False
    return len(set(words)) == len(words)


def theme_phrases(
    cleaned: Sequence[str], labels: np.ndarray, k: int, banned: frozenset[str] = frozenset(),
    n: int = 3,
) -> list[list[str]]:
    """The ``n`` most distinctive two- and three-word phrases of each theme, best first.

    Phrases are counted once per narrative, weighted by class-based TF-IDF (as the terms
    are), and kept only when they appear in at least ``PHRASE_MIN_SHARE`` of the theme's
    narratives, so a phrase says what many of its incidents say, not what one said twice.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    keep = labels >= 0
    if not keep.any():
        return [[] for _ in range(k)]
    docs = pd.Series(list(cleaned), dtype=object).fillna("")[keep].tolist()
    vec = CountVectorizer(ngram_range=(2, 3), token_pattern=r"(?u)\b[a-z]{2,}\b", binary=True,
                          min_df=2, lowercase=False)  # fmt: skip
    try:
        counts = vec.fit_transform(docs)
    except ValueError:  # no phrase occurs twice
        return [[] for _ in range(k)]
    vocab = vec.get_feature_names_out()
    ok = np.array([_ok_phrase(p.split(), banned) for p in vocab], dtype=bool)
    counts = counts[:, np.flatnonzero(ok)]
    vocab = vocab[ok]
    lab = labels[keep]
    weights = class_tfidf(counts.tocsr(), lab, k)
    sizes = np.bincount(lab, minlength=k).astype(np.float64)
    onehot = sp.csr_matrix((np.ones(len(lab)), (lab, np.arange(len(lab)))), shape=(k, len(lab)))
    df = np.asarray((onehot @ counts).todense(), dtype=np.float64)
    share = np.divide(df, sizes[:, None], out=np.zeros_like(df), where=sizes[:, None] > 0)
    weights = np.where(share >= PHRASE_MIN_SHARE, weights, 0.0)
    out = []
    for t in range(k):
        order = np.lexsort((vocab, -weights[t]))
        chosen: list[str] = []
        for i in order:
            if weights[t, i] <= 0 or len(chosen) >= n:
                break
            words = {w[:5] for w in vocab[i].split()}
            # A phrase sharing a word (or its stem: "crossing", "cross") with one already
            # chosen adds nothing.
            if any(words & {w[:5] for w in c.split()} for c in chosen):
                continue
            chosen.append(str(vocab[i]))
        out.append(chosen)
    return out


def taxonomy_coverage(counts: sp.csr_matrix, labels: np.ndarray, k: int, entry: dict,
                      vocabulary: Sequence[str]) -> np.ndarray:
    """Share of each theme's narratives that use at least one of ``entry``'s terms."""
    index = {w: i for i, w in enumerate(vocabulary)}
    present = (counts > 0).tocsc()
    hit = np.zeros(counts.shape[0], dtype=bool)
    for phrase in _entry_phrases(entry):
        cols = [[index[f] for f in forms if f in index] for forms in phrase]
        if not cols or not all(cols):
            continue
        has = np.ones(counts.shape[0], dtype=bool)
        for options in cols:
            has &= np.asarray(present[:, options].sum(axis=1)).ravel() > 0
        hit |= has
    keep = labels >= 0
    sizes = np.bincount(labels[keep], minlength=k)
    hits = np.bincount(labels[keep], weights=hit[keep].astype(float), minlength=k)
    return np.divide(hits, sizes, out=np.zeros(k), where=sizes > 0)


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def readable_label(name: str | None, phrases: list[str], terms: list[str],
                   banned: frozenset[str] = frozenset(), upper: frozenset[str] = frozenset()) -> str:
    """A label in practitioners' words: the taxonomy name, else the theme's own phrases.

    "Ambulance response times and care home staff" reads as a theme; "ambulance, category,
    response" reads as a search query. Falls back to the two best single terms that are not
    names or boilerplate, and says so plainly when even those are missing.
    """
    if name:
        return name
    if phrases:
        head = phrases[0] if len(phrases) == 1 else f"{phrases[0]} and {phrases[1]}"
    else:
        words = [t for t in terms if t not in banned and t not in LABEL_STOP_WORDS][:2]
        if not words:
            return "Mixed incidents with no common wording"
        head = " and ".join(words)
    head = " ".join(w.upper() if w in upper else w for w in head.split())
    return _sentence_case(head)


def unique_labels(labels: list[str], phrases: list[list[str]], terms: list[list[str]]) -> list[str]:
    """Make every label distinct within a model, adding what tells the duplicates apart.

    Two themes named "Suicide or unexpected death" become "Suicide or unexpected death:
    prison cell" and "...: railway line" (each theme's first phrase, or term, not already in
    its label); a numeral is the last resort.
    """
    out = list(labels)
    for _ in range(3):
        seen: dict[str, list[int]] = {}
        for i, label in enumerate(out):
            seen.setdefault(label.casefold(), []).append(i)
        dupes = [idx for idx in seen.values() if len(idx) > 1]
        if not dupes:
            return out
        for idx in dupes:
            for i in idx:
                extra = [p for p in phrases[i] + terms[i] if p.casefold() not in out[i].casefold()]
                if extra:
                    out[i] = f"{out[i]}: {extra[0]}"
    counts: dict[str, int] = {}
    for i, label in enumerate(out):
        key = label.casefold()
        counts[key] = counts.get(key, 0) + 1
        if counts[key] > 1:
            out[i] = f"{label} ({counts[key]})"
    return out
