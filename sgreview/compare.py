"""Compare groups (locality, team, ethnicity, ...): theme x group table, funnels, trends.

Commissioners ask "which localities see more of this theme, and is it getting worse?".
:func:`compare` answers with the three NHS-standard views in one call: a theme x group
table with a chi-square test and adjusted standardised residuals, funnel plots per theme
(:mod:`sgreview.funnel`), and Making Data Count XmR charts per theme and group
(:mod:`sgreview.spc`). :func:`write_comparison` writes the machine-readable tables of
DESIGN.md (``funnel.csv``, ``spc.csv``, ``theme_by_group.csv``, ``dispersion.json``)
into a folder, all or nothing. These are analyst-facing and unsuppressed; anything shown
to reviewers goes through :mod:`sgreview.disclosure`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sgreview.errors import InputError, ParameterError
from sgreview.funnel import DEFAULT_WINDOW_MONTHS, Z998, comparison_window, funnel_table
from sgreview.io import to_json, write_csv
from sgreview.schema import UNTHEMED_ID as UNTHEMED
from sgreview.spc import spc_table, special_cause_summary

NOT_RECORDED = "Not recorded"
#: Above this share of cells with expected count under 5, the chi-square p value is from
#: Monte Carlo tables (Cochran's rule allows at most 20%).
MAX_SMALL_EXPECTED_SHARE = 0.2
MC_TABLES = 2000
#: Columns an assignments table needs for a comparison (plus the group column).
NEEDED = ("incident_id", "theme_id", "incident_date")


TARGET_TEXT = {
    "leave_one_out": "each group against all other groups combined (leave-one-out)",
    "pooled": "each group against all groups together (pooled)",
}


@dataclass
class CrossTab:
    """A theme x group table and its chi-square test.

    ``counts``, ``shares`` (each group's share of its incidents per theme), ``expected``
    (from the overall theme mix) and ``residuals`` (adjusted standardised) are wide frames
    with themes as rows and groups as columns; ``table`` is the same in long form.
    """

    group_by: str
    counts: pd.DataFrame
    shares: pd.DataFrame
    expected: pd.DataFrame
    residuals: pd.DataFrame
    table: pd.DataFrame
    chi2: float
    dof: int
    p_value: float
    small_expected_share: float
    labels: dict = field(default_factory=dict)
    p_method: str = "asymptotic"


@dataclass
class Comparison:
    """Everything :func:`compare` computes, ready for :func:`write_comparison` or a notebook."""

    group_by: str
    period: str
    crosstab: CrossTab
    funnel: pd.DataFrame
    dispersion: dict
    spc: pd.DataFrame
    special_cause: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)


def prepare_assignments(assignments: pd.DataFrame, group_by: str = "locality",
                        source: str = "assignments") -> pd.DataFrame:
    """Check and type an assignments table: needed columns, dates, unique incidents.

    Blank group values become ``"Not recorded"`` (a real group for ethnicity or age band).
    Raises :class:`InputError` naming the column (and row) at fault.
    """
    missing = [c for c in (*NEEDED, group_by) if c not in assignments.columns]
    if missing:
        what = f"group column {group_by!r}" if missing == [group_by] else ", ".join(missing)
        raise InputError(f"assignments have no {what}; columns are "
                         f"{', '.join(str(c) for c in assignments.columns if c != 'source_row')}", path=source,
                         column=missing[0])
    if assignments.empty:
        raise InputError("assignments have no rows", path=source)
    a = assignments.copy()
    rows = a["source_row"] if "source_row" in a.columns else pd.Series(
        np.arange(len(a)) + 2, index=a.index)
    dates = a["incident_date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        from sgreview.schema import parse_dates

        dates = parse_dates(dates.astype("string"))
    bad = dates.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"incident_date {assignments['incident_date'].iloc[i]!r} is not a date",
                         path=source, row=int(rows.iloc[i]), column="incident_date")
    a["incident_date"] = pd.to_datetime(dates)
    theme = a["theme_id"].astype("string").str.strip()
    if theme.isna().any() or (theme == "").any():
        i = int(np.flatnonzero((theme.isna() | (theme == "")).to_numpy())[0])
        raise InputError("theme_id is empty", path=source, row=int(rows.iloc[i]), column="theme_id")
    a["theme_id"] = theme.astype(str)
    if "theme_label" not in a.columns:
        a["theme_label"] = a["theme_id"]
    a["theme_label"] = a["theme_label"].fillna(a["theme_id"]).astype(str)
    dup = a["incident_id"].astype(str).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError("duplicate incident_id: each incident has one primary theme",
                         path=source, row=int(rows.iloc[i]), column="incident_id")
    group = a[group_by].astype("string").str.strip()
    a[group_by] = group.mask(group.isna() | (group == ""), NOT_RECORDED).astype(str)
    return a


def theme_by_group(assignments: pd.DataFrame, group_by: str = "locality") -> CrossTab:
    """Counts, shares, expected counts, O/E and adjusted standardised residuals per cell.

    Expected counts come from the overall theme mix (row total x column total / N). The
    adjusted standardised residual ``(O - E) / sqrt(E (1 - r/N) (1 - c/N))`` is roughly
    standard normal under independence; cells beyond +/-3.09 (99.8%, because a table has
    many cells) are marked ``stands_out`` (not for the unthemed bucket). The chi-square test
    is :func:`scipy.stats.chi2_contingency` on the themes and groups that have incidents; it
    is undefined (NaN) for a single group or a single theme.
    """
    if group_by not in assignments.columns:
        raise InputError(f"assignments have no group column {group_by!r}", column=group_by)
    theme = assignments["theme_id"].astype(str).rename("theme_id")
    group = assignments[group_by].astype(str).rename(group_by)
    counts = pd.crosstab(theme, group)
    labels = (assignments["theme_label"].astype(str).groupby(theme).first().to_dict()
              if "theme_label" in assignments.columns else {t: t for t in counts.index})
    o = counts.to_numpy(float)
    total = o.sum()
    r = o.sum(axis=1, keepdims=True)
    c = o.sum(axis=0, keepdims=True)
    e = r @ c / total if total else np.zeros_like(o)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(c > 0, o / c, np.nan)
        oe = np.where(e > 0, o / e, np.nan)
        resid = (o - e) / np.sqrt(e * (1 - r / total) * (1 - c / total))
    resid = np.where(np.isfinite(resid), resid, np.nan)
    chi2 = p = np.nan
    dof = 0
    small = float((e < 5).mean()) if e.size else float("nan")
    p_method = ""
    keep = o[o.sum(axis=1) > 0][:, o.sum(axis=0) > 0]
    if keep.shape[0] >= 2 and keep.shape[1] >= 2:
        test = stats.chi2_contingency(keep, correction=False)
        chi2, p, dof = float(test.statistic), float(test.pvalue), int(test.dof)
        p_method = "asymptotic"
        if small > MAX_SMALL_EXPECTED_SHARE:
            p, p_method = monte_carlo_chi2_p(keep, chi2), f"Monte Carlo ({MC_TABLES:,} tables)"

    def wide(values):
        return pd.DataFrame(values, index=counts.index, columns=counts.columns)

    ti, gi = np.meshgrid(np.arange(o.shape[0]), np.arange(o.shape[1]), indexing="ij")
    themes = counts.index.to_numpy()[ti.ravel()]
    res_flat = resid.ravel()
    stands = np.select([res_flat > Z998, res_flat < -Z998], ["high", "low"], default="")
    stands = np.where(themes == UNTHEMED, "", stands)
    table = pd.DataFrame({
        "theme_id": themes,
        "theme_label": [labels.get(t, t) for t in themes],
        "locality": counts.columns.to_numpy()[gi.ravel()],
        "group_by": group_by,
        "count": o.ravel().astype(int),
        "group_total": np.broadcast_to(c, o.shape).ravel().astype(int),
        "theme_total": np.broadcast_to(r, o.shape).ravel().astype(int),
        "share": shares.ravel(),
        "expected": e.ravel(),
        "o_e": oe.ravel(),
        "adj_residual": res_flat,
        "stands_out": stands,
    })
    return CrossTab(group_by=group_by, counts=counts, shares=wide(shares), expected=wide(e),
                    residuals=wide(resid), table=table, chi2=chi2, dof=dof, p_value=p,
                    small_expected_share=small, labels=labels, p_method=p_method)


def monte_carlo_chi2_p(table: np.ndarray, statistic: float, *, n_tables: int | None = None,
                       seed: int = 20240401) -> float:
    """Monte Carlo p value of the chi-square statistic with both margins fixed.

    Tables are drawn from the exact null (independence given the margins) with
    :func:`scipy.stats.random_table`, as R's ``chisq.test(simulate.p.value = TRUE)`` does;
    ``p = (1 + #{X2_sim >= X2_obs}) / (1 + B)``. Used when many expected counts are
    small, where the chi-square distribution of the statistic is not to be trusted.
    Seeded, so a run is reproducible.
    """
    b = int(n_tables or MC_TABLES)
    t = np.asarray(table, dtype=np.int64)
    r, c = t.sum(axis=1), t.sum(axis=0)
    e = np.outer(r, c) / t.sum()
    sims = stats.random_table(r, c, seed=seed).rvs(b).astype(float)
    x2 = ((sims - e) ** 2 / e).sum(axis=(1, 2))
    return float((1 + np.count_nonzero(x2 >= statistic * (1 - 1e-12))) / (1 + b))


def compare(
    assignments: pd.DataFrame,
    *,
    group_by: str = "locality",
    denominators: pd.DataFrame | None = None,
    unit: str | None = None,
    period: str = "month",
    rebase: Mapping | None = None,
    run_length: int = 7,
    screen_outliers: bool = False,
    improvement_direction: str = "neutral",
    adjustment: str = "auto",
    target: str = "leave_one_out",
    window_months: int | None = DEFAULT_WINDOW_MONTHS,
    setting_column: str | None = None,
    setting_map: Mapping[str, str] | None = None,
    min_shown: float = 0.0,
) -> Comparison:
    """Theme x group table, funnel table and SPC charts for one assignments table.

    ``min_shown`` is the disclosure threshold of the charts' readers: a series with more
    months hidden than shown is charted by quarter (:func:`sgreview.spc.choose_chart`)
    rather than drawn as a blank panel.

    With ``setting_column`` and denominators per setting, funnels are per theme, locality
    and setting over each setting's own denominator; SPC charts then show counts (one unit
    cannot serve bed days and caseload at once).

    The theme x group table and the funnels cover the most recent ``window_months`` months
    (the comparison window, all data when None or 0); SPC charts cover every month.
    """
    if period not in ("month", "week"):
        raise ParameterError(f"period must be 'month' or 'week', not {period!r}")
    a = prepare_assignments(assignments, group_by)
    recent, window = comparison_window(a, window_months)
    crosstab = theme_by_group(recent, group_by)
    funnel = funnel_table(recent, group_by=group_by, denominators=denominators, unit=unit,
                          adjustment=adjustment, target=target, window_months=None,
                          setting_column=setting_column,
                          setting_map=dict(setting_map) if setting_map else None)
    funnel.attrs["window"] = window
    if "setting" in funnel:
        denominators = None
    spc = spc_table(a, group_by=group_by, period=period, rebase=rebase, run_length=run_length,
                    denominators=denominators if group_by == "locality" else None,
                    denominator_unit=unit,
                    screen_outliers=screen_outliers, improvement_direction=improvement_direction,
                    min_shown=min_shown)
    options = {"group_by": group_by, "period": period, "unit": unit, "run_length": run_length,
               "screen_outliers": screen_outliers, "adjustment": adjustment,
               "improvement_direction": improvement_direction,
               "denominators": denominators is not None or "setting" in funnel,
               "setting_column": setting_column, "target": target,
               "window_months": window_months, **window}
    return Comparison(
        group_by=group_by,
        period=period,
        crosstab=crosstab,
        funnel=funnel,
        dispersion=funnel.attrs.get("dispersion", {}),
        spc=spc,
        special_cause=special_cause_summary(spc),
        warnings=list(funnel.attrs.get("warnings", [])),
        options=options,
    )


def _dispersion_json(comparison: Comparison) -> dict:
    ct = comparison.crosstab

    def clean(v):
        if isinstance(v, float | np.floating) and not np.isfinite(v):
            return None
        return v

    return {
        "options": comparison.options,
        "warnings": comparison.warnings,
        "chi_square": {"statistic": clean(ct.chi2), "dof": ct.dof, "p_value": clean(ct.p_value),
                       "p_method": ct.p_method,
                       "share_of_cells_expected_below_5": clean(ct.small_expected_share)},
        "funnel": {"target": comparison.options.get("target"),
                   "target_text": TARGET_TEXT.get(comparison.options.get("target"), ""),
                   **{k: clean(v) for k, v in comparison.funnel.attrs.get("summary", {}).items()}},
        "themes": {t: {k: clean(v) for k, v in d.items()} for t, d in comparison.dispersion.items()},
    }


def write_comparison(comparison: Comparison, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``funnel.csv``, ``spc.csv``, ``theme_by_group.csv``, ``special_cause.csv`` and
    ``dispersion.json`` into ``out_dir``.

    Files are built in a temporary sibling folder first and then renamed into place, so a
    failure leaves no partial set of tables.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the final folder should not be
    names = []
    try:
        write_csv(comparison.funnel, tmp / "funnel.csv")
        spc = comparison.spc.drop(columns=["period_start"], errors="ignore")
        write_csv(spc, tmp / "spc.csv")
        write_csv(comparison.crosstab.table, tmp / "theme_by_group.csv")
        write_csv(comparison.special_cause, tmp / "special_cause.csv")
        (tmp / "dispersion.json").write_text(to_json(_dispersion_json(comparison)) + "\n",
                                             encoding="utf-8")
        names = sorted(p.name for p in tmp.iterdir())
        if not out.exists():
            os.replace(tmp, out)
        else:
            for name in names:
                os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / n for n in names]
