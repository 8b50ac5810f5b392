"""Stage 5, the learning summary for one review case set (a SAR, CSPR or PSIRF response).

:mod:`sgreview.learning` does the work (case set, actions register, effects, the 7-minute
briefing, ``learning/<case-set>/``); this stage feeds it the run's shared themes, the
redacted incidents and evidence from the case set's own incidents, and turns the result
into what the notebook shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from sgreview import views
from sgreview.errors import ParameterError
from sgreview.pipeline.common import (
    LEARNING_DIR,
    load_redacted,
    model_path,
    read_assignments,
    read_themes_table,
    resolve_optional,
    stage_dir,
    write_figure_records,
)
from sgreview.pipeline.discovery import ensure_model
from sgreview.services import read_services
from sgreview.textsafe import md

#: An action's effect needs a direction; with none set, a safeguarding action aims to reduce
#: its theme (the learning helper's default too).
DEFAULT_EFFECT_DIRECTION = "decrease"


@dataclass
class LearningSummary:
    """What the learning notebook shows."""

    name: str
    summary: str
    #: The briefing as Markdown, headings one level down so it nests under the report's own.
    briefing: str
    effects: pd.DataFrame
    figures: list[Figure]
    folder: Path
    paths: dict[str, Path] = field(default_factory=dict)


def case_set_spec(
    case_ref: str | None, case_incident_ids: list[str] | None, case_filter: dict | None
) -> dict:
    """The notebook's case-set parameters as :mod:`sgreview.learning`'s case-set mapping."""
    given = {
        "case_ref": case_ref or None,
        "incident_ids": [str(i) for i in case_incident_ids] if case_incident_ids else None,
        "filter": None,
    }
    if case_filter:
        mapped = {"theme": case_filter.get("theme"), "locality": case_filter.get("locality"),
                  "start": case_filter.get("period_start"), "end": case_filter.get("period_end")}
        given["filter"] = {k: v for k, v in mapped.items() if v not in (None, "")}
    chosen = {k: v for k, v in given.items() if v is not None}
    if len(chosen) != 1:
        raise ParameterError(
            "a learning summary needs exactly one of case_ref, case_incident_ids or case_filter"
            f" (got {', '.join(chosen) or 'none'})"
        )
    return chosen


def learning_summary(
    data_path: str | Path,
    output_dir: str | Path,
    *,
    case_set: str | None = None,
    case_ref: str | None = None,
    case_incident_ids: list[str] | None = None,
    case_filter: dict | None = None,
    columns: dict[str, str] | None = None,
    earliest_date: str | None = "1990-01-01",
    model_dir: str | Path | None = None,
    actions_path: str | Path | None = None,
    denominators_path: str | Path | None = None,
    denominator_unit: str = "occupied_bed_days",
    setting_column: str | None = None,
    setting_map: dict[str, str] | None = None,
    period: str = "month",
    improvement_direction: str = "neutral",
    seed: int = 42,
    suppression_threshold: int = 7,
    rounding_base: int = 5,
    disclosure: str = "reviewer",
    resources: list | None = None,
    services_path: str | Path | None = None,
) -> LearningSummary:
    """Build and write the 7-minute briefing for one case set under ``learning/<case-set>/``.

    ``services_path`` names the trust's published service names, kept un-redacted in the
    narratives, excerpts and action descriptions (:mod:`sgreview.services`).
    """
    from sgreview import learning
    from sgreview.themes import load_model, theme_evidence

    spec = case_set_spec(case_ref, case_incident_ids, case_filter)
    name = case_set or case_ref or "case-set"
    policy = views.policy(suppression_threshold, rounding_base, disclosure)
    services = read_services(services_path)
    ensure_model(data_path, output_dir, model_dir=model_dir, columns=columns, seed=seed)
    assignments = read_assignments(output_dir)
    themes = read_themes_table(output_dir)
    case = learning.select_case_set(assignments, themes=themes, name=name, **spec)
    incidents = load_redacted(data_path, columns, incident_ids=case["incident_id"],
                              earliest_date=earliest_date, services=services).incidents
    model = load_model(model_path(output_dir, model_dir))
    evidence = theme_evidence(
        model, incidents, assignments.loc[assignments["incident_id"].isin(incidents["incident_id"])], n=3,
        services=services,
    )
    denominators = None
    found = resolve_optional(denominators_path)
    if found is not None:
        denominators = pd.read_csv(found, dtype={"locality": str, "period": str})
    if setting_column is not None and denominators is not None and "setting" in denominators:
        # Effects come per setting from the shared table; the briefing's own charts show
        # counts (one unit cannot serve bed days and caseload at once).
        denominators = None
    direction = DEFAULT_EFFECT_DIRECTION if improvement_direction == "neutral" else improvement_direction
    folder = stage_dir(output_dir, LEARNING_DIR) / learning.slug(name)
    register_path = resolve_optional(actions_path)
    shared = None
    if register_path is not None:
        from sgreview.pipeline.effects import run_action_effects

        shared = run_action_effects(output_dir, register_path, denominators_path=found,
                                    denominator_unit=denominator_unit, period=period,
                                    improvement_direction=improvement_direction,
                                    setting_column=setting_column, setting_map=setting_map)
    result = learning.learning_summary(
        name, spec, assignments, themes, folder,
        actions=register_path, incidents=incidents, evidence=evidence,
        denominators=denominators, denominator_unit=denominator_unit if denominators is not None else None,
        policy=policy, period=period, improvement_direction=direction, precomputed_effects=shared,
        resources=[dict(r) if isinstance(r, dict) else r.model_dump() for r in resources or []],
        services=services,
    )
    effects = result.effects
    if effects is not None and "description" not in effects and actions_path:
        register = learning.load_actions(resolve_optional(actions_path), themes=themes)
        effects = effects.merge(register[["action_id", "description"]], on="action_id", how="left")
    shown = LearningSummary(
        name=name,
        summary=_summary(name, result, policy, direction),
        briefing=re.sub(r"^(#+) ", r"#\1 ", result.briefing.to_markdown(), flags=re.MULTILINE),
        effects=views.effects_table(effects, policy, services),
        figures=_effect_figures(result.paths.get("tables/effect_chart.csv"), effects, policy, direction),
        folder=folder,
        paths=result.paths,
    )
    write_figure_records(folder, shown.figures)
    return shown


def _effect_figures(chart_path: Path | None, effects: pd.DataFrame | None, policy, direction: str) -> list[Figure]:
    """One rebased XmR chart per completed action, from the table written beside the briefing."""
    from sgreview import plots

    if chart_path is None or effects is None or not Path(chart_path).exists():
        return []
    charts = pd.read_csv(chart_path, dtype={"action_id": str, "theme_id": str})
    labels = effects.set_index("action_id")["theme_label"] if "theme_label" in effects else pd.Series(dtype=str)
    figures = []
    for action_id, chart in charts.groupby("action_id", sort=True):
        title = f"{action_id}: {labels.get(action_id, chart['theme_id'].iloc[0])}, rebased at completion"
        figures.append(plots.spc_chart(chart.reset_index(drop=True), title=title,
                                       improvement_direction=direction, policy=policy))
    return figures


def _summary(name: str, result, policy, direction: str) -> str:
    briefing = result.briefing
    counts = briefing.tables["case_set_summary"].set_index("measure")["value"]
    n = int(counts.get("incidents", 0))
    lines = [f"**{md(name)} at a glance.** The case set holds {policy.about(n)} incidents."]
    if briefing.fully_suppressed:
        lines.append(
            "It is so small that every count is below the disclosure threshold, so the briefing "
            "shows no numbers or excerpts; share it only within the review panel."
        )
    comparison = briefing.tables.get("theme_comparison")
    if comparison is not None and len(comparison) and not briefing.fully_suppressed:
        label_col = "theme_label" if "theme_label" in comparison else "theme_id"
        top = comparison.iloc[0]
        lines.append(f"Its leading theme is {md(top[label_col])}.")
    lines += briefing.one_minute_summary(direction)
    return "\n\n".join(lines)
