"""Stage 4, comparing localities: theme mix, funnel plots and organisation-wide trends.

The comparison answers the commissioner's question ("which localities see more of this
theme, and is it getting worse?") the NHS-standard way: funnel plots instead of league
tables, and Making Data Count charts for trends. It reads the run's saved assignments, so
every locality is counted under the same themes as in its own report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from sgreview import views
from sgreview.errors import InputError
from sgreview.pipeline.common import (
    COMPARISON_DIR,
    in_window,
    read_assignments,
    resolve_optional,
    stage_dir,
    write_figure_records,
)
from sgreview.pipeline.discovery import ensure_model
from sgreview.schema import UNTHEMED_ID
from sgreview.textsafe import md

#: Funnel plots drawn for at most this many themes (those with the strongest flags).
MAX_FUNNELS = 4
FLAG_ORDER = {"alarm_high": 0, "alarm_low": 1, "alert_high": 2, "alert_low": 3}


@dataclass
class Comparison:
    """What the comparison notebook shows; reviewer tables and labels already suppressed."""

    summary: str
    chi_square: pd.DataFrame
    flags: pd.DataFrame
    signals: pd.DataFrame
    figure_heatmap: Figure
    figure_funnels: list[Figure]
    figure_trends: Figure
    paths: dict[str, Path] = field(default_factory=dict)


def locality_comparison(
    data_path: str | Path,
    output_dir: str | Path,
    *,
    columns: dict[str, str] | None = None,
    model_dir: str | Path | None = None,
    seed: int = 42,
    group_by: str = "locality",
    denominators_path: str | Path | None = None,
    denominator_unit: str = "occupied_bed_days",
    setting_column: str | None = None,
    setting_map: dict[str, str] | None = None,
    period: str = "month",
    period_start: str | None = None,
    period_end: str | None = None,
    improvement_direction: str = "neutral",
    run_length: int = 7,
    screen_outliers: bool = False,
    comparison_months: int = 12,
    funnel_target: str = "leave_one_out",
    suppression_threshold: int = 7,
    rounding_base: int = 5,
    disclosure: str = "reviewer",
) -> Comparison:
    """Compare every group on the shared themes and write ``comparison/`` (DESIGN.md)."""
    from sgreview import plots
    from sgreview.compare import compare, write_comparison

    policy = views.policy(suppression_threshold, rounding_base, disclosure)
    ensure_model(data_path, output_dir, model_dir=model_dir, columns=columns, seed=seed)
    assignments = in_window(read_assignments(output_dir), period_start, period_end)
    if assignments.empty:
        raise InputError(f"no accepted incidents between {period_start or 'the start'} and "
                         f"{period_end or 'the end'} of the data", path=data_path)
    denominators = None
    found = resolve_optional(denominators_path)
    if found is not None and group_by == "locality":
        denominators = pd.read_csv(found, dtype={"locality": str, "period": str})
    result = compare(
        assignments, group_by=group_by, denominators=denominators,
        unit=denominator_unit if denominators is not None else None, period=period,
        run_length=run_length, screen_outliers=screen_outliers,
        improvement_direction=improvement_direction, target=funnel_target,
        window_months=comparison_months or None,
        setting_column=setting_column, setting_map=setting_map, min_shown=policy.threshold,
    )
    out = stage_dir(output_dir, COMPARISON_DIR)
    written = write_comparison(result, out)

    funnel = result.funnel
    flagged = funnel.loc[funnel["flag"].isin(list(FLAG_ORDER)) & (funnel["theme_id"] != UNTHEMED_ID)]
    flagged = mark_local(flagged, assignments, group_by)
    if "setting" in funnel:  # one funnel per theme and setting: each over its own denominator
        ranked = (flagged.assign(rank=flagged["flag"].map(FLAG_ORDER))
                  .sort_values(["rank", "theme_id", "setting"])
                  .drop_duplicates(["theme_id", "setting"]).head(MAX_FUNNELS))
        funnels = []
        for t, s in zip(ranked["theme_id"], ranked["setting"], strict=True):
            rows = funnel.loc[(funnel["theme_id"] == t) & (funnel["setting"] == s)]
            rows = rows.loc[rows["flag"] != "no_denominator"]
            funnels.append(plots.funnel_plot(
                rows.assign(theme_label=rows["theme_label"].astype(str) + f" ({s})"), policy=policy))
    else:
        order = (flagged.assign(rank=flagged["flag"].map(FLAG_ORDER))
                 .sort_values(["rank", "theme_id"]).drop_duplicates("theme_id")["theme_id"].head(MAX_FUNNELS))
        funnels = [plots.funnel_plot(funnel.loc[funnel["theme_id"] == t], policy=policy) for t in order]
    overall = result.spc.loc[result.spc["locality"] == "All"]
    result = Comparison(
        summary=_summary(result, flagged, group_by),
        chi_square=views.chi_square_table(result.crosstab),
        flags=views.flags_table(flagged, policy, kind=_first(funnel, "kind", "proportion"),
                                unit=_first(funnel, "unit", None)),
        signals=views.signals_table(result.special_cause, policy, with_group=True,
                                    where="comparison/special_cause.csv"),
        figure_heatmap=plots.theme_heatmap(result.crosstab, policy),
        figure_funnels=funnels,
        figure_trends=plots.spc_small_multiples(
            views.short_labels(overall), locality="All", improvement_direction=improvement_direction, policy=policy
        ),
        paths={p.stem: p for p in written},
    )
    write_figure_records(out, [result.figure_heatmap, *result.figure_funnels, result.figure_trends])
    return result


def mark_local(flagged: pd.DataFrame, assignments: pd.DataFrame, group_by: str) -> pd.DataFrame:
    """Add ``note``: "possibly local wording or local practice" where a flagged theme comes
    mostly from the flagged group (:mod:`sgreview.concentration`), so a theme that exists
    because of one group's wording is never shown as that group's alarm without saying so."""
    from sgreview.concentration import LOCAL_NOTE, local_pairs

    local = local_pairs(assignments, group_by)
    keys = zip(flagged["theme_id"].astype(str), flagged["locality"].astype(str), strict=True)
    return flagged.assign(note=[LOCAL_NOTE if key in local else "" for key in keys])


def _first(frame: pd.DataFrame, column: str, default):
    """The (constant) value of a descriptive column of the funnel table."""
    if column not in frame or frame.empty or pd.isna(frame[column].iloc[0]):
        return default
    return str(frame[column].iloc[0])


def _summary(result, flagged: pd.DataFrame, group_by: str) -> str:
    """The report's opening sentences; each one is a count or a test read from the tables.

    Only alarms (outside 99.8%, exact test against the other groups) are called things to
    act on. Alerts are listed with how many chance alone would give across all judged cells,
    and cells too small to judge are counted, not flagged.
    """
    ct = result.crosstab
    groups = ct.counts.shape[1]
    window = result.funnel.attrs.get("window", {})
    span = (f" over {window['window_start']} to {window['window_end']}"
            if window.get("window_start") else "")
    lines = [
        f"**Comparison at a glance.** {groups} {md(group_by)} groups were compared on "
        f"{ct.counts.shape[0]} themes{span}, each group against all other groups combined."
        if result.options.get("target") == "leave_one_out" else
        f"**Comparison at a glance.** {groups} {md(group_by)} groups were compared on "
        f"{ct.counts.shape[0]} themes{span}, each group against all groups together."
    ]
    if pd.notna(ct.p_value):
        verdict = ("differs between groups more than chance would explain" if ct.p_value < 0.05
                   else "is not shown to differ between groups beyond chance")
        p_text = "< 0.001" if ct.p_value < 0.001 else f"= {ct.p_value:.3f}"
        how = ("" if ct.p_method == "asymptotic" else
               f", {ct.p_method} because {ct.small_expected_share:.0%} of cells expect "
               "fewer than 5 incidents")
        lines.append(f"The theme mix {verdict} (chi-square p {p_text}{how}).")
    summary = result.funnel.attrs.get("summary", {})
    judged, too_few = summary.get("judged", 0), summary.get("too_few", 0)
    alarms = flagged.loc[flagged["flag"] == "alarm_high"]
    alarms_low = flagged.loc[flagged["flag"] == "alarm_low"]
    alerts = flagged.loc[flagged["flag"].astype(str).str.startswith("alert")]
    chance = summary.get("alerts_expected_by_chance", 0.0)
    if len(alarms) or len(alarms_low):
        def said(r, how: str) -> str:
            note = getattr(r, "note", "")
            setting = getattr(r, "setting", None)
            where = f"{md(r.locality)} ({md(setting)}, per {md(str(r.unit).replace('_', ' '))})" \
                if isinstance(setting, str) and setting else md(r.locality)
            return f"{md(r.theme_label)} in {where} ({how}{'; ' + md(note) if note else ''})"

        parts = [said(r, "higher") for r in alarms.itertuples()]
        parts += [said(r, "lower") for r in alarms_low.itertuples()]
        lines.append("**What stands out:** outside the 99.8% limits (alarm): " + "; ".join(parts)
                     + f". Chance alone would give about {summary.get('alarms_expected_by_chance', 0):.1f}"
                     f" alarms across the {judged} theme x group cells judged.")
    else:
        lines.append(f"**What stands out:** no alarms (outside the 99.8% limits) across the {judged}"
                     " theme x group cells judged.")
    lines.append(f"{len(alerts)} alert(s) lie outside the 95% limits only; chance alone would give "
                 f"about {chance:.0f} across {judged} cells, so alerts are listed for reading, not "
                 "for action." if judged else "No cell had enough incidents to judge.")
    if too_few:
        lines.append(f"{too_few} cells expect fewer than {summary.get('min_expected_to_judge', 1):g} "
                     "incident or could not reach the 99.8% limit whatever their count: too few to judge.")
    now = result.special_cause
    latest = now.loc[now["latest_special_cause"].astype(bool)] if len(now) else now
    overall = latest.loc[latest["locality"] == "All"] if len(latest) else latest
    if len(overall):
        parts = [f"{md(r.theme_label)} ({views.rule_text(r.latest_rule)})" for r in overall.itertuples()]
        lines.append("**What changed:** organisation-wide special-cause variation in the latest period for " + "; ".join(parts) + ".")
    else:
        lines.append(
            f"**What changed:** no organisation-wide theme shows special-cause variation in the latest period; "
            f"{len(latest)} group-level series do (see the trends table)."
        )
    steps = now.loc[now["step_period"].astype(str) != ""] if "step_period" in now else now.iloc[0:0]
    if len(steps):
        parts = [f"{r.theme_label} in {r.locality} ({r.step_side} from {r.step_period})"
                 for r in steps.itertuples()]
        lines.append("Sustained shifts, with limits recalculated from the shift (Making Data "
                     "Count): " + "; ".join(parts) + ".")
    todo = (["ask the localities with an alarm to review those themes"]
            if len(alarms) or len(alarms_low) else [])
    todo.append("read each locality's own report for its trends and learning")
    lines.append("**What to do:** " + "; ".join(todo) + ".")
    if result.warnings:
        lines.append("*Note:* " + "; ".join(map(md, result.warnings)))
    return "\n\n".join(lines)
