"""Actions register: load and validate it, and judge whether each completed action moved its theme.

Boards are asked for "evidence that learning leads to change", so an action register is only
useful if every row is trustworthy (one id, a real theme, dates in a sensible order) and if a
completed action is followed by a before/after comparison of its theme's rate that anyone can
re-check. Validation collects *every* problem before raising, so a user fixes the file once,
and nothing in the register is silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sgreview.care_setting import fold_setting, incident_settings
from sgreview.errors import InputError, ParameterError
from sgreview.learning.its import segmented_effect
from sgreview.schema import parse_dates

REQUIRED_COLUMNS = ("action_id", "theme", "owner", "agreed_date", "due_date", "status")
OPTIONAL_COLUMNS = ("locality", "description", "completed_date", "direction", "setting")
EFFECTS = ("improved", "no_change", "inconclusive", "worse", "too_early", "not_measured")
#: An action's expected direction of change (register column ``direction``).
ACTION_DIRECTIONS = ("decrease", "increase")
#: ``no_change`` needs the whole interval inside [1 / margin, margin]: no change larger than
#: 25% either way is compatible with the data. A wider interval that includes 1 is
#: ``inconclusive``.
NO_CHANGE_MARGIN = 1.25
#: Months just before the agreed date left out of the baseline: actions follow spikes, and
#: a spike inside the baseline makes any later fall look like an effect (regression to the
#: mean). Measured in benchmarks/bench_action_effects.py.
RUN_UP_MONTHS = 3

#: Recorded status wording -> canonical status. Anything else is a validation problem.
STATUS_WORDS: Mapping[str, str] = {
    "open": "open", "not started": "open", "planned": "open", "agreed": "open", "new": "open",
    "in progress": "in_progress", "in_progress": "in_progress", "ongoing": "in_progress",
    "started": "in_progress", "on track": "in_progress", "delayed": "in_progress",
    "overdue": "open", "off track": "in_progress",
    "completed": "completed", "complete": "completed", "done": "completed",
    "closed": "completed", "implemented": "completed",
    "cancelled": "cancelled", "canceled": "cancelled", "withdrawn": "cancelled",
    "superseded": "cancelled",
}
_LIVE = ("open", "in_progress")
#: Values of ``locality`` meaning "the whole organisation".
_ORG_WIDE = {"", "all", "trust", "trust-wide", "trustwide", "organisation", "organisation-wide",
             "whole organisation", "nan", "none"}
_THEME_KEY_COLUMNS = ("taxonomy_key", "key", "taxonomy", "theme_key")


class ActionsRegisterError(InputError):
    """An actions register with problems; ``problems`` lists every one (row, column, reason).

    The message names the first problem and counts the rest, so the CLI still prints one line,
    while a notebook or pipeline can write ``problems`` out in full.
    """

    def __init__(self, problems: pd.DataFrame, *, path: str | Path | None = None) -> None:
        self.problems = problems.reset_index(drop=True)
        first = self.problems.iloc[0]
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' if more != 1 else ''} in the register)" if more else ""
        super().__init__(
            f"actions register: {first['reason']}{tail}",
            path=path,
            row=None if pd.isna(first["source_row"]) else int(first["source_row"]),
            column=str(first["column"]),
        )


def _norm(s: pd.Series) -> pd.Series:
    """Case- and space-insensitive text for matching themes and status words."""
    return s.astype("string").str.strip().str.casefold().str.replace(r"[\s_-]+", " ", regex=True)


def theme_lookup(themes: pd.DataFrame) -> pd.DataFrame:
    """Every way an action may name a theme (id, taxonomy key, label) -> theme_id.

    Several discovered themes can share one taxonomy key; an action on that key then covers
    all of them, so the lookup is one row per (name, theme_id) pair. A theme merged in the
    codebook resolves to the theme it was merged into.
    """
    if "theme_id" not in themes.columns:
        raise InputError("themes table has no 'theme_id' column", column="theme_id")
    own = themes["theme_id"].astype("string")
    tid = own
    if "merge_into" in themes.columns:  # a merged theme's incidents now sit in its target
        target = themes["merge_into"].astype("string").str.strip().replace("", pd.NA)
        tid = target.fillna(own)
    parts = [pd.DataFrame({"name": _norm(own), "theme_id": tid, "rank": 0})]
    for col in _THEME_KEY_COLUMNS:
        if col in themes.columns:
            parts.append(pd.DataFrame({"name": _norm(themes[col]), "theme_id": tid, "rank": 1}))
    if "theme_label" in themes.columns:
        parts.append(pd.DataFrame({"name": _norm(themes["theme_label"]), "theme_id": tid, "rank": 2}))
    out = pd.concat(parts, ignore_index=True).dropna(subset=["name"])
    out = out[out["name"] != ""]
    # A name resolves at its best rank only (an id beats a key beats a label).
    best = out.groupby("name")["rank"].transform("min")
    return out[out["rank"] == best].drop_duplicates(["name", "theme_id"])[["name", "theme_id"]]


def _problem_frame(rows: list[pd.DataFrame]) -> pd.DataFrame:
    cols = ["source_row", "action_id", "column", "reason", "value"]
    rows = [r for r in rows if len(r)]
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.concat(rows, ignore_index=True)[cols].sort_values(["source_row", "column"], kind="stable")


def _flag(df: pd.DataFrame, mask: pd.Series, column: str, reason: str | pd.Series,
          value: pd.Series | None = None) -> pd.DataFrame:
    sel = mask.fillna(False).astype(bool)
    if value is None:
        value = df[column] if column in df.columns else pd.Series(pd.NA, index=df.index)
    return pd.DataFrame({
        "source_row": df["source_row"][sel],
        "action_id": df["action_id"][sel],
        "column": column,
        "reason": reason[sel] if isinstance(reason, pd.Series) else reason,
        "value": value.astype("string")[sel],
    })


def _read_register(path_or_df: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    if isinstance(path_or_df, pd.DataFrame):
        df = path_or_df.copy()
        df.columns = [str(c).strip() for c in df.columns]
        if "source_row" not in df.columns:
            df["source_row"] = np.arange(2, len(df) + 2)
        return df.reset_index(drop=True), None
    from sgreview.readers import read_table

    table = read_table(path_or_df)
    df = table.data.copy()
    df["source_row"] = table.source_row.to_numpy()
    return df.reset_index(drop=True), str(path_or_df)


def load_actions(
    path_or_df: str | Path | pd.DataFrame,
    *,
    themes: pd.DataFrame | None = None,
    today: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Read and validate an actions register (DESIGN.md shape); raise on any problem.

    Checks, all collected before raising :class:`ActionsRegisterError`: required columns;
    missing or duplicate ``action_id``; missing or unreadable ``agreed_date``/``due_date``;
    a due date before the agreed date; a completion date before the agreed date or after
    ``today``; an unknown status; a completed action with no completion date (or a completion
    date on an action that is not completed); and, when ``themes`` is given, a theme that is
    neither a theme id, a taxonomy key nor a theme label of the model. A theme that is a key
    or name of the package taxonomy but has no theme in the model is kept, not rejected: the
    action is real, its effect is reported as ``not_measured`` with the reason.

    Returns one row per action with canonical ``status`` (open, in_progress, completed,
    cancelled), ``theme_id`` (first match), ``theme_ids`` (all matching theme ids, ``;``-joined),
    ``theme_label``, ``overdue`` (live and past due at ``today``), ``days_overdue`` and
    ``source_row``.
    """
    df, path = _read_register(path_or_df)
    today = pd.Timestamp(today if today is not None else pd.Timestamp.today()).normalize()
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"actions register has no '{missing[0]}' column (needs {', '.join(REQUIRED_COLUMNS)})",
            path=path, column=missing[0],
        )
    if df.empty:
        raise InputError("actions register has no rows", path=path)
    for col in OPTIONAL_COLUMNS:
        if col not in df.columns:
            df[col] = pd.NA
    for col in ("action_id", "theme", "owner", "status", "locality", "description", "direction",
                "setting"):
        df[col] = df[col].astype("string").str.strip().replace("", pd.NA)

    problems: list[pd.DataFrame] = []
    problems.append(_flag(df, df["action_id"].isna(), "action_id", "action_id is missing"))
    dup = df["action_id"].notna() & df["action_id"].duplicated(keep=False)
    first_row = df.groupby("action_id")["source_row"].transform("min")
    problems.append(_flag(df, dup & (df["source_row"] != first_row), "action_id",
                          "duplicate action_id (first used on row " + first_row.astype("string") + ")"))
    problems.append(_flag(df, df["theme"].isna(), "theme", "theme is missing"))
    problems.append(_flag(df, df["owner"].isna(), "owner", "owner is missing"))

    dates = {}
    for col in ("agreed_date", "due_date", "completed_date"):
        raw = df[col].astype("string").str.strip().replace("", pd.NA)
        dates[col] = parse_dates(df[col])
        bad = raw.notna() & dates[col].isna()
        problems.append(_flag(df, bad, col, f"{col} is not a date (use YYYY-MM-DD or DD/MM/YYYY)"))
        if col != "completed_date":
            problems.append(_flag(df, raw.isna(), col, f"{col} is missing"))
    agreed, due, done = dates["agreed_date"], dates["due_date"], dates["completed_date"]
    problems.append(_flag(df, due < agreed, "due_date", "due_date is before agreed_date",
                          due.dt.strftime("%Y-%m-%d") + " < " + agreed.dt.strftime("%Y-%m-%d")))
    problems.append(_flag(df, done < agreed, "completed_date",
                          "completed_date is before agreed_date (an action is agreed before it "
                          "is completed)",
                          done.dt.strftime("%Y-%m-%d") + " < " + agreed.dt.strftime("%Y-%m-%d")))
    problems.append(_flag(df, done > today, "completed_date",
                          f"completed_date is after today ({today:%Y-%m-%d})"))

    direction = _norm(df["direction"])
    problems.append(_flag(df, direction.notna() & ~direction.isin(list(ACTION_DIRECTIONS)),
                          "direction", "direction must be increase or decrease (blank means "
                          "decrease: fewer incidents is better)"))
    status = _norm(df["status"]).map(STATUS_WORDS).astype("string")
    problems.append(_flag(df, df["status"].isna(), "status", "status is missing"))
    problems.append(_flag(df, df["status"].notna() & status.isna(), "status",
                          "unknown status (use open, in progress, completed or cancelled)"))
    has_done_text = df["completed_date"].astype("string").str.strip().replace("", pd.NA).notna()
    problems.append(_flag(df, (status == "completed") & ~has_done_text, "completed_date",
                          "status is completed but completed_date is missing"))
    problems.append(_flag(df, status.isin(list(_LIVE)) & done.notna(), "completed_date",
                          "completed_date is given but status is " + df["status"].fillna("")))

    theme_ids = pd.Series(pd.NA, index=df.index, dtype="string")
    theme_label = df["theme"].copy()
    if themes is not None:
        lookup = theme_lookup(themes)
        keyed = pd.DataFrame({"name": _norm(df["theme"]), "row": df.index}).merge(lookup, on="name")
        grouped = keyed.groupby("row")["theme_id"].agg(lambda s: ";".join(sorted(set(s), key=_natural)))
        theme_ids.loc[grouped.index] = grouped.astype("string")
        if "theme_label" in themes.columns:
            labels = dict(zip(themes["theme_id"].astype("string"), themes["theme_label"], strict=False))
            theme_label = theme_ids.str.split(";").str[0].map(labels).astype("string").fillna(df["theme"])
        # A taxonomy theme the model did not find is real but unmeasurable, not a typo.
        taxonomy = _taxonomy_names()
        in_taxonomy = theme_ids.isna() & _norm(df["theme"]).isin(list(taxonomy))
        theme_label = theme_label.where(~in_taxonomy, _norm(df["theme"]).map(taxonomy))
        key_col = next((c for c in _THEME_KEY_COLUMNS if c in themes.columns), "theme_label")
        names = themes[key_col] if key_col in themes.columns else themes["theme_id"]
        names = names.dropna().astype(str).str.strip()
        known = ", ".join(sorted(names[names != ""].unique())[:12])
        problems.append(_flag(df, df["theme"].notna() & theme_ids.isna() & ~in_taxonomy, "theme",
                              f"unknown theme (not a theme id, taxonomy key or label of the theme "
                              f"model, nor a taxonomy theme; known include: {known})"))
    else:
        theme_ids = df["theme"].copy()

    found = _problem_frame(problems)
    if len(found):
        raise ActionsRegisterError(found, path=path)

    out = df.copy()
    out["status"] = status
    out["direction"] = direction.astype("string")
    out["agreed_date"], out["due_date"], out["completed_date"] = agreed, due, done
    out["theme_ids"] = theme_ids
    out["theme_id"] = theme_ids.str.split(";").str[0]
    out["theme_label"] = theme_label
    out["overdue"] = out["status"].isin(list(_LIVE)) & (out["due_date"] < today)
    out["days_overdue"] = ((today - out["due_date"]).dt.days.where(out["overdue"], 0)).astype(int)
    first = ["action_id", "theme", "theme_id", "theme_ids", "theme_label", "locality", "description",
             "owner", "agreed_date", "due_date", "completed_date", "status", "overdue", "days_overdue",
             "source_row"]
    return out[first + [c for c in out.columns if c not in first]].reset_index(drop=True)


