"""Generate a synthetic Datix-style incident export with known themes, signals and identifiers.

The generator works in three vectorised passes and one cheap text pass:

1. *Counts*: an expected intensity for every (locality, month, theme) cell, built from
   locality size, a base theme mix, mild locality-level mix differences and the planted
   signals; the ``n`` incidents are one multinomial draw over the cells, so every cell
   without a planted signal is stationary Poisson-like noise (common-cause variation).
2. *Metadata*: team, service, dates, recorded category (sometimes wrong), harm, referral
   flag, age band, sex and ethnicity, each sampled with numpy from theme-dependent tables.
3. *Sentence choice*: for every incident the sentence variants (per slot), filler sentences,
   typo variants, second-theme sentences and identifier sentences are chosen as integer
   arrays.
4. *Text*: one loop over rows joins the chosen templates and fills placeholders. Names and
   other identifiers are inserted here and recorded with their exact text.

Nothing here hard-codes an answer: the ground truth written to the sidecars is what was
planted, and the tests check it is visible in the data.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np
import pandas as pd

from sgreview.errors import ParameterError
from sgreview.synth import identifiers as ids
from sgreview.synth.phrases import (
    BANKS,
    FILLERS,
    HEADINGS,
    IM_DRUGS,
    PRN_DRUGS,
    STAFF_ROLES,
    STAFF_TITLES,
    TIMES,
    UNINFORMATIVE,
    WARDS,
)

THEME_KEYS: tuple[str, ...] = (
    "self_harm",
    "absconding",
    "violence_to_staff",
    "patient_assault",
    "restrictive_practice",
    "sexual_safety",
    "medication_error",
    "self_neglect",
    "domestic_abuse",
    "financial_abuse",
    "criminal_exploitation",
    "think_family",
    "missed_escalation",
    "discharge_transition",
    "substance_use",
)
UNINFORMATIVE_KEY = "uninformative"

#: Fictional localities, largest first; weights are their share of incidents.
LOCALITIES: tuple[str, ...] = (
    "Kingsford",
    "Northmoor",
    "Harbourside",
    "Ashdown Vale",
    "Brackenfield",
    "Eastmere",
    "Greystone",
)
LOCALITY_WEIGHTS = np.array([0.25, 0.20, 0.15, 0.13, 0.11, 0.09, 0.07])

#: Share of informative incidents per theme, before locality differences and signals.
BASE_SHARE = np.array(
    [0.14, 0.08, 0.11, 0.08, 0.09, 0.05, 0.08, 0.05, 0.05, 0.03, 0.04, 0.05, 0.05, 0.05, 0.04]
)
UNINFORMATIVE_RATE = 0.05
SECONDARY_RATE = 0.12
LOCALITY_MIX_SD = 0.05

SERVICES = ("Inpatient", "Community", "Crisis", "Older adults")
#: P(service | theme): restrictive practice happens on wards, cuckooing in the community.
SERVICE_BY_THEME = np.array(
    [
        [0.50, 0.25, 0.20, 0.05],
        [0.85, 0.07, 0.05, 0.03],
        [0.85, 0.06, 0.05, 0.04],
        [0.88, 0.04, 0.03, 0.05],
        [0.92, 0.02, 0.02, 0.04],
        [0.85, 0.08, 0.04, 0.03],
        [0.60, 0.25, 0.05, 0.10],
        [0.05, 0.50, 0.10, 0.35],
        [0.20, 0.55, 0.20, 0.05],
        [0.10, 0.40, 0.05, 0.45],
        [0.05, 0.70, 0.25, 0.00],
        [0.20, 0.60, 0.20, 0.00],
        [0.15, 0.55, 0.25, 0.05],
        [0.45, 0.35, 0.15, 0.05],
        [0.50, 0.30, 0.20, 0.00],
        [0.50, 0.30, 0.15, 0.05],  # uninformative
    ]
)

CATEGORY_BY_THEME = (
    "Self harm",
    "Absconsion / AWOL",
    "Violence & aggression - patient on staff",
    "Violence & aggression - patient on patient",
    "Restrictive intervention",
    "Sexual safety",
    "Medication incident",
    "Safeguarding adult - self-neglect",
    "Safeguarding adult - domestic abuse",
    "Safeguarding adult - financial abuse",
    "Safeguarding adult - exploitation",
    "Safeguarding children",
    "Communication / information sharing",
    "Discharge / transfer",
    "Substance misuse",
    "Other",
)
MISCODED_CATEGORIES = np.array(
    [
        "Other",
        "Safeguarding adult - other",
        "Patient behaviour",
        "Clinical care / treatment",
        "Violence & aggression - patient on staff",
        "Self harm",
    ],
    dtype=object,
)
CATEGORY_ERROR_RATE = 0.10

HARM_LEVELS = np.array(["none", "low", "moderate", "severe", "death"], dtype=object)
_HARM_DEFAULT = [0.55, 0.33, 0.10, 0.02, 0.0]
HARM_BY_THEME = np.array(
    [
        [0.22, 0.45, 0.24, 0.08, 0.01],
        [0.70, 0.22, 0.07, 0.01, 0.0],
        [0.35, 0.45, 0.17, 0.03, 0.0],
        [0.40, 0.45, 0.13, 0.02, 0.0],
        [0.45, 0.42, 0.12, 0.01, 0.0],
        [0.40, 0.35, 0.20, 0.05, 0.0],
        [0.70, 0.24, 0.05, 0.01, 0.0],
        [0.35, 0.40, 0.19, 0.05, 0.01],
        [0.30, 0.40, 0.25, 0.05, 0.0],
        [0.40, 0.40, 0.18, 0.02, 0.0],
        [0.35, 0.40, 0.20, 0.05, 0.0],
        [0.40, 0.40, 0.17, 0.03, 0.0],
        [0.45, 0.35, 0.15, 0.05, 0.0],
        [0.45, 0.35, 0.15, 0.05, 0.0],
        [0.30, 0.40, 0.22, 0.07, 0.01],
        _HARM_DEFAULT,
    ]
)
REFERRAL_RATE_BY_THEME = np.array(
    [0.15, 0.10, 0.05, 0.45, 0.08, 0.70, 0.03, 0.60, 0.85, 0.85, 0.85, 0.80, 0.35, 0.15, 0.15, 0.05]
)
MALE_RATE_BY_THEME = np.array(
    [0.42, 0.62, 0.66, 0.58, 0.60, 0.35, 0.50, 0.55, 0.20, 0.45, 0.70, 0.30, 0.50, 0.52, 0.68, 0.50]
)

AGE_BANDS = np.array(["18-25", "26-35", "36-45", "46-55", "56-65", "66-75", "76+"], dtype=object)
_AGE_ADULT = np.array([0.22, 0.25, 0.20, 0.15, 0.10, 0.05, 0.03])
_AGE_OLDER = np.array([0.0, 0.0, 0.0, 0.04, 0.14, 0.40, 0.42])

ETHNICITY = np.array(
    [
        "White - British", "White - Irish", "White - Any other White background",
        "Mixed - White and Black Caribbean", "Mixed - Any other mixed background",
        "Asian or Asian British - Indian", "Asian or Asian British - Pakistani",
        "Asian or Asian British - Bangladeshi", "Black or Black British - Caribbean",
        "Black or Black British - African", "Other Ethnic Groups - Any other ethnic group",
        "Not stated",
    ],
    dtype=object,
)
ETHNICITY_P = np.array([0.66, 0.02, 0.06, 0.02, 0.01, 0.03, 0.04, 0.015, 0.025, 0.035, 0.02, 0.055])

#: Themes that tend to appear together in one narrative (for second themes).
PARTNERS = {
    "self_harm": ("substance_use", "restrictive_practice", "discharge_transition", "absconding"),
    "absconding": ("substance_use", "self_harm", "criminal_exploitation"),
    "violence_to_staff": ("restrictive_practice", "substance_use", "patient_assault"),
    "patient_assault": ("restrictive_practice", "sexual_safety", "violence_to_staff"),
    "restrictive_practice": ("violence_to_staff", "self_harm", "medication_error"),
    "sexual_safety": ("patient_assault", "restrictive_practice"),
    "medication_error": ("discharge_transition", "self_harm"),
    "self_neglect": ("financial_abuse", "missed_escalation", "substance_use"),
    "domestic_abuse": ("think_family", "substance_use", "missed_escalation"),
    "financial_abuse": ("self_neglect", "domestic_abuse", "criminal_exploitation"),
    "criminal_exploitation": ("substance_use", "financial_abuse", "absconding"),
    "think_family": ("domestic_abuse", "substance_use", "self_harm"),
    "missed_escalation": ("discharge_transition", "self_neglect", "domestic_abuse"),
    "discharge_transition": ("missed_escalation", "medication_error", "self_harm"),
    "substance_use": ("self_harm", "criminal_exploitation", "violence_to_staff"),
}

#: Planted signals: (locality, theme, factor). Change months are placed by ``_change_months``.
RAISED = ("Harbourside", "criminal_exploitation", 3.0)
RISING = ("Kingsford", "violence_to_staff", 2.0)
FALLING = ("Northmoor", "self_harm", 0.4)
MIN_EDGE_MONTHS = 9
#: Core-question signals (issue 11): one person with repeat self-harm incidents; a lower
#: safeguarding referral rate in one locality; a raised restraint rate for one ethnic group.
REPEAT_PERSON = ("Harbourside", "self_harm", 12)
LOW_REFERRAL = ("Eastmere", 0.5)
RAISED_RESTRAINT = ("Black or Black British - Caribbean", "restrictive_practice", 0.05)
#: Share of incidents whose person identifier is blank in the export.
PERSON_BLANK_RATE = 0.02

#: Identifier rates per informative narrative.
ID_RATES = {
    "NHS_NUMBER": 0.06,
    "POSTCODE": 0.04,
    "PHONE": 0.05,
    "EMAIL": 0.02,
    "DOB": 0.04,
    "NI_NUMBER": 0.015,
}
PATIENT_NAME_RATE = 0.22
STAFF_NAME_RATE = 0.30
RELATIVE_NAME_RATE = 0.35
TYPO_RATE = 0.04
LOWERCASE_RATE = 0.03
MIN_WORDS, MAX_WORDS = 15, 250


@dataclass(frozen=True)
class SynthData:
    """A synthetic export plus everything that was planted in it."""

    incidents: pd.DataFrame
    truth: pd.DataFrame
    identifiers: pd.DataFrame
    signals: dict = field(default_factory=dict)
    actions: pd.DataFrame = field(default_factory=pd.DataFrame)
    denominators: pd.DataFrame = field(default_factory=pd.DataFrame)


# --------------------------------------------------------------------------- sentence bank


@dataclass(frozen=True)
class _Bank:
    text: np.ndarray  # templates, then their typo variants (offset ``n``)
    n: int
    slots: dict[tuple[int, str], np.ndarray]  # (theme index, slot) -> template ids
    tags: dict[tuple[int, str], np.ndarray]  # scenario tag per template id ("" = any)
    fillers: np.ndarray

    def candidates(self, theme: int, slot: str, scenario: str) -> np.ndarray:
        """Template ids of a theme's slot that fit ``scenario`` (untagged ones always fit)."""
        tags = self.tags[(theme, slot)]
        return self.slots[(theme, slot)][(tags == "") | (tags == scenario)]

    def scenarios(self, theme: int) -> list[str]:
        return sorted(set(self.tags[(theme, "event")]) - {""})


