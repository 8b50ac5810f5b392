"""Funnel plots for comparing localities (or teams, or any group): Spiegelhalter (2005).

A small locality swings by chance and a large one always has the most incidents, so raw
counts and league tables mislead. A funnel plot sets each group's proportion (or rate per
bed day / caseload) against its size, with control limits that narrow as size grows. This
module computes those limits, the over-dispersion adjustment, and one flag per group.

Defaults (DOMAIN.md, Spiegelhalter 2005):

* Unadjusted limits are *exact* binomial (proportions) or Poisson (rates per exposure, O/E)
  limits, interpolated between whole counts as in Spiegelhalter (2005, appendix). A group
  is then outside a limit exactly when its exact tail probability is below 2.5% / 0.1%,
  which holds for small counts where the normal approximation does not.
  ``method="closed_form"`` gives the smooth DOMAIN.md / FunnelPlotR forms instead
  (``chi2(a/2; 2E)/2T`` and ``chi2(1-a/2; 2E+2)/2T`` with ``E = rate0 x T``, and the matching
  Beta quantiles for proportions); they are not the default because their lower limit is
  above zero even for a tiny group, so a group with 0 of 1 incidents would "alarm low".
* ``method="normal"`` gives ``p0 +/- z sqrt(p0(1-p0)/n)`` (or ``r0 +/- z sqrt(r0/T)``) only
  where it is valid (at least 5 expected events and non-events); elsewhere it stays exact.
* Over-dispersion: z-scores on the variance-stabilising scale (arcsine-root for
  proportions, square root for rates), winsorised at the 10th/90th percentiles;
  ``phi = mean(z^2)`` and the DerSimonian-Laird ``tau^2``. It is tested with
  ``I phi ~ chi2(I - 1)``; ``adjustment="auto"`` uses the additive (random-effects)
  adjustment when that test is significant at 5% and there are at least 10 units, else
  none (with a handful of localities, one unusual locality drives phi and the adjustment
  would hide it; choose ``"additive"`` or ``"multiplicative"`` explicitly to override).
  Adjusted limits are on the same scale, back-transformed: ``sin^2(asin(sqrt(p0)) +/- z sqrt(phi/4n + tau^2))``,
  truncated at 0 and 1 (not reflected), and never narrower than the exact limits (the
  arcsine scale is poor for small groups near 0: without this, 0 of 48 would "alert low"
  *because* of an adjustment meant to widen the limits).

:func:`funnelplotr` reproduces the NHS-R FunnelPlotR package (SR/SHMI, SR/CQC, PR, RC,
trimming and winsorising, its limit grid) so the numbers can be checked against it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sgreview.care_setting import fold_setting, incident_settings
from sgreview.errors import InputError, ParameterError
from sgreview.schema import UNTHEMED_ID as UNTHEMED

Z95 = 1.959964
Z998 = 3.090232
#: Alpha for 95% and 99.8% two-sided limits.
ALPHAS = {"95": 0.05, "998": 0.002}
#: The normal approximation is used only with at least this many expected events (and
#: non-events for proportions).
MIN_EXPECTED_FOR_NORMAL = 5
#: ``adjustment="auto"`` adjusts only with at least this many units: with fewer, one unusual
#: unit dominates phi and tau^2, and the adjustment absorbs the very signal it should show.
MIN_UNITS_FOR_ADJUSTMENT = 10
KINDS = ("proportion", "rate")
ADJUSTMENTS = ("auto", "none", "additive", "multiplicative")
#: ``too_few``: the expected count is too small for any count to reach the 99.8% limit.
TOO_FEW = "too_few"
FLAGS = ("alarm_high", "alert_high", "within", "alert_low", "alarm_low", TOO_FEW)
#: A group with no denominator for a rate funnel: reported, never dropped or judged.
NO_DENOMINATOR = "no_denominator"
#: Funnels compare the most recent 12 months by default (a parameter).
DEFAULT_WINDOW_MONTHS = 12
#: Targets: each unit against all others combined (default), or the pooled rate of all units.
TARGETS = ("leave_one_out", "pooled")
#: A unit whose expected count (its size x the others' rate) is below this is ``too_few``:
#: one or two incidents in a theme expected less than once are not evidence either way.
MIN_EXPECTED_TO_JUDGE = 1.0
LIMIT_COLUMNS = ["lower95", "upper95", "lower998", "upper998"]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")


def _closed_form(n: np.ndarray, target, kind: str, alpha: float):
    """Closed-form "exact" limits (DOMAIN.md, FunnelPlotR): chi-square for Poisson with the
    expected count in place of the observed, and the matching Beta form for binomial.
    ``target`` may be a scalar or one value per size (leave-one-out targets)."""
    target = np.broadcast_to(np.asarray(target, dtype=float), n.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "rate":
            e = target * n
            lo = stats.chi2.ppf(alpha / 2, 2 * e) / (2 * n)
            hi = stats.chi2.ppf(1 - alpha / 2, 2 * e + 2) / (2 * n)
            return np.where(e > 0, lo, 0.0), hi
        t = np.clip(target, 0.0, 1.0)
        a, b = n * t, n * (1 - t)
        lo = stats.beta.ppf(alpha / 2, a, b + 1)
        hi = stats.beta.ppf(1 - alpha / 2, a + 1, b)
        lo = np.where(t <= 0, 0.0, np.where(t >= 1, 1.0, lo))
        hi = np.where(t <= 0, 0.0, np.where(t >= 1, 1.0, hi))
        return lo, hi


def _interpolated(n: np.ndarray, target, kind: str, alpha: float):
    """Exact binomial / Poisson limits, interpolated between counts (Spiegelhalter 2005,
    appendix): with ``r`` the p-quantile count, the limit is ``(r - a) / n`` where
    ``a = (F(r) - p) / (F(r) - F(r - 1))``. These draw the funnel; flags come from the exact
    tail probabilities (:func:`tail_probabilities`), because at the largest possible count
    (1 of 1) the interpolated limit sits just below the value although its tail probability
    is large. Hand-written: scipy has the distributions but not this interpolation."""
    target = np.broadcast_to(np.asarray(target, dtype=float), n.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "proportion":
            dist = stats.binom(np.round(n).astype(np.int64), np.clip(target, 0.0, 1.0))
            cap = 1.0
        else:
            dist = stats.poisson(np.maximum(target, 0.0) * n)
            cap = np.inf
        out = []
        for p in (alpha / 2, 1 - alpha / 2):
            r = dist.ppf(p)
            f_r, f_below = dist.cdf(r), dist.cdf(r - 1)
            a = np.where(f_r > f_below, (f_r - p) / (f_r - f_below), 0.0)
            out.append(np.clip((r - a) / n, 0.0, cap))
    return out[0], out[1]


def _stabilised(n: np.ndarray, target, kind: str, z: float, phi: float, tau2: float):
    """Limits on the variance-stabilising scale, back-transformed and truncated."""
    target = np.asarray(target, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * np.sqrt(phi / (4 * n) + tau2)
    if kind == "proportion":
        y0 = np.arcsin(np.sqrt(np.clip(target, 0, 1)))
        lo = np.sin(np.clip(y0 - half, 0, np.pi / 2)) ** 2
        hi = np.sin(np.clip(y0 + half, 0, np.pi / 2)) ** 2
        return lo, hi
    y0 = np.sqrt(np.maximum(target, 0.0))
    return np.clip(y0 - half, 0, None) ** 2, (y0 + half) ** 2


def funnel_limits(
    n: np.ndarray,
    target,
    *,
    kind: str = "proportion",
    tau2: float = 0.0,
    phi: float = 1.0,
    method: str = "exact",
) -> pd.DataFrame:
    """95% and 99.8% funnel limits at each size ``n`` (incidents, or exposure for rates).

    Unadjusted (``phi == 1`` and ``tau2 == 0``): exact limits interpolated between counts
    (``method="exact"``; for proportions ``n`` is rounded to whole incidents), the closed
    forms (``"closed_form"``), or the normal approximation where it is valid
    (``"normal"``). Adjusted: the
    variance-stabilising scale with ``phi`` (multiplicative) and/or ``tau2`` (additive),
    because the exact binomial/Poisson model has no over-dispersed form, and never
    narrower than the exact limits. The ``method`` column says which was used at each size.
    ``target`` is one rate for every size, or one per size (the leave-one-out target).
    """
    _check_kind(kind)
    if method not in ("exact", "closed_form", "normal"):
        raise ParameterError(f"method must be 'exact', 'closed_form' or 'normal', not {method!r}")
    n = np.atleast_1d(np.asarray(n, dtype=float))
    out = {"n": n}
    adjusted = not (phi == 1.0 and tau2 == 0.0)
    if adjusted:
        used = np.full(n.shape, "arcsine" if kind == "proportion" else "sqrt", dtype=object)
    else:
        used = np.full(n.shape, "closed_form" if method == "closed_form" else "exact", dtype=object)
        if method == "normal":
            target = np.broadcast_to(np.asarray(target, dtype=float), n.shape)
            expected = n * target
            ok = expected >= MIN_EXPECTED_FOR_NORMAL
            if kind == "proportion":
                ok &= n * (1 - target) >= MIN_EXPECTED_FOR_NORMAL
            used[ok] = "normal"
    for key, z in (("95", Z95), ("998", Z998)):
        exact = _closed_form if method == "closed_form" else _interpolated
        if adjusted:
            # Over-dispersion only adds variance: never narrower than the exact limits, which
            # also covers small groups near 0 where the stabilised scale is poor.
            lo, hi = _stabilised(n, target, kind, z, phi, tau2)
            lo_exact, hi_exact = exact(n, target, kind, ALPHAS[key])
            lo, hi = np.fmin(lo, lo_exact), np.fmax(hi, hi_exact)
        else:
            lo, hi = exact(n, target, kind, ALPHAS[key])
            normal = used == "normal"
            if normal.any():
                var = target * (1 - target) / n if kind == "proportion" else target / n
                half = z * np.sqrt(var)
                lo = np.where(normal, target - half, lo)
                hi = np.where(normal, target + half, hi)
        out[f"lower{key}"] = lo
        out[f"upper{key}"] = hi
    out["method"] = used
    frame = pd.DataFrame(out)
    frame.loc[frame["n"] <= 0, LIMIT_COLUMNS] = np.nan
    return frame


def _winsorise(z: np.ndarray, trim: float) -> np.ndarray:
    lo, hi = np.quantile(z, [trim, 1 - trim])  # linear interpolation = R's type 7
    return np.clip(z, lo, hi)


def _dersimonian_laird(phi: float, w: np.ndarray) -> float:
    i = w.size
    denom = w.sum() - (w**2).sum() / w.sum()
    if i < 2 or denom <= 0:
        return 0.0
    return float(max(0.0, (i * phi - (i - 1)) / denom))


def dispersion(events, n, target: float, *, kind: str = "proportion", trim: float = 0.1) -> dict:
    """Over-dispersion of units around the target: ``phi``, ``tau2`` and a chi-square test.

    z-scores on the variance-stabilising scale, winsorised at ``trim`` and ``1 - trim``
    quantiles; ``phi = mean(z^2)``; ``tau2`` by DerSimonian-Laird with ``w = 1/s^2 = 4n``.
    Units with ``n == 0`` carry no information and are left out. With fewer than 3 units
    there is no usable estimate: ``phi = 1``, ``tau2 = 0``, not over-dispersed.
    """
    _check_kind(kind)
    events = np.asarray(events, dtype=float)
    n = np.asarray(n, dtype=float)
    use = n > 0
    e, m = events[use], n[use]
    i = int(use.sum())
    result = {"kind": kind, "scale": "arcsine" if kind == "proportion" else "sqrt",
              "trim": trim, "n_units": i}
    if i < 3 or target <= 0 or (kind == "proportion" and target >= 1):
        return result | {"phi": 1.0, "tau2": 0.0, "p_value": float("nan"), "overdispersed": False}
    if kind == "proportion":
        y, y0 = np.arcsin(np.sqrt(e / m)), np.arcsin(np.sqrt(target))
    else:
        y, y0 = np.sqrt(e / m), np.sqrt(target)
    s = 1 / (2 * np.sqrt(m))
    z = _winsorise((y - y0) / s, trim)
    phi = float(np.mean(z**2))
    tau2 = _dersimonian_laird(phi, 1 / s**2)
    p = float(stats.chi2.sf(i * phi, i - 1))
    return result | {"phi": phi, "tau2": tau2, "p_value": p, "overdispersed": bool(p < 0.05)}


def flag_values(value: np.ndarray, limits: pd.DataFrame) -> np.ndarray:
    """``alarm_*`` outside 99.8%, ``alert_*`` outside 95%, else ``within`` (strictly outside)."""
    v = np.asarray(value, dtype=float)
    return np.select(
        [v > limits["upper998"].to_numpy(), v > limits["upper95"].to_numpy(),
         v < limits["lower998"].to_numpy(), v < limits["lower95"].to_numpy()],
        ["alarm_high", "alert_high", "alarm_low", "alert_low"],
        default="within",
    ).astype(object)


def choose_adjustment(adjustment: str, disp: dict) -> str:
    """The adjustment actually used: ``auto`` becomes ``additive`` or ``none``."""
    if adjustment not in ADJUSTMENTS:
        raise ParameterError(f"adjustment must be one of {', '.join(ADJUSTMENTS)}, not {adjustment!r}")
    if adjustment == "auto":
        enough = disp["n_units"] >= MIN_UNITS_FOR_ADJUSTMENT
        return "additive" if disp["overdispersed"] and enough else "none"
    return adjustment


def tail_probabilities(events, n, *, kind: str = "proportion", target: str = "leave_one_out",
                       pooled: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact one-sided tail probabilities ``P(X >= x)`` and ``P(X <= x)`` for each unit.

    ``target="leave_one_out"``: the unit against all other units combined, conditionally on
    the theme's total, so the others' rate is not treated as known. Proportions: the
    hypergeometric tails of the 2 x 2 table (one-sided Fisher exact test). Rates: given the
    total count, the unit's count is Binomial(total, T / (T + T_others)) when the rates are
    equal. ``target="pooled"``: Binomial(n, p0) or Poisson(p0 T) tails around the pooled rate
    ``pooled`` (the FunnelPlotR / Spiegelhalter convention).
    """
    x = np.round(np.asarray(events, dtype=float))  # counts: a fractional one is rounded
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if target == "pooled":
            p0 = float(pooled if pooled is not None else x.sum() / n.sum())
            dist = (stats.binom(np.round(n).astype(np.int64), min(max(p0, 0.0), 1.0))
                    if kind == "proportion" else stats.poisson(max(p0, 0.0) * n))
        elif kind == "proportion":
            big_n = np.round(n.sum()).astype(np.int64)
            dist = stats.hypergeom(big_n, np.round(x.sum()).astype(np.int64),
                                   np.round(n).astype(np.int64))
        else:
            total = np.round(x.sum()).astype(np.int64)
            share = np.where(n.sum() > 0, n / n.sum(), 0.0)
            dist = stats.binom(np.full(n.shape, total), np.clip(share, 0.0, 1.0))
        p_high = np.clip(dist.sf(x - 1), 0.0, 1.0)
        p_low = np.clip(dist.cdf(x), 0.0, 1.0)
    return p_high, p_low


