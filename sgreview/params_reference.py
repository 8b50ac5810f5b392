"""The parameter reference: every review-file key with its type, default and meaning.

Generated from the pydantic models in :mod:`sgreview.params` (names, types, defaults) plus
the meanings below, so the reference cannot drift from what is validated:
``docs/parameters.md`` is this module's output (a test checks it is up to date) and
``sgreview params`` prints it. A key added to the models without a meaning here fails that
test, naming the key.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel

#: What each key means, in the words a new analyst needs. Keys of the case-set models are
#: written ``case_sets[].name`` and ``case_sets[].filter.theme``.
MEANINGS: dict[str, str] = {
    "review_name": "Name of the review; the run folder is `OUT/<review_name>/<run-id>/`.",
    "data_path": "The incident export (CSV, XLSX or Parquet). Relative paths are read from the "
                 "YAML file's folder. Only ever read.",
    "columns": "Column map `canonical: source heading` for exports that name columns their own "
               "way, e.g. `{incident_id: Ref, locality: Area}`.",
    "keep_columns": "Extra (non-contract) columns to carry into outputs, e.g. `[ward_code]`. "
                    "Each is checked by content and refused when it holds free text or "
                    "identifiers; every other extra column is never read.",
    "earliest_date": "Incident dates before this are rejected as `implausible_date` "
                     "(placeholders such as 1900-01-01); lower it for older exports.",
    "denominators_path": "Optional CSV of `locality, period, denominator` (e.g. occupied bed "
                         "days); funnels then compare rates instead of shares.",
    "denominator_unit": "What the denominator counts, shown in rate labels (not used when "
                        "`setting_column` is set: each setting's rows give their own unit).",
    "setting_column": "Column of the data (after the column map) giving each incident's care "
                      "setting, e.g. `service`, for a denominators file with a `setting` "
                      "column (occupied bed days for inpatient, caseload for community): each "
                      "rate then uses its own setting's denominator. Empty: one unit per run.",
    "setting_map": "Map of the `setting_column` values to the denominators' settings, e.g. "
                   "`{Ward: inpatient, Community team: community}` (case-blind); values not "
                   "listed are used as they are.",
    "actions_path": "Optional actions register (CSV) for the learning and action-effect tables.",
    "output_dir": "Where a single notebook run writes its tables; `sgreview review` sets it to "
                  "the run folder.",
    "model_dir": "A saved theme model to apply instead of fitting a new one (keeps theme ids "
                 "the same across runs).",
    "codebook_path": "An analyst-edited `codebook.yaml` (renames, merges, retirements, splits) "
                     "to apply with the model.",
    "services_path": "Optional YAML list of the trust's published service names (wards, units, "
                     "hospitals, clinics), e.g. `[Mary Seacole Ward, Oakwood Unit]` or "
                     "`services: [...]`. Redaction keeps these names as they are in every report "
                     "and excerpt; any other care-home, house or street name still becomes "
                     "`[ADDRESS]`; a kept ward column of these names is not refused as "
                     "identifiers. A file that is missing or not a YAML list stops the run "
                     "before it starts (exit 2). The manifest records its path, hash and size.",
    "k": "Number of themes, or `auto` to choose it from the data.",
    "seed": "Random seed: the same data, parameters and seed give the same themes.",
    "locality": "The locality one locality report is about (set per job by `sgreview review`).",
    "group_by": "The column groups are compared on in the comparison report (a column of the "
                "export after the column map).",
    "period": "Trend period: `month` or `week`.",
    "period_start": "First incident date included (ISO `YYYY-MM-DD`); empty for the start of "
                    "the data.",
    "period_end": "Last incident date included (ISO `YYYY-MM-DD`); empty for the end of the data.",
    "improvement_direction": "Which way is better on trend charts: `neutral` (more reporting "
                             "can be good), `increase` or `decrease`.",
    "run_length": "Points in a run that count as a shift on SPC charts (Making Data Count: 7).",
    "screen_outliers": "Screen moving ranges for outliers before computing SPC limits.",
    "comparison_months": "Funnels compare the latest this-many months (0: all the data).",
    "funnel_target": "Funnel comparison: each group against all *other* groups "
                     "(`leave_one_out`) or against all groups together (`pooled`).",
    "suppression_threshold": "Counts from 1 to this are shown as `*` in reviewer output.",
    "rounding_base": "Other counts in reviewer output are rounded to the nearest multiple of this.",
    "disclosure": "`reviewer` (default): reports pass the disclosure gate and may be "
                  "circulated; `analyst_only`: weaker suppression allowed, reports carry a NOT "
                  "FOR CIRCULATION banner.",
    "case_set": "Name of the case set one learning summary is about (set per job by "
                "`sgreview review`).",
    "case_ref": "Case reference selecting the incidents of one learning summary (set per job).",
    "case_incident_ids": "Incident ids selecting the incidents of one learning summary (set "
                         "per job).",
    "case_filter": "Filter selecting the incidents of one learning summary (set per job).",
    "resources": "Links (`{title, url}`, absolute http(s) only) listed in section 6 of every "
                 "7-minute briefing: guidance, procedures, training.",
    "localities": "`all`, or a list of locality names as the export spells them (case and "
                  "spacing are forgiven); one report per locality.",
    "case_sets": "Learning summaries to write, one per case set (see `case_sets[]` below).",
    "case_sets[].name": "The case set's name: its folder under `learning/` and its title.",
    "case_sets[].case_ref": "Select the incidents whose `case_ref` is this (e.g. `SAR-2024-01`).",
    "case_sets[].incident_ids": "Select these incident ids (each must be an accepted row).",
    "case_sets[].filter": "Select by theme, locality and dates (see `filter` keys below).",
    "case_sets[].filter.theme": "A theme id (`T03`), a taxonomy key or name "
                                "(`violence_to_staff`), or a label from a reused codebook.",
    "case_sets[].filter.locality": "A locality name as in the export.",
    "case_sets[].filter.period_start": "First incident date included (ISO `YYYY-MM-DD`).",
    "case_sets[].filter.period_end": "Last incident date included (ISO `YYYY-MM-DD`).",
}


def _type_text(annotation: Any) -> str:
    """A type as a reader writes it in YAML: ``text``, ``whole number or 'auto'``..."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        parts = [_type_text(a) for a in args if a is not type(None)]
        text = " or ".join(dict.fromkeys(parts))
        return f"{text} (optional)" if type(None) in args else text
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping (see below)"
    names = {str: "text", int: "whole number", float: "number", bool: "true / false"}
    if annotation in names:
        return names[annotation]
    name = getattr(annotation, "__name__", str(annotation))
    return {"date": "date `YYYY-MM-DD`"}.get(name, name)