_WORD = re.compile(r"(?<![{\w])[A-Za-z]{4,}(?![\w}])")


def _typo(sentence: str, rng: np.random.Generator) -> str:
    """One realistic slip (swap, drop or double a letter) in a word outside placeholders."""
    words = list(_WORD.finditer(sentence))
    if not words:
        return sentence
    m = words[int(rng.integers(len(words)))]
    w = m.group()
    i = int(rng.integers(1, len(w) - 1))
    op = int(rng.integers(3))
    if op == 0:
        w2 = w[: i - 1] + w[i] + w[i - 1] + w[i + 1 :]
    elif op == 1:
        w2 = w[:i] + w[i + 1 :]
    else:
        w2 = w[:i] + w[i] + w[i:]
    return sentence[: m.start()] + w2 + sentence[m.end() :]


def _build_bank(rng: np.random.Generator) -> _Bank:
    texts: list[str] = []
    slots: dict[tuple[int, str], np.ndarray] = {}
    tags: dict[tuple[int, str], np.ndarray] = {}
    for t, key in enumerate(THEME_KEYS):
        for slot, variants in BANKS[key].items():
            slots[(t, slot)] = np.arange(len(texts), len(texts) + len(variants))
            split = [v.split("|", 1) if "|" in v[:8] else ["", v] for v in variants]
            tags[(t, slot)] = np.array([tag for tag, _ in split], dtype=object)
            texts.extend(v for _, v in split)
    fillers = np.arange(len(texts), len(texts) + len(FILLERS))
    texts.extend(FILLERS)
    typos = [_typo(s, rng) for s in texts]
    return _Bank(np.array(texts + typos, dtype=object), len(texts), slots, tags, fillers)


