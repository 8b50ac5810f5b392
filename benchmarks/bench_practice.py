"""Practice themes: precision and recall per theme, keyword method (before) vs sentence rules.

Measured on two labelled samples, the same sentences for both methods:

* ``benchmarks/data/practice_labels_pfd.csv``: sentences of the coroners' PFD reports
  (``../shared/data/pfd_dev``), labelled by reading them. Only (report ref, sentence number,
  a 10-hex SHA-256 prefix of the sentence to check alignment, dev/test split, labels) is
  stored, never the text. Labels are practice-theme keys separated by ``;``; a trailing ``!``
  marks an omission ("was not escalated"). The sample is enriched: for each theme up to 14
  sentences the new rules hit and 9 the keyword method alone hits, plus 110 random
  sentences; labels were written blind to both methods' output.
* ``benchmarks/data/practice_synthetic.csv``: written sentences with planted negations,
  hedges and ambiguous words (text included: nobody's record).

Run: ``.venv/bin/python benchmarks/bench_practice.py [--write]``. ``--write`` records the
measured precision/recall in ``sgreview/data/practice_precision.yaml``, which decides which
themes reports show (precision >= 0.8 with at least 8 predicted sentences).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pandas as pd
import yaml

from sgreview.practice import (
    PRECISION_PATH,
    SPLIT_VERSION,
    detect_sentences,
    keyword_by_narrative,
    split_sentences,
)
from sgreview.themes.labels import load_taxonomy

HERE = Path(__file__).resolve().parent
PFD = HERE.parents[0].parent / "shared" / "data" / "pfd_dev" / "pfd_reports_2013_2019.csv"
LABELS = HERE / "data" / "practice_labels_pfd.csv"
SYNTHETIC = HERE / "data" / "practice_synthetic.csv"


def pfd_sentences(pfd: Path = PFD, labels: Path = LABELS) -> pd.DataFrame:
    """The labelled PFD sentences with their text (in memory only), checked by hash."""
    lab = pd.read_csv(labels, dtype=str, keep_default_na=False)
    d = pd.read_csv(pfd, usecols=["ref", "narrative"], dtype=str)
    d = d[d["ref"].isin(set(lab["ref"]))].drop_duplicates("ref").set_index("ref")
    sents = split_sentences(d["narrative"]).rename(columns={"row": "ref"})
    sents["sentence_no"] = sents["sentence_no"].astype(str)
    out = lab.merge(sents, on=["ref", "sentence_no"], how="left")
    sha = out["sentence"].fillna("").map(lambda t: hashlib.sha256(t.encode()).hexdigest()[:10])
    bad = int((sha != out["sha"]).sum())
    if bad:
        raise SystemExit(f"{bad} labelled sentences no longer match their hash: the data or "
                         f"the sentence splitter (version {SPLIT_VERSION}) changed")
    return out


def label_matrix(labels: pd.Series, keys: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(theme present, theme present as an omission) boolean frames from ``a;b!`` labels."""
    parts = labels.fillna("").str.split(";")
    present = pd.DataFrame({k: parts.map(lambda p, k=k: k in p or f"{k}!" in p) for k in keys})
    omission = pd.DataFrame({k: parts.map(lambda p, k=k: f"{k}!" in p) for k in keys})
    return present.set_axis(labels.index), omission.set_axis(labels.index)


def scores(truth: pd.DataFrame, pred: pd.DataFrame) -> pd.DataFrame:
    tp = (truth & pred).sum()
    fp = (~truth & pred).sum()
    fn = (truth & ~pred).sum()
    return pd.DataFrame({"labelled": truth.sum(), "predicted": pred.sum(), "tp": tp,
                         "precision": tp / (tp + fp).where(tp + fp > 0),
                         "recall": tp / (tp + fn).where(tp + fn > 0)})


def evaluate(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    themes = load_taxonomy()["practice_themes"]
    keys = [t["key"] for t in themes]
    truth, omission = label_matrix(frame["labels"], keys)
    after_pol = detect_sentences(frame["sentence"]).reindex(columns=keys, fill_value="")
    after = after_pol != ""
    before = keyword_by_narrative(frame["sentence"], themes).reindex(columns=keys, fill_value=False)
    both = truth & after
    neg = pd.DataFrame({
        "omissions_labelled": (omission & both).sum(),
        "omission_found": ((after_pol == "omission") & omission & both).sum(),
        "false_omission": ((after_pol == "omission") & ~omission & both).sum(),
    })
    return {"before": scores(truth, before), "after": scores(truth, after), "negation": neg}


def _table(res: dict[str, pd.DataFrame]) -> pd.DataFrame:
    b, a = res["before"], res["after"]
    t = pd.DataFrame({"labelled": a["labelled"],
                      "P before": b["precision"], "R before": b["recall"], "n pred before": b["predicted"],
                      "P after": a["precision"], "R after": a["recall"], "n pred after": a["predicted"]})
    total = {"labelled": t["labelled"].sum()}
    for tag, s in (("before", b), ("after", a)):
        total[f"P {tag}"] = s["tp"].sum() / max(s["predicted"].sum(), 1)
        total[f"R {tag}"] = s["tp"].sum() / max(s["labelled"].sum(), 1)
        total[f"n pred {tag}"] = s["predicted"].sum()
    t.loc["all themes (micro)"] = total
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record precision/recall for reports")
    args = ap.parse_args(argv)
    pd.set_option("display.width", 200)
    pd.set_option("display.precision", 2)
    results = {}
    if PFD.exists():
        pfd = pfd_sentences()
        for split in ("all", "dev", "test"):
            part = pfd if split == "all" else pfd[pfd["split"] == split]
            results[f"pfd_{split}"] = evaluate(part.reset_index(drop=True))
            print(f"\n## PFD sentences, {split} ({len(part)} sentences)")
            print(_table(results[f"pfd_{split}"]).to_string())
        print("\n## Negation on PFD (all): omissions labelled / found / wrongly marked")
        print(results["pfd_all"]["negation"].to_string())
    else:
        print(f"PFD data not found at {PFD}: PFD sample skipped", file=sys.stderr)
    syn = pd.read_csv(SYNTHETIC, dtype=str, keep_default_na=False)
    results["synthetic"] = evaluate(syn)
    print(f"\n## Synthetic sentences with planted negations and ambiguous words ({len(syn)})")
    print(_table(results["synthetic"]).to_string())
    print(results["synthetic"]["negation"].to_string())
    if args.write:
        if "pfd_all" not in results:
            print("--write needs the PFD sample", file=sys.stderr)
            return 2
        a, t = results["pfd_all"]["after"], results["pfd_test"]["after"]
        doc = {"measured_on": "benchmarks/data/practice_labels_pfd.csv (all splits)",
               "sentences": int(len(pfd)), "split_version": SPLIT_VERSION, "themes": {}}
        for key in a.index:
            def f(x):
                return None if pd.isna(x) else round(float(x), 3)
            doc["themes"][key] = {"precision": f(a.at[key, "precision"]), "recall": f(a.at[key, "recall"]),
                                  "predicted": int(a.at[key, "predicted"]), "labelled": int(a.at[key, "labelled"]),
                                  "test_precision": f(t.at[key, "precision"]), "test_recall": f(t.at[key, "recall"])}
        PRECISION_PATH.write_text(
            "# Written by benchmarks/bench_practice.py --write: do not edit by hand.\n"
            + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        print(f"\nwrote {PRECISION_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