def _taxonomy_names() -> dict[str, str]:
    """Normalised taxonomy incident-theme keys and names -> display name."""
    try:
        from sgreview.themes.labels import load_taxonomy

        entries = load_taxonomy()["incident_themes"]
    except (ImportError, InputError, ParameterError):
        return {}
    out: dict[str, str] = {}
    for e in entries:
        for name in (e["key"], e.get("name", e["key"])):
            out[" ".join(re.split(r"[\s_-]+", str(name).strip().casefold()))] = str(e.get("name", e["key"]))
    return out


def _natural(s: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


# ---------------------------------------------------------------------------------------------
# Effects


@dataclass(frozen=True)
class _Series:
    counts: pd.Series      # incidents of the theme per period (complete periods only)
    exposure: pd.Series    # months (1 each) or denominator per period
    unit: str


def complete_periods(dates: pd.Series, freq: str, window: tuple | None) -> pd.PeriodIndex:
    """Complete periods inside the data window: a half-covered edge month would fake a fall."""
    start = pd.Timestamp(window[0]) if window else dates.min()
    end = pd.Timestamp(window[1]) if window else dates.max()
    if pd.isna(start) or pd.isna(end):
        raise InputError("assignments have no usable incident_date", column="incident_date")
    rng = pd.period_range(start.to_period(freq), end.to_period(freq), freq=freq)
    full = (rng.start_time >= start.normalize()) & (rng.end_time.normalize() <= end.normalize())
    return rng[full]


UNIT_NAMES = {"M": "month", "W-SUN": "week", "Q": "quarter"}


def period_freq(period: str) -> str:
    """The pandas frequency of a period name (month, week, quarter)."""
    try:
        return {"month": "M", "week": "W-SUN", "quarter": "Q"}[period]
    except KeyError:
        raise ParameterError(f"period must be month, week or quarter, not {period!r}") from None


def is_org_wide(locality: object) -> bool:
    return pd.isna(locality) or str(locality).strip().casefold() in _ORG_WIDE


def _denominator_table(denominators: pd.DataFrame, freq: str, unit: str | None) -> pd.DataFrame:
    """Denominators (locality, period, denominator[, unit]) for one unit, keyed by Period.

    A table may hold several units (bed days and caseload); summing them would be
    meaningless, so with more than one unit the caller must choose.
    """
    need = {"locality", "period", "denominator"}
    if not need <= set(denominators.columns):
        missing = sorted(need - set(denominators.columns))[0]
        raise InputError(f"denominators have no '{missing}' column", column=missing)
    d = denominators.copy()
    if "unit" in d.columns:
        units = sorted(d["unit"].dropna().astype(str).unique())
        if unit is None and len(units) > 1:
            raise ParameterError(f"denominators hold several units ({', '.join(units)}): "
                                 f"choose one with denominator_unit")
        if unit is not None:
            if unit not in units:
                raise ParameterError(f"denominator_unit {unit!r} is not in the denominators "
                                     f"({', '.join(units)})")
            d = d[d["unit"].astype(str) == unit]
    else:
        d["unit"] = unit or "units"
    if isinstance(d["period"].dtype, pd.PeriodDtype):
        d["period"] = d["period"].dt.asfreq(freq)
    else:
        try:
            d["period"] = pd.PeriodIndex(d["period"].astype(str).str.strip(), freq=freq)
        except (ValueError, TypeError):
            d["period"] = pd.PeriodIndex(parse_dates(d["period"]), freq=freq)
    d["denominator"] = pd.to_numeric(d["denominator"], errors="coerce")
    bad = d["denominator"].isna() | (d["denominator"] <= 0)
    if bad.any():
        raise InputError("denominator must be a positive number",
                         row=int(np.flatnonzero(bad.to_numpy())[0]) + 2, column="denominator")
    return d


def _theme_series(action: pd.Series, assignments: pd.DataFrame, periods: pd.PeriodIndex, freq: str,
                  denominators: pd.DataFrame | None) -> _Series:
    scope = assignments
    if not is_org_wide(action.get("locality")):
        scope = scope[scope["locality"].astype("string").str.casefold()
                      == str(action["locality"]).strip().casefold()]
    ids = str(action["theme_ids"]).split(";")
    hit = scope[scope["theme_id"].isin(ids)]
    counts = hit["incident_date"].dt.to_period(freq).value_counts().reindex(periods, fill_value=0)
    if denominators is None:
        return _Series(counts.astype(int), pd.Series(1.0, index=periods), f"incidents per {UNIT_NAMES[freq]}")
    d = denominators
    if not is_org_wide(action.get("locality")):
        d = d[d["locality"].astype("string").str.casefold() == str(action["locality"]).strip().casefold()]
    exposure = d.groupby("period")["denominator"].sum().reindex(periods)
    if exposure.isna().any():
        gap = exposure.index[exposure.isna()][0]
        raise InputError(f"denominators have no value for period {gap} "
                         f"(locality {action.get('locality') or 'all'})", column="denominator")
    unit = str(d["unit"].iloc[0]).replace("_", " ") if len(d) else "units"
    return _Series(counts.astype(int), exposure.astype(float), f"incidents per 1,000 {unit}")


def rate_ratio(events_after: int, exposure_after: float, events_before: int, exposure_before: float,
               *, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """Rate ratio after/before with exact conditional CI and two-sided p-value.

    Given the total n = a + b, the after-count is Binomial(n, p) with
    p = RR*T_a / (RR*T_a + T_b); the Clopper-Pearson interval for p (scipy ``binomtest``)
    maps back to RR = p/(1-p) * T_b/T_a. This is exact for small counts, where a Wald interval
    on log RR is not. Returns (rr, ci_low, ci_high, p_value); NaNs when there are no events.
    """
    a, b = int(events_after), int(events_before)
    n = a + b
    if n == 0:
        return (np.nan, np.nan, np.nan, np.nan)
    scale = exposure_before / exposure_after
    res = stats.binomtest(a, n, exposure_after / (exposure_after + exposure_before))
    ci = res.proportion_ci(confidence_level=confidence, method="exact")

    def to_rr(p: float) -> float:
        return np.inf if p >= 1 else p / (1 - p) * scale

    rr = np.inf if b == 0 else (a / exposure_after) / (b / exposure_before)
    return (float(rr), float(to_rr(ci.low)), float(to_rr(ci.high)), float(res.pvalue))


def _xmr(values: pd.Series, direction: str, run_length: int, rebase: list | None = None) -> pd.DataFrame:
    from sgreview.spc import xmr

    return xmr(values, improvement_direction=direction, run_length=run_length, rebase=rebase)


def _spc_judgement(values: pd.Series, completion: pd.Period, direction: str,
                   run_length: int) -> tuple[str, bool]:
    """Judge the after points against the baseline chart's limits, as Making Data Count does.

    The baseline XmR limits come from :func:`sgreview.spc.xmr` on the points before
    completion; after points are then tested, on those fixed limits, for rule 1 (beyond a
    limit) and rule 4 (a shift of ``run_length`` points on one side of the baseline centre).
    A rebased chart alone cannot show a level change, because each segment gets its own centre.
    Returns (signal text, whether the baseline was already moving the better way in its last
    ``run_length`` points, which would make the action's credit doubtful).
    """
    before = values[values.index < completion]
    after = values[values.index > completion]
    if len(before) < 2 or after.empty:
        return ("none", False)
    base = _xmr(before, direction, run_length)
    centre, lower, upper = (float(base[c].iloc[-1]) for c in ("centre", "lower", "upper"))
    low_good = direction == "decrease"
    below, above = after < centre, after > centre
    findings = [
        (int((after < lower).sum()), "point(s) below the baseline lower limit", low_good),
        (int((after > upper).sum()), "point(s) above the baseline upper limit", not low_good),
    ]
    parts = [f"{n} {text}" + ("" if good else " (worse)") for n, text, good in findings if n]
    for mask, side, good in ((below, "below", low_good), (above, "above", not low_good)):
        run = _longest_run(mask)
        if run >= run_length:
            parts.append(f"shift of {run} points {side} the baseline centre" + ("" if good else " (worse)"))
    recent = base.iloc[-run_length:]
    vals, mid = before.iloc[-run_length:].to_numpy(), recent["centre"].to_numpy(dtype=float)
    better_side = (vals < mid) if low_good else (vals > mid)
    moving = bool((recent["special_cause"].to_numpy(dtype=bool) & better_side).any())
    return ("; ".join(parts) if parts else "none", moving)


def _longest_run(mask: pd.Series) -> int:
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], m.astype(int), [0]))))
    return int((edges[1::2] - edges[::2]).max())