# --------------------------------------------------------------------------- counts


def _month_starts(start: str, months: int) -> np.ndarray:
    if not re.fullmatch(r"\d{4}-\d{2}", str(start)):
        raise ParameterError(f"start must be YYYY-MM, got {start!r}")
    try:
        first = np.datetime64(start, "M")
    except ValueError as err:
        raise ParameterError(f"start must be YYYY-MM, got {start!r}") from err
    return first + np.arange(months)


def _change_months(months: int) -> tuple[int, int]:
    """Rise and fall month indices, at least ``MIN_EDGE_MONTHS`` from both ends."""
    lo, hi = MIN_EDGE_MONTHS, months - MIN_EDGE_MONTHS
    rise = min(max(round(months * 0.4), lo), hi)
    fall = min(max(round(months * 0.6), lo), hi)
    return rise, fall


def _expected_shares(rng: np.random.Generator, signals: bool) -> np.ndarray:
    """Locality x theme share of informative incidents (rows sum to 1 - uninformative)."""
    share = np.tile(BASE_SHARE / BASE_SHARE.sum(), (len(LOCALITIES), 1))
    if signals:
        share = share * np.exp(rng.normal(0.0, LOCALITY_MIX_SD, size=share.shape))
        li, ti = LOCALITIES.index(RAISED[0]), THEME_KEYS.index(RAISED[1])
        share[li, ti] *= RAISED[2]
    share = share / share.sum(axis=1, keepdims=True) * (1 - UNINFORMATIVE_RATE)
    return np.column_stack([share, np.full(len(LOCALITIES), UNINFORMATIVE_RATE)])


def _cell_intensity(share: np.ndarray, months: int, signals: bool) -> np.ndarray:
    lam = LOCALITY_WEIGHTS[:, None, None] * share[:, None, :] * np.ones((1, months, 1))
    if signals:
        rise, fall = _change_months(months)
        lam[LOCALITIES.index(RISING[0]), rise:, THEME_KEYS.index(RISING[1])] *= RISING[2]
        lam[LOCALITIES.index(FALLING[0]), fall:, THEME_KEYS.index(FALLING[1])] *= FALLING[2]
    return lam


# --------------------------------------------------------------------------- metadata


def _teams() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Team names with their locality and service: wards for inpatients, named community teams."""
    ward_names = iter(
        ["Willow", "Oak", "Beech", "Cedar", "Rowan", "Maple", "Ash", "Elm", "Juniper", "Larch",
         "Poplar", "Hawthorn", "Linden", "Alder", "Birch", "Holly"]
    )
    names, locs, servs = [], [], []
    for li, loc in enumerate(LOCALITIES):
        n_wards = 3 if LOCALITY_WEIGHTS[li] >= 0.2 else 2 if LOCALITY_WEIGHTS[li] >= 0.11 else 1
        for _ in range(n_wards):
            names.append(f"{next(ward_names)} Ward")
            locs.append(li)
            servs.append(0)
        for label, s in (("CMHT", 1), ("Early Intervention", 1), ("CRHT", 2), ("Older Adults CMHT", 3)):
            names.append(f"{loc} {label}")
            locs.append(li)
            servs.append(s)
    return np.array(names, dtype=object), np.array(locs), np.array(servs)


def _choose_rows(rng: np.random.Generator, probs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sample one category per row from ``probs[groups[row]]`` (inverse CDF, vectorised)."""
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random(len(groups))
    return (u[:, None] > cdf[groups]).sum(axis=1)


# --------------------------------------------------------------------------- the generator