def _reachable(n, x_total, kind: str, target: str, target_i, alpha: float) -> np.ndarray:
    """Whether any count in this unit could reach the ``alpha`` one-sided level, low or high.

    Uses the same test as the flags: the most extreme possible counts (all or none of the
    theme's incidents, as far as the unit's size allows) and their tail probabilities.
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if target == "pooled":
            if kind == "proportion":
                hi = np.power(np.clip(target_i, 0, 1), n)
                lo = np.power(np.clip(1 - target_i, 0, 1), n)
            else:
                hi = np.zeros_like(n)  # a Poisson count has no upper bound
                lo = np.exp(-target_i * n)
        elif kind == "proportion":
            big_n, k = n.sum(), float(x_total)
            nn = np.round(n).astype(np.int64)
            dist = stats.hypergeom(int(round(big_n)), int(round(k)), nn)
            x_max = np.minimum(nn, k)
            x_min = np.maximum(0, k - (big_n - nn))
            hi, lo = dist.sf(x_max - 1), dist.cdf(x_min)
        else:
            share = np.clip(n / n.sum(), 0.0, 1.0)
            hi, lo = np.power(share, x_total), np.power(1 - share, x_total)
    return (hi < alpha) | (lo < alpha)


def funnel_units(
    events,
    n,
    *,
    kind: str = "proportion",
    adjustment: str = "auto",
    method: str = "exact",
    trim: float = 0.1,
    target: str = "leave_one_out",
) -> tuple[pd.DataFrame, dict]:
    """Limits and flags for one indicator across units; returns (rows, dispersion info).

    ``target="leave_one_out"`` (default) judges each unit against all *other* units
    combined, so one extreme unit does not move the target and flag its neighbours;
    ``"pooled"`` uses the rate of all units together (FunnelPlotR, Spiegelhalter 2005).
    Flags come from exact tail probabilities (:func:`tail_probabilities`): ``alarm`` when
    the one-sided probability is below 0.1% (outside 99.8%), ``alert`` below 2.5% (outside
    95%). A unit is ``too_few`` (never alarm or within) when its expected count is below
    :data:`MIN_EXPECTED_TO_JUDGE`, or when no count it could have would reach the 99.8%
    level on either side. With an over-dispersion adjustment the value must also lie
    outside the adjusted limits.

    Rows: ``events, n, proportion, target, target_pooled, expected, lower95, upper95,
    lower998, upper998, p_high, p_low, flag, limit_method``; ``target`` and the limits are
    at each unit's own target. The dispersion dict gains ``adjustment`` (the one used) and
    ``target_method``.
    """
    if target not in TARGETS:
        raise ParameterError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    events = np.asarray(events, dtype=float)
    n = np.asarray(n, dtype=float)
    total = n.sum()
    pooled = float(events.sum() / total) if total > 0 else float("nan")
    disp = dispersion(events, n, pooled, kind=kind, trim=trim)
    used = choose_adjustment(adjustment, disp)
    phi = disp["phi"] if used == "multiplicative" and disp["phi"] > 1 else 1.0
    tau2 = disp["tau2"] if used == "additive" else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if target == "leave_one_out":
            rest_n = total - n
            own = np.where(rest_n > 0, (events.sum() - events) / rest_n, np.nan)
        else:
            own = np.full(n.shape, pooled)
        value = np.where(n > 0, events / n, np.nan)
    if np.isnan(pooled):
        limits = pd.DataFrame(np.nan, index=range(len(n)), columns=LIMIT_COLUMNS).assign(method="")
    else:
        limits = funnel_limits(n, np.nan_to_num(own, nan=pooled), kind=kind, tau2=tau2, phi=phi,
                               method=method)
        limits.loc[np.isnan(own), LIMIT_COLUMNS] = np.nan
    p_high, p_low = tail_probabilities(events, n, kind=kind, target=target, pooled=pooled)
    expected = own * n
    rows = pd.DataFrame({"events": events, "n": n, "proportion": value, "target": own,
                         "target_pooled": pooled, "expected": expected})
    for col in LIMIT_COLUMNS:
        rows[col] = limits[col].to_numpy()
    rows["p_high"], rows["p_low"] = p_high, p_low
    flag = np.select(
        [p_high < ALPHAS["998"] / 2, p_high < ALPHAS["95"] / 2,
         p_low < ALPHAS["998"] / 2, p_low < ALPHAS["95"] / 2],
        ["alarm_high", "alert_high", "alarm_low", "alert_low"], default="within").astype(object)
    if used != "none" and not np.isnan(pooled):
        # Over-dispersion adds variance: a flag must also clear the adjusted limits, so the
        # weaker of the two readings (same side) is kept.
        level = {"alarm_high": 2, "alert_high": 1, "within": 0, "alert_low": -1, "alarm_low": -2}
        a = pd.Series(flag).map(level).to_numpy()
        b = pd.Series(flag_values(value, limits)).map(level).to_numpy()
        both = np.where(np.sign(a) == np.sign(b), np.sign(a) * np.minimum(abs(a), abs(b)), 0)
        flag = pd.Series(both).map({v: k for k, v in level.items()}).to_numpy(dtype=object)
    reach = _reachable(n, events.sum(), kind, target, own, ALPHAS["998"] / 2)
    judged = ((n > 0) & np.isfinite(own) & (expected >= MIN_EXPECTED_TO_JUDGE) & reach
              & np.isfinite(p_high) & np.isfinite(p_low))
    rows["flag"] = np.where(judged, flag, TOO_FEW)
    rows["limit_method"] = limits["method"].to_numpy()
    disp = disp | {"adjustment": used, "target": pooled, "target_method": target,
                   "phi_used": phi, "tau2_used": tau2,
                   "adjustment_note": _adjustment_note(adjustment, used, disp)}
    return rows, disp


def _adjustment_note(asked: str, used: str, disp: dict) -> str:
    if asked != "auto":
        return f"{used} (chosen by the user)"
    if used == "additive":
        return "additive: over-dispersion test significant (p < 0.05)"
    if disp["overdispersed"]:
        return (f"none: over-dispersed but only {disp['n_units']} units "
                f"(< {MIN_UNITS_FOR_ADJUSTMENT}) to estimate it")
    return "none: no significant over-dispersion"


# --- FunnelPlotR-compatible calculation (for checking numbers against the package) -------


def funnelplotr(
    df: pd.DataFrame,
    *,
    numerator: str = "numerator",
    denominator: str = "denominator",
    group: str = "group",
    data_type: str = "SR",
    sr_method: str = "SHMI",
    limit: int = 99,
    draw_unadjusted: bool = False,
    draw_adjusted: bool = True,
    multiplier: float = 1.0,
    trim_by: float = 0.1,
    shmi_rounding: bool = True,
) -> dict:
    """The numbers NHS-R FunnelPlotR 0.6.0's ``funnel_plot()`` returns, for reference tests.

    Returns ``{"units", "limits", "phi", "tau2", "target", "n_units_used",
    "draw_adjusted", "draw_unadjusted", "outliers"}`` where ``units`` matches the package's
    ``aggregated_data`` and ``limits`` its ``limits_lookup`` grid. It copies the package's
    quirks on purpose (CQC adjusted limits not squared back, the PR grid monotonicity fix,
    SHMI rounding and rank truncation); sgreview's own funnels use :func:`funnel_units`.
    """
    if data_type not in ("SR", "PR", "RC") or sr_method not in ("SHMI", "CQC"):
        raise ParameterError("data_type must be SR, PR or RC and sr_method SHMI or CQC")
    if limit not in (95, 99):
        raise ParameterError("limit must be 95 or 99")
    # R's aggregate(FUN = sum) accumulates in long double, which for record-level input is
    # the correctly rounded sum; math.fsum gives that. A naive or compensated double sum can
    # differ in the last bit, and for SHMI that flips round(E, 2) at x.xx5 boundaries (about
    # 1.6% of groups of seven 3-decimal records), which changes z-scores and phi.
    import math

    agg = (
        df.groupby(group, sort=True)[[numerator, denominator]]
        .agg(lambda v: math.fsum(v.to_numpy(float)))
        .rename(columns={numerator: "numerator", denominator: "denominator"})
    )
    shmi = data_type == "SR" and sr_method == "SHMI"
    o = agg["numerator"].to_numpy(float)
    # The ratio uses the denominator as given; everything after uses the rounded one.
    agg["rr"] = o / agg["denominator"].to_numpy(float)
    if shmi and shmi_rounding:
        agg["denominator"] = r_round(agg["denominator"].to_numpy(float), 2)
    d = agg["denominator"].to_numpy(float)
    target = 1.0 if data_type == "SR" else float(o.sum() / d.sum())

    if data_type == "SR" and sr_method == "SHMI":
        t_t, y = 0.0, np.log(o / d)
        uz = np.sqrt(d) * y
        s_z = 1 / np.sqrt(d)
    elif data_type == "SR":
        t_t, y = 1.0, np.sqrt(o / d)
        s_z = 1 / (2 * np.sqrt(d))
        uz = (y - t_t) / s_z
    elif data_type == "PR":
        t_t, y = float(np.arcsin(np.sqrt(target))), np.arcsin(np.sqrt(o / d))
        s_z = 1 / (2 * np.sqrt(d))
        uz = (y - t_t) / s_z
    else:
        t_t, y = float(np.log(target)), np.log((o + 0.5) / (d + 0.5))
        s_z = np.sqrt(o / (o + 0.5) ** 2 + d / (d + 0.5) ** 2)
        uz = (y - t_t) / s_z
    agg["target_transformed"] = t_t
    agg["Y"] = y
    agg["Uzscore"] = uz
    if shmi:
        k = len(uz)
        rk = stats.rankdata(uz, method="average")
        sp = np.floor(rk * 10 / (k + 1))
        truncated = (sp <= 0) | (sp >= 9)
        agg["rk"], agg["sp"], agg["truncated"] = rk, sp, truncated.astype(int)
        wz = np.where(truncated, np.nan, uz)
    else:
        lo, hi = np.quantile(uz, [trim_by, 1 - trim_by])
        agg["winsorised"] = (~((uz > lo) & (uz < hi))).astype(int)
        wz = np.clip(uz, lo, hi)
    agg["Wuzscore"] = wz
    used = ~np.isnan(wz)
    n_used = int(used.sum())
    phi = float(np.mean(wz[used] ** 2))
    tau2 = _dersimonian_laird(phi, 1 / s_z[used] ** 2)

    adjusted = draw_adjusted and phi > 1
    unadjusted = draw_unadjusted or not adjusted
    if not draw_adjusted:
        phi, tau2 = 0.0, 0.0
    start = 1.1 if data_type == "SR" else 3.0
    grid = np.unique(np.concatenate([np.linspace(start, np.ceil(d.max()), 1000), d]))
    limits = _fpr_limits(grid, data_type, sr_method, target, tau2, multiplier)

    at = limits.set_index("number_seq").loc[d]
    agg["s"] = at["s"].to_numpy()
    names = {"odll95": "OD95LCL", "odul95": "OD95UCL", "odll998": "OD99LCL", "odul998": "OD99UCL",
             "ll95": "LCL95", "ul95": "UCL95", "ll998": "LCL99", "ul998": "UCL99"}
    for src, dst in names.items():
        agg[dst] = at[src].to_numpy()
    prefix = "OD" if adjusted else ""
    pair = ("95LCL", "95UCL") if limit == 95 else ("99LCL", "99UCL")
    if adjusted:
        lcl, ucl = agg[f"{prefix}{pair[0]}"], agg[f"{prefix}{pair[1]}"]
    else:
        lcl = agg["LCL95" if limit == 95 else "LCL99"]
        ucl = agg["UCL95" if limit == 95 else "UCL99"]
    value = agg["rr"] * multiplier
    agg["highlight"] = "0"
    agg["outlier"] = ((value < lcl) | (value > ucl)).astype(int)
    units = agg.reset_index().rename(columns={group: "group"})
    return {
        "units": units,
        "limits": limits,
        "phi": phi,
        "tau2": tau2,
        "target": target,
        "n_units_used": n_used,
        "draw_adjusted": bool(adjusted),
        "draw_unadjusted": bool(unadjusted),
        "outliers": units.loc[units["outlier"] == 1, "group"].tolist(),
    }


def r_round(x: np.ndarray, digits: int = 2) -> np.ndarray:
    """``round(x, digits)`` as R >= 4.0 does it: of the two candidates either side of
    ``x`` (from ``floor`` and ``ceil`` of ``x * 10^digits``), the one closer to ``x`` in
    double arithmetic, the even one on a tie.

    ``numpy.round`` instead rounds ``x * 10^digits`` half to even, which differs for about
    1% of 3-decimal values (199.515 -> 199.52 in numpy, 199.51 here). FunnelPlotR's SHMI
    method rounds expected counts to 2 dp this way before everything else, so one such
    value moves that unit's z-score and phi in the 4th significant figure: the likely cause
    of phi 1.338973 (numpy rounding) against the package's 1.338785 in issue 9's SR/SHMI
    case. It agrees with every rounded expected count in ../shared/reference; R was not
    available here to check the disputed case itself.
    """
    x = np.asarray(x, dtype=float)
    p = 10.0 ** digits
    sign = np.sign(x)
    a = np.abs(x)
    x10 = a * p
    i10 = np.floor(x10)
    down, up = i10 / p, np.ceil(x10) / p
    du, dd = up - a, a - down
    return sign * np.where((du < dd) | ((du == dd) & (np.fmod(i10, 2) == 1)), up, down)


def _fpr_limits(grid, data_type, sr_method, target, tau2, multiplier) -> pd.DataFrame:
    """FunnelPlotR's ``limits_lookup`` on a grid of denominators."""
    out = {"number_seq": grid}
    s = 1 / np.sqrt(grid) if data_type == "SR" and sr_method == "SHMI" else 1 / (2 * np.sqrt(grid))
    out["s"] = s
    adj_sd = np.sqrt(s**2 + tau2)
    un_sd = s
    for key, z in (("95", Z95), ("998", Z998)):
        for prefix, sd in (("od", adj_sd), ("", un_sd)):
            if data_type == "SR":
                if prefix == "":
                    alpha = ALPHAS[key]
                    lo = stats.chi2.ppf(alpha / 2, 2 * grid) / (2 * grid) * target
                    hi = stats.chi2.ppf(1 - alpha / 2, 2 * grid + 2) / (2 * grid) * target
                elif sr_method == "SHMI":
                    lo, hi = np.exp(-z * sd), np.exp(z * sd)
                else:
                    # The package's CQC limits stay on the square-root scale (README caveat 4).
                    lo, hi = 1 - z * sd, 1 + z * sd
            elif data_type == "RC":
                lo, hi = np.exp(np.log(target) - z * sd), np.exp(np.log(target) + z * sd)
            else:
                y0 = np.arcsin(np.sqrt(target))
                lo, hi = np.sin(y0 - z * sd) ** 2, np.sin(y0 + z * sd) ** 2
            out[f"{prefix}ll{key}"] = lo * multiplier
            out[f"{prefix}ul{key}"] = hi * multiplier
    frame = pd.DataFrame(out)
    if data_type == "PR":
        for col in [c for c in frame.columns if "ll" in c or "ul" in c]:
            v = frame[col].clip(0, multiplier).to_numpy()
            nxt = np.append(v[1:], np.nan)
            v = np.where(v > nxt, 0.0, v) if "ll" in col else np.where(v < nxt, multiplier, v)
            frame[col] = v
    cols = ["number_seq", "s", "odll95", "odul95", "odll998", "odul998", "ll95", "ul95", "ll998", "ul998"]
    return frame[cols]


