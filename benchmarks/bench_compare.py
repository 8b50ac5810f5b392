"""Benchmark the comparison stage: speed, planted signals, false alarms, a real corpus.

Run on purpose (not part of the test suite)::

    .venv/bin/python benchmarks/bench_compare.py            # everything
    .venv/bin/python benchmarks/bench_compare.py --quick    # fewer seeds

Prints numbers only; writes nothing into the repository.

1. Speed: 100k incidents x 20 themes x 50 localities x 36 months through ``compare()``
   (target <= 10 s on 2 cores), and ``write_comparison()`` separately.
2. Planted signals on the synthetic demo data (seed 42, then other seeds): the raised
   locality alarms on the funnel; the rising trend is special cause; the post-action fall
   is special cause against the pre-action baseline, then rebased.
3. Null data: share of theme x locality cells flagged on synthetic data with no signal
   (7 localities, the demo shape) and on a 50-locality multinomial null where the
   over-dispersion adjustment can act. Nominal: 5% outside 95%, 0.2% outside 99.8%.
4. ../shared/data/pfd_dev (coroners' Prevention of Future Deaths reports, when present):
   which coroner areas the funnel flags for suicide- and mental-health-like reports,
   unadjusted and with the default adjustment. Area names are public; no text is read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sgreview.compare import compare, write_comparison
from sgreview.funnel import funnel_units
from sgreview.spc import change_after

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _synthetic_null(n: int, themes: int, localities: int, months: int, seed: int) -> pd.DataFrame:
    """Every locality has the same theme mix; sizes differ (log-normal)."""
    rng = np.random.default_rng(seed)
    sizes = rng.lognormal(0, 0.6, localities)
    locs = np.array([f"L{i:02d}" for i in range(localities)])
    mix = rng.dirichlet(np.full(themes, 3.0))
    theme_ids = np.array([f"T{i:02d}" for i in range(themes)])
    start = pd.Timestamp("2022-01-01")
    days = (start + pd.DateOffset(months=months) - start).days
    return pd.DataFrame({
        "incident_id": np.arange(n).astype(str),
        "locality": rng.choice(locs, n, p=sizes / sizes.sum()),
        "incident_date": start + pd.to_timedelta(rng.integers(0, days, n), unit="D"),
        "theme_id": rng.choice(theme_ids, n, p=mix),
        "theme_label": "theme",
        "score": 1.0,
    })


def bench_speed() -> None:
    a = _synthetic_null(100_000, 20, 50, 36, seed=1)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = compare(a)
        times.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_comparison(result, Path(tmp) / "comparison")
        t_write = time.perf_counter() - t0
    print(f"speed: compare() 100k incidents x 20 themes x 50 localities x 36 months: "
          f"median {np.median(times):.2f} s (runs {', '.join(f'{t:.2f}' for t in times)}); "
          f"write_comparison {t_write:.2f} s; {len(result.spc):,} SPC points, "
          f"{len(result.funnel):,} funnel cells")


def _truth_assignments(truth: pd.DataFrame) -> pd.DataFrame:
    a = truth.rename(columns={"theme": "theme_id"}).assign(theme_label=lambda x: x["theme_id"])
    a.loc[a["theme_id"] == "uninformative", "theme_id"] = "T00"
    return a


def bench_planted(seeds: list[int]) -> None:
    from sgreview.synth import generate

    hits = {"raised_alarm": 0, "rising_special": 0, "fall_improved": 0}
    for seed in seeds:
        data = generate(seed=seed)
        sig = data.signals
        result = compare(_truth_assignments(data.truth))
        f = result.funnel.set_index(["theme_id", "locality"])
        raised = f.loc[(sig["raised_share"]["theme"], sig["raised_share"]["locality"])]
        spc = result.spc
        rise = sig["rising"]
        r = spc[(spc.theme_id == rise["theme"]) & (spc.locality == rise["locality"])]
        r_after = r[r["period"] >= rise["start_month"]]
        fall = sig["falling"]
        s = spc[(spc.theme_id == fall["theme"]) & (spc.locality == fall["locality"])]
        eff = change_after(pd.Series(s["value"].to_numpy(), index=pd.DatetimeIndex(s["period_start"])),
                           fall["completion_date"], improvement_direction="decrease")
        hits["raised_alarm"] += raised["flag"] == "alarm_high"
        # A step up reads as special cause high after the change, or (the mean being pulled
        # up by the later months) as a shift below the mean before it.
        high = r["special_cause_type"].str.contains("Above|Increasing")
        low = r["special_cause_type"].str.contains("Below|Decreasing")
        later = r["period"] >= rise["start_month"]
        hits["rising_special"] += bool((r["special_cause"] & ((high & later) | (low & ~later))).any())
        hits["fall_improved"] += eff["effect"] == "improved"
        if seed == seeds[0]:
            other_alarms = result.funnel[result.funnel.flag.str.startswith("alarm")
                                         & ~((result.funnel.theme_id == sig["raised_share"]["theme"])
                                             & (result.funnel.locality == sig["raised_share"]["locality"]))]
            print(f"planted (seed {seed}): raised {sig['raised_share']['locality']} x "
                  f"{sig['raised_share']['theme']}: {raised['events']:.0f}/{raised['n']:.0f} = "
                  f"{raised['proportion']:.3f} vs target {raised['target']:.3f}, 99.8% upper "
                  f"{raised['upper998']:.3f} -> {raised['flag']} (adjustment {raised['adjustment']}, "
                  f"phi {raised['phi']:.2f}); other alarms: {len(other_alarms)} of "
                  f"{(result.funnel.theme_id != 'T00').sum()} cells")
            print(f"  rising {rise['locality']} x {rise['theme']} from {rise['start_month']}: "
                  f"{int(r_after['special_cause'].sum())}/{len(r_after)} later points special cause "
                  f"({', '.join(sorted(set(r_after.loc[r_after.special_cause, 'rule'])))})")
            print(f"  fall {fall['locality']} x {fall['theme']} after {fall['completion_date']}: "
                  f"baseline centre {eff['baseline']['centre']:.2f} (limits {eff['baseline']['lower']:.2f}"
                  f" to {eff['baseline']['upper']:.2f}), after {eff['after']['centre']:.2f}; "
                  f"{eff['effect']} ({eff['rule']}), rebased groups "
                  f"{eff['rebased']['rebase_group'].nunique()}")
    k = len(seeds)
    print(f"planted over {k} seeds: raised alarm {hits['raised_alarm']}/{k}, rising special cause "
          f"{hits['rising_special']}/{k}, fall improved {hits['fall_improved']}/{k}")


def _flag_shares(flags: pd.Series) -> str:
    alarm = flags.str.startswith("alarm").mean()
    alert = flags.str.startswith("alert").mean()
    return (f"outside 95%: {100 * (alarm + alert):.2f}% (nominal 5%), outside 99.8%: "
            f"{100 * alarm:.2f}% (nominal 0.2%)")


def bench_null(seeds: list[int]) -> None:
    from sgreview.synth import generate

    flags, adjusted = [], 0
    spc_any = []
    for seed in seeds:
        result = compare(_truth_assignments(generate(seed=seed, signals=False).truth))
        f = result.funnel[result.funnel.theme_id != "T00"]
        flags.append(f["flag"])
        adjusted += (f.groupby("theme_id")["adjustment"].first() != "none").sum()
        latest = result.special_cause
        spc_any.append(latest["latest_special_cause"].sum() / max(1, result.spc.groupby(
            ["theme_id", "locality"]).ngroups))
    flags = pd.concat(flags)
    print(f"null synth ({len(seeds)} seeds, 7 localities, {len(flags)} cells): {_flag_shares(flags)}; "
          f"themes adjusted {adjusted}; SPC series with special cause at the latest point "
          f"{100 * np.mean(spc_any):.1f}%")
    big, adj = [], []
    for seed in seeds:
        result = compare(_synthetic_null(60_000, 20, 50, 36, seed=100 + seed))
        f = result.funnel[result.funnel.theme_id != "T00"]
        big.append(f["flag"])
        adj.append(f.groupby("theme_id")["adjustment"].first())
    big = pd.concat(big)
    adj = pd.concat(adj)
    print(f"null multinomial ({len(seeds)} seeds, 50 localities, {len(big)} cells): "
          f"{_flag_shares(big)}; themes adjusted {(adj != 'none').sum()}/{len(adj)}")


def bench_pfd() -> None:
    path = SHARED / "data" / "pfd_dev" / "pfd_reports_2013_2019.csv"
    if not path.is_file():
        print("pfd_dev: absent, skipped")
        return
    d = pd.read_csv(path, usecols=["date", "area", "categories", "research_tags", "is_text_duplicate"])
    d = d[~d["is_text_duplicate"].astype(bool)]
    cats = d["categories"].fillna("")
    tags = d["research_tags"].fillna("")
    indicators = {
        "suicide-like (Suicide category or research tag)":
            cats.str.contains("Suicide") | tags.str.contains("Suicide"),
        "mental-health-like (Mental Health category)": cats.str.contains("Mental Health"),
    }
    per_area = d.groupby("area").size()
    print(f"pfd_dev: {len(d)} reports, {len(per_area)} coroner areas")
    for name, hit in indicators.items():
        events = hit.groupby(d["area"]).sum().reindex(per_area.index).to_numpy(float)
        n = per_area.to_numpy(float)
        for adjustment in ("none", "auto"):
            rows, disp = funnel_units(events, n, adjustment=adjustment)
            rows.index = per_area.index
            alarms = rows[rows.flag.str.startswith("alarm")]
            alerts = rows[rows.flag.str.startswith("alert")]
            listed = "; ".join(f"{a} {r.events:.0f}/{r.n:.0f} ({r.flag})"
                               for a, r in pd.concat([alarms, alerts]).iterrows())
            print(f"  {name}, adjustment {adjustment} -> {disp['adjustment']} "
                  f"(phi {disp['phi']:.2f}, tau2 {disp['tau2']:.4f}, p {disp['p_value']:.2g}; "
                  f"target {disp['target']:.3f}): {len(alarms)} alarms, {len(alerts)} alerts"
                  + (f": {listed}" if listed else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds")
    args = parser.parse_args()
    seeds = list(range(3 if args.quick else 10))
    bench_speed()
    bench_planted([42, *[s for s in seeds if s != 42]])
    bench_null(seeds)
    bench_pfd()


if __name__ == "__main__":
    main()