def generate(
    n: int = 6000,
    seed: int = 42,
    *,
    start: str = "2023-04",
    months: int = 30,
    signals: bool = True,
) -> SynthData:
    """Generate ``n`` synthetic incidents over ``months`` months from ``start`` (YYYY-MM).

    With ``signals=False`` every locality has the same theme mix scaled by its size and no
    trends: pure common-cause data for measuring false-alarm rates.
    """
    if n < 1:
        raise ParameterError(f"n must be at least 1, got {n}")
    if months < 1:
        raise ParameterError(f"months must be at least 1, got {months}")
    if signals and months < 2 * MIN_EDGE_MONTHS:
        raise ParameterError(
            f"planted signals need at least {2 * MIN_EDGE_MONTHS} months, got {months}; "
            "use more months or no signals"
        )
    month_starts = _month_starts(start, months)
    rng = np.random.default_rng(seed)
    bank = _build_bank(np.random.default_rng([seed, 1]))

    share = _expected_shares(rng, signals)
    lam = _cell_intensity(share, months, signals)
    cell = rng.choice(lam.size, size=n, p=(lam / lam.sum()).ravel())
    loc, month, theme = np.unravel_index(cell, lam.shape)
    informative = theme < len(THEME_KEYS)

    # dates: uniform day within the month, reported a few days later
    days_in = np.array(
        [calendar.monthrange(int(str(m)[:4]), int(str(m)[5:7]))[1] for m in month_starts]
    )
    day = (rng.random(n) * days_in[month]).astype(int)
    incident_date = month_starts[month].astype("datetime64[D]") + day
    lag = np.where(rng.random(n) < 0.95, rng.geometric(0.45, n) - 1, rng.integers(7, 60, n))
    reported_date = incident_date + lag

    order = np.lexsort((reported_date, incident_date))
    loc, month, theme, informative = loc[order], month[order], theme[order], informative[order]
    incident_date, reported_date = incident_date[order], reported_date[order]
    incident_id = np.array(
        [f"INC{v:07d}" for v in 200000 + np.cumsum(rng.integers(1, 4, size=n))], dtype=object
    )

    # team and service
    team_names, team_loc, team_serv = _teams()
    service = _choose_rows(rng, SERVICE_BY_THEME, theme)
    team_idx = np.empty(n, dtype=int)
    for li in range(len(LOCALITIES)):
        for s in range(len(SERVICES)):
            rows = np.flatnonzero((loc == li) & (service == s))
            options = np.flatnonzero((team_loc == li) & (team_serv == s))
            if rows.size:
                team_idx[rows] = options[rng.integers(0, options.size, size=rows.size)]
    team = team_names[team_idx]

    # second themes
    secondary = np.full(n, -1)
    has_second = informative & (rng.random(n) < SECONDARY_RATE)
    partner_p = np.full((len(THEME_KEYS), len(THEME_KEYS)), 0.3 / (len(THEME_KEYS) - 1))
    for t, key in enumerate(THEME_KEYS):
        partners = [THEME_KEYS.index(p) for p in PARTNERS[key]]
        partner_p[t, partners] += 0.7 / len(partners)
        partner_p[t, t] = 0.0
    partner_p /= partner_p.sum(axis=1, keepdims=True)
    rows2 = np.flatnonzero(has_second)
    secondary[rows2] = _choose_rows(rng, partner_p, theme[rows2])

    # recorded category: mostly right, sometimes the second theme's, sometimes generic
    category = np.array(CATEGORY_BY_THEME, dtype=object)[theme]
    use_second = has_second & (rng.random(n) < 0.35)
    category[use_second] = np.array(CATEGORY_BY_THEME, dtype=object)[secondary[use_second]]
    miscoded = rng.random(n) < CATEGORY_ERROR_RATE
    category[miscoded] = rng.choice(MISCODED_CATEGORIES, size=int(miscoded.sum()))

    harm = HARM_LEVELS[_choose_rows(rng, HARM_BY_THEME, theme)]
    referral = np.where(rng.random(n) < REFERRAL_RATE_BY_THEME[theme], "yes", "no").astype(object)
    age_p = np.vstack([_AGE_ADULT, _AGE_OLDER])
    age_band = AGE_BANDS[_choose_rows(rng, age_p, (service == 3).astype(int))]
    sex_u = rng.random(n)
    is_male = sex_u < MALE_RATE_BY_THEME[theme]
    sex = np.where(is_male, "Male", "Female").astype(object)
    sex[rng.random(n) < 0.01] = "Not known"
    ethnicity = ETHNICITY[_choose_rows(rng, ETHNICITY_P[None, :], np.zeros(n, dtype=int))]

    narrative, id_rows = _narratives(
        rng, bank, theme, secondary, is_male, service, team, informative, incident_id
    )

    incidents = pd.DataFrame(
        {
            "incident_id": incident_id,
            "incident_date": pd.to_datetime(incident_date),
            "reported_date": pd.to_datetime(reported_date),
            "locality": np.array(LOCALITIES, dtype=object)[loc],
            "team": team,
            "service": np.array(SERVICES, dtype=object)[service],
            "category": category,
            "harm": harm,
            "safeguarding_referral": referral,
            "age_band": age_band,
            "sex": sex,
            "ethnicity": ethnicity,
            "narrative": narrative,
            "case_ref": "",
        }
    )
    incidents["case_ref"] = _case_refs(rng, incidents, theme)
    # The core-question plants use their own stream, so every earlier draw stays as it was.
    people = _people(np.random.default_rng([seed, 11]), incidents, theme, signals)
    incidents["person_id"] = people.pop("person_id")
    theme_names = np.array((*THEME_KEYS, UNINFORMATIVE_KEY), dtype=object)
    truth = pd.DataFrame(
        {
            "incident_id": incident_id,
            "theme": theme_names[theme],
            "secondary_theme": np.where(secondary >= 0, theme_names[secondary], ""),
            "locality": incidents["locality"],
            "incident_date": incidents["incident_date"],
        }
    )
    identifiers = pd.DataFrame(
        id_rows, columns=["incident_id", "type", "value", "valid_check_digit", "count"]
    )
    end = month_starts[-1] + 1
    as_of = pd.Timestamp(end.astype("datetime64[D]") - 1)
    actions = _actions(month_starts, as_of, signals)
    denominators = _denominators(rng, month_starts, days_in)
    sig = _signal_truth(seed, n, month_starts, share, lam, signals, as_of, incidents)
    sig.update(people)
    return SynthData(incidents, truth, identifiers, sig, actions, denominators)


# --------------------------------------------------------------------------- narratives

_PRONOUNS = {
    True: {"he": "he", "He": "He", "his": "his", "His": "His", "him": "him", "himself": "himself"},
    False: {"he": "she", "He": "She", "his": "her", "His": "Her", "him": "her", "himself": "herself"},
}
_PT_REFS = (("pt", "Pt"), ("the pt", "The pt"), ("SU", "SU"), ("the patient", "The patient"),
            ("service user", "Service user"), ("the service user", "The service user"))
_PT_REF_P = np.array([0.45, 0.1, 0.15, 0.15, 0.08, 0.07])
_RELATIVES = (("mother", False), ("father", True), ("son", True), ("daughter", False),
              ("brother", True), ("sister", False), ("partner", None), ("nephew", True),
              ("niece", False))
_STAFF_CAP = tuple(s[0].upper() + s[1:] for s in STAFF_ROLES)


