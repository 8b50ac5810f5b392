"""Text preparation for theme discovery: clean narratives, split sentences, tokenise.

Incident narratives are written fast by clinicians: abbreviations ("pt", "s17", "obs",
"DSH"), redaction tags left by :mod:`sgreview.redact` ("[NAME]", "[NHS_NUMBER]"), times,
dates, form boilerplate ("Datix completed", "see attached") and pointers to the record
("see RiO", "as per handover", "details in notes"). None of these says what happened, and
left in they pull themes towards who wrote the report rather than what it is about; a
narrative that is only a pointer is left with too few words and is honestly unthemed.

Cleaning and counting run in Apache Arrow compute kernels (RE2 regexes, whitespace split,
hash lookups over the whole column), never a Python loop per narrative: scikit-learn's
``CountVectorizer`` tokenises in Python and was measured to be most of the apply time.
Abbreviations are resolved in term space, as aliases: the count of "pt" is added to
"patient", which costs one sparse product instead of a Python regex callback per match.
After cleaning, a text is lower-case letters and single spaces, so tokens are simply the
runs of at least two letters, the same for fitting, applying and seed terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

#: Typed tags written by the redaction step, e.g. ``[NAME]``, ``[NHS_NUMBER]``.
REDACTION_TAG = re.compile(r"\[[A-Z][A-Z_]*\]")

#: Clinical shorthand counted as the words used in full elsewhere, so "pt" and "patient"
#: count as one term. Keys are whole tokens (letters only; "s17" and "A&E" are rewritten
#: in the text by ``_SPECIAL`` first because digits and "&" never survive cleaning).
ABBREVIATIONS: dict[str, str] = {
    "pt": "patient",
    "pts": "patients",
    "su": "service user",
    "awol": "absconded awol",
    "dsh": "self harm",
    "sh": "self harm",
    "od": "overdose",
    "obs": "observations",
    "rt": "rapid tranquillisation",
    "im": "intramuscular",
    "hca": "healthcare assistant",
    "rmn": "nurse",
    "cpn": "community nurse",
    "sw": "social worker",
    "ae": "emergency department",
    "ed": "emergency department",
    "mha": "mental health act",
    "mca": "mental capacity",
    "dols": "deprivation liberty",
    "dna": "did not attend",
    "dnas": "did not attend",
    "iv": "intravenous",
    "meds": "medication",
    "pics": "psychiatric intensive care",
    "picu": "psychiatric intensive care",
    "ipv": "domestic abuse",
    "dv": "domestic abuse",
    "cse": "sexual exploitation",
    "cce": "criminal exploitation",
}

#: Phrases of incident-form boilerplate removed before tokenising.
BOILERPLATE = (
    r"datix(?: form)?(?: was)? (?:completed|submitted|raised)",
    r"incident (?:form|report) (?:completed|submitted)",
    r"see attached",
    r"no further action(?: required)?",
    r"for information(?: only)?",
    r"as per policy",
    r"safeguarding (?:form|referral) (?:completed|submitted|made)",
)

#: Names of the record systems an incident form points to (electronic patient records and
#: the incident system itself). They say where the account is kept, never what happened.
# fmt: off
RECORD_SYSTEMS = (
    "rio", "systmone", "system one", "emis", "epr", "ehr", "carenotes", "care notes",
    "lorenzo", "paris", "mosaic", "datix", "ulysses", "inphase",
)
# fmt: on

#: Pointer phrases: "see RiO", "refer to the progress notes", "as per handover", "details to
#: follow", "as above". Real exports are full of them, and a narrative that is nothing but
#: a pointer says nothing about the incident. Left in, pointer-only narratives cluster with
#: each other (on 8,000 synthetic incidents they formed six tiny themes and pushed two real
#: themes together). Removed as *phrases*, so "handover", "record" or "notes" still count
#: where they describe what happened ("information governance", "discharge without a
#: handover"). What is left of a pointer-only narrative then falls below ``min_terms`` and
#: the narrative is honestly unthemed.
_RECORD = (
    r"(?:(?:the|his|her|their|other|previous|same|patient|clinical|progress|electronic|care|"
    r"nursing|medical|ward|full|" + "|".join(RECORD_SYSTEMS) + r")\s+)*"
    r"(?:notes?|records?|entry|entries|system|documentation|handover|email|e mail|details|"
    r"datix|form|report|" + "|".join(RECORD_SYSTEMS) + r")"
)
POINTERS = (
    r"(?:please\s+)?(?:see|refer(?:\s+to)?|as\s+per|as\s+documented\s+(?:in|on)|"
    r"as\s+recorded\s+(?:in|on))\s+(?:(?:in|on|the|for)\s+)*" + _RECORD,
    r"(?:full\s+)?(?:details|info(?:rmation)?|account|documented|recorded|written\s+up|"
    r"entered|documented\s+in\s+full)\s+"
    r"(?:(?:is|are|as|was|were|in\s+full|recorded|documented|kept|held|written)\s+)*"
    r"(?:on|in)\s+(?:the\s+)?" + _RECORD,
    r"(?:for\s+)?(?:full\s+|further\s+|more\s+)?details\s+"
    r"(?:to\s+follow|of\s+(?:this|the)\s+incident)",
    r"for\s+(?:full\s+|further\s+|more\s+)?(?:details|info(?:rmation)?)",
    r"as\s+(?:above|below|discussed|previously\s+reported)",
    r"not\s+repeated\s+here",
    r"entered\s+in\s+error",
    r"same\s+as\s+(?:previous|other|above)(?:\s+" + _RECORD + r")?",
    r"\b(?:" + "|".join(RECORD_SYSTEMS) + r")\b",
)

#: Words too common in incident reports to separate themes, on top of English stop words.
# fmt: off
DOMAIN_STOP_WORDS = frozenset(
    [
        "patient", "patients", "service", "user", "users", "staff", "member", "members", "reported",
        "report", "reports", "incident", "incidents", "noted", "stated", "states", "informed",
        "advised", "time", "times", "today", "yesterday", "approximately", "approx", "am", "pm",
        "morning", "afternoon", "evening", "day", "days", "week", "weeks", "later", "also", "made",
        "went", "came", "told", "asked", "said", "saw", "seen", "given", "back", "mr", "mrs", "ms",
        "miss", "dr", "verbally", "retrospective", "retrospectively",
    ]
)
# fmt: on

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS | DOMAIN_STOP_WORDS)

_SPECIAL = (
    (r"\bs(?:ec(?:tion)?)?\s?17\b", " section leave "),
    (r"\ba\s?&\s?e\b", " emergency department "),
)
_BOILER = "|".join(BOILERPLATE)
_POINTER = r"\b(?:" + "|".join(POINTERS) + r")\b"
_SENTENCE_END = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bSt\.)(?<!\bNo\.)(?<!\bapprox\.)"
    r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?])\s+(?=[A-Za-z\[\"'(])|\n\s*\n+|\n(?=\s*[-*\u2022])"
)


def _arrow_text(texts: pd.Series | Sequence[str] | np.ndarray) -> pa.Array:
    values = pd.Series(texts, dtype=object)
    values = values.where(values.map(lambda v: isinstance(v, str)), "")
    return pa.array(values.tolist(), type=pa.string())


def clean_arrow(texts: pd.Series | Sequence[str] | np.ndarray) -> pa.Array:
    """Cleaned texts as an Arrow array: lower-case letters and spaces only."""
    arr = _arrow_text(texts)
    arr = pc.replace_substring_regex(arr, REDACTION_TAG.pattern, " ")
    arr = pc.utf8_lower(arr)
    for pattern, repl in _SPECIAL:
        arr = pc.replace_substring_regex(arr, pattern, repl)
    arr = pc.replace_substring_regex(arr, _BOILER, " ")
    arr = pc.replace_substring_regex(arr, r"\S*\d\S*", " ")
    arr = pc.replace_substring_regex(arr, r"[^a-z]+", " ")
    return pc.replace_substring_regex(arr, _POINTER, " ")


def clean_texts(texts: pd.Series | Sequence[str] | np.ndarray) -> pd.Series:
    """Cleaned narratives (lower-case letters and spaces), aligned with the input.

    Missing values become empty strings, so they fall into the "unthemed" bucket instead
    of raising.
    """
    return pd.Series(clean_arrow(texts).to_pylist(), dtype=object).fillna("")


def _tokens(cleaned: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """All tokens (runs of >= 2 letters) and the row each came from."""
    lists = pc.utf8_split_whitespace(cleaned)
    flat = pc.list_flatten(lists)
    rows = pc.list_parent_indices(lists)
    keep = pc.greater_equal(pc.utf8_length(flat), 2)
    return pc.filter(flat, keep), pc.filter(rows, keep).to_numpy(zero_copy_only=False)


def _alias_tokens() -> dict[str, list[str]]:
    return {
        k: [w for w in v.split() if w not in STOP_WORDS and len(w) >= 2]
        for k, v in ABBREVIATIONS.items()
    }


ALIASES = _alias_tokens()


def _alias_matrix(source: Sequence[str], target: Sequence[str]) -> sp.csr_matrix:
    """Map source-term columns to target-term columns (identity, plus alias expansions)."""
    index = {t: i for i, t in enumerate(target)}
    rows, cols = [], []
    for i, term in enumerate(source):
        for word in ALIASES.get(term, [term]):
            j = index.get(word)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(source), len(target))
    )


def count_terms(cleaned: pa.Array, vocabulary: Sequence[str]) -> sp.csr_matrix:
    """Documents x vocabulary term counts (float32 CSR), aliases resolved."""
    vocabulary = list(vocabulary)
    wanted = set(vocabulary)
    extra = sorted(a for a, words in ALIASES.items() if a not in wanted and wanted & set(words))
    source = vocabulary + extra
    flat, rows = _tokens(cleaned)
    idx = pc.index_in(flat, value_set=pa.array(source, type=pa.string()))
    valid = pc.is_valid(idx).to_numpy(zero_copy_only=False)
    cols = pc.filter(idx, pc.is_valid(idx)).to_numpy(zero_copy_only=False)
    n = len(cleaned)
    x = sp.csr_matrix(
        (np.ones(len(cols), dtype=np.float32), (rows[valid], cols)), shape=(n, len(source))
    )
    x.sum_duplicates()
    if extra:
        x = (x @ _alias_matrix(source, vocabulary)).tocsr()
    return x


def fit_vocabulary(
    cleaned: pa.Array, min_df: int | float = 2, max_df: int | float = 0.5
) -> list[str]:
    """Terms used by at least ``min_df`` and at most ``max_df`` documents (after aliases and
    stop words), sorted; the same document-frequency rules as scikit-learn's vectorisers."""
    flat, rows = _tokens(cleaned)
    enc = pc.dictionary_encode(flat)
    terms = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    codes = enc.indices.to_numpy(zero_copy_only=False)
    n = len(cleaned)
    # Distinct (document, term) pairs give document frequencies.
    width = max(len(terms), 1)
    pairs = np.unique(rows.astype(np.int64) * width + codes)
    words = sorted({w for t in terms for w in ALIASES.get(t, [t])} - STOP_WORDS)
    m = _alias_matrix(list(terms), words)
    present = sp.csr_matrix(
        (np.ones(len(pairs), dtype=np.float32), (pairs // width, pairs % width)),
        shape=(n, len(terms)),
    )
    df = np.asarray(((present @ m) > 0).sum(axis=0)).ravel()
    low = min_df if isinstance(min_df, (int, np.integer)) else int(np.ceil(min_df * n))
    high = max_df if isinstance(max_df, (int, np.integer)) else int(np.floor(max_df * n))
    keep = (df >= low) & (df <= high)
    return [w for w, k in zip(words, keep, strict=True) if k]


def split_sentences(text: str) -> list[str]:
    """Split one narrative into sentences (and bullet lines) for evidence extraction.

    A plain regex is enough here: evidence only needs readable fragments, and a language
    model would have to be downloaded.
    """
    parts = _SENTENCE_END.split(text or "")
    return [" ".join(p.split()) for p in parts if p and p.strip()]


def tokenise_terms(terms: Iterable[str]) -> list[str]:
    """Clean analyst seed terms the same way as narratives; their tokens, aliases resolved."""
    flat, _ = _tokens(clean_arrow(list(terms)))
    out = {w for t in flat.to_pylist() for w in ALIASES.get(t, [t])}
    return sorted(out - STOP_WORDS)


def common_word_terms(texts: pd.Series | Sequence[str] | np.ndarray) -> frozenset[str]:
    """Lower-cased words that the narratives write in lower case or as an acronym somewhere.

    A word only ever written capitalised ("Kowalski") is a proper noun. A saved model is
    shared, so :class:`~sgreview.themes.model.ThemeModel` drops a term that is never written
    in lower case (or in capitals, for acronyms such as CMHT) *and* reads as a name to the
    redactor (:func:`sgreview.redact.name_like_word`): a person that escaped redaction.
    """
    arr = pc.replace_substring_regex(_arrow_text(texts), r"[^A-Za-z]+", " ")
    flat = pc.list_flatten(pc.utf8_split_whitespace(arr))
    unique = pc.unique(flat)
    lower = pc.filter(unique, pc.match_substring_regex(unique, r"^[a-z]+$"))
    caps = pc.filter(unique, pc.match_substring_regex(unique, r"^[A-Z]{2,}$"))
    out = set(lower.to_pylist()) | {w.lower() for w in caps.to_pylist()}
    out |= {w for v in ABBREVIATIONS.values() for w in v.split()}
    out |= {w for _, repl in _SPECIAL for w in repl.split()}
    return frozenset(out)