def _prepare_assignments(assignments: pd.DataFrame) -> pd.DataFrame:
    need = {"incident_id", "incident_date", "theme_id"}
    if not need <= set(assignments.columns):
        missing = sorted(need - set(assignments.columns))[0]
        raise InputError(f"assignments have no '{missing}' column", column=missing)
    a = assignments.copy()
    a["theme_id"] = a["theme_id"].astype("string")
    a["incident_date"] = parse_dates(a["incident_date"])
    if "locality" not in a.columns:
        a["locality"] = pd.NA
    return a


def _check_direction(direction: str) -> None:
    if direction not in ("decrease", "increase"):
        raise ParameterError(
            f"improvement_direction for action effects must be 'decrease' or 'increase', not "
            f"{direction!r}: an effect can only be called improved or worse with a direction"
        )


def action_effects(
    actions: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    period: str = "month",
    min_points_after: int = 6,
    min_points_before: int = 6,
    denominators: pd.DataFrame | None = None,
    denominator_unit: str | None = None,
    improvement_direction: str = "decrease",
    confidence: float = 0.95,
    adjust: str = "bonferroni",
    run_length: int = 7,
    window: tuple | None = None,
    run_up: int = RUN_UP_MONTHS,
    seasonality: bool = False,
    controlled: bool = True,
    setting_column: str | None = None,
    setting_map: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Effect of every completed action on its theme's incident rate, with the reason.

    Denominators per setting (a ``setting`` column in ``denominators`` and the incidents'
    setting from ``setting_column``): an action with a ``setting`` in the register counts
    only its setting's incidents over its setting's exposure (a community action per
    caseload, an inpatient one per occupied bed day; ``rate_unit`` says which). An action
    whose setting (or locality in that setting) has no denominator is ``not_measured`` with
    the reason "no denominator"; an action without a setting is judged on counts per period
    (summing bed days and caseload would be meaningless).

    For each action (from :func:`load_actions`) the theme's incidents are counted per complete
    period (its locality only, unless the action is organisation-wide), with exposure = one
    per period, or the summed ``denominators`` (locality, period, denominator) when given.

    * **Baseline**: the periods before the action was *agreed*, less the ``run_up`` periods
      just before agreement (actions follow spikes; counts fall back after a spike anyway).
    * **After**: the periods after the completion period. Periods from the run-up to the
      completion period are a transition and belong to neither side.
    * **Model**: segmented quasi-Poisson regression with a trend, the denominator as exposure
      and optional seasonality (:func:`sgreview.learning.its.segmented_effect`). Where the
      action is for one locality and others exist, the same theme in all other localities
      combined is the comparison series (controlled interrupted time series).
    * **Direction**: the register's ``direction`` column per action (``increase`` for an
      action meant to raise detection or reporting), else ``improvement_direction``.

    Classification (``effect``), in order:

    * ``too_early``: not completed, or fewer than ``min_points_after`` periods after
      completion, or fewer than ``min_points_before`` baseline periods (the reason says which).
    * ``improved`` / ``worse``: the interval of the rate ratio lies entirely on the better /
      worse side of 1.
    * ``no_change``: the interval includes 1 and lies inside [1/1.25, 1.25]
      (:data:`NO_CHANGE_MARGIN`): any change is smaller than 25%.
    * ``inconclusive``: the interval includes 1 but is wider than that.
    * ``not_measured``: the theme is not in the model, or the locality has no incidents.

    With ``adjust="bonferroni"`` (default) each of the m judged actions gets level
    ``1 - (1 - confidence) / m`` and its p value is multiplied by m (capped at 1); the
    interval and the p value come from the same t statistic, so they always agree.
    The SPC judgement (``spc_signal``) is reported beside the model, as corroboration.
    """
    _check_direction(improvement_direction)
    if min_points_after < 1 or min_points_before < 1:
        raise ParameterError("min_points_after and min_points_before must be at least 1")
    if adjust not in ("bonferroni", "none"):
        raise ParameterError(f"adjust must be 'bonferroni' or 'none', not {adjust!r}")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be between 0 and 1, not {confidence!r}")
    if run_up < 0:
        raise ParameterError(f"run_up must be 0 or more periods, not {run_up!r}")
    if "theme_ids" not in actions.columns:  # a raw register: validate it first
        actions = load_actions(actions)
    freq = period_freq(period)
    a = _prepare_assignments(assignments)
    periods = complete_periods(a["incident_date"], freq, window)
    by_setting: dict[str, pd.DataFrame] | None = None
    if setting_column is not None and denominators is not None and "setting" in denominators.columns:
        a["_setting"] = incident_settings(a, setting_column, dict(setting_map or {})).to_numpy()
        folded = fold_setting(denominators["setting"])
        by_setting = {s: _denominator_table(denominators[(folded == s).to_numpy()]
                                            .drop(columns="setting"), freq, None)
                      for s in sorted(set(folded)) if s}
        denominators = None
    dens = _denominator_table(denominators, freq, denominator_unit) if denominators is not None else None
    unit = UNIT_NAMES[freq]
    per = 1000.0 if dens is not None else 1.0
    localities = set(a["locality"].dropna().astype(str).str.strip().str.casefold())
    rows: list[dict] = []
    judged: list[tuple[dict, _Series, _Series | None, np.ndarray, np.ndarray, pd.Period, float]] = []
    for _, act in actions.iterrows():  # one pass per action (tens), never per incident
        row = {c: act.get(c) for c in ("action_id", "theme_id", "theme_ids", "theme_label", "owner",
                                       "status", "due_date", "overdue", "days_overdue",
                                       "agreed_date", "completed_date", "locality")}
        direction = act.get("direction")
        direction = str(direction) if isinstance(direction, str) and direction else improvement_direction
        _check_direction(direction)
        row.update(direction=direction, setting="", months_before=0, months_after=0, events_before=np.nan,
                   events_after=np.nan, exposure_before=np.nan, exposure_after=np.nan,
                   rate_before=np.nan, rate_after=np.nan, rate_ratio=np.nan, ci_level=np.nan,
                   ci_low=np.nan, ci_high=np.nan, p_value=np.nan, dispersion=np.nan, method="",
                   spc_signal="none", effect="too_early", rate_unit="")
        rows.append(row)
        if pd.isna(act.get("theme_ids")):
            row.update(effect="not_measured",
                       reason=f"the theme model has no theme for {act['theme']!r} (a taxonomy "
                              f"theme it did not find); seed it in the codebook to measure this action")
            continue
        if not is_org_wide(act.get("locality")) and act["locality"].strip().casefold() not in localities:
            row.update(effect="not_measured",
                       reason=f"locality {act['locality']!r} has no incidents in the data; "
                              f"check its spelling or leave it blank for the whole organisation")
            continue
        scope, act_dens = a, dens
        if by_setting is not None:
            setting = str(act.get("setting") or "").strip().casefold() if pd.notna(act.get("setting")) else ""
            row["setting"] = setting
            if setting:
                scope = a[(a["_setting"] == setting).to_numpy()]
                act_dens = by_setting.get(setting)
                mine = (act_dens if act_dens is None or is_org_wide(act.get("locality")) else
                        act_dens[act_dens["locality"].astype("string").str.strip().str.casefold()
                                 == str(act["locality"]).strip().casefold()])
                if mine is None or mine.empty:
                    where = "" if is_org_wide(act.get("locality")) else f" in {act['locality']!r}"
                    row.update(effect="not_measured",
                               reason=f"no denominator for setting {setting!r}{where}")
                    continue
        ser = _theme_series(act, scope, periods, freq, act_dens)
        row["rate_unit"] = ser.unit
        per = 1000.0 if act_dens is not None else 1.0
        if act["status"] != "completed" or pd.isna(act.get("completed_date")):
            row["reason"] = (f"action is {str(act['status']).replace('_', ' ')}; its effect is "
                             f"judged once it is completed")
            continue
        done = pd.Timestamp(act["completed_date"]).to_period(freq)
        agreed = pd.Timestamp(act["agreed_date"]).to_period(freq)
        idx = ser.counts.index
        before = np.asarray(idx < agreed - run_up)
        after = np.asarray(idx > done)
        nb, na_ = int(before.sum()), int(after.sum())
        xb, xa = int(ser.counts[before].sum()), int(ser.counts[after].sum())
        tb, ta = float(ser.exposure[before].sum()), float(ser.exposure[after].sum())
        row.update(months_before=nb, months_after=na_, events_before=xb, events_after=xa,
                   exposure_before=tb, exposure_after=ta)
        if nb:
            row["rate_before"] = per * xb / tb
        if na_:
            row["rate_after"] = per * xa / ta
        if na_ < min_points_after:
            row["reason"] = (f"{na_} complete {unit}(s) since completion ({done}); "
                             f"{min_points_after} are needed before the effect can be judged")
        elif nb < min_points_before:
            row["reason"] = (f"only {nb} complete {unit}(s) of baseline before the action was "
                             f"agreed ({agreed}, less {run_up} run-up {unit}s); "
                             f"{min_points_before} are needed (load earlier data)")
        else:
            comp = _comparison_series(act, scope, periods, freq, act_dens) if controlled else None
            judged.append((row, ser, comp, before, after, done, per))

    m = len(judged)
    level = 1 - (1 - confidence) / m if (adjust == "bonferroni" and m) else confidence
    how = f", Bonferroni-adjusted for {m} actions" if adjust == "bonferroni" and m > 1 else ""
    for row, ser, comp, before, after, done, per in judged:
        keep = before | after
        t = np.arange(len(ser.counts))[keep]
        months = np.asarray(ser.counts.index.month)[keep] if freq == "M" else None
        fit = segmented_effect(
            ser.counts.to_numpy(float)[keep], ser.exposure.to_numpy(float)[keep], after[keep],
            t=t, month=months, seasonality=seasonality, level=level,
            comparison_y=None if comp is None else comp.counts.to_numpy(float)[keep],
            comparison_exposure=None if comp is None else comp.exposure.to_numpy(float)[keep],
        )
        p_adj = min(1.0, fit.p_value * (m if adjust == "bonferroni" else 1))
        rates = ser.counts / ser.exposure * per
        signal, moving = _spc_judgement(rates, done, row["direction"], run_length)
        row.update(rate_ratio=fit.rate_ratio, ci_level=level, ci_low=fit.ci_low,
                   ci_high=fit.ci_high, p_value=p_adj, dispersion=fit.dispersion,
                   method=fit.method, spc_signal=signal)
        if np.isnan(fit.rate_ratio):
            effect = "inconclusive"
            why = (f"the model could not be fitted ({row['events_before']} incidents in the "
                   f"baseline, {row['events_after']} after): too few to judge")
        else:
            lo, hi = fit.ci_low, fit.ci_high
            effect = verdict(lo, hi, row["direction"])
            side = {"improved": "lies entirely on the better side of 1",
                    "worse": "lies entirely on the worse side of 1",
                    "no_change": f"includes 1 and rules out a change of more than "
                                 f"{NO_CHANGE_MARGIN - 1:.0%} either way",
                    "inconclusive": "includes 1 but is too wide to rule out a real change"}[effect]
            why = (f"rate ratio after/before {fit.rate_ratio:.2f} ({_level_text(level)} CI "
                   f"{lo:.2f} to {hi:.2f}{how}; p = {p_adj:.3g}, same test) from a "
                   f"{fit.method} allowing for the trend, over {row['months_before']} {unit}s "
                   f"before the action was agreed and {row['months_after']} after completion; "
                   f"a {row['direction']} is better; the interval {side}")
        why += f"; SPC against the baseline limits: {signal}"
        if moving and effect == "improved":
            why += ("; caution: the baseline was already improving before completion, so the "
                    "change may not be due to this action")
        row.update(effect=effect, reason=why)
    cols = ["action_id", "theme_id", "status", "due_date", "overdue", "effect", "direction",
            "owner", "theme_label", "theme_ids", "locality", "setting", "days_overdue", "agreed_date",
            "completed_date", "months_before", "months_after",
            "events_before", "events_after", "exposure_before", "exposure_after", "rate_unit",
            "rate_before", "rate_after", "rate_ratio", "ci_level", "ci_low", "ci_high", "p_value",
            "dispersion", "method", "spc_signal", "reason"]
    return pd.DataFrame(rows, columns=cols)


def verdict(ci_low: float, ci_high: float, direction: str = "decrease") -> str:
    """``improved`` / ``worse`` when the interval excludes 1 on the better / worse side (by
    ``direction``), ``no_change`` when it lies inside [1/:data:`NO_CHANGE_MARGIN`,
    :data:`NO_CHANGE_MARGIN`], else ``inconclusive``."""
    better_low = direction == "decrease"
    if (ci_high < 1) if better_low else (ci_low > 1):
        return "improved"
    if (ci_low > 1) if better_low else (ci_high < 1):
        return "worse"
    if ci_low >= 1 / NO_CHANGE_MARGIN and ci_high <= NO_CHANGE_MARGIN:
        return "no_change"
    return "inconclusive"


def _comparison_series(action: pd.Series, assignments: pd.DataFrame, periods: pd.PeriodIndex,
                       freq: str, denominators: pd.DataFrame | None) -> _Series | None:
    """The action's theme in all *other* localities combined, or None for an
    organisation-wide action, a single-locality organisation, or others without a full set
    of denominators (then the action is judged on its own series)."""
    if is_org_wide(action.get("locality")):
        return None
    mine = str(action["locality"]).strip().casefold()
    loc = assignments["locality"].astype("string").str.strip().str.casefold()
    others = assignments[loc.notna() & (loc != mine)]
    if others.empty:
        return None
    ids = str(action["theme_ids"]).split(";")
    hit = others[others["theme_id"].isin(ids)]
    counts = hit["incident_date"].dt.to_period(freq).value_counts().reindex(periods, fill_value=0)
    if counts.sum() == 0:
        return None
    if denominators is None:
        return _Series(counts.astype(int), pd.Series(1.0, index=periods), "")
    d = denominators[denominators["locality"].astype("string").str.strip().str.casefold() != mine]
    exposure = d.groupby("period")["denominator"].sum().reindex(periods)
    if exposure.isna().any():
        return None
    return _Series(counts.astype(int), exposure.astype(float), "")


def _level_text(level: float) -> str:
    text = f"{100 * level:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def effect_charts(
    actions: pd.DataFrame,
    assignments: pd.DataFrame,
    *,
    period: str = "month",
    denominators: pd.DataFrame | None = None,
    denominator_unit: str | None = None,
    improvement_direction: str = "decrease",
    run_length: int = 7,
    window: tuple | None = None,
) -> pd.DataFrame:
    """Per-period XmR chart of each completed action's theme, rebased at completion.

    One row per (action_id, period): value (rate), segment (before, completion, after) and
    the :func:`sgreview.spc.xmr` columns. This is the table behind the before/after chart.
    """
    _check_direction(improvement_direction)
    if "theme_ids" not in actions.columns:
        actions = load_actions(actions)
    freq = period_freq(period)
    a = _prepare_assignments(assignments)
    periods = complete_periods(a["incident_date"], freq, window)
    dens = _denominator_table(denominators, freq, denominator_unit) if denominators is not None else None
    per = 1000.0 if dens is not None else 1.0
    parts = []
    done_actions = actions[(actions["status"] == "completed") & actions["completed_date"].notna()
                           & actions["theme_ids"].notna()]
    localities = set(a["locality"].dropna().astype(str).str.strip().str.casefold())
    for _, act in done_actions.iterrows():
        if not is_org_wide(act.get("locality")) and act["locality"].strip().casefold() not in localities:
            continue
        ser = _theme_series(act, a, periods, freq, dens)
        values = ser.counts / ser.exposure * per
        if len(values) < 2:
            continue
        done = pd.Timestamp(act["completed_date"]).to_period(freq)
        after = values.index[values.index > done]
        rebase = [after[0].start_time] if len(after) and (values.index < done).any() else None
        chart = _xmr(values, improvement_direction, run_length, rebase).reset_index(drop=True)
        chart["period"] = values.index.astype(str)
        chart.insert(0, "action_id", act["action_id"])
        chart.insert(1, "theme_id", act["theme_id"])
        chart.insert(3, "events", ser.counts.to_numpy())
        chart.insert(4, "exposure", ser.exposure.to_numpy())
        chart["segment"] = np.select([values.index < done, values.index > done],
                                     ["before", "after"], "completion")
        parts.append(chart)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["action_id", "theme_id", "period", "events", "exposure", "value", "segment"])