def _name_parts(rng: np.random.Generator, male: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = len(male)
    fm = np.array(ids.FIRST_MALE, dtype=object)[rng.integers(0, len(ids.FIRST_MALE), m)]
    ff = np.array(ids.FIRST_FEMALE, dtype=object)[rng.integers(0, len(ids.FIRST_FEMALE), m)]
    last = np.array(ids.SURNAMES, dtype=object)[rng.integers(0, len(ids.SURNAMES), m)]
    return np.where(male, fm, ff), last


def _narratives(
    rng: np.random.Generator,
    bank: _Bank,
    theme: np.ndarray,
    secondary: np.ndarray,
    is_male: np.ndarray,
    service: np.ndarray,
    team: np.ndarray,
    informative: np.ndarray,
    incident_id: np.ndarray,
) -> tuple[np.ndarray, list[tuple]]:
    """Build every narrative; return them and the identifier records."""
    n = len(theme)
    # length class: 0 short, 1 medium, 2 long, 3 very long
    length = rng.choice(4, size=n, p=[0.2, 0.5, 0.22, 0.08])
    include_p = np.array(
        [  # P(include) of open, event, event2, response, outcome, follow by length class
            [0.5, 1.0, 0.0, 0.5, 0.2, 0.1],
            [0.85, 1.0, 0.1, 0.85, 0.6, 0.4],
            [0.95, 1.0, 0.4, 0.95, 0.85, 0.7],
            [1.0, 1.0, 0.8, 1.0, 1.0, 0.9],
        ]
    )
    slot_names = ("open", "event", "event", "response", "outcome", "follow")
    chosen = np.full((n, 8), -1)
    u = rng.random((n, 8))
    inc = rng.random((n, 6)) < include_p[length]
    scenario_u = rng.random(n)
    for t in range(len(THEME_KEYS)):
        rows_t = np.flatnonzero(theme == t)
        scenarios = bank.scenarios(t) or [""]
        which = (scenario_u[rows_t] * len(scenarios)).astype(int)
        for sc, scenario in enumerate(scenarios):
            rows = rows_t[which == sc]
            for j, slot in enumerate(slot_names):
                variants = bank.candidates(t, slot, scenario)
                pick = variants[(u[rows, j] * len(variants)).astype(int)]
                chosen[rows, j] = np.where(inc[rows, j], pick, -1)
        rows2 = np.flatnonzero(secondary == t)
        for j, slot in ((6, "event"), (7, "response")):
            variants = bank.slots[(t, slot)] if slot == "event" else bank.candidates(t, slot, "")
            pick = variants[(u[rows2, j] * len(variants)).astype(int)]
            keep = (j == 6) | (rng.random(rows2.size) < 0.5)
            chosen[rows2, j] = np.where(keep, pick, -1)
    # the two event sentences of one theme should differ
    same = (chosen[:, 2] == chosen[:, 1]) & (chosen[:, 2] >= 0)
    chosen[same, 2] = -1

    # typos are applied by pointing at the typo variant of a template (offset ``bank.n``)
    chosen = np.where((chosen >= 0) & (rng.random(chosen.shape) < TYPO_RATE), chosen + bank.n, chosen)
    n_fill_max = np.array([0, 2, 7, 18])
    n_fill = (rng.random(n) * (n_fill_max[length] + 1)).astype(int)
    # fillers without replacement, flattened row by row (row i owns fill_off[i]:fill_off[i+1])
    f_rows = np.flatnonzero(n_fill > 0)
    f_order = np.argsort(rng.random((f_rows.size, len(bank.fillers))), axis=1)[:, : n_fill_max.max()]
    f_mask = np.arange(n_fill_max.max())[None, :] < n_fill[f_rows, None]
    fill_flat = bank.fillers[f_order[f_mask]]
    fill_flat = np.where(rng.random(fill_flat.size) < TYPO_RATE, fill_flat + bank.n, fill_flat)
    fill_off = np.concatenate([[0], np.cumsum(n_fill)])
    # styles: 0 narrative, 1 event first, 2 headed sections, 3 one line per sentence,
    # 4 timed entries ("14:05 ... 14:20 ...")
    style = rng.choice(5, size=n, p=[0.55, 0.15, 0.14, 0.08, 0.08])
    clock = rng.integers(0, 24 * 60, size=n)
    heading = rng.integers(0, len(HEADINGS), size=n)
    lower = rng.random(n) < LOWERCASE_RATE

    # identifiers: values drawn only for the rows that carry them
    id_present = {k: informative & (rng.random(n) < r) for k, r in ID_RATES.items()}
    id_variant = {k: rng.integers(0, len(ids.ID_SENTENCES[k]), size=n) for k in ID_RATES}
    n_ids = np.sum([id_present[k] for k in ID_RATES], axis=0)
    ins_count = n_fill + n_ids
    ins_off = np.concatenate([[0], np.cumsum(ins_count)])
    ins_block = rng.integers(0, 3, size=int(ins_off[-1]))
    ins_pos = rng.random(int(ins_off[-1]))

    pt_first, pt_last = _name_parts(rng, is_male)
    staff_male = rng.random(n) < 0.3
    st_first, st_last = _name_parts(rng, staff_male)
    rel_kind = rng.integers(0, len(_RELATIVES), size=n)
    rel_sex = np.array([r[1] if r[1] is not None else True for r in _RELATIVES])[rel_kind]
    rel_sex = np.where(np.array([r[1] is None for r in _RELATIVES])[rel_kind], rng.random(n) < 0.5, rel_sex)
    rl_first, rl_last = _name_parts(rng, rel_sex)
    rl_last = np.where(rng.random(n) < 0.6, pt_last, rl_last)

    id_values: dict[str, dict[int, str]] = {}
    nhs_valid: dict[int, bool] = {}
    for k in ID_RATES:
        rows = np.flatnonzero(id_present[k])
        m = rows.size
        if m == 0:
            id_values[k] = {}
            continue
        if k == "NHS_NUMBER":
            vals, valid = ids.nhs_numbers(rng, m)
            nhs_valid = dict(zip(rows.tolist(), valid.tolist(), strict=True))
        elif k == "EMAIL":
            first = np.where(rng.random(m) < 0.5, rl_first[rows], pt_first[rows])
            last = np.where(rng.random(m) < 0.5, rl_last[rows], pt_last[rows])
            vals = ids.emails(rng, first.astype(str), last.astype(str))
        else:
            vals = {"POSTCODE": ids.postcodes, "PHONE": ids.phones, "DOB": ids.dates_of_birth,
                    "NI_NUMBER": ids.ni_numbers}[k](rng, m)
        id_values[k] = dict(zip(rows.tolist(), [str(v) for v in vals], strict=True))

    pt_named = informative & (rng.random(n) < PATIENT_NAME_RATE)
    staff_named = rng.random(n) < STAFF_NAME_RATE
    rel_named = rng.random(n) < RELATIVE_NAME_RATE
    pt_form = rng.integers(0, 5, size=n)
    st_form = rng.integers(0, 3, size=n)
    rl_form = rng.integers(0, 3, size=n)
    pt_ref = rng.choice(len(_PT_REFS), size=n, p=_PT_REF_P)
    staff_ref = rng.integers(0, len(STAFF_ROLES), size=n)
    staff_title = rng.integers(0, len(STAFF_TITLES), size=n)
    ward_pick = rng.integers(0, len(WARDS), size=n)
    time_pick = rng.integers(0, len(TIMES), size=n)
    im_pick = rng.integers(0, len(IM_DRUGS), size=n)
    prn_pick = rng.integers(0, len(PRN_DRUGS), size=n)
    small_n = rng.integers(2, 6, size=n)
    unin_pick = rng.integers(0, len(UNINFORMATIVE), size=n)

    id_templates = {
        k: [s.replace("{v}", "{id_" + k + "}") for s in v] for k, v in ids.ID_SENTENCES.items()
    }
    # Python lists index far faster than numpy scalars inside the row loop.
    (chosen, style, clock, heading, lower, fill_flat, fill_off, ins_block, ins_pos, ins_off, n_fill,
     is_male, service, team, pt_named, staff_named, rel_named, pt_form, st_form, rl_form,
     pt_ref, staff_ref, staff_title, ward_pick, time_pick, im_pick, prn_pick, small_n,
     unin_pick, rel_kind, rel_sex, staff_male, pt_first, pt_last, st_first, st_last, rl_first,
     rl_last, informative_list) = (
        a.tolist() for a in (
            chosen, style, clock, heading, lower, fill_flat, fill_off, ins_block, ins_pos, ins_off,
            n_fill, is_male, service, team, pt_named, staff_named, rel_named, pt_form, st_form,
            rl_form, pt_ref, staff_ref, staff_title, ward_pick, time_pick, im_pick, prn_pick,
            small_n, unin_pick, rel_kind, rel_sex, staff_male, pt_first, pt_last, st_first,
            st_last, rl_first, rl_last, informative,
        )
    )
    id_present_rows = np.column_stack([id_present[k] for k in ID_RATES]).tolist()
    id_variant = {k: v.tolist() for k, v in id_variant.items()}
    id_keys = tuple(ID_RATES)
    text = bank.text.tolist()
    out = np.empty(n, dtype=object)
    records: list[tuple] = []
    def build(i: int, n_fills: int) -> tuple[str, list[str]]:
        o, e, e2, r, oc, f, s_e, s_r = (text[c] if c >= 0 else None for c in chosen[i])
        st = style[i]
        first_block = [x for x in ((e, o) if st == 1 else (o, e)) if x] + [x for x in (e2, s_e) if x]
        blocks = [first_block, [x for x in (r, s_r) if x], [x for x in (oc, f) if x]]
        fills = [text[c] for c in fill_flat[fill_off[i] : fill_off[i] + n_fills]]
        present = [k for k, flag in zip(id_keys, id_present_rows[i], strict=True) if flag]
        extras = [id_templates[k][id_variant[k][i]] for k in present]
        at = ins_off[i]
        for k, s in enumerate(fills + extras):
            blk = blocks[ins_block[at + k]]
            blk.insert(int(ins_pos[at + k] * (len(blk) + 1)), s)
        if st == 2:
            h = HEADINGS[heading[i]]
            parts = [f"{h[b]} {' '.join(blk)}" for b, blk in enumerate(blocks) if blk]
            sep = " "
        else:
            parts = [s for blk in blocks for s in blk]
            sep = "\n" if st >= 3 else " "
            if st == 4:
                steps = [clock[i]] + [5 + (3 * k + i) % 20 for k in range(len(parts) - 1)]
                parts = [
                    f"{(m // 60) % 24:02d}:{m % 60:02d} {p}"
                    for m, p in zip(accumulate(steps), parts, strict=True)
                ]
        template = sep.join(parts)

        male = bool(is_male[i])
        ctx = dict(_PRONOUNS[male])
        ctx["pt"], ctx["Pt"] = _PT_REFS[pt_ref[i]]
        sr = staff_ref[i]
        ctx["staff"], ctx["Staff"] = STAFF_ROLES[sr], _STAFF_CAP[sr]
        rk = _RELATIVES[rel_kind[i]][0]
        his = ctx["his"]
        ctx["rel"], ctx["Rel"] = f"{his} {rk}", f"{ctx['His']} {rk}"
        ctx["ward"] = team[i] if service[i] == 0 else WARDS[ward_pick[i]]
        ctx["time"] = TIMES[time_pick[i]]
        ctx["im"] = IM_DRUGS[im_pick[i]]
        ctx["prn"] = PRN_DRUGS[prn_pick[i]]
        ctx["n"] = str(small_n[i])
        names: list[str] = []
        if pt_named[i]:
            template, shown, value = _name_first(
                template, "pt", "Pt", pt_form[i], pt_first[i], pt_last[i], male, "patient"
            )
            if value:
                ctx["ptN"], ctx["PtN"] = shown
                names.append(value)
        if staff_named[i]:
            template, shown, value = _name_first(
                template, "staff", "Staff", st_form[i], st_first[i], st_last[i],
                bool(staff_male[i]), STAFF_TITLES[staff_title[i]],
            )
            if value:
                ctx["staffN"], ctx["StaffN"] = shown
                names.append(value)
        if rel_named[i]:
            template, shown, value = _name_first(
                template, "rel", "Rel", rl_form[i], rl_first[i], rl_last[i],
                bool(rel_sex[i]), f"{his} {rk}", cap_role=f"{ctx['His']} {rk}",
            )
            if value:
                ctx["relN"], ctx["RelN"] = shown
                names.append(value)
        for k in present:
            ctx["id_" + k] = id_values[k][i]
        if lower[i]:
            template = template.lower()
            lowered = {k.lower(): v for k, v in ctx.items() if k[0].isupper()}
            lowered.update({k.lower(): v for k, v in ctx.items() if not k[0].isupper()})
            ctx = lowered
        return template.format_map(ctx), names

    for i in range(n):
        if not informative_list[i]:
            out[i] = UNINFORMATIVE[unin_pick[i]]
            continue
        n_fills = n_fill[i]
        narrative, names = build(i, n_fills)
        while _n_words(narrative) > MAX_WORDS and n_fills > 0:
            n_fills = max(0, n_fills - 3)
            narrative, names = build(i, n_fills)
        out[i] = narrative
        iid = incident_id[i]
        for value in names:
            records.append((iid, "NAME", value, None, narrative.count(value)))
        for k, flag in zip(id_keys, id_present_rows[i], strict=True):
            if flag:
                v = id_values[k][i]
                valid = nhs_valid[i] if k == "NHS_NUMBER" else None
                records.append((iid, k, v, valid, narrative.count(v)))
    _fix_lengths(out, informative)
    return out, records


def _n_words(text: str) -> int:
    """Word count for text joined with single spaces/newlines (cheaper than ``split``)."""
    return text.count(" ") + text.count("\n") + 1


def _name_first(
    template: str,
    key: str,
    cap_key: str,
    form: int,
    first: str,
    last: str,
    male: bool,
    role: str,
    cap_role: str | None = None,
) -> tuple[str, tuple[str, str], str]:
    """Swap the first ``{key}``/``{cap_key}`` placeholder for a named one.

    Returns the new template, the (mid-sentence, sentence-start) display texts and the name as
    it will appear (the identifier value); empty value when the placeholder is absent.
    """
    a, b = template.find("{" + key + "}"), template.find("{" + cap_key + "}")
    if a < 0 and b < 0:
        return template, ("", ""), ""
    title = "Mr" if male else ("Ms" if form % 2 else "Mrs")
    if key == "pt":
        options = (
            (f"pt {first} {last}", f"{first} {last}", f"{first} {last}"),
            (f"{first} {last}", f"{first} {last}", f"{first} {last}"),
            (f"{title} {last}", f"{title} {last}", last),
            (first, first, first),
            (f"SU {first} {last}", f"SU {first} {last}", f"{first} {last}"),
        )
        low, cap, value = options[form]
    else:
        cap_role = cap_role or (role[0].upper() + role[1:])
        options = (
            (f"{role} {first} {last}", f"{cap_role} {first} {last}", f"{first} {last}"),
            (f"{role} {title} {last}", f"{cap_role} {title} {last}", last),
            (f"{role} {first}", f"{cap_role} {first}", first),
        )
        low, cap, value = options[form % 3]
    if a >= 0 and (b < 0 or a < b):
        template = template[:a] + "{" + key + "N}" + template[a + len(key) + 2 :]
    else:
        template = template[:b] + "{" + cap_key + "N}" + template[b + len(cap_key) + 2 :]
    return template, (low, cap), value


def _fix_lengths(out: np.ndarray, informative: np.ndarray) -> None:
    """Pad short informative narratives with plain sentences; long ones were capped by design."""
    words = np.array([_n_words(s) for s in out])
    short = np.flatnonzero(informative & (words < MIN_WORDS))
    pads = [s for s in FILLERS if "{" not in s]
    for i in short:
        k = 0
        while len(out[i].split()) < MIN_WORDS:
            out[i] = f"{out[i]} {pads[(i + k) % len(pads)]}"
            k += 1
    long = np.flatnonzero(words > MAX_WORDS)
    if long.size:
        raise AssertionError(f"{long.size} narratives exceed {MAX_WORDS} words")


# --------------------------------------------------------------------------- case sets


def _case_refs(rng: np.random.Generator, incidents: pd.DataFrame, theme: np.ndarray) -> np.ndarray:
    """A few incidents share a review reference (a Safeguarding Adults Review case set)."""
    refs = np.full(len(incidents), "", dtype=object)
    plans = (
        ("SAR", "Brackenfield", ("self_neglect", "missed_escalation", "financial_abuse",
                                 "discharge_transition"), 30),
        ("CSPR", "Eastmere", ("think_family", "domestic_abuse"), 8),
    )
    for prefix, locality, themes, size in plans:
        t_idx = [THEME_KEYS.index(t) for t in themes]
        pool = np.flatnonzero((incidents["locality"].to_numpy() == locality) & np.isin(theme, t_idx))
        if pool.size == 0:
            continue
        pick = np.sort(rng.choice(pool, size=min(size, pool.size), replace=False))
        year = pd.Timestamp(incidents["incident_date"].iloc[pick[-1]]).year
        refs[pick] = f"{prefix}-{year}-01"
    return refs


def _people(rng: np.random.Generator, incidents: pd.DataFrame, theme: np.ndarray, signals: bool) -> dict:
    """Person identifiers, and the core-question plants; changes ``incidents`` in place.

    Most incidents belong to a person drawn from a pool three times the size of the export,
    so repeats happen by chance but rarely. Each review case set is one person (Adult A)
    with one age band, sex and ethnicity. With ``signals``: one person in REPEAT_PERSON's
    locality has that many self-harm incidents; LOW_REFERRAL's locality records half as
    many safeguarding referrals; restraint incidents are RAISED_RESTRAINT's extra share
    more often recorded for one ethnic group. A few identifiers are blank.
    """
    n = len(incidents)
    ids = rng.integers(0, 3 * n, size=n)
    person = np.array([f"RIO{v + 1000000:07d}" for v in ids], dtype=object)
    truth: dict = {"person_blank_rate": PERSON_BLANK_RATE, "repeat_person": None,
                   "low_referral": None, "raised_restraint": None}

    def one_person(rows: np.ndarray, pid: str) -> None:
        if rows.size == 0:  # a small export may hold no incident fit for a plant
            return
        person[rows] = pid
        for col in ("age_band", "sex", "ethnicity"):
            incidents.loc[incidents.index[rows], col] = incidents[col].iloc[rows[0]]

    for k, ref in enumerate(sorted(set(incidents["case_ref"]) - {""})):
        one_person(np.flatnonzero(incidents["case_ref"].to_numpy() == ref), f"RIO{9000001 + k:07d}")
    if signals:
        loc, key, size = REPEAT_PERSON
        pool = np.flatnonzero((incidents["locality"].to_numpy() == loc)
                              & (theme == THEME_KEYS.index(key)) & (incidents["case_ref"].to_numpy() == ""))
        rows = np.sort(rng.choice(pool, size=min(size, pool.size), replace=False))
        one_person(rows, "RIO9100001")
        truth["repeat_person"] = {"locality": loc, "theme": key, "incidents": int(rows.size),
                                  "person_id": "RIO9100001"}
        loc, factor = LOW_REFERRAL
        here = (incidents["locality"].to_numpy() == loc) & (incidents["safeguarding_referral"].to_numpy() == "yes")
        flip = here & (rng.random(n) >= factor)
        incidents.loc[flip, "safeguarding_referral"] = "no"
        truth["low_referral"] = {"locality": loc, "factor": factor}
        group, key, extra = RAISED_RESTRAINT
        move = (theme == THEME_KEYS.index(key)) & (rng.random(n) < extra) & (incidents["case_ref"].to_numpy() == "")
        incidents.loc[move, "ethnicity"] = group
        truth["raised_restraint"] = {"ethnicity": group, "theme": key, "extra_share": extra}
    blank = rng.random(n) < PERSON_BLANK_RATE
    blank &= incidents["case_ref"].to_numpy() == ""
    if truth["repeat_person"]:
        blank &= person != "RIO9100001"
    person[blank] = ""
    truth["person_id"] = person
    return truth


# --------------------------------------------------------------------------- sidecar tables


def _month_day(month_starts: np.ndarray, idx: int, day: int) -> pd.Timestamp:
    m = month_starts[0] + idx
    return pd.Timestamp(m.astype("datetime64[D]")) + pd.Timedelta(days=day - 1)


def _actions(month_starts: np.ndarray, as_of: pd.Timestamp, signals: bool) -> pd.DataFrame:
    """Actions register: the action behind the planted fall, a control, and open ones."""
    months = len(month_starts)
    rise, fall = _change_months(months) if months >= 2 * MIN_EDGE_MONTHS else (months // 2,) * 2
    last = months - 1

    def at(idx: int, day: int = 1) -> pd.Timestamp:
        return _month_day(month_starts, idx, day)

    rows = [
        ("ACT-001", FALLING[1], FALLING[0],
         "Ligature anchor point reduction: anti-ligature doors, rails and fittings on the "
         "acute wards, with a ligature risk audit every six months",
         "Estates lead and ward managers, Northmoor acute wards",
         at(fall - 7, 12), at(fall - 1, 28), at(fall, 1)),
        ("ACT-002", "medication_error", "Eastmere",
         "Second checker and signature for all PRN and controlled drug administration",
         "Matron, Eastmere inpatient services",
         at(max(fall - 9, 0), 5), at(max(fall - 4, 0), 28), at(max(fall - 5, 0), 15)),
        ("ACT-003", RAISED[1], RAISED[0],
         "Cuckooing and exploitation screen added to CMHT assessments; information sharing "
         "agreement with the police community safety team",
         "Community team manager, Harbourside CMHT",
         at(max(last - 10, 0), 8), at(max(last - 4, 0), 28), pd.NaT),
        ("ACT-004", RISING[1], RISING[0],
         "Safewards interventions and a violence reduction lead on each ward",
         "Head of nursing, Kingsford inpatient services",
         at(max(last - 3, 0), 20), at(last, 1) + pd.DateOffset(months=3), pd.NaT),
        ("ACT-005", "discharge_transition", "Brackenfield",
         "72-hour follow-up checklist built into the discharge form on RiO",
         "Service manager, Brackenfield community services",
         at(max(last - 14, 0), 3), at(max(last - 6, 0), 28), pd.NaT),
        ("ACT-006", "think_family", "Ashdown Vale",
         "Think Family screening questions made mandatory in CMHT assessments",
         "Named nurse for safeguarding children, Ashdown Vale",
         at(max(last - 2, 0), 10), at(last, 1) + pd.DateOffset(months=4), pd.NaT),
        ("ACT-007", "missed_escalation", "Greystone",
         "Two missed contacts now trigger a duty worker call and a manager review",
         "Team manager, Greystone CMHT",
         at(max(last - 6, 0), 14), at(max(last - 2, 0), 28), at(max(last - 3, 0), 20)),
    ]
    df = pd.DataFrame(
        rows,
        columns=["action_id", "theme", "locality", "description", "owner", "agreed_date",
                 "due_date", "completed_date"],
    )
    for c in ("agreed_date", "due_date", "completed_date"):
        df[c] = pd.to_datetime(df[c])
    done = df["completed_date"].notna()
    overdue = ~done & (df["due_date"] < as_of)
    df["status"] = np.where(done, "completed", np.where(overdue, "overdue", "open"))
    return df


def _denominators(rng: np.random.Generator, month_starts: np.ndarray, days_in: np.ndarray) -> pd.DataFrame:
    """Occupied bed days (setting ``inpatient``) and caseload (``community``) per locality per
    month, scaled by locality size; the ``setting`` column lets a review judge inpatient
    incidents per bed day and community ones per caseload (``setting_column: service``)."""
    months = len(month_starts)
    beds = np.round(LOCALITY_WEIGHTS * 420).astype(int)
    occupancy = np.clip(rng.normal(0.92, 0.03, size=(len(LOCALITIES), months)), 0.75, 1.0)
    obd = np.round(beds[:, None] * days_in[None, :] * occupancy).astype(int)
    base = LOCALITY_WEIGHTS * 14000
    drift = 1 + 0.002 * np.arange(months)
    caseload = np.round(base[:, None] * drift[None, :] * rng.normal(1, 0.015, (len(LOCALITIES), months))).astype(int)
    period = np.array([str(m) for m in month_starts], dtype=object)
    frames = []
    for unit, setting, values in (("occupied_bed_days", "inpatient", obd),
                                  ("caseload", "community", caseload)):
        frames.append(
            pd.DataFrame(
                {
                    "locality": np.repeat(np.array(LOCALITIES, dtype=object), months),
                    "period": np.tile(period, len(LOCALITIES)),
                    "denominator": values.ravel(),
                    "unit": unit,
                    "setting": setting,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _signal_truth(
    seed: int,
    n: int,
    month_starts: np.ndarray,
    share: np.ndarray,
    lam: np.ndarray,
    signals: bool,
    as_of: pd.Timestamp,
    incidents: pd.DataFrame,
) -> dict:
    theme_names = (*THEME_KEYS, UNINFORMATIVE_KEY)
    months = len(month_starts)
    overall = lam.sum(axis=1) / lam.sum(axis=(1, 2))[:, None]
    truth: dict = {
        "seed": seed,
        "n": n,
        "start": str(month_starts[0]),
        "end": str(month_starts[-1]),
        "months": months,
        "as_of": as_of.date().isoformat(),
        "signals": signals,
        "uninformative_rate": UNINFORMATIVE_RATE,
        "secondary_rate": SECONDARY_RATE,
        "locality_weights": dict(zip(LOCALITIES, LOCALITY_WEIGHTS.tolist(), strict=True)),
        "expected_share": {
            loc: dict(zip(theme_names, np.round(share[li], 6).tolist(), strict=True))
            for li, loc in enumerate(LOCALITIES)
        },
        "expected_share_overall": {
            loc: dict(zip(theme_names, np.round(overall[li], 6).tolist(), strict=True))
            for li, loc in enumerate(LOCALITIES)
        },
        "case_sets": {
            ref: int(count)
            for ref, count in incidents.loc[incidents["case_ref"] != "", "case_ref"].value_counts().items()
        },
        "raised_share": None,
        "rising": None,
        "falling": None,
    }
    if not signals:
        truth["null"] = (
            "No planted signals: every locality has the same theme mix scaled by its size and "
            "every locality x theme x month count is a multinomial (Poisson-like) draw around a "
            "constant expectation."
        )
        return truth
    rise, fall = _change_months(months)
    truth["raised_share"] = {"locality": RAISED[0], "theme": RAISED[1], "factor": RAISED[2]}
    truth["rising"] = {
        "locality": RISING[0],
        "theme": RISING[1],
        "start_month": str(month_starts[rise]),
        "factor": RISING[2],
    }
    truth["falling"] = {
        "locality": FALLING[0],
        "theme": FALLING[1],
        "action_id": "ACT-001",
        "completion_date": pd.Timestamp(month_starts[fall].astype("datetime64[D]")).date().isoformat(),
        "change_month": str(month_starts[fall]),
        "factor": FALLING[2],
    }
    truth["null"] = (
        "Apart from the three planted signals, every locality x theme x month count is a "
        "multinomial (Poisson-like) draw around a constant expectation. Locality theme mixes "
        f"differ mildly (log-normal, sd {LOCALITY_MIX_SD}, far below funnel alarm level at "
        "demo size); expected_share gives each locality's mix before the rise and fall, "
        "expected_share_overall the whole-period mix including them (so a whole-period "
        "funnel also sees the rising and falling locality x theme cells)."
    )
    return truth
