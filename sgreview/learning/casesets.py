"""Review case sets: the incidents a Safeguarding Adults Review or learning response looks at.

A panel names its case set in one of three ways: a list of incident ids, a shared case
reference (``case_ref`` such as "SAR-2024-01"), or a filter (themes, localities, a period).
Whatever the route, the result is the matching rows of the assignments table, and a case set
that matches nothing, or names ids that are not in the data, is an error rather than an empty
briefing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from sgreview.errors import InputError, ParameterError
from sgreview.learning.actions import theme_lookup
from sgreview.schema import parse_dates

FILTER_KEYS = ("theme", "locality", "start", "end", "period")


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int) or not isinstance(value, Iterable):
        return [str(value)]
    return [str(v) for v in value]


def _casefold(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.casefold()


def _theme_mask(df: pd.DataFrame, wanted: list[str], themes: pd.DataFrame | None) -> pd.Series:
    """Match a theme filter by theme id, taxonomy key or label (as the actions register does)."""
    source = themes if themes is not None else df.drop_duplicates("theme_id")
    lookup = theme_lookup(source)
    norm = pd.Series(wanted, dtype="string").str.strip().str.casefold().str.replace(
        r"[\s_-]+", " ", regex=True)
    ids = lookup[lookup["name"].isin(norm)]["theme_id"]
    unknown = [w for w, n in zip(wanted, norm, strict=True) if n not in set(lookup["name"])]
    if unknown:
        raise ParameterError(f"case set filter names an unknown theme: {unknown[0]!r}",
                             column="theme")
    return df["theme_id"].astype("string").isin(ids)


def select_case_set(
    incidents_or_assignments: pd.DataFrame,
    *,
    incident_ids: Iterable[str] | None = None,
    case_ref: str | Iterable[str] | None = None,
    filter: Mapping[str, object] | None = None,
    themes: pd.DataFrame | None = None,
    name: str = "case set",
) -> pd.DataFrame:
    """Rows of ``incidents_or_assignments`` in the case set; raise when it is empty or wrong.

    Give exactly one of ``incident_ids``, ``case_ref`` or ``filter``. A filter is a mapping
    with any of ``theme`` (id, taxonomy key or label; one or a list), ``locality`` (one or a
    list), ``start`` and ``end`` (dates, inclusive) or ``period: [start, end]``.
    Listed incident ids that are not in the data (rejected at validation, or a typo) are an
    error naming them, so a review never silently loses a case.
    """
    routes = [r for r, v in (("incident_ids", incident_ids), ("case_ref", case_ref),
                             ("filter", filter)) if v is not None]
    if len(routes) != 1:
        raise ParameterError(
            f"case set '{name}': give exactly one of incident_ids, case_ref or filter "
            f"(got {', '.join(routes) or 'none'})")
    df = incidents_or_assignments
    if "incident_id" not in df.columns:
        raise InputError("data has no 'incident_id' column", column="incident_id")
    ids = df["incident_id"].astype("string").str.strip()

    if incident_ids is not None:
        wanted = pd.Index(_as_list(incident_ids)).str.strip().unique()
        missing = wanted[~wanted.isin(ids)]
        if len(missing):
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise InputError(
                f"case set '{name}': {len(missing)} of {len(wanted)} incident ids are not in the "
                f"data (rejected at validation or mistyped): {shown}", column="incident_id")
        mask = ids.isin(wanted)
    elif case_ref is not None:
        if "case_ref" not in df.columns:
            raise InputError(f"case set '{name}': the data has no 'case_ref' column to select on",
                             column="case_ref")
        mask = _casefold(df["case_ref"]).isin([c.strip().casefold() for c in _as_list(case_ref)])
    else:
        spec = dict(filter)
        unknown = sorted(set(spec) - set(FILTER_KEYS))
        if unknown:
            raise ParameterError(f"case set '{name}': unknown filter key {unknown[0]!r} "
                                 f"(use {', '.join(FILTER_KEYS)})")
        mask = pd.Series(True, index=df.index)
        if spec.get("theme") is not None:
            if "theme_id" not in df.columns:
                raise InputError(f"case set '{name}': a theme filter needs theme assignments",
                                 column="theme_id")
            mask &= _theme_mask(df, _as_list(spec["theme"]), themes)
        if spec.get("locality") is not None:
            mask &= _casefold(df["locality"]).isin(
                [v.strip().casefold() for v in _as_list(spec["locality"])])
        start, end = spec.get("start"), spec.get("end")
        if spec.get("period") is not None:
            bounds = _as_list(spec["period"])
            if len(bounds) != 2:
                raise ParameterError(f"case set '{name}': period must be [start, end]")
            start, end = bounds
        dates = parse_dates(df["incident_date"])
        for label, value in (("start", start), ("end", end)):
            if value is None:
                continue
            when = parse_dates(pd.Series([str(value)])).iloc[0]
            if pd.isna(when):
                raise ParameterError(f"case set '{name}': {label} {value!r} is not a date")
            mask &= (dates >= when) if label == "start" else (dates <= when)
    out = df[mask.fillna(False).astype(bool)]
    if out.empty:
        how = {"incident_ids": "its incident ids", "case_ref": f"case_ref {case_ref!r}",
               "filter": f"filter {dict(filter or {})}"}[routes[0]]
        raise InputError(f"case set '{name}' matches no incidents ({how})")
    return out.copy()


def case_set_spec(name: str, spec: Mapping[str, object]) -> dict[str, object]:
    """Check one case set from parameters (``{incident_ids|case_ref|filter: ...}``)."""
    if not isinstance(spec, Mapping):
        raise ParameterError(f"case set '{name}' must be a mapping with incident_ids, case_ref "
                             f"or filter")
    allowed = {"incident_ids", "case_ref", "filter", "title"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ParameterError(f"case set '{name}': unknown key {unknown[0]!r} "
                             f"(use {', '.join(sorted(allowed))})")
    return {k: spec.get(k) for k in ("incident_ids", "case_ref", "filter")}


#: ``locality`` values in an actions register that mean "the whole organisation".
ORG_WIDE = {"", "all", "trust", "trust-wide", "trustwide", "organisation", "organisation-wide",
            "whole organisation", "nan", "none", "<na>"}


def linked_to(effects: pd.DataFrame, theme_ids: set[str]) -> pd.Series:
    """Which actions are on one of ``theme_ids`` (an action may cover several themes)."""
    ids = effects["theme_ids"] if "theme_ids" in effects.columns else effects["theme_id"]
    per_action = ids.astype("string").fillna("").str.split(";")
    return per_action.map(lambda t: bool(theme_ids & set(t))).astype(bool)


def actions_in_scope(actions: pd.DataFrame, case: pd.DataFrame, theme_ids: set[str]) -> pd.DataFrame:
    """The actions a case set's briefing may show, with a ``scope`` column saying why.

    An action is in scope when its ``case_ref`` (optional register column) is the case set's,
    or when its theme is one of the case set's themes *and* its locality is one of the case
    set's localities (``scope = "locality"``) or the whole organisation (``"organisation"``).
    An action for the same theme in another locality is out of scope: a Greystone action does
    not belong in a Brackenfield review.
    """
    if actions is None or actions.empty:
        return actions.assign(scope=pd.Series(dtype="string")) if actions is not None else None
    theme = linked_to(actions, theme_ids).to_numpy()
    loc = (actions["locality"] if "locality" in actions.columns
           else pd.Series(pd.NA, index=actions.index)).astype("string").str.strip().str.casefold()
    org = (loc.isna() | loc.fillna("").isin(ORG_WIDE)).to_numpy()
    here = set(case["locality"].astype("string").str.strip().str.casefold().dropna()) if "locality" in case else set()
    local = loc.isin(list(here)).fillna(False).to_numpy(bool)
    by_case = pd.Series(False, index=actions.index)
    if "case_ref" in actions.columns and "case_ref" in case.columns:
        refs = set(_casefold(case["case_ref"]).dropna()) - {""}
        by_case = _casefold(actions["case_ref"]).isin(list(refs)).fillna(False)
    by_case = by_case.to_numpy(bool)
    keep = by_case | (theme & (local | org))
    scope = np.select([by_case, local, org], ["case", "locality", "organisation"], "")
    return actions.assign(scope=scope)[keep].reset_index(drop=True)
