"""Stage 3, one locality's review: its themes, its trends, how it compares, its learning.

Locality isolation is the rule here: a locality's report may hold only its own incidents'
detail. Narratives are loaded for this locality alone (before redaction), trends are charted
for this locality alone, and every comparison is against *all other localities combined*, so
nothing in the report describes another named locality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sgreview import views
from sgreview.errors import InputError, ParameterError
from sgreview.io import write_csv
from sgreview.pipeline.common import (
    LOCALITIES_DIR,
    check_locality,
    in_window,
    load_redacted,
    model_path,
    read_assignments,
    resolve_optional,
    slug,
    stage_dir,
    staged_files,
    write_figure_records,
)
from sgreview.pipeline.discovery import ensure_model
from sgreview.schema import UNTHEMED_ID
from sgreview.services import read_services
from sgreview.textsafe import md

#: Themes charted in the locality's trend panel (its largest, by count).
TREND_THEMES = 6
OTHERS = "All other localities"


@dataclass
class LocalityReview:
    """What the locality notebook shows; every count already suppressed for reviewers."""

    locality: str
    title: str
    summary: str
    profile: pd.DataFrame
    figure_profile: Figure
    figure_trends: Figure
    signals: pd.DataFrame
    evidence: pd.DataFrame
    learning_points: pd.DataFrame
    actions: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)


def locality_profile(assignments: pd.DataFrame, locality: str) -> pd.DataFrame:
    """Per theme: this locality's count and share beside all other localities combined.

    Counts are unsuppressed (this table is written for analysts); ``ratio`` is the
    locality's share over the others' share.
    """
    is_local = assignments["locality"].eq(locality)
    theme = assignments["theme_id"].astype(str)
    counts = pd.crosstab(theme, np.where(is_local, "local", "others"))
    for col in ("local", "others"):
        if col not in counts:
            counts[col] = 0
    labels = assignments.groupby(theme)["theme_label"].first()
    n_local, n_others = int(is_local.sum()), int((~is_local).sum())
    table = pd.DataFrame(
        {
            "theme_id": counts.index,
            "theme_label": labels.reindex(counts.index).to_numpy(),
            "events": counts["local"].to_numpy(),
            "n": n_local,
            "share": counts["local"].to_numpy() / max(n_local, 1),
            "others_events": counts["others"].to_numpy(),
            "others_n": n_others,
            "others_share": counts["others"].to_numpy() / max(n_others, 1),
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        table["ratio"] = np.where(table["others_share"] > 0, table["share"] / table["others_share"], np.nan)
    return table.sort_values(["events", "theme_id"], ascending=[False, True]).reset_index(drop=True)


def practice_profile(narratives: pd.Series) -> pd.DataFrame:
    """How many of these (redacted) narratives describe each Safeguarding Adults Review
    practice theme (sentence-level rules, :mod:`sgreview.practice`), with its SAR domain and
    SEIPS work-system factor. Only themes whose detector reached precision 0.8 on the
    labelled sample are listed: a theme the method cannot find reliably is not reported."""
    from sgreview.learning import detect_practice_themes
    from sgreview.practice import theme_info

    info = theme_info()
    info = info[info["reportable"]]
    hits = detect_practice_themes(narratives, info.rename(columns={"practice_theme": "key"}).to_dict("records"))
    table = info.set_index("practice_theme").loc[hits.columns].reset_index()
    table = pd.DataFrame(
        {
            "practice_theme": table["practice_theme"],
            "name": table["name"],
            "sar_domain": table["sar_domain_title"],
            "seips": table["seips"],
            "incidents": hits.sum().to_numpy(dtype=int),
            "n": len(hits),
            "precision": table["precision"],
        }
    )
    table["share"] = table["incidents"] / max(len(hits), 1)
    return table.sort_values(["incidents", "practice_theme"], ascending=[False, True]).reset_index(drop=True)


def _denominators(path: str | Path | None, unit: str) -> tuple[pd.DataFrame | None, str | None]:
    found = resolve_optional(path)
    if found is None:
        return None, None
    return pd.read_csv(found, dtype={"locality": str, "period": str}), unit


def locality_review(
    data_path: str | Path,
    output_dir: str | Path,
    locality: str,
    *,
    columns: dict[str, str] | None = None,
    earliest_date: str | None = "1990-01-01",
    model_dir: str | Path | None = None,
    seed: int = 42,
    denominators_path: str | Path | None = None,
    denominator_unit: str = "occupied_bed_days",
    setting_column: str | None = None,
    setting_map: dict[str, str] | None = None,
    actions_path: str | Path | None = None,
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
    services_path: str | Path | None = None,
) -> LocalityReview:
    """Build one locality's report from the run's saved assignments and model.

    Writes ``localities/<slug>/``: ``profile.csv`` (theme counts and shares against all other
    localities combined), ``funnel.csv`` (this locality's rows), ``spc.csv`` (its trends) and
    ``actions.csv`` (its actions and their effects), all analyst-facing and unsuppressed.
    ``services_path`` names the trust's published service names, kept un-redacted in
    excerpts and action descriptions (:mod:`sgreview.services`).
    """
    from sgreview import plots
    from sgreview.funnel import funnel_table
    from sgreview.spc import spc_table, special_cause_summary
    from sgreview.themes import load_model, theme_evidence

    if not locality:
        raise ParameterError(
            "the locality review needs a locality: add -p locality NAME or "
            "-f parameters/localities/<locality>.yaml", column="locality"
        )
    policy = views.policy(suppression_threshold, rounding_base, disclosure)
    ensure_model(data_path, output_dir, model_dir=model_dir, columns=columns, seed=seed)
    model = load_model(model_path(output_dir, model_dir))
    assignments = read_assignments(output_dir)
    check_locality(locality, assignments["locality"], source=data_path)
    window = in_window(assignments, period_start, period_end)
    local = window.loc[window["locality"] == locality]
    span = _span(period_start, period_end)
    if local.empty:
        raise InputError(f"{locality} has no accepted incidents {span or 'in the data'}", path=data_path)
    out = stage_dir(output_dir, LOCALITIES_DIR, slug(locality))

    profile = locality_profile(window, locality)
    denominators, unit = _denominators(denominators_path, denominator_unit)
    funnel = funnel_table(window, group_by="locality", denominators=denominators, unit=unit,
                          target=funnel_target, window_months=comparison_months or None,
                          setting_column=setting_column, setting_map=setting_map)
    funnel = funnel.loc[funnel["locality"] == locality].reset_index(drop=True)
    if "setting" in funnel:
        # Per setting: trends show counts (one unit cannot serve bed days and caseload), and
        # the profile's flag is the most serious of the theme's settings (funnel.csv has each).
        denominators = None
        profile = profile.merge(worst_flag_per_theme(funnel), on="theme_id", how="left")
    else:
        profile = profile.merge(funnel[["theme_id", "flag"]], on="theme_id", how="left")
    profile = _mark_local(profile, window, locality)

    spc = spc_table(local, group_by="locality", period=period, denominators=denominators,
                    denominator_unit=unit,
                    improvement_direction=improvement_direction, run_length=run_length,
                    screen_outliers=screen_outliers, min_shown=policy.threshold)
    spc = spc.loc[spc["locality"] == locality].reset_index(drop=True)
    signals = special_cause_summary(spc)

    services = read_services(services_path)
    loaded = load_redacted(data_path, columns, locality=locality, earliest_date=earliest_date,
                           services=services)
    incidents = loaded.incidents.loc[loaded.incidents["incident_id"].isin(local["incident_id"])]
    evidence = theme_evidence(model, incidents, local.loc[local["incident_id"].isin(incidents["incident_id"])], n=3,
                              services=services)
    practice = practice_profile(incidents["narrative"])

    actions, actions_note = _locality_actions(actions_path, locality, output_dir, period,
                                              denominators_path, denominator_unit,
                                              improvement_direction, setting_column, setting_map)
    with staged_files(out) as tmp:
        write_csv(profile, tmp / "profile.csv")
        write_csv(funnel, tmp / "funnel.csv")
        write_csv(spc, tmp / "spc.csv")
        write_csv(practice, tmp / "practice_themes.csv")
        if actions is not None:
            write_csv(actions, tmp / "actions.csv")
        paths = {p.stem: out / p.name for p in tmp.iterdir()}

    sizes = profile.rename(columns={"events": "size"})[["theme_id", "theme_label", "size"]]
    top = profile.loc[profile["theme_id"] != UNTHEMED_ID, "theme_id"].head(TREND_THEMES).tolist()
    result = LocalityReview(
        locality=locality,
        title=f"## {md(locality)}" + (f", {span}" if span else ""),
        summary=_summary(locality, local, profile, signals, actions, practice, policy,
                         period_start, period_end),
        profile=views.profile_table(profile, policy, others=OTHERS, flag_basis=_flag_basis(funnel)),
        figure_profile=views.profile_figure(profile, policy, locality=locality, others=OTHERS),
        figure_trends=plots.spc_small_multiples(
            views.short_labels(spc.loc[spc["theme_id"].isin(top)]), locality=locality,
            improvement_direction=improvement_direction, policy=policy, ncols=3,
        ),
        signals=views.signals_table(signals, policy),
        evidence=views.evidence_table(evidence, sizes, policy, services=services),
        learning_points=views.practice_table(practice, policy),
        actions=views.actions_table(actions, policy, message=actions_note, services=services),
        paths=paths,
    )
    write_figure_records(out, [result.figure_profile, result.figure_trends])
    return result


def _span(period_start: str | None, period_end: str | None) -> str:
    """The review window in words ("from 1 April 2024 to 31 March 2025"), or "" for all dates."""
    def day(value: str) -> str:
        ts = pd.Timestamp(value)
        return f"{ts.day} {ts:%B %Y}"

    if period_start and period_end:
        return f"from {day(period_start)} to {day(period_end)}"
    if period_start:
        return f"from {day(period_start)}"
    return f"up to {day(period_end)}" if period_end else ""


def _mark_local(profile: pd.DataFrame, assignments: pd.DataFrame, locality: str) -> pd.DataFrame:
    """``note`` for themes that come mostly from this locality: possibly its own wording or
    practice (:mod:`sgreview.concentration`), said wherever the theme is flagged."""
    from sgreview.concentration import LOCAL_NOTE, local_pairs

    local = {t for t, g in local_pairs(assignments, "locality") if g == locality}
    return profile.assign(note=np.where(profile["theme_id"].astype(str).isin(local), LOCAL_NOTE, ""))


def _flag_basis(funnel: pd.DataFrame) -> str:
    """What the funnel compared, in words, for the profile table's flag column."""
    if "setting" in funnel and len(funnel):
        units = (funnel.loc[funnel["unit"].fillna("") != "", ["setting", "unit"]]
                 .drop_duplicates().sort_values("setting"))
        per = "; ".join(f"{s}: per {str(u).replace('_', ' ').rstrip('s')}"
                        for s, u in zip(units["setting"], units["unit"], strict=True))
        return f"rate per setting ({per or 'no denominators'}; the most serious setting's flag)"
    if "kind" in funnel and len(funnel) and funnel["kind"].iloc[0] == "rate":
        unit = str(funnel["unit"].iloc[0]) if "unit" in funnel else "unit of exposure"
        return f"rate per {unit.replace('_', ' ').rstrip('s')}"
    return "share of incidents"


def worst_flag_per_theme(funnel: pd.DataFrame) -> pd.DataFrame:
    """``theme_id, flag``: per theme the most serious flag over its settings' rows (alarm
    before alert before no denominator before too few before within), so the profile table
    never hides a setting's alarm behind another setting's "within"."""
    rank = {"alarm_high": 0, "alarm_low": 1, "alert_high": 2, "alert_low": 3,
            "no_denominator": 4, "too_few": 5, "within": 6, "": 7}
    f = funnel[["theme_id", "flag"]].fillna({"flag": ""})
    f = f.assign(rank=f["flag"].map(rank).fillna(8)).sort_values(["theme_id", "rank"], kind="stable")
    return f.drop_duplicates("theme_id")[["theme_id", "flag"]].reset_index(drop=True)


def _locality_actions(
    actions_path: str | Path | None, locality: str, output_dir: str | Path, period: str,
    denominators_path: str | Path | None, denominator_unit: str, improvement_direction: str,
    setting_column: str | None = None, setting_map: dict[str, str] | None = None,
) -> tuple[pd.DataFrame | None, str | None]:
    """This locality's (and organisation-wide) actions with their effect on the theme, read
    from the run's action-effects table (:mod:`sgreview.pipeline.effects`), so the numbers
    are the ones the learning briefing shows.

    A register that fails validation does not sink the whole locality report: the actions
    section says why instead (the learning summary, where actions are the point, fails on it).
    """
    found = resolve_optional(actions_path)
    if found is None:
        return None, None
    from sgreview.errors import SgreviewError
    from sgreview.pipeline.effects import run_action_effects

    try:
        effects = run_action_effects(output_dir, found,
                                     denominators_path=resolve_optional(denominators_path),
                                     denominator_unit=denominator_unit, period=period,
                                     improvement_direction=improvement_direction,
                                     setting_column=setting_column, setting_map=setting_map)
    except SgreviewError as err:
        return None, f"The actions register could not be used: {err}"
    from sgreview.learning.actions import is_org_wide

    mine = effects["locality"].map(
        lambda v: is_org_wide(v) or str(v).strip().casefold() == locality.casefold())
    return effects.loc[mine].reset_index(drop=True), None


def largest_themes_sentence(profile: pd.DataFrame, policy) -> str:
    """The locality's largest themes by its *own* counts, as its profile table shows them.

    Only themes with incidents here and a count the table shows (not suppressed) can be
    named, so a 0% theme is never "largest" and every number agrees with the table; when
    every theme is too small to show, the sentence says so instead.
    """
    own = profile.loc[(profile["theme_id"] != UNTHEMED_ID) & (profile["events"] > 0)]
    own = own.sort_values(["events", "theme_id"], ascending=[False, True], kind="stable")
    shown = own.loc[~views.is_suppressed(own["events"], policy)]
    if not len(own):
        return "None of its incidents fell into a theme."
    if not len(shown):
        return (f"Its incidents are spread over {len(own)} theme(s), each with too few incidents "
                "here to show (small counts are suppressed).")
    top = shown.head(3)
    # The very percentages the profile table prints (from the disclosed, rounded counts).
    here = views.percent_text(top["events"], top["n"], policy)
    there = views.percent_text(top["others_events"], top["others_n"], policy)
    parts = [
        f"{md(label)} ({a} of its incidents, against {b} in all other localities combined)"
        for label, a, b in zip(top["theme_label"], here, there, strict=True)
    ]
    head = "Its largest theme is " if len(parts) == 1 else "Its largest themes are "
    return head + "; ".join(parts) + "."


def _any_chart(signals: pd.DataFrame, themes: set) -> bool:
    """Whether any of ``themes`` had enough incidents for a chart (``chart != "none"``): with
    none, "no special-cause variation" would be a claim the data cannot support."""
    if signals.empty or "chart" not in signals:
        return not signals.empty
    rows = signals.loc[signals["theme_id"].isin(themes)]
    return bool((rows["chart"].fillna("xmr").astype(str) != "none").any())


def _summary(
    locality: str, local: pd.DataFrame, profile: pd.DataFrame, signals: pd.DataFrame,
    actions: pd.DataFrame | None, practice: pd.DataFrame, policy, period_start: str | None,
    period_end: str | None,
) -> str:
    n = len(local)
    if n:
        first, last = local["incident_date"].min(), local["incident_date"].max()
        span = f"between {first:%B %Y} and {last:%B %Y}"
    else:
        span = f"between {period_start or 'the start'} and {period_end or 'the end'} of the data"
    lines = [f"**{md(locality)} at a glance.** {md(locality)} recorded {views.one_count(n, policy)} incidents {span}."]
    themed = profile.loc[(profile["theme_id"] != UNTHEMED_ID) & ~views.is_suppressed(profile["events"], policy)]
    lines.append(largest_themes_sentence(profile, policy))
    flag = themed["flag"].astype(str)
    high = themed.loc[flag == "alarm_high"]
    low = themed.loc[flag == "alarm_low"]
    alerts = themed.loc[flag.str.startswith("alert")]
    few = int((profile["flag"].astype(str) == "too_few").sum())
    if len(high):
        names = ", ".join(
            md(r.theme_label) + (f" ({md(r.note)}: most of this theme's incidents are from {md(locality)})"
                                  if getattr(r, "note", "") else "")
            for r in high.itertuples())
        lines.append("**What stands out:** higher than in all other localities combined, beyond "
                     f"the 99.8% limits (alarm): {names}.")
    else:
        lines.append("**What stands out:** no theme is higher than in all other localities "
                     "combined beyond the 99.8% limits (no alarm).")
    if len(low):
        lines.append("Lower beyond the 99.8% limits (alarm): "
                     + ", ".join(map(md, low["theme_label"])) + ".")
    if len(alerts):
        lines.append(f"{len(alerts)} theme(s) lie outside the 95% limits only (alert), which "
                     "chance alone often produces across many themes: read, do not act on them alone.")
    if few:
        lines.append(f"{few} theme(s) have too few incidents expected here to judge either way.")
    shown = set(themed["theme_id"])
    changing = signals.loc[signals["latest_special_cause"].astype(bool) & signals["theme_id"].isin(shown)] if len(signals) else signals
    if len(changing):
        parts = [f"{md(r.theme_label)} ({views.rule_text(r.latest_rule)})" for r in changing.itertuples()]
        lines.append("**What changed:** the latest month shows special-cause variation in " + "; ".join(parts) + ".")
    elif len(signals) and (signals["recent_special_points"] > 0).any():
        lines.append(
            "**What changed:** no special-cause variation in the latest month; "
            f"{int((signals['recent_special_points'] > 0).sum())} theme trend(s) showed a signal "
            "in the last three months (see Trends)."
        )
    elif not _any_chart(signals, shown):
        lines.append("**What changed:** too few incidents here to chart any theme's trend, so "
                     "no judgement on change is made.")
    else:
        lines.append("**What changed:** no charted theme shows special-cause variation in the "
                     "last three months.")
    steps = signals.loc[signals["step_period"].astype(str) != ""] if "step_period" in signals else signals.iloc[0:0]
    steps = steps.loc[steps["theme_id"].isin(shown)] if len(steps) else steps
    if len(steps):
        parts = [f"{r.theme_label} ({r.step_side} from {r.step_period})" for r in steps.itertuples()]
        lines.append("Sustained shifts, with limits recalculated from the shift: " + "; ".join(parts) + ".")
    todo = []
    if len(high):
        todo.append(f"review recent {md(high.iloc[0]['theme_label'])} incidents with the team and ask "
                    "why the rate is higher than elsewhere")
    if actions is not None and len(actions):
        overdue = int(actions["overdue"].astype(bool).sum()) if "overdue" in actions else 0
        open_ = int((actions["status"].astype(str) != "completed").sum()) if "status" in actions else 0
        if overdue:
            todo.append(f"chase {overdue} overdue action(s)")
        elif open_:
            todo.append(f"keep {open_} open action(s) on track")
    common = practice.loc[~views.is_suppressed(practice["incidents"], policy) & (practice["incidents"] > 0)]
    if len(common):
        todo.append(f"use the team meeting to reflect on {md(str(common.iloc[0]['name']).lower())}, "
                    "the practice theme most often described in these incidents")
    if not todo:
        todo.append("no new action suggested by the data; keep monitoring")
    lines.append("**What to do:** " + "; ".join(todo) + ".")
    return "\n\n".join(lines)
