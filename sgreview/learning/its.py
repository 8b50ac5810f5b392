"""Segmented (interrupted time series) count regression for an action's effect.

A board reads "improved" as a claim that the action changed something. A pooled before/after
rate ratio with an exact Poisson test cannot carry that claim on real incident counts: they
trend, they are over-dispersed (a few people self-harm repeatedly), and actions are agreed
after a spike, so counts fall back anyway. Simulated null series gave 12-25% false
"improved" with the pooled test (issue 9). This module fits, with statsmodels:

``log E[y_t] = log(exposure_t) + b0 + b1 t + b2 after_t [+ season]``

a quasi-Poisson GLM (Poisson mean, variance ``phi x mean``; :func:`dispersion_and_df`) on
the baseline and after periods only. ``exp(b2)`` is the rate
ratio after/before allowing for the pre-existing trend (estimated jointly from both
segments, so the action is assumed to move the level, not the slope: a slope change cannot
be told from a trend on the short series safeguarding teams have). Intervals and p values
use the same Wald t statistic (Satterthwaite degrees of freedom), so a 95% interval
excludes 1 exactly when p < 0.05, and a multiplicity adjustment is applied to both.

With a comparison series (the same theme in all other localities combined) the model is a
controlled interrupted time series: each series has its own intercept and trend, a common
"after" term takes up organisation-wide changes, and the effect is the extra change in the
action's series (a difference in differences on the log scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats

#: Seasonality (one sine/cosine pair over 12 months) needs at least this many modelled months.
MIN_MONTHS_FOR_SEASON = 24
MIN_BASELINE_FOR_TREND = 12
#: ``trend="auto"`` fits a pre-trend only with at least this many baseline periods: with
#: fewer, a trend cannot be told apart from the change across the transition gap, and the
#: interval becomes uselessly wide (a 65% fall on 80 vs 57 incidents gave 0.09 to 1.6).


@dataclass(frozen=True)
class SegmentedFit:
    """One fitted effect: rate ratio with its interval and p value from the same t test."""

    rate_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    level: float
    dispersion: float
    df_resid: int
    method: str


def _season(t: np.ndarray, month: np.ndarray | None) -> np.ndarray:
    m = (t if month is None else month).astype(float)
    return np.column_stack([np.sin(2 * np.pi * m / 12), np.cos(2 * np.pi * m / 12)])


def segmented_effect(
    y,
    exposure,
    after,
    *,
    t=None,
    month=None,
    comparison_y=None,
    comparison_exposure=None,
    seasonality: bool = False,
    trend: bool | str = "auto",
    level: float = 0.95,
) -> SegmentedFit:
    """Fit the segmented model to one series (and optionally a comparison series).

    ``y``, ``exposure`` and ``after`` (bool) cover the modelled periods only (baseline and
    after; transition periods already dropped); ``t`` is each period's index on the full
    period axis (gaps allowed), ``month`` its calendar month (1-12) for seasonality.
    ``comparison_*`` are the comparison series on the same periods. ``level`` is the
    (already multiplicity-adjusted) confidence level. Returns NaNs when the model cannot be
    fitted (no events on one side, too few periods).
    """
    y = np.asarray(y, dtype=float)
    e = np.asarray(exposure, dtype=float)
    after = np.asarray(after, dtype=bool)
    t = np.arange(len(y), dtype=float) if t is None else np.asarray(t, dtype=float)
    t = t - t.mean()
    use_trend = bool(trend) if trend != "auto" else int((~after).sum()) >= MIN_BASELINE_FOR_TREND
    cols = [np.ones_like(t), t, after.astype(float)]
    names = ["const", "trend", "after"]
    effect = "after"
    controlled = comparison_y is not None
    if controlled:
        yc = np.asarray(comparison_y, dtype=float)
        ec = np.asarray(comparison_exposure, dtype=float)
        g = np.concatenate([np.ones_like(t), np.zeros_like(t)])
        tt, aa = np.concatenate([t, t]), np.concatenate([after, after]).astype(float)
        cols = [np.ones_like(tt), tt, aa, g, g * tt, g * aa]
        names = ["const", "trend", "after", "group", "group_trend", "group_after"]
        effect = "group_after"
    if not use_trend:
        keep_cols = [i for i, n in enumerate(names) if "trend" not in n]
        cols, names = [cols[i] for i in keep_cols], [names[i] for i in keep_cols]
    if controlled:
        y, e = np.concatenate([y, yc]), np.concatenate([e, ec])
        if month is not None:
            month = np.concatenate([np.asarray(month), np.asarray(month)])
        t = tt
    x = np.column_stack(cols)
    if seasonality and len(np.unique(t)) >= MIN_MONTHS_FOR_SEASON:
        x = np.column_stack([x, _season(t, None if month is None else np.asarray(month))])
        names += ["season_sin", "season_cos"]
    method = ("controlled segmented quasi-Poisson (other localities as comparison)" if controlled
              else "segmented quasi-Poisson") + (", seasonal" if "season_sin" in names else "")
    method += (", with pre-trend" if use_trend else
               f", no trend term (baseline under {MIN_BASELINE_FOR_TREND} periods)")
    nan = SegmentedFit(np.nan, np.nan, np.nan, np.nan, level, np.nan, 0, method)
    df_resid = len(y) - x.shape[1]
    n_own = len(after)
    y_own = y[:n_own]
    if df_resid < 2 or y_own[~after].sum() == 0 or (~after).sum() < 2 or after.sum() < 1:
        return nan
    try:
        fit = sm.GLM(y, x, family=sm.families.Poisson(), offset=np.log(e)).fit()
    except (ValueError, np.linalg.LinAlgError):  # perfect separation, singular design
        return nan
    k = names.index(effect)
    phi, df_eff = dispersion_and_df(y, fit.mu, fit.deviance, df_resid)
    se = float(fit.bse[k]) * np.sqrt(phi)
    b = float(fit.params[k])
    if not np.isfinite(se) or se <= 0:
        return nan
    tq = float(stats.t.ppf(0.5 + level / 2, df_eff))
    p = float(2 * stats.t.sf(abs(b / se), df_eff))
    return SegmentedFit(float(np.exp(b)), float(np.exp(b - tq * se)), float(np.exp(b + tq * se)),
                        p, level, phi, int(round(df_eff)), method)


def dispersion_and_df(y: np.ndarray, mu: np.ndarray, deviance: float, df_resid: int
                      ) -> tuple[float, float]:
    """Quasi-Poisson dispersion and the degrees of freedom its uncertainty leaves.

    Dispersion: the larger of the Pearson and deviance estimates, never below 1 (counts are
    not under-dispersed in practice, and a value below 1 would narrow the interval).
    Degrees of freedom: Satterthwaite's effective df of the Pearson estimate,
    ``df x 2 / (2 + excess kurtosis of the Pearson residuals)``, between 2 and ``df``. With
    heavy-tailed counts (a few people with many incidents) the dispersion is itself
    uncertain; plain ``t(df)`` intervals then gave 5-6% false verdicts at 95% on simulated
    null series with variance 3 x mean (benchmarks/bench_action_effects.py), this gives
    under 5%.
    """
    r = (y - mu) / np.sqrt(mu)
    pearson = float(np.sum(r**2) / df_resid)
    phi = max(1.0, pearson, float(deviance) / df_resid)
    m2 = float(np.mean(r**2))
    kurt = float(np.mean(r**4) / m2**2 - 3) if m2 > 0 else 0.0
    df_eff = float(np.clip(df_resid * 2 / (2 + max(kurt, 0.0)), 2, df_resid))
    return phi, df_eff
