"""Trends as NHS England "Making Data Count" XmR charts (statistical process control).

Boards ask "is it getting worse?". An XmR chart answers with process limits from the mean
moving range and four special-cause rules, so a single bad month is not mistaken for a trend
and a real shift is not dismissed as noise. The numbers follow the NHS-R NHSRplotthedots
package (checked against its outputs in ``tests/test_spc.py``), with Making Data Count
defaults:

* no screening of moving-range outliers (the MDC Excel tool does not screen;
  NHSRplotthedots does by default: pass ``screen_outliers=True`` to reproduce it);
* improvement direction ``"neutral"``: for incidents, more reporting can be good;
* run length 7 for both the trend and the shift rule (6 is a user setting).

Rules, in precedence (one type per point): a point outside the limits; a trend of
``run_length`` points all strictly increasing or decreasing (equal neighbours break it);
two of three points beyond the 2-sigma line on the same side of the mean (only the points
strictly between the 2-sigma line and the limit count, and only they are flagged); a shift
of ``run_length`` points on one side of the mean (a point on the mean breaks it).

Two deliberate differences from NHSRplotthedots 0.2.2, both where the package is wrong:

* all-equal values with screening: the package drops every moving range (0 < 0 is false)
  and returns NaN limits; here there is nothing to screen, so the limits collapse onto
  the mean as they do without screening;
* a point that ends one trend and is tied with the first point of the next: the package
  labels it "Decreasing" whatever the trend; here it keeps its own trend's direction.

Every series is computed by one vectorised pass over flat arrays (``_xmr_arrays``), so a
table of a thousand theme x locality series costs about as much as one long series. It is
written by hand because no maintained Python library implements the MDC rule set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sgreview.errors import InputError, ParameterError
from sgreview.schema import UNTHEMED_ID as UNTHEMED

#: XmR constants: limits at mean +/- 2.66 x mean moving range; 2-sigma at two thirds of that.
LIMIT = 2.66
LIMIT_CLOSE = 2 * (LIMIT / 3)
#: Moving ranges at or above this multiple of the mean are screened (when asked).
SCREEN_MULTIPLE = 3.267
#: Groups shorter than this have provisional limits (NHSRplotthedots' warning threshold).
PROVISIONAL_BELOW = 13

DIRECTIONS = {"increase": 1, "decrease": -1, "neutral": 0}
RULES = ("outside_limits", "trend", "two_in_three", "shift")

#: Making Data Count icon colours.
COLOURS = {
    "common_cause": "#a6a6a6",
    "improvement": "#00b0f0",
    "concern": "#e46c0a",
    "neutral": "#490092",
}

ALL_GROUPS = "All"
SUMMARY_COLUMNS = ["theme_id", "theme_label", "locality", "latest_period", "latest_value", "centre",
                   "lower", "upper", "latest_special_cause", "latest_rule", "latest_point_type",
                   "recent_special_points", "recent_rules", "chart", "latest_events",
                   "step_period", "step_side"]
#: A recalculation step within this many periods of the end is listed as a recent change.
RECENT_STEP_PERIODS = 24


@dataclass(frozen=True)
class _Points:
    """Per-point results of the vectorised XmR pass (flat arrays, one entry per point)."""

    centre: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    lower_2sigma: np.ndarray
    upper_2sigma: np.ndarray
    outside: np.ndarray
    close: np.ndarray
    relative: np.ndarray
    rule: np.ndarray  # 0 none, 1 outside, 2 trend, 3 two-in-three, 4 shift
    high: np.ndarray  # +1 high / increasing, -1 low / decreasing, 0 common cause
    group_size: np.ndarray


def _run_lengths(b: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Length of the run of True values ending at each position, restarting at segment starts."""
    c = np.cumsum(b)
    base = np.where(~b, c, np.where(start, c - 1, 0))
    return c - np.maximum.accumulate(base)


def _covered_by_window(end: np.ndarray, length: int) -> np.ndarray:
    """True where a window of ``length`` points ending at or after this point (within
    ``length - 1`` positions) is flagged in ``end``. A flagged end implies the whole window
    lies in one segment, so no segment check is needed."""
    n = end.size
    c = np.concatenate([[0], np.cumsum(end)])
    idx = np.arange(n)
    hi = np.minimum(idx + length, n)
    return (c[hi] - c[idx]) > 0


def _segment_sum(values: np.ndarray, seg: np.ndarray, n_seg: int) -> np.ndarray:
    return np.bincount(seg, weights=values, minlength=n_seg)


