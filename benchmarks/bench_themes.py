"""Benchmark the theme engine: real-text agreement, reproducibility, planted themes, speed.

Run on purpose (not part of the test suite):

    .venv/bin/python benchmarks/bench_themes.py [--n 100000] [--skip-real] [--skip-speed]

Prints one line per measurement and a JSON summary at the end. The real-text part uses the
coroners' PFD development corpus in ../shared/data/pfd_dev (third-party data: read in
place, never copied) and is skipped when it is absent.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sgreview.redact import redact_incidents  # noqa: E402
from sgreview.synth import generate  # noqa: E402
from sgreview.themes import apply_themes, best_match_f1, fit_themes, unthemed_share  # noqa: E402

PFD = ROOT.parent / "shared" / "data" / "pfd_dev" / "pfd_reports_2013_2019.csv"


def pfd_split() -> pd.DataFrame:
    """The README's evaluation split: single tag, no catch-alls, no duplicates, >= 30 words."""
    d = pd.read_csv(PFD)
    d = d.loc[(d["n_categories"] == 1) & ~d["is_text_duplicate"].astype(bool)]
    d = d.loc[~d["categories"].str.startswith(("Other related", "Wales"))]
    d = d.loc[d["narrative"].fillna("").str.split().str.len() >= 30].reset_index(drop=True)
    return pd.DataFrame(
        {
            "incident_id": [f"P{i:05d}" for i in range(len(d))],
            "incident_date": pd.to_datetime(d["date"], errors="coerce"),
            "locality": d["area"].fillna("unknown"),
            "narrative": d["narrative"],
            "label": d["categories"],
        }
    )


def real_text(out: dict) -> None:
    if not PFD.exists():
        print("real text: skipped (../shared/data/pfd_dev absent)")
        return
    data = pfd_split()
    y = data.pop("label").to_numpy()
    rows, runs = [], []
    for seed in (0, 1, 2):
        start = time.perf_counter()
        model = fit_themes(data, k=15, seed=seed)
        a = apply_themes(model, data)
        secs = time.perf_counter() - start
        pred = a["theme_id"].to_numpy()
        runs.append(pred)
        rows.append((normalized_mutual_info_score(y, pred), adjusted_rand_score(y, pred), secs))
        print(f"PFD k=15 seed {seed}: NMI {rows[-1][0]:.3f} ARI {rows[-1][1]:.3f} ({secs:.1f}s)")
    nmi, ari, _ = np.mean(rows, axis=0)
    seed_ari = [adjusted_rand_score(runs[i], runs[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    print(
        f"PFD k=15 mean of 3 seeds: NMI {nmi:.3f} ARI {ari:.3f}; ARI between seeds {min(seed_ari):.3f}+"
    )
    model = fit_themes(data, k="auto", seed=0)
    a = apply_themes(model, data)
    auto_nmi = normalized_mutual_info_score(y, a["theme_id"])
    auto_ari = adjusted_rand_score(y, a["theme_id"])
    print(
        f"PFD k=auto: k={model.n_themes_} NMI {auto_nmi:.3f} ARI {auto_ari:.3f} unthemed {unthemed_share(a):.3f}"
    )
    out["pfd"] = {
        "n": len(data),
        "k15_nmi": round(nmi, 4),
        "k15_ari": round(ari, 4),
        "k15_seed_ari_min": round(min(seed_ari), 4),
        "auto_k": model.n_themes_,
        "auto_nmi": round(auto_nmi, 4),
        "auto_ari": round(auto_ari, 4),
    }


def planted(out: dict, n: int = 5000) -> None:
    sd = generate(n, seed=11)
    incidents, _ = redact_incidents(sd.incidents)
    truth = sd.truth.set_index("incident_id").loc[incidents["incident_id"], "theme"].to_numpy()
    first = apply_themes(fit_themes(incidents, k="auto", seed=0), incidents)
    again = apply_themes(fit_themes(incidents, k="auto", seed=0), incidents)
    other = apply_themes(fit_themes(incidents, k="auto", seed=1), incidents)
    identical = first.to_csv(index=False) == again.to_csv(index=False)
    seed_ari = adjusted_rand_score(first["theme_id"], other["theme_id"])
    nmi = normalized_mutual_info_score(truth, first["theme_id"])
    f1 = best_match_f1(pd.Series(truth), first["theme_id"]).set_index("label")["f1"]
    f1 = f1.drop("uninformative", errors="ignore")
    k = first.loc[first["theme_id"] != "T00", "theme_id"].nunique()
    print(f"synthetic n={n}: k={k} NMI {nmi:.3f}; min best-match F1 {f1.min():.3f} ({f1.idxmin()})")
    print(f"synthetic n={n}: same seed identical {identical}; ARI seed 0 vs 1 {seed_ari:.3f}")
    out["planted"] = {
        "n": n,
        "k": int(k),
        "nmi": round(nmi, 4),
        "min_f1": round(float(f1.min()), 4),
        "f1": f1.round(3).to_dict(),
        "same_seed_identical": identical,
        "seed_ari": round(seed_ari, 4),
        "unthemed_share": round(unthemed_share(first), 4),
    }


def small(out: dict) -> None:
    incidents, _ = redact_incidents(generate(40, seed=4).incidents)
    model = fit_themes(incidents, k="auto", seed=0)
    a = apply_themes(model, incidents)
    print(
        f"40 incidents: {model.n_themes_} themes, unthemed {unthemed_share(a):.2f}, notes {model.notes_}"
    )
    out["small40"] = {"k": model.n_themes_, "unthemed_share": round(unthemed_share(a), 3)}


def speed(out: dict, n: int) -> None:
    incidents, _ = redact_incidents(generate(n, seed=21).incidents)
    texts = incidents["narrative"]
    start = time.perf_counter()
    TfidfVectorizer().fit_transform(texts)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    model = fit_themes(incidents, k="auto", seed=0)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    a = apply_themes(model, incidents)
    apply_s = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    total = fit_s + apply_s
    print(
        f"speed n={n}: fit {fit_s:.1f}s (k={model.n_themes_}, auto + stability) + apply {apply_s:.1f}s "
        f"= {total:.1f}s; apply {n / apply_s:,.0f} narratives/s; peak RSS {peak_gb:.2f} GB "
        f"(whole process); TfidfVectorizer floor {floor:.1f}s, ratio {total / floor:.1f}x"
    )
    out["speed"] = {
        "n": n,
        "fit_s": round(fit_s, 2),
        "apply_s": round(apply_s, 2),
        "total_s": round(total, 2),
        "apply_per_s": round(n / apply_s),
        "peak_rss_gb": round(peak_gb, 2),
        "tfidf_floor_s": round(floor, 2),
        "ratio_to_floor": round(total / floor, 2),
        "k": model.n_themes_,
        "unthemed_share": round(unthemed_share(a), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="narratives for the speed run")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    out: dict = {}
    if not args.skip_speed:
        speed(out, args.n)  # first, so peak memory is the speed run's own
    if not args.skip_real:
        real_text(out)
    planted(out)
    small(out)
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
