"""Redaction measured on real coroners' text (PFD dev data) with injected identifiers.

Run on purpose, not in the test suite (needs ``../shared/data/pfd_dev``; dev extra ``faker``):

    .venv/bin/python benchmarks/bench_redact_pfd.py [--n 600] [--seed 3] [--speed-n 100000]

Names are drawn from Faker's locale lists, a source the redactor never reads (it uses the
``gender_guesser`` gazetteer, ``sgreview/data`` word lists and name shapes), so recall is
measured on names held out from the redactor's own lists. Origin groups: Anglo (en_GB),
South Asian (en_IN), Pakistani / Arabic-origin (en_PK; Faker has no romanised Arabic),
West African (yo_NG, ig_NG, ha_NG, tw_GH), East African (sw), Eastern European (pl_PL,
ro_RO, lt_LT), Chinese (zh_CN romanised) and Turkish (tr_TR). Each name is injected into a
real narrative in one of several sentence templates (with and without titles, possessives,
a name alone after a verb, surname alone); an injected name counts as recalled when none of
its tokens survives in the redacted narrative (names that already occur in the narrative are
not used). Structured identifiers (NHS, postcode, phone, email, NI, DOB), street addresses,
care-home names and ages are injected the same way.

Real sentences, other people's names (the headline figure): each report's deceased, named
in its URL slug, is renamed wherever the narrative writes them (capitalised or in capitals) to a
name from one of the origin groups, so the wording around every name is the coroner's own.
Reports sorted by URL are split in two: the rules were developed looking at the even half only;
the odd half (``--swap-half test``, the default) was run once, at the end.

Templates: sentence sets written by us (``--templates dev|...|sealed3``);
each set was written before the rules were changed in answer to the one before it, so the later
sets show how recall holds on unseen wording; ``sealed`` was written by someone who never saw the
rules.

Real names: each PFD report's URL slug holds the deceased's name; recall of those names
(tokens seen capitalised in the narrative) is reported too.

False tags: tags (ages excluded, they are tagged on purpose) on the synthetic generator's
identifier-free narratives and on ``bench_redact.CLINICAL``, per 1,000 words.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sgreview.redact import TAGS, redact_texts

PFD = Path(__file__).resolve().parents[2] / "shared" / "data" / "pfd_dev" / "pfd_reports_2013_2019.csv"
GROUPS = {
    "anglo": ["en_GB"],
    "south_asian": ["en_IN"],
    "pakistani_arabic": ["en_PK"],
    "west_african": ["yo_NG", "ig_NG", "ha_NG", "tw_GH"],
    "east_african": ["sw"],
    "eastern_european": ["pl_PL", "ro_RO", "lt_LT"],
    "chinese": ["zh_CN"],
    "turkish": ["tr_TR"],
}
TEMPLATES = [
    "{G} {S} was seen by the crisis team on the ward.",
    "Concerns were raised that {G}'s mother had not been told.",
    "Had {G} received the D Dimer test, the outcome may have been different.",
    "{S} told the nurse that he felt unsafe.",
    "The GP referred {G} {S} to the community mental health team.",
    "Staff spoke to {G} about the plan.",
    "{G} had been discharged the previous day.",
    "Mr {S} attended the inquest with his family.",
    "A friend, {G} {S}, raised the alarm.",
    "She was visited by her brother {G}.",
    "The evidence of {G} {S} was that the door was locked.",
    "{G} {S} died at home.",
]
#: Held-out sentence shapes, written before the rules were tuned on TEMPLATES and never used to
#: tune them (``--templates holdout``): recall on these is the honest figure for unseen wording.
HOLDOUT_TEMPLATES = [
    "On arrival {G} {S} was agitated and shouting.",
    "The nurse asked {G} whether she had eaten.",
    "Her son, {G}, called an ambulance.",
    "According to {S}, the medication had been stopped.",
    "{G} and her partner left the ward together.",
    "The police spoke with {G} {S} later that night.",
    "It was {G} who found him in the garden.",
    "{S} said that the referral was never received.",
    "A message was left for {G} on the ward.",
    "The care coordinator, {G} {S}, was on leave.",
    "When {G} arrived home, the door was open.",
    "Ms {S} had raised concerns about the discharge.",
    "{G} {S} was reviewed by the consultant the next morning.",
    "Concerns about {G} {S} were shared with the GP.",
]
#: A third set, written after the rules had been tuned on both sets above and run once,
#: unchanged, for the figure quoted in the README (``--templates fresh``).
FRESH_TEMPLATES = [
    "Later that evening {G} rang the ward to ask for help.",
    "The social worker, {S}, completed the assessment.",
    "Both {G} and the nurse in charge agreed the plan.",
    "He lived with his aunt, {G} {S}, in a rented flat.",
    "No one had asked {G} {S} about her wishes.",
    "{G} {S}'s sister said he had stopped eating.",
    "A referral from {S} was not acted on.",
    "The inquest heard from {G} {S}, a mental health nurse.",
    "Before the incident, {G} had seemed settled.",
    "The duty doctor reviewed {G} at 10pm.",
    "{S} and a colleague attended the address.",
    "Police found {G} in the car park.",
]
#: A fourth set, written before the rules were changed in answer to FRESH_TEMPLATES' misses
#: and run once at the end (``--templates final``): the untouched figure.
FINAL_TEMPLATES = [
    "{S} had worked on the unit for six years.",
    "The CPN phoned {G} twice that week.",
    "Nobody told {G} {S} that the appointment had moved.",
    "{G}, who was 19, had moved to the area in May.",
    "There was no record that {S} had been consulted.",
    "In her statement {G} {S} described the night of the death.",
    "The manager, {G}, accepted the findings.",
    "{G} {S} and her daughter attended the inquest.",
    "The family of {G} {S} raised a complaint.",
    "At 3am {S} checked the room and found it empty.",
    "Dr {S} gave evidence on the second day.",
    "The GP letter was addressed to {G} {S}.",
]
#: A fifth set, written after the "final" figure was taken and before any rule was changed
#: in answer to its misses; run once at the very end (``--templates confirm``).
CONFIRM_TEMPLATES = [
    "{S} was the nurse in charge that night.",
    "The records show that {S} had reviewed the care plan.",
    "On 4 March {G} {S} was taken to the emergency department.",
    "Her carer, {G} {S}, noticed she had not eaten.",
    "The school nurse saw {G} on three occasions.",
    "A safeguarding referral about {G} was made by the police.",
    "{G} later told the psychiatrist that she heard voices.",
    "The ward manager confirmed that {S} had been trained.",
    "{S}'s evidence was that no risk assessment was done.",
    "When interviewed, {G} {S} could not recall the visit.",
    "The paramedics took {G} to hospital.",
    "The report written by {S} was not shared with the team.",
]
#: A sixth set, written by a helper that never saw the rules or their word lists, before the
#: rules were changed in answer to CONFIRM_TEMPLATES' misses; run once, at the end of that
#: change (``--templates sealed``). Kept in a file so that it is read by the benchmark only.
def _template_file(name: str) -> list[str]:
    path = Path(__file__).resolve().parent / "data" / name
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


SEALED_TEMPLATES = _template_file("templates_sealed.txt")
#: A seventh set, written the same way (by another helper, told to include clipped
#: incident-log wording) after the rules were changed in answer to SEALED_TEMPLATES' misses;
#: run once at the end (``--templates sealed2``): the untouched figure for that change.
SEALED2_TEMPLATES = _template_file("templates_sealed2.txt")
#: An eighth set of 32, written by a third helper that read none of our code, lists, tests or
#: earlier sets, after the rules were changed in answer to SEALED2_TEMPLATES' misses; run
#: once at the end over five seeds (``--templates sealed3``): the untouched figure.
SEALED3_TEMPLATES = _template_file("templates_sealed3.txt")
STRUCTURED = {
    "NHS_NUMBER": "His NHS number was {v}.",
    "POSTCODE": "She lived in {v} at the time.",
    "PHONE": "The family could be reached on {v}.",
    "EMAIL": "Correspondence was sent to {v}.",
    "NI_NUMBER": "His National Insurance number {v} was checked.",
    "DOB": "He was born on {v}.",
    "ADDRESS": "Police attended {v} that evening.",
    "CARE_HOME": "She had lived at {v} for two years.",
    "AGE": "She had three children aged {v}.",
}
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_ANY_TAG = re.compile("|".join(re.escape(t) for k, t in TAGS.items() if k != "AGE"))


#: Letters NFKD does not decompose: without this "Łyczek" became "yczek" and "Fırat" "Frat",
#: names no English record would hold (a lower-case or truncated name is not a fair test).
_TRANSLIT = str.maketrans({"ł": "l", "Ł": "L", "ı": "i", "İ": "I", "’": "'", "ß": "ss", "ø": "o",
                           "Ø": "O", "đ": "d", "Đ": "D", "æ": "ae", "Æ": "Ae", "œ": "oe"})


def _ascii(name: str) -> str:
    import unicodedata

    name = name.translate(_TRANSLIT)
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or name


def name_pool(seed: int, per_group: int) -> dict[str, list[tuple[str, str]]]:
    from faker import Faker

    out = {}
    for group, locales in GROUPS.items():
        pairs = []
        for i in range(per_group):
            f = Faker(locales[i % len(locales)])
            f.seed_instance(seed * 1000 + i)
            if group == "chinese":
                g, s = f.first_romanized_name(), f.last_romanized_name()
            else:
                g, s = f.first_name(), f.last_name()
            pairs.append((g.split()[0], s.split()[0]))
        out[group] = pairs
    return out


def _nhs(rng: np.random.Generator) -> str:
    while True:
        d = [9, 9, 9, *rng.integers(0, 10, 6).tolist()]
        check = 11 - sum(x * w for x, w in zip(d, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            s = "".join(map(str, [*d, check]))
            return f"{s[:3]} {s[3:6]} {s[6:]}"


def structured_value(kind: str, rng: np.random.Generator, surname: str) -> str:
    letters = "ABDEFGHJLNPRSTUWXY"
    if kind == "NHS_NUMBER":
        return _nhs(rng)
    if kind == "POSTCODE":
        return f"{rng.choice(['M', 'LS', 'B', 'NE', 'SW'])}{rng.integers(1, 20)} {rng.integers(1, 10)}{''.join(rng.choice(list(letters), 2))}"
    if kind == "PHONE":
        return f"07700 900{rng.integers(0, 1000):03d}"
    if kind == "EMAIL":
        return f"{surname.lower()}{rng.integers(1, 99)}@example.com"
    if kind == "NI_NUMBER":
        return f"QQ {rng.integers(10, 99)} {rng.integers(10, 99)} {rng.integers(10, 99)} C"
    if kind == "DOB":
        return f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d}/{rng.integers(1940, 2005)}"
    if kind == "ADDRESS":
        return f"{rng.integers(1, 200)} {surname} {rng.choice(['Road', 'Street', 'Avenue', 'Lane', 'Close', 'Drive'])}"
    if kind == "CARE_HOME":
        return f"{surname} {rng.choice(['Manor', 'Lodge', 'Grange', 'Care Home', 'Nursing Home'])}"
    if kind == "AGE":
        return f"{rng.integers(1, 9)}, {rng.integers(9, 14)} and {rng.integers(14, 18)}"
    raise ValueError(kind)


def _inject(text: str, sentence: str, rng: np.random.Generator) -> str:
    cuts = [m.end() for m in re.finditer(r"[.!?]\s+", text)]
    if not cuts:
        return text.rstrip() + ". " + sentence
    at = int(rng.choice(cuts))
    return text[:at] + sentence + " " + text[at:]


def _gone(value: str, before: str, after: str) -> bool:
    """Every token of ``value`` has lost its injected occurrences in the redacted text."""
    tokens = _TOKEN.findall(value)
    for tok in set(tokens):
        if tok.lower() in {"mr", "mrs", "ms", "and"}:
            continue
        pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(tok)}(?![A-Za-z0-9])")
        if len(pattern.findall(after)) > len(pattern.findall(before)) - tokens.count(tok):
            return False
    return True


def build(texts: pd.Series, seed: int, templates: list[str] = TEMPLATES) -> tuple[pd.Series, pd.DataFrame]:
    """Narratives with injected identifiers, and one row per injection (group, kind, value)."""
    rng = np.random.default_rng(seed)
    pool = name_pool(seed, per_group=max(50, len(texts) // 2))
    rows, out = [], []
    for i, text in enumerate(texts.tolist()):
        text = str(text)
        original = text
        for group in GROUPS:
            g, s = pool[group][int(rng.integers(len(pool[group])))]
            g, s = _ascii(g), _ascii(s)
            if re.search(rf"\b(?:{re.escape(g)}|{re.escape(s)})\b", original, re.IGNORECASE):
                continue
            template = templates[int(rng.integers(len(templates)))]
            sentence = template.format(G=g, S=s)
            value = " ".join(t for t in (g if "{G}" in template else "", s if "{S}" in template else "") if t)
            text = _inject(text, sentence, rng)
            rows.append({"row": i, "kind": "NAME", "group": group, "value": value, "template": template})
        kind = list(STRUCTURED)[i % len(STRUCTURED)]
        surname = pool["anglo"][int(rng.integers(len(pool["anglo"])))][1]
        value = structured_value(kind, rng, surname)
        text = _inject(text, STRUCTURED[kind].format(v=value), rng)
        rows.append({"row": i, "kind": kind, "group": "", "value": value, "template": STRUCTURED[kind]})
        out.append(text)
    return pd.Series(out, dtype="str"), pd.DataFrame(rows)


def measure(texts: pd.Series, injected: pd.DataFrame, redacted: pd.Series) -> pd.DataFrame:
    before = texts.tolist()
    after = redacted.tolist()
    injected = injected.copy()
    injected["recalled"] = [
        _gone(v, before[r], after[r]) for r, v in zip(injected["row"], injected["value"], strict=True)
    ]
    return injected


def real_name_recall(frame: pd.DataFrame, redacted: pd.Series) -> tuple[int, int]:
    """Deceased's names from the URL slug, where they appear capitalised in the narrative."""
    found = kept = 0
    for url, text, red in zip(frame["url"], frame["narrative"], redacted, strict=True):
        slug = str(url).rstrip("/").rsplit("/", 1)[-1]
        for tok in {t.capitalize() for t in slug.split("-") if len(t) > 2 and t.isalpha()}:
            n = len(re.findall(rf"\b{tok}\b", str(text)))
            if n:
                found += n
                kept += len(re.findall(rf"\b{tok}\b", str(red)))
    return found, kept


