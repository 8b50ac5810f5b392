"""Care setting of each incident, for denominators given per setting.

Why: inpatient incidents are counted against occupied bed days and community incidents
against caseload; the denominators file says which rows belong to which setting (its
``setting`` column) and the data say where each incident happened (a column named by the
``setting_column`` parameter, e.g. ``service``, optionally mapped with ``setting_map``).
"""

from __future__ import annotations

import pandas as pd

from sgreview.errors import ParameterError


def fold_setting(values: pd.Series) -> pd.Series:
    """Setting names compared case-blind and without surrounding spaces ("" when blank)."""
    return values.astype("string").str.strip().str.casefold().fillna("")


def incident_settings(assignments: pd.DataFrame, setting_column: str,
                      setting_map: dict[str, str] | None = None) -> pd.Series:
    """Each incident's setting: ``setting_column`` mapped through ``setting_map``, folded.

    Values are compared case-blind and without surrounding spaces, because a service named
    "Community" in the export and "community" in the denominators file is the same setting.
    A value absent from a given ``setting_map`` keeps its own (folded) name; a blank is ""
    (no setting, hence no denominator). An unknown column is a :class:`ParameterError`
    listing the columns there are.
    """
    if setting_column not in assignments.columns:
        cols = ", ".join(sorted(map(str, assignments.columns)))
        raise ParameterError(f"parameter 'setting_column': no column {setting_column!r} in the "
                             f"data (columns: {cols})")
    raw = fold_setting(assignments[setting_column])
    if setting_map:
        folded = {str(k).strip().casefold(): str(v).strip().casefold()
                  for k, v in setting_map.items()}
        raw = raw.replace(folded)
    return raw
