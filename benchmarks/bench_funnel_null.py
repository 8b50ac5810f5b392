"""Funnel false alarms on null data, and on the real PFD reports by coroner area (issue 9).

Run on purpose (not part of the test suite)::

    .venv/bin/python benchmarks/bench_funnel_null.py              # null + PFD
    .venv/bin/python benchmarks/bench_funnel_null.py --reps 50    # quicker

1. Null data: 7, 20 and 70 groups of very unequal size (a third of them with 1-10
   incidents, the rest log-uniform up to 2,000), 12 themes with shares from 0.5% to 30%,
   every group drawing from the same theme mix (no real difference). Funnels as
   :func:`sgreview.funnel.funnel_table` builds them (leave-one-out target, exact tests,
   auto over-dispersion adjustment). Reported: alarms as a share of judged cells (target
   at most 0.2%), alarms on cells below the minimum expected count (target 0), and the share
   of cells too few to judge. The pooled target is shown for comparison.
2. ../shared/data/pfd_dev (coroners' Prevention of Future Deaths reports, 2013-2019, when
   present): reports grouped by coroner area, "theme" = the report's first category.
   Every alarm's exact one-sided tail probability against all other areas combined
   (Fisher) must be at most 0.001; reported with the number of too-few cells. All years
   (``comparison_months`` 0), since PFD reports are sparse. No text is read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sgreview.funnel import MIN_EXPECTED_TO_JUDGE, funnel_units

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARES = np.array([0.30, 0.18, 0.12, 0.1, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.015, 0.005])
SHARES = SHARES / SHARES.sum()


def _sizes(rng, groups: int) -> np.ndarray:
    small = max(1, groups // 3)
    tiny = rng.integers(1, 11, small)
    big = np.exp(rng.uniform(np.log(11), np.log(2000), groups - small)).round()
    return np.concatenate([tiny, big]).astype(int)


def null_alarms(groups: int, reps: int, seed: int, target: str) -> dict:
    rng = np.random.default_rng(seed)
    judged = alarms = alerts = too_few = cells = low_alarms = 0
    for _ in range(reps):
        n = _sizes(rng, groups)
        counts = np.array([rng.multinomial(k, SHARES) for k in n])  # groups x themes
        for j in range(len(SHARES)):
            rows, _ = funnel_units(counts[:, j], n, target=target)
            flag = rows["flag"]
            judged_mask = flag != "too_few"
            cells += len(flag)
            judged += int(judged_mask.sum())
            alarms += int(flag.str.startswith("alarm").sum())
            alerts += int(flag.str.startswith("alert").sum())
            too_few += int((~judged_mask).sum())
            low_alarms += int((flag.str.startswith("alarm")
                               & (rows["expected"] < MIN_EXPECTED_TO_JUDGE)).sum())
    return {"cells": cells, "judged": judged, "alarm_rate": alarms / max(judged, 1),
            "alert_rate": alerts / max(judged, 1), "too_few": too_few / cells,
            "alarms_below_min_expected": low_alarms}


def pfd(path: Path) -> None:
    from sgreview.funnel import funnel_table

    df = pd.read_csv(path, usecols=["ref", "date", "area", "categories"])
    df = df.dropna(subset=["area", "categories", "date"])
    theme = df["categories"].str.split("|").str[0].str.strip()
    a = pd.DataFrame({"incident_id": df["ref"].astype(str), "locality": df["area"].str.strip(),
                      "incident_date": pd.to_datetime(df["date"], errors="coerce"),
                      "theme_id": theme.str.slice(0, 40), "theme_label": theme})
    a = a.dropna(subset=["incident_date"]).drop_duplicates("incident_id")
    print(f"\nPFD: {len(a):,} reports, {a['locality'].nunique()} coroner areas (median "
          f"{a.groupby('locality').size().median():.0f} reports each), {a['theme_id'].nunique()} "
          "first categories")
    for target in ("leave_one_out", "pooled"):
        f = funnel_table(a, window_months=None, target=target)
        flag = f["flag"]
        alarms = f[flag.str.startswith("alarm")]
        # Exact one-sided tail P against all other areas combined (Fisher), for every alarm.
        tails = []
        for r in alarms.itertuples():
            n_theme = int(f.loc[f["theme_id"] == r.theme_id, "events"].sum())
            n_all = int(f.loc[f["theme_id"] == r.theme_id, "n"].sum())
            table = [[r.events, r.n - r.events], [n_theme - r.events, n_all - r.n - (n_theme - r.events)]]
            side = "greater" if r.flag.endswith("high") else "less"
            tails.append(stats.fisher_exact(table, side).pvalue)
        tails = np.array(tails)
        print(f"  {target:13s}: {len(f):,} cells, {int((flag == 'too_few').sum()):,} too few to judge "
              f"({(flag == 'too_few').mean():.0%}), {int(flag.isin(['alarm_high', 'alert_high', 'within', 'alert_low', 'alarm_low']).sum()):,} judged, "
              f"{len(alarms)} alarms, {int(flag.str.startswith('alert').sum())} alerts; alarms with "
              f"Fisher tail P > 0.001 vs other areas: {int((tails > 0.001).sum())}"
              + (f" (largest {tails.max():.3g})" if len(tails) else ""))
        if target == "leave_one_out" and len(alarms):
            for r, p in zip(alarms.itertuples(), tails, strict=True):
                print(f"    alarm: {r.theme_label[:45]:45s} {r.locality:32s} {int(r.events)} of "
                      f"{int(r.n)} (expected {r.expected:.1f}), Fisher P {p:.2g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"Null funnels: {len(SHARES)} themes, {args.reps} replicates per size")
    for groups in (7, 20, 70):
        for target in ("leave_one_out", "pooled"):
            r = null_alarms(groups, args.reps, args.seed + groups, target)
            print(f"  {groups:3d} groups, {target:13s}: {r['judged']:7,d} judged of {r['cells']:7,d} "
                  f"cells; alarms {r['alarm_rate']:.3%} of judged, alerts {r['alert_rate']:.2%}; "
                  f"too few {r['too_few']:.0%}; alarms below min expected: "
                  f"{r['alarms_below_min_expected']}")
    path = SHARED / "data" / "pfd_dev" / "pfd_reports_2013_2019.csv"
    if path.exists():
        pfd(path)
    else:
        print("\nPFD data absent: skipped")


if __name__ == "__main__":
    main()
