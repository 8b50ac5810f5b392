"""Null calibration and power of the action-effect model (issue 9), by simulation.

Run on purpose (not part of the test suite)::

    .venv/bin/python benchmarks/bench_action_effects.py            # 1,000 series each
    .venv/bin/python benchmarks/bench_action_effects.py --n 200    # quicker

Each simulated action has 24 months of data before it was agreed, 3 months between agreement
and completion, and 12 months after completion (39 months), at a mean of ``--mean`` incidents a
month (5 by default: one locality's theme). Scenarios, each with ``--n`` series and no true
change unless stated:

* ``poisson``: independent Poisson counts;
* ``poisson+spike``: the 3 months before agreement at twice the rate (the spike that
  triggered the action);
* ``overdispersed``: negative binomial counts with variance 3 times the mean;
* ``overdispersed+spike``: both;
* each once with a comparison series (other localities, 4 times larger, no change) as the
  model uses when other localities exist (controlled ITS).

The model is the one :func:`sgreview.learning.action_effects` uses: the same baseline and
after windows (``RUN_UP_MONTHS`` left out before agreement), :func:`segmented_effect` and
:func:`verdict`, at 95% (one action). Reported: the share of false ``improved`` and false
``worse`` (target: together at most 5% in every scenario), and the power to call a planted
40% fall over the 12 post-action months ``improved``. The old pooled exact test is shown for
comparison. Prints numbers only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sgreview.learning.actions import RUN_UP_MONTHS, rate_ratio, verdict
from sgreview.learning.its import segmented_effect

BASE, TRANSITION, AFTER = 24, 3, 12


def _counts(rng, mu: np.ndarray, overdispersed: bool) -> np.ndarray:
    if overdispersed:  # NB with var = mu + mu^2/r = 3 mu  ->  r = mu / 2
        r = mu / 2
        return rng.negative_binomial(r, r / (r + mu))
    return rng.poisson(mu)


def simulate(rng, n: int, mean: float, *, overdispersed: bool, spike: bool, fall: float = 1.0,
             controlled: bool = False) -> dict:
    total = BASE + TRANSITION + AFTER
    t = np.arange(total)
    before = t < BASE - RUN_UP_MONTHS
    after = t >= BASE + TRANSITION
    keep = before | after
    out = {"improved": 0, "worse": 0, "no_change": 0, "inconclusive": 0, "pooled_improved": 0,
           "pooled_worse": 0}
    for _ in range(n):
        mu = np.full(total, mean)
        if spike:
            mu[BASE - 3:BASE] *= 2
        mu[after] *= fall
        y = _counts(rng, mu, overdispersed)
        comp = _counts(rng, np.full(total, 4 * mean), overdispersed) if controlled else None
        fit = segmented_effect(y[keep], np.ones(keep.sum()), after[keep], t=t[keep],
                               comparison_y=None if comp is None else comp[keep],
                               comparison_exposure=None if comp is None else np.ones(keep.sum()))
        effect = "inconclusive" if np.isnan(fit.rate_ratio) else verdict(fit.ci_low, fit.ci_high)
        out[effect] += 1
        # The old method: pooled rate ratio after/before *completion*, exact conditional CI.
        old_before = t < BASE + TRANSITION - 1
        _, lo, hi, _ = rate_ratio(int(y[after].sum()), after.sum(), int(y[old_before].sum()),
                                  old_before.sum())
        out["pooled_improved"] += int(hi < 1)
        out["pooled_worse"] += int(lo > 1)
    return {k: v / n for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--mean", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{args.n} series per scenario, mean {args.mean:g} a month, {BASE} months before "
          f"agreement ({RUN_UP_MONTHS} left out as run-up), {TRANSITION} to completion, "
          f"{AFTER} after")
    print(f"{'scenario':34s} {'false impr':>10s} {'false worse':>11s} {'total':>6s} "
          f"{'power 40%':>9s} | {'old pooled: impr':>16s} {'worse':>6s}")
    start = time.perf_counter()
    for controlled in (False, True):
        for od in (False, True):
            for spike in (False, True):
                name = ("overdispersed" if od else "poisson") + ("+spike" if spike else "") + (
                    " (controlled)" if controlled else "")
                null = simulate(rng, args.n, args.mean, overdispersed=od, spike=spike,
                                controlled=controlled)
                power = simulate(rng, args.n, args.mean, overdispersed=od, spike=spike,
                                 fall=0.6, controlled=controlled)
                total = null["improved"] + null["worse"]
                print(f"{name:34s} {null['improved']:10.1%} {null['worse']:11.1%} {total:6.1%} "
                      f"{power['improved']:9.1%} | {null['pooled_improved']:16.1%} "
                      f"{null['pooled_worse']:6.1%}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
