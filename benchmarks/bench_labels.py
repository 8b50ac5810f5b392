"""Benchmark theme labels on real text: do they name what the theme is about, in plain words?

Run on purpose (not part of the test suite):

    .venv/bin/python benchmarks/bench_labels.py [--k auto] [--seed 42]

Fits themes on the coroners' PFD development corpus (../shared/data/pfd_dev, read in place,
skipped when absent) with coroner areas as groups, and reports:

* ``names_dominant_category``: the share of themes whose label names the theme's dominant
  PFD category in plain words. A label "names" a category when it contains one of that
  category's plain words below (hand-written once from the category titles and the words
  coroners use for them; e.g. "Road (Highways Safety)" -> road, vehicle, driver, collision).
  Themes whose dominant category is "Other related deaths" have nothing to name and are left
  out of the share.
* ``duplicate_labels``: labels used by more than one theme (should be 0).
* ``banned_words``: labels containing boilerplate or a place/hospital name word.
* ``local``: themes more than 60% from one coroner area (flagged "possibly local wording or
  local practice" in the reports).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pfd_dev" / "pfd_reports_2013_2019.csv"
COLUMNS = {"incident_id": "ref", "incident_date": "date", "locality": "area"}

#: Plain words that name each PFD category (matched as whole words, case-insensitive).
CATEGORY_WORDS = {
    "Hospital Death (Clinical Procedures and medical management) related deaths": [
        "hospital", "ward", "surgery", "surgical", "operation", "clinical", "medical", "doctor",
        "nurse", "nursing", "patient", "treatment", "diagnosis", "consultant", "sepsis",
        "observations", "deterioration", "emergency", "care", "escalation", "anticoagulation",
        "medication", "scan", "x ray", "theatre", "discharge"],
    "Other related deaths": [],
    "Community health care and emergency services related deaths": [
        "ambulance", "paramedic", "gp", "general practitioner", "community", "999", "call",
        "emergency services", "out of hours", "nhs 111", "district nurse", "primary care"],
    "Road (Highways Safety) related deaths": [
        "road", "vehicle", "driver", "driving", "collision", "traffic", "highway", "car",
        "motorcycle", "cyclist", "pedestrian", "lorry", "junction", "speed"],
    "Care Home Health related deaths": ["care home", "nursing home", "residential", "resident",
                                        "carer", "falls", "fall"],
    "Child Death (from 2015)": ["child", "children", "baby", "infant", "birth", "neonatal",
                                "maternity", "midwife", "midwifery", "paediatric", "school",
                                "sleep", "labour", "pregnancy", "young person"],
    "State Custody related deaths": ["custody", "prison", "prisoner", "cell", "detention",
                                     "detained", "officer", "remand"],
    "Suicide (from 2015)": ["suicide", "self harm", "self-harm", "hanging", "ligature",
                            "overdose", "took own life", "suicidal"],
    "Mental Health related deaths": ["mental health", "psychiatric", "crisis", "mental",
                                     "section", "detained", "self harm", "suicide"],
    "Alcohol, drug and medication related deaths": ["alcohol", "drug", "drugs", "medication",
                                                    "overdose", "opioid", "methadone",
                                                    "prescribing", "prescription", "toxicity"],
    "Accident at Work and Health and Safety related deaths": [
        "work", "workplace", "employer", "machine", "machinery", "site", "health and safety",
        "equipment", "construction", "farm"],
    "Product related deaths": ["product", "device", "equipment", "fire", "gas", "carbon monoxide",
                               "appliance", "blind cord"],
    "Police related deaths": ["police", "officer", "officers", "arrest", "custody", "restraint"],
    "Emergency services related deaths (2019 onwards)": ["ambulance", "paramedic", "fire",
                                                         "police", "999", "call"],
    "Railway related deaths": ["railway", "rail", "train", "level crossing", "station", "track"],
    "Service Personnel related deaths": ["army", "military", "soldier", "service personnel"],
    "Wales prevention of future deaths reports 2019 onwards": [],
}


def names_category(label: str, category: str) -> bool | None:
    words = CATEGORY_WORDS.get(category)
    if not words:
        return None
    text = label.casefold().replace("-", " ")
    return any(re.search(rf"\b{re.escape(w.replace('-', ' '))}\b", text) for w in words)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", default="auto")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if not DATA.is_file():
        print(f"skipped: {DATA} not found")
        return 0
    from sgreview.pipeline.common import load_redacted
    from sgreview.themes import apply_themes, fit_themes
    try:
        from sgreview.themes.labels import LABEL_STOP_WORDS
    except ImportError:  # an older sgreview, for a before/after comparison
        LABEL_STOP_WORDS = frozenset({"inquest", "coroner", "court", "hill", "department"})

    incidents = load_redacted(DATA, COLUMNS).incidents
    start = time.perf_counter()
    k = args.k if args.k == "auto" else int(args.k)
    model = fit_themes(incidents, k=k, seed=args.seed)
    fitted = time.perf_counter() - start
    assigned = apply_themes(model, incidents)
    raw = pd.read_csv(DATA, dtype=str, usecols=["ref", "categories"])
    raw["category"] = raw["categories"].str.split("|").str[0].str.strip()
    assigned = assigned.merge(raw.rename(columns={"ref": "incident_id"})[["incident_id", "category"]],
                              on="incident_id", how="left")
    area_share = assigned["locality"].value_counts(normalize=True)
    rows = []
    for tid, g in assigned.groupby("theme_id"):
        if tid == "T00":
            continue
        label = str(g["theme_label"].iloc[0])
        dominant = g["category"].value_counts()
        top_area = g["locality"].value_counts(normalize=True)
        rows.append({
            "theme_id": tid, "n": len(g), "label": label,
            "dominant": dominant.index[0], "dominant_share": round(dominant.iloc[0] / len(g), 2),
            "names_dominant": names_category(label, dominant.index[0]),
            "top_area_share": round(float(top_area.iloc[0]), 2),
            "local": bool(top_area.iloc[0] > 0.6 and top_area.iloc[0] > 2 * area_share[top_area.index[0]]),
            "banned": sorted(w for w in re.findall(r"[a-z]+", label.casefold()) if w in LABEL_STOP_WORDS),
        })
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_colwidth", 70, "display.max_rows", 200):
        print(table[["theme_id", "n", "label", "dominant", "dominant_share", "names_dominant",
                     "top_area_share"]].to_string(index=False))
    judged = table["names_dominant"].dropna()
    summary = {
        "themes": int(len(table)),
        "fit_seconds": round(fitted, 1),
        "names_dominant_category": round(float(judged.astype(bool).mean()), 3) if len(judged) else None,
        "judged_themes": int(len(judged)),
        "duplicate_labels": int(table["label"].str.casefold().duplicated().sum()),
        "labels_with_banned_words": int((table["banned"].str.len() > 0).sum()),
        "local_themes": int(table["local"].sum()),
        "unthemed_share": round(float((assigned["theme_id"] == "T00").mean()), 3),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
