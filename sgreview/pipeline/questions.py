"""The thematic review's core questions in the locality and comparison reports.

:mod:`sgreview.questions` computes the tables; this stage feeds them the run's shared theme
assignments and the export's structured fields (person key, referral flag, equality fields,
dates), writes the analyst tables under ``<report folder>/questions/`` and turns them into
what a notebook shows: suppressed tables and sentences that each read one number from them.
A locality report sees its own figures and the other localities only combined; the
comparison report sees every group. Narratives are dropped as soon as the export is read:
nothing here needs them, and nothing here could show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sgreview import questions as q
from sgreview import views
from sgreview.io import write_csv
from sgreview.pipeline.common import (
    COMPARISON_DIR,
    LOCALITIES_DIR,
    read_assignments,
    resolve_optional,
    slug,
    stage_dir,
)

EQUALITY_TITLES = {"ethnicity": "ethnicity", "age_band": "age band", "sex": "sex"}


@dataclass
class CoreQuestions:
    """What a report shows for the core questions (reviewer tables already suppressed)."""

    summary: str
    repeats: pd.DataFrame
    referrals: pd.DataFrame
    equality: pd.DataFrame
    timeliness: pd.DataFrame
    actions_by_owner: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)


def _structured(data_path: str | Path, columns: dict[str, str] | None, output_dir: str | Path) -> pd.DataFrame:
    """Structured fields of every accepted incident, with its theme; no narrative."""
    from sgreview.schema import load_incidents

    incidents = load_incidents(Path(data_path), dict(columns) if columns else None).incidents
    incidents = incidents.drop(columns=["narrative"])
    themes = read_assignments(output_dir)[["incident_id", "theme_id", "theme_label"]]
    return incidents.merge(themes.astype({"incident_id": str}), on="incident_id", how="left")


def _about(n: int, pol) -> str:
    shown = views.one_count(n, pol)
    return shown if shown in (str(n), pol.symbol) else f"about {shown}"


def _pct(x: float) -> str:
    return "-" if pd.isna(x) else f"{100 * x:.0f}%"


def core_questions(
    data_path: str | Path,
    output_dir: str | Path,
    *,
    columns: dict[str, str] | None = None,
    group_by: str = "locality",
    locality: str | None = None,
    actions_path: str | Path | None = None,
    suppression_threshold: int = 7,
    rounding_base: int = 5,
    disclosure: str = "reviewer",
) -> CoreQuestions:
    """Repeat incidents, referral conversion, equality and timeliness for one report.

    ``locality`` given: the locality against all others combined (a locality report);
    otherwise every ``group_by`` group (the comparison report). Tables are written to
    ``questions/`` in the report's folder (``localities/<locality>/`` or ``comparison/``);
    a question whose column is not in the data says so instead.
    """
    pol = views.policy(suppression_threshold, rounding_base, disclosure)
    data = _structured(data_path, columns, output_dir)
    q.check_group_by(data.columns, group_by, source=data_path)
    if locality is not None:
        data = data.assign(_group=np.where(data[group_by].astype(str) == str(locality),
                                           str(locality), "all other localities"))
        by = "_group"
    else:
        by = group_by
    folder = (stage_dir(output_dir, LOCALITIES_DIR, slug(locality)) if locality is not None
              else stage_dir(output_dir, COMPARISON_DIR)) / "questions"
    paths: dict[str, Path] = {}
    lines: list[str] = []

    def save(name: str, table: pd.DataFrame) -> None:
        paths[name] = folder / f"{name}.csv"
        write_csv(table.rename(columns={"_group": group_by}), paths[name])

    # Repeat incidents
    if "person_key" in data.columns:
        rep = q.repeat_incidents(data, group_by=by)
        save("repeat_incidents", rep)
        themes = q.repeat_themes(data[data[by] == locality] if locality else data)
        save("repeat_themes", themes)
        repeats = _repeats_view(rep, by, pol)
        allrow = rep.iloc[0] if locality else rep[rep[by] == "all"].iloc[0]
        most = int(allrow["most_incidents_one_person"])
        lines.append(
            f"**Repeat incidents.** {_pct(allrow['repeat_share'])} of incidents with a person key "
            f"{'here ' if locality else ''}came from people with two or more incidents; the most "
            f"for one person was {_about(most, pol)}. Incidents with no person key: "
            f"{views.one_count(int(allrow['no_person_key']), pol)} (kept and counted, not guessed).")
        top = themes[themes["repeat_incidents"] > 0].head(3)
        if len(top) and not pol.is_hidden(np.array([int(top['repeat_incidents'].iloc[0])]))[0]:
            lines.append("Their most common themes: " + "; ".join(
                f"{r.theme_label} ({_pct(r.repeat_share)} of repeat incidents, "
                f"{_pct(r.other_share)} of others)" for r in top.itertuples()) + ".")
    else:
        repeats = views.note("The data has no person_id column, so repeat incidents cannot be counted.")

    # Referral conversion
    if "safeguarding_referral" in data.columns:
        ref = q.referral_conversion(data, group_by=by)
        if locality is not None:
            # Themes within this locality only; the locality against the others above.
            mine = q.referral_conversion(data[data[by] == str(locality)], group_by=by)
            ref = pd.concat([ref[ref["dimension"] != "theme"], mine[mine["dimension"] == "theme"]],
                            ignore_index=True)
            ref["dimension"] = ref["dimension"].replace({by: group_by})
        save("referral_conversion", ref)
        referrals = _funnel_view(ref, pol, "referrals")
        groups = ref[ref["dimension"] != "theme"]
        for r in groups[groups["flag"].astype(str).str.startswith("alarm")].itertuples():
            side = "lower" if r.flag == "alarm_low" else "higher"
            lines.append(
                f"**Referral conversion.** {r.group}: {_pct(r.proportion)} of incidents led to a "
                f"safeguarding referral, against {_pct(r.target)} in the other groups: {side} "
                f"beyond chance (99.8% funnel limit). A prompt to ask why: is the threshold for "
                f"referral applied differently, or is the flag recorded differently?")
        if not groups["flag"].astype(str).str.startswith("alarm").any():
            lines.append("**Referral conversion.** No group's share of incidents with a "
                         "safeguarding referral differs from the others beyond chance.")
    else:
        referrals = views.note("The data has no safeguarding_referral column.")

    # Equality (whole organisation only: a locality report never sees other groups' detail)
    eq_frames = []
    if locality is None:
        for col in q.EQUALITY_COLUMNS:
            if col not in data.columns:
                continue
            table, unexpected = q.equality_funnel(data, col)
            save(f"equality_{col}", table)
            eq_frames.append(table.assign(characteristic=EQUALITY_TITLES[col]))
            if unexpected:
                lines.append(f"{unexpected} unexpected {EQUALITY_TITLES[col]} codes were counted "
                             f"as not stated.")
        equality = _equality_view(pd.concat(eq_frames) if eq_frames else None, pol)
        alarms = (pd.concat(eq_frames) if eq_frames else pd.DataFrame(columns=["flag", "characteristic"]))
        alarms = alarms[alarms["flag"].astype(str) == "alarm_high"]
        for r in alarms[alarms["characteristic"] == "ethnicity"].itertuples():
            lines.append(
                f"**Equality.** {r.theme_label}: {_pct(r.proportion)} of incidents for people "
                f"recorded as {r.group}, against {_pct(r.target)} for everyone else (above the "
                f"99.8% funnel limit). This is a prompt to ask why, not a finding of "
                f"discrimination: check recording, case mix and context.")
        n_other = int((alarms["characteristic"] != "ethnicity").sum())
        if n_other:
            lines.append(f"{n_other} theme rates by age band or sex are higher than for everyone "
                         f"else beyond chance (listed below): prompts to ask why, often expected "
                         f"from case mix.")
    else:
        equality = views.note("Equality comparisons are in the organisation-wide comparison report.")

    # Timeliness
    if "reported_date" in data.columns:
        delay = q.reporting_delay(data, group_by=by)
        save("reporting_delay", delay)
        timeliness = _delay_view(delay, by, pol)
        a = delay.iloc[0]
        lines.append(f"**Timeliness.** Median days from incident to report"
                     f"{' here' if locality else ''}: {a['median_days']:.0f} (90th percentile "
                     f"{a['p90_days']:.0f}).")
    else:
        timeliness = views.note("The data has no reported_date column.")
    actions_by_owner = views.note("No actions register was given.")
    found = resolve_optional(actions_path)
    if found is not None:
        from sgreview.learning import load_actions

        register = load_actions(found)
        if locality is not None:
            loc = register["locality"].astype("string").str.casefold()
            register = register[(loc == str(locality).casefold()).fillna(False)]
        per, owner = q.action_timeliness(register)
        save("action_timeliness", per)
        save("overdue_by_owner", owner)
        actions_by_owner = _owner_view(owner)
        med = per["days_to_complete"].median()
        if pd.notna(med):
            lines.append(f"Actions took a median of {med:.0f} days from agreed to completed; "
                         f"{int(owner['overdue'].sum())} are overdue.")
    if not lines:
        lines.append("None of the core questions can be answered from this data: it has no "
                      "person_id, safeguarding_referral, ethnicity, age band, sex or reported_date "
                      "column.")
    return CoreQuestions("\n\n".join(lines), repeats, referrals, equality, timeliness,
                         actions_by_owner, paths)


def _repeats_view(rep: pd.DataFrame, by: str, pol) -> pd.DataFrame:
    # Shares first: each row has its own denominator, so a share never sits right after a
    # count column it was not computed from (the disclosure audit reads a share beside a count
    # as that count's share; it finds the counts of a share elsewhere from the numbers).
    return pd.DataFrame({
        "share of keyed incidents from people with 2 or more": views._percent(
            rep["incidents_from_repeat_people"], rep["with_person_key"], pol),
        "incidents": views.count_text(rep["incidents"], pol).to_numpy(),
        "no person key": views.count_text(rep["no_person_key"], pol).to_numpy(),
        "people with 2 or more incidents": views.count_text(rep["people_with_2_or_more"], pol).to_numpy(),
        "most incidents for one person": views.count_text(rep["most_incidents_one_person"], pol).to_numpy(),
    }, index=pd.Index(rep[by].astype(str).to_numpy(), name="group"))


def _funnel_view(ref: pd.DataFrame, pol, what: str) -> pd.DataFrame:
    return pd.DataFrame({
        "by": ref["dimension"].to_numpy(),
        "share with a referral": views._percent(ref["referrals"], ref["n"], pol),
        "others": [_pct(t) for t in ref["target"]],
        "incidents": views.count_text(ref["n"], pol).to_numpy(),
        what: views.count_text(ref["referrals"], pol).to_numpy(),
        "funnel flag": ref["flag"].map(views.flag_text).to_numpy(),
    }, index=pd.Index(ref["label"].astype(str).to_numpy(), name="group"))


def _equality_view(eq: pd.DataFrame | None, pol) -> pd.DataFrame:
    if eq is None or eq.empty:
        return views.note("The data has no ethnicity, age band or sex columns.")
    # The equality question is over-representation: groups more often subject to a theme than
    # everyone else beyond the 99.8% limit. Alerts and low alarms stay in the CSV files.
    flagged = eq[eq["flag"].astype(str) == "alarm_high"]
    if flagged.empty:
        return views.note("No theme rate for any ethnicity, age band or sex group is higher than "
                          "for everyone else beyond the 99.8% funnel limit.")
    order = {c: i for i, c in enumerate(EQUALITY_TITLES.values())}
    flagged = flagged.sort_values(["characteristic", "theme_id", "group"],
                                  key=lambda s: s.map(order) if s.name == "characteristic" else s)
    return pd.DataFrame({
        "characteristic": flagged["characteristic"].to_numpy(),
        "group": flagged["group"].to_numpy(),
        "share in theme": views._percent(flagged["events"], flagged["n"], pol),
        "everyone else": [_pct(t) for t in flagged["target"]],
        "incidents in theme": views.count_text(flagged["events"], pol).to_numpy(),
        "funnel flag": flagged["flag"].map(views.flag_text).to_numpy(),
    }, index=pd.Index(flagged["theme_label"].astype(str).to_numpy(), name="theme"))


def _delay_view(delay: pd.DataFrame, by: str, pol) -> pd.DataFrame:
    return pd.DataFrame({
        "incidents": views.count_text(delay["incidents"], pol).to_numpy(),
        "median days to report": delay["median_days"].map(lambda v: "-" if pd.isna(v) else f"{v:.0f}").to_numpy(),
        "90th percentile": delay["p90_days"].map(lambda v: "-" if pd.isna(v) else f"{v:.0f}").to_numpy(),
        "reported after more than 7 days": views.count_text(delay["over_7_days"], pol).to_numpy(),
    }, index=pd.Index(delay[by].astype(str).to_numpy(), name="group"))


def _owner_view(owner: pd.DataFrame) -> pd.DataFrame:
    """Actions by owner (actions are not about people: counts are not suppressed)."""
    return pd.DataFrame({
        "overdue": [f"{o} of {a}" for o, a in zip(owner["overdue"], owner["actions"], strict=True)],
        "longest overdue (days)": owner["longest_overdue_days"].to_numpy(),
        "open": owner["open"].to_numpy(),
        "completed": owner["completed"].to_numpy(),
        "median days agreed to completed": owner["median_days_to_complete"].map(
            lambda v: "-" if pd.isna(v) else f"{v:.0f}").to_numpy(),
    }, index=pd.Index(owner["owner"].astype(str).to_numpy(), name="owner"))