def _default_text(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "empty"
    return f"`{json.dumps(value, default=str)}`"


def reference_rows() -> list[dict[str, str]]:
    """One row per key (review file, then case-set keys): key, type, default, meaning."""
    from sgreview.params import CaseFilter, CaseSet, ReviewConfig

    rows = []
    for prefix, model in (("", ReviewConfig), ("case_sets[].", CaseSet),
                          ("case_sets[].filter.", CaseFilter)):
        for name, field in model.model_fields.items():
            key = prefix + name
            rows.append({"key": key, "type": _type_text(field.annotation),
                         "default": _default_text(field), "meaning": MEANINGS.get(key, "")})
    return rows


def undocumented() -> list[str]:
    """Keys the models validate but the reference does not explain."""
    return [r["key"] for r in reference_rows() if not r["meaning"]]


def reference_markdown() -> str:
    """``docs/parameters.md``: the whole reference as a Markdown page."""
    lines = [
        "# Parameter reference",
        "",
        "<!-- Generated by `sgreview params --markdown` from sgreview/params.py and",
        "     sgreview/params_reference.py; do not edit by hand (a test checks it). -->",
        "",
        "Every key a review file (`sgreview review PARAMS.yaml`) or a notebook parameter file",
        "(`sgreview run NOTEBOOK -f PARAMS.yaml`) may set. Files are layered:",
        "`parameters/_defaults.yaml`, then each `-f` file (later wins), then `-p NAME VALUE`.",
        "Unknown keys, wrong types, missing files and names that are not in the data are",
        "refused before any report starts (exit 2), with the closest valid name suggested.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for row in reference_rows():
        meaning = row["meaning"].replace("|", "\\|")
        lines.append(f"| `{row['key']}` | {row['type']} | {row['default']} | {meaning} |")
    lines += [
        "",
        "A minimal review file for your own export:",
        "",
        "```yaml",
        "review_name: q3-2025",
        "data_path: exports/incidents_q3.csv",
        "columns: {incident_id: Ref, incident_date: Date of incident, locality: Area,",
        "          narrative: Description}",
        "localities: all",
        "case_sets:",
        "  - name: SAR-2025-04",
        "    case_ref: SAR-2025-04",
        "```",
        "",
    ]
    return "\n".join(lines)


def reference_text() -> str:
    """The reference for a terminal: one block per key."""
    out = []
    for row in reference_rows():
        out.append(f"{row['key']}\n    type: {row['type'].replace('`', '')}; default: "
                   f"{row['default'].replace('`', '')}\n    {row['meaning'].replace('`', '')}")
    return "\n".join(out)
