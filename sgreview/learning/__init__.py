"""Learning summaries for review case sets, and evidence that actions led to change.

One call per case set, :func:`learning_summary`, does the whole stage: select the case set,
validate the actions register, judge each completed action's effect on its theme, build the
7-minute briefing and write ``learning/<case-set>/`` (DESIGN.md). The parts are public too:

* :func:`load_actions`, :func:`action_effects`, :func:`effect_charts` (``actions``);
* :func:`select_case_set` (``casesets``);
* :func:`build_briefing` (``briefing``) and :func:`write_learning` (here).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sgreview.errors import InputError, SgreviewError
from sgreview.io import write_bytes, write_csv, write_json, write_text
from sgreview.learning.actions import (
    EFFECTS,
    ActionsRegisterError,
    action_effects,
    effect_charts,
    load_actions,
    rate_ratio,
)
from sgreview.learning.briefing import (
    Briefing,
    build_briefing,
    check_resources,
    detect_practice_themes,
)
from sgreview.learning.casesets import actions_in_scope, case_set_spec, linked_to, select_case_set

__all__ = [
    "EFFECTS", "ActionsRegisterError", "Briefing", "LearningResult", "action_effects", "actions_in_scope",
    "check_resources", "linked_to",
    "build_briefing", "detect_practice_themes", "effect_charts", "learning_summary",
    "load_actions", "rate_ratio", "run_learning", "select_case_set", "slug", "write_learning",
]

#: ``actions.csv`` column order: the DESIGN.md columns first.
ACTION_COLUMNS = [
    "action_id", "theme_id", "status", "due_date", "overdue", "effect", "direction", "owner",
    "theme_label", "theme_ids", "locality", "agreed_date", "completed_date", "days_overdue",
    "months_before", "months_after", "events_before",
    "events_after", "exposure_before", "exposure_after", "rate_unit", "rate_before",
    "rate_after", "rate_ratio", "ci_level", "ci_low", "ci_high", "p_value", "dispersion", "method",
    "spc_signal", "reason", "linked_to_case_set", "scope",
]


@dataclass
class LearningResult:
    briefing: Briefing
    effects: pd.DataFrame | None
    paths: dict[str, Path] = field(default_factory=dict)


def slug(name: str) -> str:
    """A case set name as a safe folder name (``SAR-2024-01`` stays as it is)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name).strip()).strip("-.")
    if not s:
        raise InputError(f"case set name {name!r} has no usable characters for a folder name")
    return s


def _actions_table(effects: pd.DataFrame | None, briefing: Briefing) -> pd.DataFrame:
    if effects is None:
        return pd.DataFrame(columns=ACTION_COLUMNS)
    out = effects.copy()
    scope = briefing.actions_in_scope
    in_scope = set() if scope is None else set(scope["action_id"].astype(str))
    out["linked_to_case_set"] = out["action_id"].astype(str).isin(in_scope)
    scopes = {} if scope is None else dict(zip(scope["action_id"].astype(str), scope["scope"], strict=True))
    out["scope"] = [scopes.get(a, "") for a in out["action_id"].astype(str)]
    for col in ("due_date", "completed_date"):
        out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d")
    for col in ACTION_COLUMNS:
        if col not in out.columns:
            out[col] = pd.NA
    return out[ACTION_COLUMNS]


def write_learning(
    briefing: Briefing,
    effects: pd.DataFrame | None,
    out_dir: str | os.PathLike[str],
    *,
    charts: pd.DataFrame | None = None,
    docx: bool = True,
    policy: Any = None,
) -> dict[str, Path]:
    """Write ``learning/<case-set>/``: briefing.md/.html/.docx, actions.csv, tables/*.csv
    (exact, for analysts) and ``reviewer/*.csv`` (the gated versions the briefing cites).

    The folder is built under a temporary name beside ``out_dir`` and renamed into place,
    so a reader sees the old complete folder or the new complete one, never a mixture.
    ``summary.json`` records the counts, notices and whether everything was suppressed.
    """
    from sgreview.audience import REVIEWER_DIR
    from sgreview.disclosure import REVIEWER, reviewer_table

    policy = policy if policy is not None else REVIEWER
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        write_text(briefing.to_markdown(), tmp / "briefing.md")
        write_text(briefing.to_html(), tmp / "briefing.html")
        if docx:
            write_bytes(briefing.to_docx(), tmp / "briefing.docx")
        actions_table = _actions_table(effects, briefing)
        write_csv(actions_table, tmp / "actions.csv")
        # Analysts get the exact tables; the briefing cites the reviewer versions (gated).
        write_csv(reviewer_table(actions_table, policy), tmp / REVIEWER_DIR / "actions.csv")
        for stem, table in briefing.tables.items():
            write_csv(table, tmp / "tables" / f"{stem}.csv")
            write_csv(reviewer_table(table, policy), tmp / REVIEWER_DIR / f"{stem}.csv")
        if charts is not None:
            write_csv(charts, tmp / "tables" / "effect_chart.csv")
            write_csv(reviewer_table(charts, policy), tmp / REVIEWER_DIR / "effect_chart.csv")
        write_json({
            "case_set": briefing.name,
            "fully_suppressed": briefing.fully_suppressed,
            "notices": briefing.notices,
            "incidents": int(briefing.tables["case_set_summary"].set_index("measure").loc["incidents", "value"]),
            "effects": {} if effects is None else effects["effect"].value_counts().to_dict(),
            "words": briefing.word_count(),
            "actions_in_scope": ([] if briefing.actions_in_scope is None
                                 else briefing.actions_in_scope["action_id"].astype(str).tolist()),
        }, tmp / "summary.json")
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(p for p in out_dir.rglob("*") if p.is_file())
    return {str(p.relative_to(out_dir)): p for p in files}