def _require(df: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{what} have no column(s) {', '.join(missing)}", column=missing[0])


# --- sgreview's funnel table ----------------------------------------------------------


def prepare_denominators(
    denominators: pd.DataFrame,
    localities,
    periods,
    *,
    unit: str | None = None,
    source: str = "denominators",
) -> tuple[pd.Series, str, list[str]]:
    """Exposure per locality over the analysis periods, checked against the incidents.

    ``denominators`` has ``locality, period (YYYY-MM), denominator, unit``; ``periods`` are
    the ``YYYY-MM`` months the incidents cover. Returns (exposure by locality, unit,
    warnings). Unusable files raise :class:`InputError`: missing columns, non-numeric, zero
    or negative denominators, duplicate rows, several units without ``unit``, or periods
    that do not cover the incidents for any locality. Localities that lack a denominator
    for some covered month are left out with a named warning.
    """
    missing = [c for c in ("locality", "period", "denominator") if c not in denominators.columns]
    if missing:
        raise InputError(f"denominators have no column(s) {', '.join(missing)}", path=source,
                         column=missing[0])
    d = denominators.copy()
    rows = pd.Series(np.arange(len(d)) + 2, index=d.index)
    if "source_row" in d.columns:
        rows = d["source_row"]
    d["locality"] = d["locality"].astype(str).str.strip()
    if "unit" not in d.columns:
        d["unit"] = "exposure"
    d["unit"] = d["unit"].fillna("").astype(str).str.strip()
    if unit is not None:
        d = d[d["unit"] == unit]
        if d.empty:
            raise InputError(f"no denominators with unit {unit!r}", path=source, column="unit")
    elif d["unit"].nunique() > 1:
        units = ", ".join(sorted(d["unit"].unique()))
        raise InputError(f"denominators hold several units ({units}); choose one with --unit",
                         path=source, column="unit")
    value = pd.to_numeric(d["denominator"], errors="coerce")
    bad = value.isna() | ~np.isfinite(value) | (value <= 0)
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        raw = d["denominator"].iloc[i]
        raise InputError(f"denominator must be a positive number, got {raw!r}", path=source,
                         row=int(rows.loc[d.index[i]]), column="denominator")
    period = pd.to_datetime(d["period"].astype(str).str.strip(), format="%Y-%m", errors="coerce")
    if period.isna().any():
        i = period.isna().to_numpy().nonzero()[0][0]
        raise InputError(f"period must be a month YYYY-MM, got {d['period'].iloc[i]!r}",
                         path=source, row=int(rows.loc[d.index[i]]), column="period")
    d = d.assign(denominator=value, period=period.dt.strftime("%Y-%m"))
    dup = d.duplicated(["locality", "period"], keep="first")
    if dup.any():
        i = dup.to_numpy().nonzero()[0][0]
        raise InputError("duplicate locality and period", path=source,
                         row=int(rows.loc[d.index[i]]), column="period")
    periods = sorted(set(periods))
    wide = d.pivot(index="locality", columns="period", values="denominator")
    wide = wide.reindex(columns=periods)
    covered = wide.notna().all(axis=1)
    if not covered.any():
        span = f"{periods[0]} to {periods[-1]}" if periods else "no periods"
        raise InputError(f"denominator periods do not line up with the incidents ({span}) "
                         "for any locality", path=source, column="period")
    warnings: list[str] = []
    localities = sorted(set(map(str, localities)))
    missing = [loc for loc in localities if loc not in wide.index]
    partial = [loc for loc in localities if loc in wide.index and not covered[loc]]
    if partial:
        # A locality that is in the file but lacks a month is a broken file, not a locality
        # without a denominator: the rate would silently use fewer months.
        loc = partial[0]
        gap = wide.columns[wide.loc[loc].isna().to_numpy()][0]
        more = f" (and {len(partial) - 1} more localities)" if len(partial) > 1 else ""
        raise InputError(f"denominators have no row for locality {loc!r}, month {gap}{more}; "
                         "give every month the incidents cover, or leave the locality out to "
                         "report it as 'no denominator'", path=source, column="period")
    if len(missing) == len(localities):
        raise InputError("no locality in the incidents has a denominator for every month "
                         f"from {periods[0]} to {periods[-1]}", path=source, column="locality")
    if missing:
        warnings.append("missing_denominator: no denominator for " + ", ".join(missing)
                        + " (reported as 'no denominator', not judged)")
    exposure = wide[covered].sum(axis=1)
    exposure.index.name = "locality"
    chosen_unit = unit if unit is not None else (d["unit"].iloc[0] if len(d) else "exposure")
    return exposure, chosen_unit, warnings


#: Columns of ``funnel.csv`` (``funnel_by_setting`` adds ``setting``).
FUNNEL_COLUMNS = ["theme_id", "theme_label", "locality", "events", "n", "proportion", "target",
                  *LIMIT_COLUMNS, "flag", "group_by", "kind", "unit", "phi", "tau2", "p_value",
                  "adjustment", "limit_method", "target_method", "target_pooled", "expected",
                  "p_high", "p_low", "q_value", "window_start", "window_end"]


def funnel_table(
    assignments: pd.DataFrame,
    *,
    group_by: str = "locality",
    denominators: pd.DataFrame | None = None,
    unit: str | None = None,
    adjustment: str = "auto",
    method: str = "exact",
    period: str = "month",
    target: str = "leave_one_out",
    window_months: int | None = DEFAULT_WINDOW_MONTHS,
    setting_column: str | None = None,
    setting_map: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Funnel limits and flags for every theme x group (DESIGN ``funnel.csv``).

    With ``setting_column`` (a column of the incidents, e.g. ``service``, its values mapped
    through ``setting_map``) and denominators that carry a ``setting`` column, every cell is
    a theme x locality x setting and is judged against the denominator of its own setting
    (bed days for inpatient incidents, caseload for community ones): see
    :func:`funnel_by_setting`.

    Only the most recent ``window_months`` calendar months of the data are compared (the
    months up to and including the latest incident's month; ``None`` or 0 for all data):
    a locality is judged on what it does now, not on the whole history. Each group is
    judged against all other groups combined (``target="leave_one_out"``) or the pooled
    rate (``"pooled"``); flags are ``alarm_*``, ``alert_*``, ``within`` or ``too_few`` (see
    :func:`funnel_units`). ``q_value`` is the Benjamini-Hochberg false discovery rate over
    every judged cell of the table (two-sided exact p), for reading the alerts.

    Without denominators the indicator is the share of a group's incidents in the theme,
    against the group's incident count. With denominators (locality only) it is the theme's
    incidents per unit of exposure (e.g. per occupied bed day), against the exposure.
    Columns: ``theme_id, theme_label, locality, events, n, proportion, target, lower95,
    upper95, lower998, upper998, flag`` plus ``group_by, kind, unit, phi, tau2, p_value,
    adjustment, limit_method``. ``T00`` (unthemed) is kept but not flagged (empty flag).
    Warnings about localities without denominators are in ``attrs["warnings"]`` and the
    per-theme dispersion details in ``attrs["dispersion"]``.
    """
    _require(assignments, ["theme_id", group_by], "assignments")
    if target not in TARGETS:
        raise ParameterError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if setting_column is not None and denominators is not None and "setting" in denominators.columns:
        return funnel_by_setting(assignments, setting_column=setting_column,
                                 setting_map=setting_map, group_by=group_by,
                                 denominators=denominators, adjustment=adjustment, method=method,
                                 period=period, target=target, window_months=window_months)
    assignments, window = comparison_window(assignments, window_months)
    theme = assignments["theme_id"].astype(str)
    group = assignments[group_by].astype(str)
    counts = pd.crosstab(theme, group)
    labels = _labels(assignments)
    warnings: list[str] = []
    if denominators is not None:
        if group_by != "locality":
            raise ParameterError("denominators are per locality: use them with --group-by locality")
        _require(assignments, ["incident_date"], "assignments")
        from sgreview.spc import period_labels, period_starts

        months = period_labels(period_starts(pd.to_datetime(assignments["incident_date"]), "month"),
                               "month")
        exposure, unit_used, warnings = prepare_denominators(
            denominators, counts.columns, pd.unique(months), unit=unit,
            source=denominators.attrs.get("source", "denominators"))
        # Localities with exposure but no incidents are real zeros; localities with incidents
        # but no denominator are kept as "no denominator" rows (never dropped).
        keep = sorted(exposure.index)
        without = counts.drop(columns=[c for c in counts.columns if c in exposure.index])
        counts = counts.reindex(columns=keep, fill_value=0)
        size = exposure.reindex(keep).to_numpy(float)
        kind = "rate"
    else:
        size = counts.sum(axis=0).to_numpy(float)
        kind, unit_used = "proportion", "incidents"
        without = counts.iloc[:, 0:0]
    frames, details = [], {}
    for theme_id, events in counts.iterrows():
        rows, disp = funnel_units(events.to_numpy(float), size, kind=kind,
                                  adjustment=adjustment, method=method, target=target)
        rows.insert(0, "locality", counts.columns.to_numpy())
        rows.insert(0, "theme_label", labels.get(theme_id, theme_id))
        rows.insert(0, "theme_id", theme_id)
        if theme_id == UNTHEMED:
            rows["flag"] = ""
        rows = rows.assign(group_by=group_by, kind=kind, unit=unit_used, phi=disp["phi"],
                           tau2=disp["tau2"], p_value=disp["p_value"],
                           adjustment=disp["adjustment"], target_method=target)
        frames.append(rows)
        details[theme_id] = disp | window
    cols = FUNNEL_COLUMNS
    if without.shape[1]:
        long = without.stack().rename("events").reset_index()
        long.columns = ["theme_id", "locality", "events"]
        frames.append(long.assign(
            theme_label=long["theme_id"].map(lambda t: labels.get(t, t)), n=np.nan,
            proportion=np.nan, flag=np.where(long["theme_id"] == UNTHEMED, "", NO_DENOMINATOR),
            group_by=group_by, kind=kind, unit=unit_used, target_method=target,
            p_high=np.nan, p_low=np.nan))
    if frames:
        table = pd.concat(frames, ignore_index=True)
        table["q_value"] = fdr_q_values(table)
        table["window_start"], table["window_end"] = window["window_start"], window["window_end"]
        table = table[cols]
    else:
        table = pd.DataFrame(columns=cols)
    table.attrs["warnings"] = warnings
    table.attrs["dispersion"] = details
    table.attrs["window"] = window
    table.attrs["summary"] = flag_summary(table)
    return table


def funnel_by_setting(
    assignments: pd.DataFrame,
    *,
    setting_column: str,
    setting_map: dict[str, str] | None,
    denominators: pd.DataFrame,
    group_by: str = "locality",
    adjustment: str = "auto",
    method: str = "exact",
    period: str = "month",
    target: str = "leave_one_out",
    window_months: int | None = DEFAULT_WINDOW_MONTHS,
) -> pd.DataFrame:
    """One funnel per setting, each rate over the denominator of its own setting.

    Why: an incident in a community team is judged per caseload, an inpatient one per
    occupied bed day; summing both exposures (or using one for all) would make every rate
    meaningless. The comparison window is taken once over all incidents, then each setting's
    incidents are compared across localities with that setting's denominators (its rows
    must hold one unit; ``unit`` says which). Incidents whose setting has no denominator at
    all, or a locality without one in that setting, stay in the table as ``no_denominator``
    rows, named in a warning; they never stop the comparison. q values and the flag summary
    are over the whole table. The result has an extra ``setting`` column.
    """
    _require(assignments, ["theme_id", group_by], "assignments")
    settings = incident_settings(assignments, setting_column, setting_map)
    assignments, window = comparison_window(assignments.assign(_setting=settings.to_numpy()),
                                            window_months)
    d = denominators.copy()
    d["_setting"] = fold_setting(d["setting"])
    labels = _labels(assignments)
    frames, warnings, details = [], [], {}
    for setting in sorted(pd.unique(assignments["_setting"])):
        rows = assignments[assignments["_setting"] == setting].drop(columns="_setting")
        mine = d[d["_setting"] == setting].drop(columns=["_setting", "setting"])
        shared = set(mine["locality"].astype(str).str.strip()) & set(rows[group_by].astype(str))
        if setting and len(shared) and group_by == "locality":
            mine.attrs["source"] = denominators.attrs.get("source", "denominators")
            part = funnel_table(rows, group_by=group_by, denominators=mine, unit=None,
                                adjustment=adjustment, method=method, period=period,
                                target=target, window_months=None)
            warnings += [f"{w} [setting {setting}]" for w in part.attrs.get("warnings", [])]
            details |= {f"{t} [{setting}]": v | window
                        for t, v in part.attrs.get("dispersion", {}).items()}
        else:
            counts = pd.crosstab(rows["theme_id"].astype(str), rows[group_by].astype(str))
            part = counts.stack().rename("events").reset_index()
            part.columns = ["theme_id", "locality", "events"]
            part = part[part["events"] > 0]
            part = part.assign(
                theme_label=part["theme_id"].map(labels).fillna(part["theme_id"]), n=np.nan,
                proportion=np.nan,
                flag=np.where(part["theme_id"] == UNTHEMED, "", NO_DENOMINATOR),
                group_by=group_by, kind="rate", unit="", target_method=target,
                p_high=np.nan, p_low=np.nan)
            warnings.append(f"missing_denominator: no denominator for setting "
                            f"{setting or '(blank)'!r}: {int(part['events'].sum())} incidents "
                            "reported as 'no denominator', not judged")
        frames.append(part.assign(setting=setting))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    table = table.reindex(columns=[*FUNNEL_COLUMNS, "setting"])
    if len(table):
        table["q_value"] = fdr_q_values(table)
        table["window_start"], table["window_end"] = window["window_start"], window["window_end"]
    table.attrs["warnings"] = warnings
    table.attrs["dispersion"] = details
    table.attrs["window"] = window
    table.attrs["summary"] = flag_summary(table)
    return table


def comparison_window(assignments: pd.DataFrame, months: int | None) -> tuple[pd.DataFrame, dict]:
    """The incidents of the most recent ``months`` calendar months (all when None or 0).

    The window ends with the month of the latest incident and starts ``months - 1`` months
    before it. Returns (the rows inside, ``{window_start, window_end, window_months}``).
    """
    if months is not None and int(months) < 0:
        raise ParameterError(f"comparison window must be a number of months >= 0, not {months!r}")
    if "incident_date" not in assignments.columns or assignments.empty:
        return assignments, {"window_start": None, "window_end": None, "window_months": None}
    dates = pd.to_datetime(assignments["incident_date"], errors="coerce")
    last = dates.max().to_period("M")
    if not months:
        first = dates.min().to_period("M")
        return assignments, {"window_start": str(first), "window_end": str(last),
                             "window_months": None}
    first = last - (int(months) - 1)
    inside = dates.dt.to_period("M") >= first
    return (assignments.loc[inside.to_numpy()],
            {"window_start": str(first), "window_end": str(last), "window_months": int(months)})


def fdr_q_values(table: pd.DataFrame) -> np.ndarray:
    """Benjamini-Hochberg q values over the judged cells (not ``too_few``, not unthemed)
    from the two-sided exact p ``min(1, 2 min(p_high, p_low))``; NaN elsewhere."""
    judged = judged_cells(table).to_numpy()
    q = np.full(len(table), np.nan)
    if judged.any():
        p = np.minimum(1.0, 2 * np.minimum(table["p_high"], table["p_low"]).to_numpy(float))
        q[judged] = stats.false_discovery_control(p[judged], method="bh")
    return q


def judged_cells(table: pd.DataFrame) -> pd.Series:
    """Cells that were judged: themed, with a flag other than ``too_few`` or none."""
    flag = table["flag"].fillna("").astype(str)
    return (table["theme_id"].astype(str) != UNTHEMED) & flag.isin(
        ["alarm_high", "alert_high", "within", "alert_low", "alarm_low"])


def flag_summary(table: pd.DataFrame) -> dict:
    """Counts behind the report's sentences: judged cells, alarms, alerts, too few, and
    how many alarms / alerts chance alone would give (at most 0.2% / 5% of judged cells,
    since the exact tests are conservative)."""
    judged = judged_cells(table)
    flag = table["flag"].fillna("").astype(str)
    themed = table["theme_id"].astype(str) != UNTHEMED
    n = int(judged.sum())
    return {
        "cells": int(themed.sum()),
        "judged": n,
        "too_few": int((themed & (flag == TOO_FEW)).sum()),
        "no_denominator": int((themed & (flag == NO_DENOMINATOR)).sum()),
        "alarms": int((judged & flag.str.startswith("alarm")).sum()),
        "alerts": int((judged & flag.str.startswith("alert")).sum()),
        "alarms_expected_by_chance": round(n * ALPHAS["998"], 3),
        "alerts_expected_by_chance": round(n * (ALPHAS["95"] - ALPHAS["998"]), 3),
        "alerts_with_q_below_0.05": int((judged & flag.str.startswith("alert")
                                         & (table["q_value"] < 0.05)).sum())
        if "q_value" in table else 0,
        "min_expected_to_judge": MIN_EXPECTED_TO_JUDGE,
    }


def _labels(assignments: pd.DataFrame) -> dict:
    theme = assignments["theme_id"].astype(str)
    if "theme_label" not in assignments.columns:
        return {t: t for t in theme.unique()}
    return assignments["theme_label"].astype(str).groupby(theme).first().to_dict()
