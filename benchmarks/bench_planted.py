"""Planted demo signals still found with the honest statistics (issue 9), over 10 seeds.

Run on purpose (not part of the test suite)::

    .venv/bin/python benchmarks/bench_planted.py            # seeds 0-9
    .venv/bin/python benchmarks/bench_planted.py --seeds 3  # quicker

For each generator seed (6,000 synthetic incidents, true themes, the generator's
denominators and actions register):

* raised share: the planted locality x theme is an ``alarm_high`` on the funnel (leave-one-out
  target, most recent 12 months), and its exact one-sided P;
* rise: the planted series is charted XmR, a sustained-shift step is found within two
  months of the planted start, and the limits are recalculated from it;
* post-action fall: the planted action's effect from the segmented model is ``improved``;
  the other completed actions' verdicts are counted too (none has a planted change).

Prints numbers only.
"""

from __future__ import annotations

import argparse
from collections import Counter

import pandas as pd

from sgreview.compare import compare
from sgreview.learning import action_effects, load_actions
from sgreview.synth import generate


def one_seed(seed: int) -> dict:
    data = generate(6000, seed=seed)
    sig = data.signals
    a = data.truth.rename(columns={"theme": "theme_id"}).assign(theme_label=lambda x: x["theme_id"])
    result = compare(a, denominators=data.denominators, unit="occupied_bed_days")
    f = result.funnel.set_index(["theme_id", "locality"])
    raised = f.loc[(sig["raised_share"]["theme"], sig["raised_share"]["locality"])]
    spc = result.spc
    rise = sig["rising"]
    series = spc[(spc["theme_id"] == rise["theme"]) & (spc["locality"] == rise["locality"])]
    steps = series.loc[series["step"], "period_start"]
    start = pd.Timestamp(rise["start_month"])
    step_ok = bool(len(steps)) and abs((steps.iloc[0] - start).days) <= 62
    acts = load_actions(data.actions, today=sig["as_of"])
    eff = action_effects(acts, a, denominators=data.denominators,
                         denominator_unit="occupied_bed_days").set_index("action_id")
    fall = sig["falling"]["action_id"]
    others = eff.drop(index=fall)
    others = others[others["status"] == "completed"]
    return {
        "raised_flag": raised["flag"], "raised_p": float(raised["p_high"]),
        "rise_chart": series["chart"].iloc[0], "rise_step": step_ok,
        "rise_centres": (float(series["centre"].iloc[0]), float(series["centre"].iloc[-1])),
        "fall_effect": eff.loc[fall, "effect"], "fall_rr": float(eff.loc[fall, "rate_ratio"]),
        "fall_ci": (float(eff.loc[fall, "ci_low"]), float(eff.loc[fall, "ci_high"])),
        "other_effects": Counter(others["effect"]),
        "spc_charts": Counter(spc.drop_duplicates(["theme_id", "locality"])["chart"]),
        "too_few": result.funnel.attrs["summary"]["too_few"],
        "judged": result.funnel.attrs["summary"]["judged"],
        "alarms": result.funnel.attrs["summary"]["alarms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    rows = []
    for seed in range(args.seeds):
        r = one_seed(seed)
        rows.append(r)
        print(f"seed {seed}: raised {r['raised_flag']} (P {r['raised_p']:.1e}); rise "
              f"{r['rise_chart']} step {'found' if r['rise_step'] else 'MISSED'} (centre "
              f"{r['rise_centres'][0]:.2f} -> {r['rise_centres'][1]:.2f}); fall {r['fall_effect']} "
              f"RR {r['fall_rr']:.2f} ({r['fall_ci'][0]:.2f}-{r['fall_ci'][1]:.2f}); other "
              f"completed actions {dict(r['other_effects'])}; funnel {r['judged']} judged, "
              f"{r['too_few']} too few, {r['alarms']} alarms; charts {dict(r['spc_charts'])}")
    n = len(rows)
    print(f"\nraised share alarm: {sum(r['raised_flag'] == 'alarm_high' for r in rows)}/{n}; "
          f"rise step found: {sum(r['rise_step'] for r in rows)}/{n}; "
          f"post-action fall improved: {sum(r['fall_effect'] == 'improved' for r in rows)}/{n}")
    other = sum((r["other_effects"] for r in rows), Counter())
    print(f"other completed actions (no planted change): {dict(other)}")


if __name__ == "__main__":
    main()
