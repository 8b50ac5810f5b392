"""Stage 1, data quality: was every row accounted for, and is the data good enough to theme?

A safeguarding lead signs off a thematic review only when nothing was silently dropped, so this
stage shows the reconciliation (rows read = accepted + rejected), why rows were rejected, how
complete each field is in each locality, and how many identifiers redaction removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from sgreview import views
from sgreview.io import write_csv, write_json
from sgreview.pipeline.common import (
    QUALITY_DIR,
    load_redacted,
    stage_dir,
    staged_files,
    write_figure_records,
)
from sgreview.services import read_services
from sgreview.textsafe import md

#: Fields whose completeness matters for a review (DESIGN.md's optional columns).
QUALITY_FIELDS = (
    "reported_date", "team", "service", "category", "harm", "safeguarding_referral",
    "age_band", "sex", "ethnicity",
)
#: Narratives shorter than this cannot carry a theme (e.g. "see RiO notes").
SHORT_NARRATIVE_WORDS = 8
#: Completeness below this share is called out in the summary.
COMPLETENESS_TARGET = 0.9


@dataclass
class DataQuality:
    """What the data-quality notebook shows; tables are already suppressed for reviewers."""

    summary: str
    reconciliation: pd.DataFrame
    rejects_by_reason: pd.DataFrame
    completeness: pd.DataFrame
    redaction: pd.DataFrame
    figure: Figure
    reconciliation_raw: dict = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)


def completeness_by_locality(incidents: pd.DataFrame) -> pd.DataFrame:
    """Share of incidents with each quality field recorded, per locality (0-1), plus counts.

    Empty strings count as missing because exports write blanks, not nulls.
    """
    fields = [c for c in QUALITY_FIELDS if c in incidents]
    present = pd.DataFrame(
        {c: incidents[c].notna() & (incidents[c].astype("string").str.strip() != "") for c in fields},
        index=incidents.index,
    )
    words = incidents["narrative"].astype(str).str.split().str.len()
    present["narrative_informative"] = words >= SHORT_NARRATIVE_WORDS
    present["locality"] = incidents["locality"].to_numpy()
    table = present.groupby("locality", sort=True).mean()
    table.insert(0, "incidents", incidents.groupby("locality", sort=True).size())
    if "reported_date" in incidents:
        lag = (pd.to_datetime(incidents["reported_date"]) - incidents["incident_date"]).dt.days
        table["median_days_to_report"] = lag.groupby(incidents["locality"]).median()
    return table


def data_quality(
    data_path: str | Path,
    output_dir: str | Path,
    *,
    columns: dict[str, str] | None = None,
    earliest_date: str | None = "1990-01-01",
    suppression_threshold: int = 7,
    rounding_base: int = 5,
    disclosure: str = "reviewer",
    services_path: str | Path | None = None,
) -> DataQuality:
    """Load, validate and redact the export; write ``data_quality/`` and return the report parts.

    Writes ``reconciliation.json`` (DESIGN.md), ``rejects.csv`` (values redacted: a rejected
    row's text can still hold identifiers), ``completeness.csv`` and ``redaction.json``
    (counts by identifier type, never values). ``services_path`` names the trust's published
    service names, kept un-redacted (:mod:`sgreview.services`).
    """
    policy = views.policy(suppression_threshold, rounding_base, disclosure)
    services = read_services(services_path)
    loaded = load_redacted(data_path, columns, earliest_date=earliest_date, services=services)
    rec = loaded.reconciliation
    out = stage_dir(output_dir, QUALITY_DIR)

    completeness = completeness_by_locality(loaded.incidents)
    rejects = loaded.rejects.copy()
    for col in ("value", "detail"):
        if col in rejects and len(rejects):
            rejects[col] = views.redact_series(rejects[col].fillna("").astype(str), services)
    with staged_files(out) as tmp:
        write_json(rec, tmp / "reconciliation.json")
        write_csv(rejects, tmp / "rejects.csv")
        write_csv(completeness.reset_index(), tmp / "completeness.csv")
        write_json(loaded.redaction_counts, tmp / "redaction.json")
        paths = {p.stem: out / p.name for p in tmp.iterdir()}
    result = DataQuality(
        summary=_summary(rec, completeness, loaded.redaction_counts, Path(data_path).name,
                         (len(services), Path(services_path).name) if services else None),
        reconciliation=views.reconciliation_table(rec),
        rejects_by_reason=views.rejects_table(rec),
        completeness=views.completeness_table(completeness, policy),
        redaction=views.redaction_table(loaded.redaction_counts),
        figure=views.completeness_figure(completeness, policy),
        reconciliation_raw=rec,
        paths=paths,
    )
    write_figure_records(out, [result.figure])
    return result


def _summary(rec: dict, completeness: pd.DataFrame, redaction: dict[str, int], source: str,
             services: tuple[str, str] | None = None) -> str:
    """The board-level paragraph: whole-organisation figures only, so counts are exact (the
    sentence says so: the disclosure audit exempts whole-organisation sentences).

    ``services`` is (number of names, file name) of the trust's service list, when given.
    """
    read, acc, rej = rec["rows_read"], rec["rows_accepted"], rec["rows_rejected"]
    lines = [
        f"**Data quality at a glance.** Across the whole organisation, {read:,} incident rows "
        f"were read from *{md(source)}*: "
        f"{acc:,} ({views.pct(acc, read)}) were accepted for the review and {rej:,} were "
        "rejected. Every row is accounted for (read = accepted + rejected)."
    ]
    if rec.get("by_reason"):
        reason, count = max(rec["by_reason"].items(), key=lambda kv: (kv[1], kv[0]))
        lines.append(
            f"The most common reason for rejection was *{views.reason_text(reason)}* "
            f"({count:,} rows); the full list is in `data_quality/rejects.csv`."
        )
    total_ids = sum(redaction.values())
    if total_ids:
        top = sorted(((v, k) for k, v in redaction.items() if v), reverse=True)[:3]
        kinds = ", ".join(f"{views.tag_text(k)} ({v:,})" for v, k in top)
        lines.append(
            f"Before any analysis, {total_ids:,} words or phrases that may identify someone were "
            f"replaced by a tag such as [NAME] in the narratives (most often {kinds}). The tagger "
            "errs towards hiding, so some tags cover a place, product or drug name rather than a "
            "person."
        )
    if services:
        lines.append(
            f"The names of the {services[0]} services listed in *{md(services[1])}* (wards, units, "
            "hospitals, clinics) were kept as they are; any other care-home, house or street "
            "name is shown as [ADDRESS]."
        )
    rates = completeness.drop(columns=["incidents", "median_days_to_report"], errors="ignore")
    overall = rates.mul(completeness["incidents"], axis=0).sum() / completeness["incidents"].sum()
    lowest = rates.min()
    weak = lowest[lowest < COMPLETENESS_TARGET].sort_values()
    todo = []
    if len(weak):
        worst_field = weak.index[0]
        worst_loc = rates[worst_field].idxmin()
        lines.append(
            f"The least complete field is **{views.field_text(worst_field)}**, recorded for "
            f"{overall[worst_field]:.0%} of incidents overall and lowest in {md(worst_loc)} "
            f"({rates.loc[worst_loc, worst_field]:.0%})."
        )
        todo.append(f"ask {md(worst_loc)} to improve recording of {views.field_text(worst_field)}")
    else:
        lines.append(
            f"Every field is at least {COMPLETENESS_TARGET:.0%} complete in every locality."
        )
    if rej:
        todo.append("ask the incident system administrator to correct the rejected rows and re-export")
    if not todo:
        todo.append("no action needed on data quality")
    lines.append("**What to do:** " + "; ".join(todo) + ".")
    return "\n\n".join(lines)