def _xmr_arrays(
    y: np.ndarray,
    seg: np.ndarray,
    *,
    screen_outliers: bool,
    run_length: int,
    fix_after_n_points: int | None,
) -> _Points:
    """XmR limits and rules for many series at once.

    ``y`` holds every series' values one after another; ``seg`` numbers the segments
    (series x rebase group) 0, 1, 2, ... in order, contiguous. Limits and rules are computed
    within each segment, exactly as if each were its own chart.
    """
    n = y.size
    y = y.astype(float)
    seg = seg.astype(np.int64)
    n_seg = int(seg.max()) + 1 if n else 0
    start = np.ones(n, dtype=bool)
    start[1:] = seg[1:] != seg[:-1]
    first = np.flatnonzero(start)
    pos = np.arange(n) - first[seg]
    size = np.bincount(seg, minlength=n_seg)
    fix = pos < fix_after_n_points if fix_after_n_points else np.ones(n, dtype=bool)

    n_fix = _segment_sum(fix.astype(float), seg, n_seg)
    mean = _segment_sum(np.where(fix, y, 0.0), seg, n_seg) / n_fix

    mr_ok = np.zeros(n, dtype=bool)
    mr_ok[1:] = ~start[1:] & fix[1:] & fix[:-1]
    mr = np.zeros(n)
    mr[1:] = np.abs(np.diff(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        amr = _segment_sum(np.where(mr_ok, mr, 0.0), seg, n_seg) / _segment_sum(
            mr_ok.astype(float), seg, n_seg
        )
        if screen_outliers:
            # All-zero moving ranges leave nothing to screen (see the module docstring).
            keep = mr_ok & ((mr < SCREEN_MULTIPLE * amr[seg]) | (amr[seg] == 0))
            amr = _segment_sum(np.where(keep, mr, 0.0), seg, n_seg) / _segment_sum(
                keep.astype(float), seg, n_seg
            )

    centre = mean[seg]
    a = amr[seg]
    lower, upper = centre - LIMIT * a, centre + LIMIT * a
    lower2, upper2 = centre - LIMIT_CLOSE * a, centre + LIMIT_CLOSE * a
    outside = (y > upper) | (y < lower)
    close = ~outside & ((y < lower2) | (y > upper2))
    relative = np.sign(y - centre)

    # Trend: run_length points, i.e. run_length - 1 consecutive same-sign differences.
    d = np.zeros(n)
    d[1:] = np.sign(np.diff(y))
    d[start] = 0
    up_end = _run_lengths(d > 0, start) >= run_length - 1
    down_end = _run_lengths(d < 0, start) >= run_length - 1
    part_up = _covered_by_window(up_end, run_length)
    part_down = _covered_by_window(down_end, run_length)
    # A point shared by two trends (a peak or trough) takes the later one's direction.
    d_next = np.zeros(n)
    d_next[:-1] = d[1:]
    trend_dir = np.where(part_up & part_down, d_next, np.where(part_up, 1.0, -1.0))
    trend = part_up | part_down

    # Two in three: windows of 3 in one segment, all on one side, >= 2 close to a limit.
    cond = np.zeros(n, dtype=bool)
    if n >= 3:
        same_seg = seg[2:] == seg[:-2]
        close_sum = close[2:].astype(int) + close[1:-1] + close[:-2]
        rel_sum = relative[2:] + relative[1:-1] + relative[:-2]
        cond[2:] = same_seg & (close_sum >= 2) & (np.abs(rel_sum) == 3)
    two_three = close & _covered_by_window(cond, 3)

    shift_end = (_run_lengths(relative > 0, start) >= run_length) | (
        _run_lengths(relative < 0, start) >= run_length
    )
    shift = _covered_by_window(shift_end, run_length)

    rule = np.select([outside, trend, two_three, shift], [1, 2, 3, 4], default=0)
    high = np.select(
        [rule == 1, rule == 2, rule >= 3], [relative, trend_dir, relative], default=0.0
    ).astype(int)
    return _Points(
        centre=centre,
        lower=lower,
        upper=upper,
        lower_2sigma=lower2,
        upper_2sigma=upper2,
        outside=outside,
        close=close,
        relative=relative.astype(int),
        rule=rule,
        high=high,
        group_size=size[seg],
    )


def _xmr_options(options: dict) -> tuple:
    """(direction, run_length, screen_outliers, fix_after_n_points) from keyword options;
    an unknown option is a :class:`ParameterError` (one reading for every SPC entry point)."""
    options = dict(options)
    direction_name = options.pop("improvement_direction", "neutral")
    run_length = int(options.pop("run_length", 7))
    screen = bool(options.pop("screen_outliers", False))
    fix_after = options.pop("fix_after_n_points", None)
    if options:
        raise ParameterError(f"unknown SPC option(s): {', '.join(sorted(options))}")
    return _check_options(direction_name, run_length, fix_after), run_length, screen, fix_after


def _check_options(improvement_direction: str, run_length: int, fix_after_n_points) -> int:
    if improvement_direction not in DIRECTIONS:
        raise ParameterError(
            f"improvement_direction must be one of {', '.join(DIRECTIONS)}, "
            f"not {improvement_direction!r}"
        )
    if run_length not in (6, 7):
        raise ParameterError(f"run_length must be 6 or 7, not {run_length!r}")
    if fix_after_n_points is not None and int(fix_after_n_points) < 12:
        raise ParameterError("fix_after_n_points must be at least 12 (limits need 12+ points)")
    return DIRECTIONS[improvement_direction]


def _type_names(rule: np.ndarray, high: np.ndarray, run_length: int) -> np.ndarray:
    """NHSRplotthedots' special_cause_type names."""
    up = high > 0
    return np.select(
        [rule == 1, rule == 2, rule == 3, rule == 4],
        [
            np.where(up, "Above UCL", "Below LCL"),
            np.where(up, f"{run_length} Point Trend (Increasing)",
                     f"{run_length} Point Trend (Decreasing)"),
            np.where(up, "2 in 3 Above CL", "2 in 3 Below CL"),
            np.where(up, f"{run_length} Points Above CL", f"{run_length} Points Below CL"),
        ],
        default="Common Cause",
    )


def _point_types(high: np.ndarray, direction: int) -> np.ndarray:
    if direction == 0:
        return np.select(
            [high > 0, high < 0],
            ["special_cause_neutral_high", "special_cause_neutral_low"],
            default="common_cause",
        )
    v = high * direction
    return np.select(
        [v > 0, v < 0],
        ["special_cause_improvement", "special_cause_concern"],
        default="common_cause",
    )


def _rebase_groups(periods: pd.Index, rebase: Sequence | None) -> np.ndarray:
    """Rebase group per period: how many rebase points are at or before it.

    A change point that falls between two periods (an action completed mid-month) starts
    the new process at the first whole period after it; one exactly on a period starts it
    there. (NHSRplotthedots ignores dates that are not in the data.)
    """
    if not rebase:
        return np.zeros(len(periods), dtype=np.int64)
    try:
        points = pd.Index(list(rebase))
        if isinstance(periods, pd.DatetimeIndex | pd.PeriodIndex) or pd.api.types.is_datetime64_any_dtype(periods):
            points = pd.DatetimeIndex(pd.to_datetime(points))
            keys = periods.to_timestamp() if isinstance(periods, pd.PeriodIndex) else periods
        else:
            keys = periods
        groups = np.searchsorted(np.sort(np.asarray(points)), np.asarray(keys), side="right")
    except (TypeError, ValueError) as err:
        raise ParameterError(f"rebase points must be comparable with the periods: {err}") from err
    return np.unique(groups, return_inverse=True)[1].astype(np.int64)


def xmr(
    values: pd.Series,
    *,
    improvement_direction: str = "neutral",
    screen_outliers: bool = False,
    run_length: int = 7,
    rebase: Sequence | None = None,
    fix_after_n_points: int | None = None,
    target: float | None = None,
) -> pd.DataFrame:
    """One XmR chart: limits, rules and point types for a series indexed by period.

    ``values`` must be indexed by sorted, unique periods (dates, ``Period`` or any sortable
    label) with no missing values: a month with no incidents is 0, not missing. Returns one
    row per point with ``period, value, rebase_group, centre, lower, upper, lower_2sigma,
    upper_2sigma, outside_limits, close_to_limits, relative_to_mean, special_cause_type,
    rule, special_cause, point_type, provisional, target``.
    """
    direction = _check_options(improvement_direction, run_length, fix_after_n_points)
    values = pd.Series(values)
    index = values.index
    if not (index.is_monotonic_increasing and index.is_unique):
        raise InputError("SPC values must be indexed by sorted, unique periods")
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if np.isnan(y).any():
        raise InputError("SPC values must not be missing: count an empty period as 0")
    groups = _rebase_groups(index, rebase)
    pts = _xmr_arrays(
        y,
        groups,
        screen_outliers=screen_outliers,
        run_length=run_length,
        fix_after_n_points=fix_after_n_points,
    )
    return pd.DataFrame(
        {
            "period": index,
            "value": y,
            "rebase_group": groups,
            "centre": pts.centre,
            "lower": pts.lower,
            "upper": pts.upper,
            "lower_2sigma": pts.lower_2sigma,
            "upper_2sigma": pts.upper_2sigma,
            "outside_limits": pts.outside,
            "close_to_limits": pts.close,
            "relative_to_mean": pts.relative,
            "special_cause_type": _type_names(pts.rule, pts.high, run_length),
            "rule": np.array(("",) + RULES, dtype=object)[pts.rule],
            "special_cause": pts.rule > 0,
            "point_type": _point_types(pts.high, direction),
            "provisional": pts.group_size < PROVISIONAL_BELOW,
            "target": np.nan if target is None else float(target),
        }
    )


def _icon_kind(point_type: str) -> str:
    return {
        "common_cause": "common_cause",
        "special_cause_improvement": "improvement",
        "special_cause_concern": "concern",
        "special_cause_neutral_high": "neutral",
        "special_cause_neutral_low": "neutral",
    }[point_type]


def variation_icon(chart: pd.DataFrame, improvement_direction: str = "neutral") -> dict:
    """The MDC variation icon for the chart's latest point: ``{kind, side, colour, label}``.

    ``kind`` is ``common_cause``, ``improvement``, ``concern`` or ``neutral``; ``side`` is
    ``high``, ``low`` or ``""``. The direction is applied here, so one chart can be read
    with a different improvement direction without recomputing it.
    """
    direction = _check_options(improvement_direction, 7, None)
    if chart.empty:
        raise InputError("cannot draw a variation icon for an empty chart")
    last = chart.iloc[-1]
    sct = str(last["special_cause_type"])
    high = 1 if ("Above" in sct or "Increasing" in sct) else -1 if sct != "Common Cause" else 0
    kind = _icon_kind(str(_point_types(np.array([high]), direction)[0]))
    side = {1: "high", -1: "low", 0: ""}[high]
    labels = {
        "common_cause": "Common cause variation",
        "improvement": f"Special cause improving variation ({side})",
        "concern": f"Special cause concerning variation ({side})",
        "neutral": f"Special cause variation ({side}), no improvement direction set",
    }
    return {"kind": kind, "side": side, "colour": COLOURS[kind], "label": labels[kind]}


def assurance(chart: pd.DataFrame, target: float | None, improvement_direction: str) -> str | None:
    """MDC assurance against a target, from the latest point's limits.

    ``consistent_pass`` when the whole process sits on the good side of the target,
    ``consistent_fail`` on the bad side, ``inconsistent`` when the target lies within the
    limits; ``None`` without a target or a direction (no "good side").
    """
    direction = _check_options(improvement_direction, 7, None)
    if target is None or direction == 0 or chart.empty:
        return None
    last = chart.iloc[-1]
    lower, upper = float(last["lower"]), float(last["upper"])
    if np.isnan(lower) or np.isnan(upper):
        return None
    if target > upper:
        return "consistent_fail" if direction > 0 else "consistent_pass"
    if target < lower:
        return "consistent_pass" if direction > 0 else "consistent_fail"
    return "inconsistent"


def change_after(
    values: pd.Series,
    change_point,
    *,
    improvement_direction: str = "neutral",
    run_length: int = 7,
    screen_outliers: bool = False,
) -> dict:
    """Did the process change after a known point, such as an action's completion date?

    The Making Data Count before/after reading: limits from the baseline (the points before
    the change) are extended over the points after it, and the special-cause rules are read
    on the points after; then the chart is rebased at the change to show the new process.
    A change point between two periods starts the new process at the next whole period.

    Returns ``{"effect", "side", "rule", "n_before", "n_after", "baseline", "after",
    "frozen", "rebased"}``. ``effect`` is ``improved`` / ``worse`` when a direction is set,
    ``changed`` for neutral, ``no_change``, or ``too_early`` when there are fewer than
    ``run_length`` points after the change and none is special cause. ``side`` is
    ``high``, ``low`` or ``""``; ``frozen`` and ``rebased`` are per-point charts as from
    :func:`xmr`.
    """
    direction = _check_options(improvement_direction, run_length, None)
    values = pd.Series(values)
    groups = _rebase_groups(values.index, [change_point])
    n_before = int((groups == 0).sum()) if groups.max() > 0 else len(values)
    n_after = len(values) - n_before
    if n_before < 2:
        raise InputError("need at least 2 points before the change point for a baseline")
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if np.isnan(y).any():
        raise InputError("SPC values must not be missing: count an empty period as 0")
    pts = _xmr_arrays(y, np.zeros(len(y), dtype=np.int64), screen_outliers=screen_outliers,
                      run_length=run_length, fix_after_n_points=n_before)
    frozen = pd.DataFrame({
        "period": values.index, "value": y, "centre": pts.centre, "lower": pts.lower,
        "upper": pts.upper, "special_cause": pts.rule > 0,
        "rule": np.array(("",) + RULES, dtype=object)[pts.rule],
        "special_cause_type": _type_names(pts.rule, pts.high, run_length),
        "point_type": _point_types(pts.high, direction),
        "after_change": np.arange(len(y)) >= n_before,
    })
    after = frozen[frozen["after_change"] & frozen["special_cause"]]
    side, rule = "", ""
    if not after.empty:
        high = pts.high[after.index.to_numpy()]
        side = "high" if high[-1] > 0 else "low"
        rule = ";".join(sorted(set(after["rule"])))
    if side:
        effect = "changed" if direction == 0 else (
            "improved" if (side == "high") == (direction > 0) else "worse")
    else:
        effect = "too_early" if n_after < run_length else "no_change"
    rebased = xmr(values, improvement_direction=improvement_direction, run_length=run_length,
                  screen_outliers=screen_outliers, rebase=[change_point] if n_after else None)
    tail = rebased[rebased["rebase_group"] == rebased["rebase_group"].max()]
    return {
        "effect": effect,
        "side": side,
        "rule": rule,
        "n_before": n_before,
        "n_after": n_after,
        "baseline": {"centre": float(pts.centre[0]), "lower": float(pts.lower[0]),
                     "upper": float(pts.upper[0])},
        "after": {"centre": float(tail["centre"].iloc[0]) if n_after else float("nan")},
        "frozen": frozen,
        "rebased": rebased,
    }


def period_starts(dates: pd.Series, period: str) -> pd.Series:
    """Start of the month or (Monday-starting) week each date falls in."""
    if period == "month":
        return dates.dt.to_period("M").dt.start_time
    if period == "week":
        return dates.dt.to_period("W-SUN").dt.start_time
    raise ParameterError(f"period must be 'month' or 'week', not {period!r}")


def period_labels(starts: pd.Series | pd.DatetimeIndex, period: str) -> np.ndarray:
    """Text labels for periods: ``YYYY-MM`` for months, the Monday ``YYYY-MM-DD`` for weeks."""
    fmt = "%Y-%m" if period == "month" else "%Y-%m-%d"
    return np.asarray(pd.DatetimeIndex(starts).strftime(fmt), dtype=object)


def _rebase_for(rebase: Mapping | None, theme_id: str, group: str) -> list:
    """Change points for one series. Keys: ``(theme_id, group)``, ``theme_id`` or ``"*"``."""
    if not rebase:
        return []
    points: list = []
    for key in ((theme_id, group), theme_id, "*"):
        value = rebase.get(key)
        if value is None:
            continue
        points.extend([value] if isinstance(value, str | pd.Timestamp) else list(value))
    return points


def counts_by_period(
    assignments: pd.DataFrame, *, group_by: str = "locality", period: str = "month"
) -> pd.DataFrame:
    """Incident counts per theme x group x period, with empty periods filled as 0.

    Every series spans the same periods (first to last period in the data), and an
    ``"All"`` series per theme sums the groups. Columns: ``theme_id, theme_label, locality,
    period_start, value``.
    """
    for col in ("theme_id", "incident_date", group_by):
        if col not in assignments.columns:
            raise InputError(f"assignments have no column {col!r}", column=col)
    dates = pd.to_datetime(assignments["incident_date"], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise InputError("incident_date is missing or not a date", row=row + 2,
                         column="incident_date")
    if assignments.empty:
        raise InputError("assignments are empty: nothing to chart")
    starts = period_starts(dates, period)
    freq = "MS" if period == "month" else "W-MON"
    axis = pd.date_range(starts.min(), starts.max(), freq=freq)
    theme = assignments["theme_id"].astype(str)
    group = assignments[group_by].astype(str)
    labels = _theme_labels(assignments)
    themes = np.sort(theme.unique())
    groups = np.sort(group.unique())
    keys = np.concatenate([groups, [ALL_GROUPS]])

    t_code = np.searchsorted(themes, theme.to_numpy())
    g_code = np.searchsorted(groups, group.to_numpy())
    p_code = axis.get_indexer(pd.DatetimeIndex(starts))
    n_t, n_g, n_p = len(themes), len(keys), len(axis)
    cube = np.zeros((n_t, n_g, n_p))
    np.add.at(cube, (t_code, g_code, p_code), 1)
    cube[:, -1, :] = cube[:, :-1, :].sum(axis=1)
    ti, gi, pi = np.meshgrid(np.arange(n_t), np.arange(n_g), np.arange(n_p), indexing="ij")
    return pd.DataFrame(
        {
            "theme_id": themes[ti.ravel()],
            "theme_label": labels.reindex(themes[ti.ravel()]).to_numpy(),
            "locality": keys[gi.ravel()],
            "period_start": axis[pi.ravel()],
            "value": cube.ravel(),
        }
    )


def _theme_labels(assignments: pd.DataFrame) -> pd.Series:
    theme = assignments["theme_id"].astype(str)
    if "theme_label" in assignments.columns:
        return assignments["theme_label"].astype(str).groupby(theme).first()
    return pd.Series(theme.unique(), index=theme.unique())


def xmr_table(
    assignments: pd.DataFrame,
    *,
    group_by: str = "locality",
    period: str = "month",
    rebase: Mapping | None = None,
    **xmr_options,
) -> pd.DataFrame:
    """XmR charts for every theme, overall (``locality == "All"``) and per group, whatever
    the counts (the chart :func:`spc_table` picks when the counts are large enough).

    Writes the DESIGN ``spc.csv`` columns ``theme_id, locality, period, value, centre,
    lower, upper, special_cause, rule`` plus ``theme_label, point_type`` and the rest of the
    per-point chart. ``rebase`` maps ``(theme_id, group)``, ``theme_id`` or ``"*"`` to
    change points (dates), for example the completion date of an action. All series are
    charted in one vectorised pass.
    """
    direction, run_length, screen, fix_after = _xmr_options(xmr_options)

    counts = counts_by_period(assignments, group_by=group_by, period=period)
    n_p = counts["period_start"].nunique()
    series = np.arange(len(counts)) // n_p
    groups = np.zeros(len(counts), dtype=np.int64)
    if rebase:
        axis = pd.DatetimeIndex(counts["period_start"].iloc[:n_p])
        firsts = counts.iloc[::n_p]
        for s, (theme_id, group) in enumerate(zip(firsts["theme_id"], firsts["locality"], strict=True)):
            points = _rebase_for(rebase, theme_id, group)
            if points:
                groups[s * n_p:(s + 1) * n_p] = _rebase_groups(axis, points)
    # Segment id: series-major, rebase group within; contiguous because groups ascend.
    seg_key = series * (int(groups.max()) + 1) + groups
    seg = np.unique(seg_key, return_inverse=True)[1]
    pts = _xmr_arrays(
        counts["value"].to_numpy(float),
        seg,
        screen_outliers=screen,
        run_length=run_length,
        fix_after_n_points=fix_after,
    )
    out = counts.assign(
        period=period_labels(counts["period_start"], period),
        rebase_group=groups,
        centre=pts.centre,
        lower=pts.lower,
        upper=pts.upper,
        lower_2sigma=pts.lower_2sigma,
        upper_2sigma=pts.upper_2sigma,
        special_cause=pts.rule > 0,
        rule=np.array(("",) + RULES, dtype=object)[pts.rule],
        special_cause_type=_type_names(pts.rule, pts.high, run_length),
        point_type=_point_types(pts.high, direction),
        provisional=pts.group_size < PROVISIONAL_BELOW,
    )
    cols = ["theme_id", "theme_label", "locality", "period", "period_start", "value", "centre",
            "lower", "upper", "lower_2sigma", "upper_2sigma", "special_cause", "rule",
            "special_cause_type", "point_type", "rebase_group", "provisional"]
    return out[cols].reset_index(drop=True)


def special_cause_summary(spc: pd.DataFrame, *, recent: int = 3) -> pd.DataFrame:
    """Series showing special-cause variation now: at the latest point or in the last
    ``recent`` periods, or a recalculated step (sustained shift) in the last
    :data:`RECENT_STEP_PERIODS` periods. The unthemed bucket (``T00``) is left out.

    One row per series: ``theme_id, theme_label, locality, latest_period, latest_value,
    centre, lower, upper, latest_special_cause, latest_rule, latest_point_type,
    recent_special_points, recent_rules, chart, latest_events, step_period, step_side``.
    """
    if spc.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    keys = ["theme_id", "locality"]
    spc = spc.copy()
    for col, default in (("chart", "xmr"), ("step", False)):
        if col not in spc:
            spc[col] = default
    if "events" not in spc:
        spc["events"] = spc["value"]
    ordered = spc.sort_values([*keys, "period"], kind="stable").reset_index(drop=True)
    ordered = ordered[ordered["theme_id"].astype(str) != UNTHEMED]
    pos_from_end = ordered.groupby(keys, sort=False).cumcount(ascending=False)
    tail = ordered[pos_from_end < recent]
    recent_sc = tail[tail["special_cause"].astype(bool)]
    rules = recent_sc.groupby(keys)["rule"].agg(lambda r: ";".join(sorted(set(r))))
    n_recent = recent_sc.groupby(keys).size()
    steps = ordered[ordered["step"].astype(bool) & (pos_from_end < RECENT_STEP_PERIODS)]
    before = ordered["centre"].groupby([ordered[k] for k in keys]).shift(1)
    side = np.sign(ordered["centre"] - before).reindex(steps.index)
    step_side = pd.Series(np.where(side > 0, "up", "down"), index=steps.index)
    step_period = steps.groupby(keys)["period"].last()
    step_dir = step_side.groupby([steps[k] for k in keys]).last()
    last = ordered[pos_from_end == 0].set_index(keys)
    out = pd.DataFrame(
        {
            "theme_label": last.get("theme_label", last.index.get_level_values(0)),
            "latest_period": last["period"],
            "latest_value": last["value"],
            "centre": last["centre"],
            "lower": last["lower"],
            "upper": last["upper"],
            "latest_special_cause": last["special_cause"],
            "latest_rule": last["rule"],
            "latest_point_type": last.get("point_type"),
            "chart": last["chart"],
            "latest_events": last["events"],
        }
    )
    out["recent_special_points"] = n_recent.reindex(out.index).fillna(0).astype(int)
    out["recent_rules"] = rules.reindex(out.index).fillna("")
    out["step_period"] = step_period.reindex(out.index).fillna("")
    out["step_side"] = step_dir.reindex(out.index).fillna("")
    out = out[(out["recent_special_points"] > 0) | (out["step_period"] != "")]
    return out.reset_index()[SUMMARY_COLUMNS]


# --- Chart choice: XmR, Poisson (c / u), quarterly, or none ---------------------------------

#: XmR charts need counts that look continuous: at least this mean per period ...
XMR_MIN_MEAN = 5.0
#: ... and at most this share of empty periods (a run of zeros is not a process shift).
XMR_MAX_ZERO_SHARE = 0.1
#: Below ``XMR_MIN_MEAN`` but at least this mean per period: a c-chart (counts) or u-chart
#: (rates per denominator) with exact Poisson probability limits, per month.
POISSON_MIN_MEAN = 1.0
#: Rarer than that: the same chart on calendar quarters (complete quarters only).
#: Fewer than this many points (months, or quarters for rare series): no chart.
MIN_POINTS = 8
#: Fewer incidents than this in the whole series: no chart (nothing to show but noise).
MIN_EVENTS = 5
#: Exact Poisson probability limits: each tail 0.135%, the 3-sigma equivalent.
POISSON_TAIL = 0.00135
#: Making Data Count recalculation: a shift of ``run_length`` points starts a new process
#: only when at least this many points follow its start and precede it (limits need ~12).
MIN_POINTS_TO_RECALCULATE = 12
#: Rates from denominators are shown per this many units (per 1,000 bed days).
RATE_PER = 1000.0
CHART_NAMES = {"xmr": "XmR", "c": "c-chart", "u": "u-chart", "c_quarterly": "c-chart by quarter",
               "u_quarterly": "u-chart by quarter", "none": "no chart"}


def choose_chart(n_points: np.ndarray, total: np.ndarray, mean: np.ndarray,
                 zero_share: np.ndarray, n_quarters: np.ndarray, *, rates: np.ndarray | bool = False,
                 mostly_hidden: np.ndarray | bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The chart each series gets, and why, from its counts (vectorised over series).

    * ``none``: fewer than :data:`MIN_POINTS` periods, or fewer than :data:`MIN_EVENTS`
      incidents, or rare (mean under :data:`POISSON_MIN_MEAN` a month) with fewer than
      :data:`MIN_POINTS` complete quarters;
    * ``xmr``: mean at least :data:`XMR_MIN_MEAN` per period and at most
      :data:`XMR_MAX_ZERO_SHARE` empty periods (Making Data Count XmR, on rates when a
      denominator is given);
    * ``c`` / ``u``: otherwise, with mean at least :data:`POISSON_MIN_MEAN` per period:
      exact Poisson probability limits (u with the denominator);
    * ``c_quarterly`` / ``u_quarterly``: rarer still: the same chart on calendar quarters.

    ``mostly_hidden`` is for charts a reviewer sees: the disclosure gate hides every count
    from 1 to its threshold, and a monthly series with more hidden months than shown ones
    would be drawn as a blank panel. Such series go to quarters (when there are enough),
    where the counts can be shown; the reason says so.
    """
    n_points, total, mean = (np.asarray(v, dtype=float) for v in (n_points, total, mean))
    zero_share, n_quarters = np.asarray(zero_share, dtype=float), np.asarray(n_quarters, dtype=float)
    rates = np.broadcast_to(np.asarray(rates, dtype=bool), n_points.shape)
    letter = np.where(rates, "u", "c")
    few_points = n_points < MIN_POINTS
    few_events = total < MIN_EVENTS
    xmr_ok = (mean >= XMR_MIN_MEAN) & (zero_share <= XMR_MAX_ZERO_SHARE)
    quarterly_ok = n_quarters >= MIN_POINTS
    hidden_monthly = np.broadcast_to(np.asarray(mostly_hidden, dtype=bool), n_points.shape) \
        & quarterly_ok
    xmr_ok &= ~hidden_monthly
    monthly = (mean >= POISSON_MIN_MEAN) & ~hidden_monthly
    chart = np.select(
        [few_points, few_events, xmr_ok, monthly, quarterly_ok],
        ["none", "none", "xmr", letter, np.char.add(letter, "_quarterly")], default="none",
    ).astype(object)
    per = np.round(mean, 1).astype(str)
    reason = np.select(
        [few_points, few_events, xmr_ok, monthly, quarterly_ok],
        [np.char.add(np.char.add("only ", n_points.astype(int).astype(str)),
                     f" periods: at least {MIN_POINTS} are needed for any chart"),
         np.char.add(np.char.add("only ", total.astype(int).astype(str)),
                     f" incidents in the whole series: at least {MIN_EVENTS} are needed to chart"),
         np.char.add(np.char.add("XmR: ", per), f" incidents a period on average (>= {XMR_MIN_MEAN:g})"),
         np.char.add(np.char.add("Poisson limits: ", per),
                     f" incidents a period on average (under {XMR_MIN_MEAN:g}, or many empty periods)"),
         np.char.add(np.char.add("by quarter: ", per),
                     np.where(mean >= POISSON_MIN_MEAN,
                              " incidents a month on average (most monthly counts would be hidden"
                              " from reviewers)",
                              f" incidents a month on average (under {POISSON_MIN_MEAN:g})"))],
        default=np.char.add(np.char.add("too rare to chart: ", per),
                            f" incidents a month and fewer than {MIN_POINTS} complete quarters"),
    ).astype(object)
    return chart, reason


def poisson_limits(events: np.ndarray, exposure: np.ndarray, seg: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """c- / u-chart centre and exact Poisson probability limits, per segment.

    Centre = the segment's total events over its total exposure (exposure 1 per period for
    a c-chart); at each point ``mu = centre x exposure``, and the limits are the counts
    beyond which each tail has probability under :data:`POISSON_TAIL`, divided by the
    exposure. Returns (centre, lower, upper, outside side: +1 above, -1 below, 0).
    """
    seg = np.asarray(seg, dtype=np.int64)
    n_seg = int(seg.max()) + 1 if seg.size else 0
    x = np.asarray(events, dtype=float)
    t = np.asarray(exposure, dtype=float)
    rate = (np.bincount(seg, weights=x, minlength=n_seg)
            / np.bincount(seg, weights=t, minlength=n_seg))[seg]
    mu = rate * t
    with np.errstate(invalid="ignore", divide="ignore"):
        hi_count = stats.poisson.isf(POISSON_TAIL, mu)   # P(X > hi) <= tail
        lo_count = stats.poisson.ppf(POISSON_TAIL, mu)   # P(X < lo) <= tail
        above = x > hi_count
        below = x < lo_count
        return rate, lo_count / t, hi_count / t, np.where(above, 1, np.where(below, -1, 0))


def _first_shift_start(relative: np.ndarray, seg: np.ndarray, run_length: int,
                       min_points: int) -> np.ndarray:
    """Per point: True where a sustained shift starts (see :func:`spc_table`).

    ``relative`` is each point's side of its segment's *baseline* centre (the mean of the
    segment's first ``min_points`` points). A shift is ``run_length`` consecutive points on
    one side, all at least ``min_points`` points into the segment; it starts a new process
    only if at least ``min_points`` points follow its start. The first such start in each
    segment is marked.
    """
    n = relative.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    start = np.ones(n, dtype=bool)
    start[1:] = seg[1:] != seg[:-1]
    first_idx = np.flatnonzero(start)
    pos = np.arange(n) - first_idx[seg]
    late = pos >= min_points
    run_hi = _run_lengths((relative > 0) & late, start)
    run_lo = _run_lengths((relative < 0) & late, start)
    end = (run_hi >= run_length) | (run_lo >= run_length)
    size = np.bincount(seg)[seg]
    cand = np.flatnonzero(end) - (run_length - 1)
    cand = cand[size[cand] - pos[cand] >= min_points]
    begin = np.zeros(n, dtype=bool)
    if cand.size:
        firsts = cand[np.unique(seg[cand], return_index=True)[1]]
        begin[firsts] = True
    return begin


def spc_table(
    assignments: pd.DataFrame,
    *,
    group_by: str = "locality",
    period: str = "month",
    rebase: Mapping | None = None,
    chart: str = "auto",
    denominators: pd.DataFrame | None = None,
    denominator_unit: str | None = None,
    recalculate: bool = True,
    min_shown: float = 0.0,
    **xmr_options,
) -> pd.DataFrame:
    """SPC charts for every theme, overall (``locality == "All"``) and per group, each with
    the chart its data support (:func:`choose_chart`), unless ``chart="xmr"`` forces XmR.

    XmR series follow Making Data Count: with ``recalculate`` (default), a sustained shift
    (``run_length`` points on one side of the centre, with at least
    :data:`MIN_POINTS_TO_RECALCULATE` points before and from it) starts a new process and
    the limits are recalculated from it (``step`` marks the first point; at most two steps).
    c/u charts use exact Poisson limits and only the outside-limits rule: with small counts a
    run of empty months is likely and is not a shift. Quarterly charts have one row per
    complete quarter (period ``YYYYQn``). ``none`` keeps the counts, with no limits and the
    reason in ``chart_reason``.

    With ``denominators`` (locality, period, denominator[, unit]; monthly, locality groups
    only) the values are rates per :data:`RATE_PER` units, and ``exposure`` is given;
    a group without a denominator for every month keeps counts (``chart_reason`` says so).

    ``min_shown`` (the disclosure threshold, for series a reviewer sees) sends series with
    more months hidden (1..``min_shown``) than shown to quarterly charts (:func:`choose_chart`).
    """
    if chart not in ("auto", "xmr"):
        raise ParameterError(f"chart must be 'auto' or 'xmr', not {chart!r}")
    if chart == "xmr":
        return xmr_table(assignments, group_by=group_by, period=period, rebase=rebase,
                         **xmr_options)
    direction, run_length, screen, fix_after = _xmr_options(xmr_options)

    counts = counts_by_period(assignments, group_by=group_by, period=period)
    n_p = counts["period_start"].nunique()
    counts["series"] = np.arange(len(counts)) // n_p
    counts["events"] = counts["value"]
    counts["exposure"] = 1.0
    unit_note = np.full(len(counts), "", dtype=object)
    has_rate = np.zeros(len(counts), dtype=bool)
    if denominators is not None and period == "month" and group_by == "locality":
        exposure, unit_note = _series_exposure(counts, denominators, denominator_unit)
        has_rate = exposure.notna().to_numpy()
        counts["exposure"] = exposure.fillna(1.0).to_numpy()
    counts["rate"] = has_rate

    g = counts.groupby("series", sort=True)
    total = g["events"].sum().to_numpy()
    mean = total / n_p
    zero = g["events"].apply(lambda v: float((v == 0).mean())).to_numpy()
    ev = counts["events"].to_numpy(dtype=float)
    hidden = pd.Series((ev >= 1) & (ev <= min_shown)).groupby(counts["series"].to_numpy()).sum()
    shown = pd.Series(ev > min_shown).groupby(counts["series"].to_numpy()).sum()
    mostly_hidden = (min_shown > 0) & (hidden > shown).to_numpy()
    axis = pd.DatetimeIndex(counts["period_start"].iloc[:n_p])
    q = axis.to_period("Q")
    full_q = pd.Series(1, index=q).groupby(level=0).size()
    n_quarters = int((full_q == 3).sum()) if period == "month" else 0
    kind, reason = choose_chart(np.full(len(total), n_p), total, mean, zero,
                                np.full(len(total), n_quarters),
                                rates=g["rate"].all().to_numpy(), mostly_hidden=mostly_hidden)
    counts["chart"] = kind[counts["series"].to_numpy()]
    counts["chart_reason"] = reason[counts["series"].to_numpy()] + unit_note
    counts["value"] = np.where(has_rate, counts["events"] / counts["exposure"] * RATE_PER,
                               counts["events"])

    groups = np.zeros(len(counts), dtype=np.int64)
    if rebase:
        firsts = counts.iloc[::n_p]
        for s, (theme_id, grp) in enumerate(zip(firsts["theme_id"], firsts["locality"], strict=True)):
            points = _rebase_for(rebase, theme_id, grp)
            if points:
                groups[s * n_p:(s + 1) * n_p] = _rebase_groups(axis, points)
    counts["rebase_group"] = groups

    parts = []
    xmr_rows = counts[counts["chart"] == "xmr"]
    if len(xmr_rows):
        parts.append(_auto_xmr(xmr_rows, direction, run_length, screen, fix_after, recalculate,
                               period))
    monthly = counts[counts["chart"].isin(["c", "u"])]
    if len(monthly):
        parts.append(_poisson_rows(monthly, direction, period))
    quarterly = counts[counts["chart"].isin(["c_quarterly", "u_quarterly"])]
    if len(quarterly):
        parts.append(_poisson_rows(_to_quarters(quarterly, full_q), direction, "quarter"))
    none = counts[counts["chart"] == "none"]
    if len(none):
        parts.append(none.assign(
            period=period_labels(none["period_start"], period), centre=np.nan, lower=np.nan,
            upper=np.nan, lower_2sigma=np.nan, upper_2sigma=np.nan, special_cause=False, rule="",
            special_cause_type="Common Cause", point_type="common_cause", step=False,
            provisional=True))
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["series", "period_start"], kind="stable")
    cols = ["theme_id", "theme_label", "locality", "period", "period_start", "value", "centre",
            "lower", "upper", "lower_2sigma", "upper_2sigma", "special_cause", "rule",
            "special_cause_type", "point_type", "rebase_group", "provisional", "chart",
            "chart_reason", "events", "exposure", "step"]
    return out[cols].reset_index(drop=True)


def _series_exposure(counts: pd.DataFrame, denominators: pd.DataFrame, unit: str | None
                     ) -> tuple[pd.Series, np.ndarray]:
    """Exposure per row of ``counts`` (NaN where the group lacks a denominator for a month;
    the whole series then keeps counts) and a note for those series."""
    d = denominators.copy()
    if "unit" in d.columns and unit is not None:
        d = d[d["unit"].astype(str) == unit]
    d["locality"] = d["locality"].astype(str).str.strip()
    d["period"] = d["period"].astype(str).str.strip().str[:7]
    d["denominator"] = pd.to_numeric(d["denominator"], errors="coerce")
    wide = d.pivot_table(index="locality", columns="period", values="denominator", aggfunc="sum")
    months = period_labels(counts["period_start"], "month")
    keys = pd.MultiIndex.from_arrays([counts["locality"].astype(str), months])
    long = wide.stack()
    value = pd.Series(long.reindex(keys).to_numpy(), index=counts.index)
    # The organisation-wide series: sum over groups, only if every group has every month.
    localities = counts.loc[counts["locality"] != ALL_GROUPS, "locality"].unique()
    complete = wide.reindex(index=localities, columns=pd.unique(months)).notna().all().all()
    if complete:
        total = wide.reindex(index=localities).sum()
        is_all = counts["locality"] == ALL_GROUPS
        value[is_all] = total.reindex(months[is_all.to_numpy()]).to_numpy()
    whole = value.notna().groupby(counts["series"]).transform("all")
    value = value.where(whole)
    note = np.where(whole.to_numpy(), "", "; counts, not rates: no denominator for every month")
    return value, note.astype(object)


def _auto_xmr(rows: pd.DataFrame, direction: int, run_length: int, screen: bool, fix_after,
              recalculate: bool, period: str) -> pd.DataFrame:
    """XmR over many series at once, with Making Data Count recalculation after shifts.

    Each pass charts every series, finds the first sustained shift in each segment and
    starts a new segment there; two passes at most (two steps per segment).
    """
    y = rows["value"].to_numpy(float)
    series = rows["series"].to_numpy()
    base = series * 1000 + rows["rebase_group"].to_numpy() * 10
    step = np.zeros(len(rows), dtype=bool)
    for _ in range(2 if recalculate else 0):
        seg = np.unique(base, return_inverse=True)[1]
        pts = _xmr_arrays(y, seg, screen_outliers=screen, run_length=run_length,
                          fix_after_n_points=MIN_POINTS_TO_RECALCULATE)
        begin = _first_shift_start(pts.relative, seg, run_length, MIN_POINTS_TO_RECALCULATE)
        if not begin.any():
            break
        step |= begin
        base = base + _after_in_segment(begin, seg)
    seg = np.unique(base, return_inverse=True)[1]
    pts = _xmr_arrays(y, seg, screen_outliers=screen, run_length=run_length,
                      fix_after_n_points=fix_after)
    first_seg = pd.Series(seg).groupby(series).transform("min").to_numpy()
    return rows.assign(
        period=period_labels(rows["period_start"], period),
        rebase_group=seg - first_seg,
        centre=pts.centre, lower=pts.lower, upper=pts.upper,
        lower_2sigma=pts.lower_2sigma, upper_2sigma=pts.upper_2sigma,
        special_cause=pts.rule > 0,
        rule=np.array(("",) + RULES, dtype=object)[pts.rule],
        special_cause_type=_type_names(pts.rule, pts.high, run_length),
        point_type=_point_types(pts.high, direction),
        provisional=pts.group_size < PROVISIONAL_BELOW,
        step=step,
    )


def _after_in_segment(begin: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """1 for every point at or after a marked start within its segment, else 0."""
    c = np.cumsum(begin.astype(np.int64))
    start = np.ones(begin.size, dtype=bool)
    start[1:] = seg[1:] != seg[:-1]
    at_start = c - begin.astype(np.int64)
    base = at_start[np.flatnonzero(start)][seg]
    return (c - base > 0).astype(np.int64)


def _poisson_rows(rows: pd.DataFrame, direction: int, period: str) -> pd.DataFrame:
    """c- / u-chart rows (monthly or quarterly) for many series at once."""
    rows = rows.copy()
    base = rows["series"].to_numpy() * 1000 + rows["rebase_group"].to_numpy()
    seg = np.unique(base, return_inverse=True)[1]
    rate, lo, hi, side = poisson_limits(rows["events"].to_numpy(float),
                                        rows["exposure"].to_numpy(float), seg)
    scale = np.where(rows["rate"].to_numpy(bool), RATE_PER, 1.0)
    size = np.bincount(seg)[seg]
    rule = np.where(side != 0, "outside_limits", "")
    return rows.assign(
        period=period_labels(rows["period_start"], "month") if period == "month"
        else pd.PeriodIndex(rows["period_start"], freq="Q").astype(str),
        centre=rate * scale, lower=lo * scale, upper=hi * scale,
        lower_2sigma=np.nan, upper_2sigma=np.nan,
        special_cause=side != 0, rule=rule,
        special_cause_type=np.select([side > 0, side < 0], ["Above UCL", "Below LCL"],
                                     "Common Cause"),
        point_type=_point_types(side, direction),
        provisional=size < PROVISIONAL_BELOW, step=False,
    )


def _to_quarters(rows: pd.DataFrame, full_q: pd.Series) -> pd.DataFrame:
    """Monthly rows summed to complete calendar quarters."""
    q = pd.DatetimeIndex(rows["period_start"]).to_period("Q")
    keep = full_q.reindex(q).to_numpy() == 3
    r = rows.loc[keep].assign(quarter=q[keep])
    agg = r.groupby(["series", "quarter"], sort=True).agg(
        theme_id=("theme_id", "first"), theme_label=("theme_label", "first"),
        locality=("locality", "first"), events=("events", "sum"), exposure=("exposure", "sum"),
        rate=("rate", "all"), chart=("chart", "first"), chart_reason=("chart_reason", "first"),
        rebase_group=("rebase_group", "max")).reset_index()
    agg["period_start"] = agg["quarter"].dt.start_time
    scale = np.where(agg["rate"], RATE_PER, 1.0)
    agg["value"] = np.where(agg["rate"], agg["events"] / agg["exposure"] * scale, agg["events"])
    return agg.drop(columns="quarter")