def _with_incident_columns(assignments: pd.DataFrame, incidents: pd.DataFrame | None) -> pd.DataFrame:
    """Bring narrative, harm and case_ref from the incidents when assignments lack them."""
    if incidents is None:
        return assignments
    extra = [c for c in ("narrative", "harm", "case_ref", "locality", "incident_date", "person_key",
                         "age_band", "service", "safeguarding_referral")
             if c in incidents.columns and c not in assignments.columns]
    if not extra:
        return assignments
    cols = incidents[["incident_id", *extra]].astype({"incident_id": str})
    return assignments.astype({"incident_id": str}).merge(cols, on="incident_id", how="left")


def learning_summary(
    name: str,
    case_set: Mapping[str, Any],
    assignments: pd.DataFrame,
    themes: pd.DataFrame,
    out_dir: str | os.PathLike[str] | None,
    *,
    actions: str | os.PathLike[str] | pd.DataFrame | None = None,
    incidents: pd.DataFrame | None = None,
    evidence: pd.DataFrame | None = None,
    denominators: pd.DataFrame | None = None,
    denominator_unit: str | None = None,
    policy: Any = None,
    today: str | pd.Timestamp | None = None,
    period: str = "month",
    min_points_after: int = 6,
    improvement_direction: str = "decrease",
    practice_themes: list[dict] | None = None,
    title: str | None = None,
    resources: list[dict] | None = None,
    docx: bool = True,
    precomputed_effects: pd.DataFrame | None = None,
    services: Sequence[str] = (),
) -> LearningResult:
    """The whole learning stage for one case set; writes ``out_dir`` when it is not None.

    ``case_set`` is the parameters entry: ``{incident_ids: [...]}``, ``{case_ref: ...}`` or
    ``{filter: {theme, locality, start, end}}`` (optionally ``title``). ``assignments`` is
    the whole organisation's themes/assignments.csv frame; ``incidents`` (the validated,
    redacted incidents) supplies narratives, harm and case_ref when the assignments lack
    them. ``actions`` is a register path or frame (DESIGN.md columns) or None. ``services``
    are the trust's listed service names, kept as they are in excerpts.
    Raises :class:`~sgreview.errors.SgreviewError` subclasses for user-fixable problems
    (:class:`ActionsRegisterError` carries every register problem in ``.problems``).
    """
    from sgreview.disclosure import DisclosurePolicy

    policy = policy if policy is not None else DisclosurePolicy()
    spec = case_set_spec(name, case_set)
    data = _with_incident_columns(assignments, incidents)
    case = select_case_set(data, themes=themes, name=name, **spec)
    effects = charts = None
    if actions is not None:
        register = load_actions(actions, themes=themes, today=today)
        opts = dict(period=period, denominators=denominators, denominator_unit=denominator_unit,
                    improvement_direction=improvement_direction)
        # The run's own effects table when given (computed once, shared with the locality
        # reports), so an action shows the same numbers everywhere.
        effects = (precomputed_effects if precomputed_effects is not None else
                   action_effects(register, data, min_points_after=min_points_after, **opts))
        if "case_ref" in register.columns and "case_ref" not in effects.columns:
            # An action agreed by a review panel names its case: keep that link for scoping.
            effects = effects.merge(register[["action_id", "case_ref"]], on="action_id", how="left")
        charts = effect_charts(register, data, **opts)
    briefing = build_briefing(
        name, case, data, themes, evidence, effects, policy=policy,
        practice_themes=practice_themes, title=title or case_set.get("title"), resources=resources,
        services=services,
    )
    paths = (write_learning(briefing, effects, out_dir, charts=charts, docx=docx, policy=policy)
             if out_dir else {})
    return LearningResult(briefing, effects, paths)


def run_learning(
    case_sets: Mapping[str, Mapping[str, Any]],
    assignments: pd.DataFrame,
    themes: pd.DataFrame,
    out_root: str | os.PathLike[str],
    **options: Any,
) -> tuple[dict[str, LearningResult], dict[str, str]]:
    """Every case set of a review into ``out_root/<slug(name)>/``; one failure spares the rest.

    Returns (results by name, failures by name -> one-line message). A broken actions
    register fails every case set with the same message, as it should.
    """
    results: dict[str, LearningResult] = {}
    failures: dict[str, str] = {}
    for name, spec in case_sets.items():
        try:
            results[name] = learning_summary(name, spec, assignments, themes,
                                             Path(out_root) / slug(name), **options)
        except SgreviewError as err:
            failures[name] = str(err)
    return results, failures
