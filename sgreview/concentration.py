"""Themes concentrated in one group: possibly local wording or local practice, not an alarm.

A theme whose incidents come mostly from one locality may be a real local problem, but it is
just as often the way one team (or one coroner) writes: a hospital's name, a local form, a
house phrase. Flagging that locality as an outlier for "its" theme is then circular: the
theme exists because of the locality's wording. So a theme with more than ``threshold``
(default 60%) of its incidents from one group, well above that group's share of all
incidents, is marked, and every report that would call it an alarm for that group says
"possibly local wording or local practice" beside it.
"""

from __future__ import annotations

import pandas as pd

from sgreview.schema import UNTHEMED_ID

#: The words every report uses for a concentrated theme.
LOCAL_NOTE = "possibly local wording or local practice"
#: A theme is concentrated when more than this share of it comes from one group ...
THRESHOLD = 0.6
#: ... and that share is at least this many times the group's share of all incidents.
MIN_LIFT = 2.0
#: Themes smaller than this are not judged (a theme of 4 incidents is easily "all local").
MIN_SIZE = 10


def local_concentration(
    assignments: pd.DataFrame, group_by: str = "locality", *, threshold: float = THRESHOLD,
    min_lift: float = MIN_LIFT, min_size: int = MIN_SIZE,
) -> pd.DataFrame:
    """One row per theme: its largest group, that group's share of the theme and overall.

    Columns: ``theme_id``, ``group``, ``theme_share`` (share of the theme's incidents from
    that group), ``group_share`` (the group's share of all incidents), ``n`` (theme size)
    and ``local`` (True when concentrated). ``T00`` is never marked.
    """
    cols = ["theme_id", "group", "theme_share", "group_share", "n", "local"]
    if assignments.empty or group_by not in assignments.columns:
        return pd.DataFrame(columns=cols)
    theme = assignments["theme_id"].astype(str)
    group = assignments[group_by].astype(str)
    counts = pd.crosstab(theme, group)
    size = counts.sum(axis=1)
    top = counts.idxmax(axis=1)
    top_n = counts.max(axis=1)
    overall = group.value_counts(normalize=True)
    out = pd.DataFrame({
        "theme_id": counts.index,
        "group": top.to_numpy(),
        "theme_share": (top_n / size).to_numpy(),
        "group_share": overall.reindex(top.to_numpy()).to_numpy(),
        "n": size.to_numpy(),
    })
    out["local"] = ((out["theme_share"] > threshold)
                    & (out["theme_share"] >= min_lift * out["group_share"])
                    & (out["n"] >= min_size) & (out["theme_id"] != UNTHEMED_ID))
    return out[cols].reset_index(drop=True)


def local_pairs(assignments: pd.DataFrame, group_by: str = "locality") -> set[tuple[str, str]]:
    """(theme_id, group) pairs where the theme is concentrated in that group."""
    table = local_concentration(assignments, group_by)
    table = table.loc[table["local"]]
    return set(zip(table["theme_id"].astype(str), table["group"].astype(str), strict=True))
