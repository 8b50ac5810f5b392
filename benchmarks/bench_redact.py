"""Redaction recall, false tags and speed against the synthetic generator's ground truth.

Run on purpose, not in the test suite:

    .venv/bin/python benchmarks/bench_redact.py [--n 20000] [--seed 7] [--speed-n 100000]

Recall: a planted identifier counts as recalled when none of its letter/digit tokens survives
in that incident's redacted text. Tokens are counted, so a coincidental "02" elsewhere in the
text (a time, a bed number) is not mistaken for a leak: the value's tokens must have lost at
least as many occurrences as the value contributed. Titles ("Mr", "Dr") are not identifying
and are not counted.

False tags: tags in narratives that carry no planted identifier at all (every tag there is a
false one), per 1,000 words; plus the same on the hand-written clinical sentences in
``tests/test_redact.py``-style prose below.

Speed: validate (``sgreview.schema.validate_incidents``) and redact (``redact_incidents``)
``--speed-n`` narratives, wall clock.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter

import pandas as pd

from sgreview.redact import TAGS, redact_incidents, redact_texts
from sgreview.schema import validate_incidents
from sgreview.synth import generate

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "mx"}
_ANY_TAG = re.compile("|".join(re.escape(t) for t in TAGS.values()))

CLINICAL = [
    "Pt was given Olanzapine 10mg IM and Lorazepam 2mg PO as PRN at 14:00 on Rose Ward.",
    "SU absconded while on section 17 leave from Willow Ward and was returned under s18 MHA.",
    "Crisis Resolution Home Treatment team (CRHT) and the CMHT were informed; CPN to follow up.",
    "Clozapine level 0.45 mg/L, bloods sent, NEWS 2, obs every 15 mins, NOK informed by phone.",
    "Incident on 03/04/2024 at 14:00 in Ward 3A bed 12; vitamin B12 1mg given; s17 2pm.",
    "May need PRN Promethazine 25mg; Will review at MDT on Monday with the AMHP.",
    "Seen in ED at St Mary's Hospital then transferred to Cedar Ward PICU under s136.",
    "Safeguarding referral made to the MASH; MARAC and LADO informed; DoLS application sent.",
    "Rapid tranquillisation: Haloperidol 5mg IM and Promethazine 50mg IM at 22:45.",
    "Hope was expressed by the team that the new care plan would reduce restraint on Oak Ward.",
    "Depot Paliperidone 150mg given at the clinic; next due 12/05/2024; CTO conditions reviewed.",
    "Sodium Valproate 500mg BD withheld pending LFTs; Lithium level 0.8 mmol/L.",
    "Grace period for return from leave agreed by the RC; Patient Safety Team notified via Datix.",
    "Mary Seacole House staff and Florence Nightingale Ward were contacted about the bed.",
    "Police attended under s136; the AMHP and s12 doctor assessed at the place of safety.",
    "Level 3 obs commenced at 02:15 after pt was found with a ligature made from a bedsheet.",
    "Ligature cut with ligature cutters; NEWS 1; no marks to the neck apart from redness.",
    "Paracetamol level taken at 4 hours in A&E; NAC infusion started on the medical ward.",
    "Pt reported thoughts of self harm to the NIC and was moved to the de-escalation room.",
    "Restraint lasted 6 minutes in the prone position; PMVA team attended; seclusion at 23:10.",
    "Seclusion review by the RC at 01:00 and the independent MDT review at 09:00 completed.",
    "Medication error: Quetiapine 300mg given instead of 30mg; pharmacy and RC informed.",
    "Missed dose of Clozapine for 3 days; re-titration plan agreed with the pharmacist.",
    "Insulin given late at 19:30; BM 14.2 mmol/L; diabetes nurse specialist to review.",
    "Sertraline 100mg OD and Mirtazapine 15mg ON continued; ECG QTc 440ms on Tuesday.",
    "Self-neglect: hoarding in the flat, no food in the fridge, gas supply disconnected.",
    "Domestic abuse disclosed: partner controls money and phone; DASH completed, high risk.",
    "IDVA referral made and MARAC date set for the 14th; police safeguarding unit aware.",
    "Financial abuse suspected: large withdrawals from the account by a family member.",
    "Appointee arrangements reviewed with the DWP; Court of Protection deputyship discussed.",
    "County lines concerns: cuckooing at the address, unknown males seen at the property.",
    "Child in the household; Think Family screening done; children's social care informed.",
    "Missed escalation: deterioration not reported to the duty doctor for 4 hours.",
    "Discharged from Oak Ward on Friday afternoon without a 72 hour follow up booked.",
    "Transition from CAMHS to adult services delayed; care coordinator not allocated.",
    "Substance use: cannabis and spice found in the bedroom; search policy followed.",
    "Sexual safety incident on the mixed sex ward; female-only lounge used; 1:1 in place.",
    "Pt absconded by tailgating a visitor through the airlock doors at 16:00 on Sunday.",
    "Failed to return from s17 leave; AWOL procedures followed; police informed at 20:00.",
    "Returned by police under s18 MHA at 22:30, appeared intoxicated, physical obs taken.",
    "Assault on staff: punched in the face, staff member attended A&E for an X-ray.",
    "Patient to patient assault in the dining room over the TV remote; both pts settled.",
    "Section 2 MHA assessment completed; detained under section 3 on 12 March.",
    "Informal pt requested discharge; holding power s5(2) used by the duty doctor.",
    "CTO recall to hospital; depot Aripiprazole 400mg given at the clinic.",
    "Safeguarding adults referral to the local authority; Care Act s42 enquiry opened.",
    "Mental Capacity Act assessment: lacks capacity to decide on finances; best interests.",
    "Bank and agency staff on shift; 2 RMNs and 4 HCAs for 18 patients on the ward.",
    "Community mental health team visit on Wednesday: no answer, letter left, GP informed.",
    "Early Intervention team to offer CBT; family intervention sessions every two weeks.",
    "Older Adults CMHT: fall at home, hip X-ray at the General Hospital, no fracture.",
    "Night staff to monitor; handover given; obs level reviewed; bleep holder informed.",
    "Crisis line call at 03:00; CRHT home visit arranged for the following morning.",
    "Learning from this incident shared at the safety huddle and in the team meeting.",
    "Mirtazapine 30mg, Pregabalin 150mg BD and Zopiclone 7.5mg PRN reviewed at ward round.",
    "Lithium toxicity suspected: level 1.6 mmol/L, transferred to ED, renal team consulted.",
    "Naloxone administered by paramedics; opioid overdose; ambulance arrived within 8 mins.",
    "Jasmine Ward and Maple Ward doors alarmed; airlock fault reported to estates on Monday.",
    "Room search found a blade hidden in a shampoo bottle; belongings policy reminded.",
    "Datix completed; Duty of Candour letter sent; PSIRF learning response agreed.",
    "Referred to Patient Advice and Liaison Service (PALS); Carer Assessment offered.",
    "Admitted to the Mother and Baby Unit; Nurse Prescriber reviewed; GP Practice informed.",
    "Patient Group Directions followed; Patient Health Questionnaire score 18; GAD-7 done.",
    "SU Declined meds. Pt Refused obs. HCA Witnessed the fall. Patient Became agitated.",
    "Pt called Samaritans; Child Protection Conference held; Sister Ward staff helped.",
    "CRHT, MARAC, DASH, NIC, PRN, AWOL. MAY NEED PRN. WILL REVIEW AT MDT.",
]


def _count_tokens(text: str) -> Counter:
    return Counter(t.lower() for t in _TOKEN.findall(text))


def recall(data, redacted: pd.Series) -> pd.DataFrame:
    """Per identifier type: planted, recalled, recall."""
    original = data.incidents.set_index("incident_id")["narrative"]
    red = pd.Series(redacted.to_numpy(), index=original.index)
    rows = []
    for rec in data.identifiers.itertuples(index=False):
        before = _count_tokens(original[rec.incident_id])
        after = _count_tokens(red[rec.incident_id])
        occurrences = max(int(rec.count), 1)
        toks = [t for t in _count_tokens(rec.value).items() if t[0] not in _TITLES]
        leaked = any(after[t] > before[t] - k * occurrences for t, k in toks)
        rows.append((rec.type, not leaked))
    df = pd.DataFrame(rows, columns=["type", "recalled"])
    out = df.groupby("type")["recalled"].agg(planted="size", recalled="sum")
    out["recall"] = out["recalled"] / out["planted"]
    return out


def false_tags(texts: pd.Series) -> tuple[int, int, float]:
    red = redact_texts(texts).text
    tags = int(red.str.count(_ANY_TAG).sum())
    words = int(texts.str.split().str.len().sum())
    return tags, words, 1000 * tags / max(words, 1)


def _speed(incidents: pd.DataFrame, words: int) -> None:
    """Wall clock and CPU time (CPU is the fairer figure on a machine shared with others)."""
    w0, c0 = time.perf_counter(), time.process_time()
    loaded = validate_incidents(incidents)
    w1, c1 = time.perf_counter(), time.process_time()
    redact_incidents(loaded.incidents)
    w2, c2 = time.perf_counter(), time.process_time()
    print(
        f"speed on {len(incidents)} narratives (mean {words} words): "
        f"validate {w1 - w0:.1f}s + redact {w2 - w1:.1f}s = {w2 - w0:.1f}s wall; "
        f"CPU {c1 - c0:.1f}s + {c2 - c1:.1f}s = {c2 - c0:.1f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed-n", type=int, default=100000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    data = generate(args.n, seed=args.seed)
    print(f"generated {args.n} incidents in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    res = redact_texts(data.incidents["narrative"])
    print(f"redacted {args.n} narratives in {time.perf_counter() - t0:.2f}s")
    print("\nrecall on planted identifiers:")
    print(recall(data, res.text).to_string())

    planted_ids = set(data.identifiers["incident_id"])
    clean = data.incidents.loc[~data.incidents["incident_id"].isin(planted_ids), "narrative"]
    tags, words, rate = false_tags(clean)
    print(f"\nfalse tags on {len(clean)} identifier-free synthetic narratives: "
          f"{tags} in {words} words = {rate:.3f} per 1,000 words")
    red_clean = redact_texts(clean).text
    changed = clean[red_clean != clean]
    for after in red_clean[changed.index].head(5):
        print("   example:", after[:200])
    # Narratives with planted identifiers: tags beyond the planted occurrences are false.
    has_ids = data.incidents.set_index("incident_id").loc[sorted(planted_ids), "narrative"]
    planted_n = data.identifiers.groupby("incident_id")["count"].sum().clip(lower=1)
    produced = redact_texts(has_ids).text.str.count(_ANY_TAG)
    surplus = int((produced - planted_n.reindex(has_ids.index)).clip(lower=0).sum())
    words = int(has_ids.str.split().str.len().sum())
    print(f"surplus tags on {len(has_ids)} narratives with planted identifiers: {surplus} "
          f"in {words} words = {1000 * surplus / max(words, 1):.3f} per 1,000 words")
    clinical = pd.Series(CLINICAL)
    tags, words, rate = false_tags(clinical)
    red_clinical = redact_texts(clinical).text
    for after in red_clinical[red_clinical != clinical]:
        print("   false tag:", after[:200])
    print(f"false tags on {len(CLINICAL)} hand-written clinical sentences: "
          f"{tags} in {words} words = {rate:.3f} per 1,000 words")
    print("counts by type:", res.counts)

    if args.speed_n:
        big = generate(args.speed_n, seed=args.seed + 1) if args.speed_n != args.n else data
        words = int(big.incidents["narrative"].str.split().str.len().mean())
        _speed(big.incidents, words)
        # Longer narratives (two joined, ~2x words) to check the ~80-word target size.
        long = big.incidents.copy()
        long["narrative"] = long["narrative"] + " " + long["narrative"].sample(
            frac=1, random_state=args.seed
        ).to_numpy()
        words = int(long["narrative"].str.split().str.len().mean())
        _speed(long, words)


if __name__ == "__main__":
    main()