def swap_real_names(frame: pd.DataFrame, seed: int) -> tuple[pd.Series, pd.DataFrame]:
    """Real sentences, other people's names: each report's deceased (from the URL slug: first
    token the given name, last the family name) is renamed, wherever the narrative writes
    them capitalised, to a name drawn from one origin group (cycling through the groups).

    Unlike the templates, the wording around each name is the coroner's own ("Mr Smith's
    GP", "Jane had been", "SMITH"), so this is the figure least shaped by our choices.
    Returns the renamed narratives and one row per renamed occurrence.
    """
    rng = np.random.default_rng(seed)
    pool = name_pool(seed + 7, per_group=max(50, len(frame) // 4))
    groups = list(GROUPS)
    texts, rows = [], []
    for i, (url, text) in enumerate(zip(frame["url"], frame["narrative"], strict=True)):
        text = str(text)
        parts = [t for t in str(url).rstrip("/").rsplit("/", 1)[-1].split("-") if t.isalpha() and len(t) > 1]
        group = groups[i % len(groups)]
        g, s = pool[group][int(rng.integers(len(pool[group])))]
        g, s = _ascii(g), _ascii(s)
        if len(parts) < 2 or re.search(rf"\b(?:{re.escape(g)}|{re.escape(s)})\b", text, re.IGNORECASE):
            texts.append(text)
            continue
        for old, new in ((parts[0], g), (parts[-1], s)):
            for form_old, form_new in ((old.capitalize(), new), (old.upper(), new.upper())):
                pattern = re.compile(rf"(?<![A-Za-z]){re.escape(form_old)}(?![a-z])")
                n = len(pattern.findall(text))
                if n:
                    text = pattern.sub(form_new, text)
                    rows.append({"row": i, "group": group, "value": form_new, "n": n})
        texts.append(text)
    return pd.Series(texts, dtype="str"), pd.DataFrame(rows)


def swap_recall(texts: pd.Series, swapped: pd.DataFrame, redacted: pd.Series) -> pd.DataFrame:
    """Per renamed occurrence: how many of the ``n`` written occurrences survive redaction."""
    after = redacted.tolist()
    out = swapped.copy()
    out["left"] = [
        len(re.findall(rf"(?<![A-Za-z]){re.escape(v)}(?![a-z])", after[r]))
        for r, v in zip(out["row"], out["value"], strict=True)
    ]
    return out


def false_tags() -> tuple[int, int]:
    from bench_redact import CLINICAL

    from sgreview.synth import generate

    data = generate(3000, seed=12)
    clean = data.incidents.loc[~data.incidents["incident_id"].isin(data.identifiers["incident_id"]), "narrative"]
    texts = pd.concat([clean, pd.Series(CLINICAL)], ignore_index=True).astype("str")
    red = redact_texts(texts).text
    tags = int(red.str.count(_ANY_TAG.pattern).sum())
    words = int(texts.str.split().str.len().sum())
    return tags, words


def speed(n: int) -> tuple[float, int]:
    from sgreview.synth import generate

    texts = generate(n, seed=5).incidents["narrative"].astype("str")
    start = time.perf_counter()
    redact_texts(texts)
    return time.perf_counter() - start, int(texts.str.split().str.len().sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=600, help="PFD narratives to inject into")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--speed-n", type=int, default=100_000)
    ap.add_argument("--swap-half", choices=["test", "tune", "all"], default="test",
                    help="reports (sorted by URL) for the renamed-deceased measure: the odd half was "
                         "never looked at while the rules were written, the even half was")
    ap.add_argument("--templates", choices=["dev", "holdout", "fresh", "final", "confirm", "sealed", "sealed2", "sealed3"], default="dev",
                    help="sentence shapes: the ones the rules were tuned on, or the held-out ones")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if not PFD.exists():
        print(f"skipped: {PFD} not found")
        return
    frame = pd.read_csv(PFD, dtype=str).dropna(subset=["narrative"])
    frame = frame.sample(min(args.n, len(frame)), random_state=args.seed).reset_index(drop=True)
    templates = {"dev": TEMPLATES, "holdout": HOLDOUT_TEMPLATES, "fresh": FRESH_TEMPLATES,
                 "final": FINAL_TEMPLATES, "confirm": CONFIRM_TEMPLATES, "sealed": SEALED_TEMPLATES,
                 "sealed2": SEALED2_TEMPLATES, "sealed3": SEALED3_TEMPLATES}[args.templates]
    texts, injected = build(frame["narrative"], args.seed, templates)
    start = time.perf_counter()
    redacted = redact_texts(texts).text
    seconds = time.perf_counter() - start
    result = measure(texts, injected, redacted)
    names = result[result["kind"] == "NAME"]
    print(f"PFD narratives: {len(texts)}, words {int(texts.str.split().str.len().sum()):,}, "
          f"redacted in {seconds:.1f} s")
    print(f"names injected: {len(names)}, recall {names['recalled'].mean():.2%}")
    print(names.groupby("group")["recalled"].agg(["size", "mean"]).to_string())
    missed = names.loc[~names["recalled"], ["group", "template"]]
    if len(missed):
        print("missed by template:")
        print(missed.groupby("template").size().sort_values(ascending=False).to_string())
    other = result[result["kind"] != "NAME"]
    print(other.groupby("kind")["recalled"].agg(["size", "mean"]).to_string())
    every = pd.read_csv(PFD, dtype=str).dropna(subset=["narrative"]).sort_values("url").reset_index(drop=True)
    half = every if args.swap_half == "all" else every.iloc[(0 if args.swap_half == "tune" else 1) :: 2]
    swapped_texts, swapped = swap_real_names(half.reset_index(drop=True), 5)
    sw = swap_recall(swapped_texts, swapped, redact_texts(swapped_texts).text)
    by_group = sw.groupby("group")[["n", "left"]].sum()
    by_group["recall"] = 1 - by_group["left"] / by_group["n"]
    print(f"real sentences ({args.swap_half} half, {len(half)} reports), deceased renamed from each group: "
          f"{int(sw['n'].sum())} occurrences, "
          f"recall {1 - sw['left'].sum() / sw['n'].sum():.2%}")
    print(by_group.to_string())
    found, kept = real_name_recall(frame, redact_texts(frame["narrative"].astype("str")).text)
    print(f"real deceased names (URL slug) in the narratives: {found}, left after redaction: {kept} "
          f"(recall {1 - kept / max(found, 1):.2%})")
    tags, words = false_tags()
    print(f"false tags on identifier-free clinical text: {tags} in {words:,} words = "
          f"{1000 * tags / words:.2f} per 1,000 words")
    if args.speed_n:
        secs, w = speed(args.speed_n)
        print(f"throughput: {args.speed_n:,} synthetic narratives ({w:,} words) in {secs:.1f} s "
              f"= {args.speed_n / secs:,.0f} narratives/s")


if __name__ == "__main__":
    main()
