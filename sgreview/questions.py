"""The thematic review's core questions, as tables: repeats, referrals, equality, timeliness.

A thematic review of safeguarding incidents asks more than "which themes, where": are the
same people harmed again and again; how many incidents became safeguarding referrals, and
does that differ by locality; are some groups (ethnicity, age band, sex) more often subject
to a theme such as restraint (a Use of Force Act and PCREF requirement); how long does it
take to report an incident and to complete an agreed action. Each function here returns an
analyst table (exact counts, never a narrative or a person key); reports pass them through
:mod:`sgreview.views` for suppression. Group comparisons reuse :mod:`sgreview.funnel` so a
locality or an ethnic group is judged with the same rules (leave-one-out exact tests,
``too_few`` when a group is too small to judge) as everything else.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sgreview.errors import InputError
from sgreview.funnel import funnel_table, funnel_units
from sgreview.schema import UNTHEMED_ID, parse_flags

NOT_STATED = "not stated"
NO_PERSON_KEY = "no person key"
EQUALITY_COLUMNS = ("ethnicity", "age_band", "sex")

#: NHS Data Dictionary ethnic categories (2001 census), by letter code and by text.
ETHNIC_CATEGORIES = {
    "A": "White - British", "B": "White - Irish", "C": "White - Any other White background",
    "D": "Mixed - White and Black Caribbean", "E": "Mixed - White and Black African",
    "F": "Mixed - White and Asian", "G": "Mixed - Any other mixed background",
    "H": "Asian or Asian British - Indian", "J": "Asian or Asian British - Pakistani",
    "K": "Asian or Asian British - Bangladeshi", "L": "Asian or Asian British - Any other Asian background",
    "M": "Black or Black British - Caribbean", "N": "Black or Black British - African",
    "P": "Black or Black British - Any other Black background",
    "R": "Other Ethnic Groups - Chinese", "S": "Other Ethnic Groups - Any other ethnic group",
    "Z": NOT_STATED,
}
_SEX = {"male": "Male", "m": "Male", "female": "Female", "f": "Female",
        "not known": NOT_STATED, "not specified": NOT_STATED, "unknown": NOT_STATED,
        "indeterminate": "Indeterminate", "intersex": "Indeterminate"}
_AGE_BAND = re.compile(r"^\s*(\d{1,3})\s*(?:-|to)\s*(\d{1,3})\s*$|^\s*(\d{1,3})\s*\+\s*$")


def _fold(s: pd.Series) -> pd.Series:
    return s.astype("string").str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)


def tidy_equality(values: pd.Series, column: str) -> tuple[pd.Series, int]:
    """Recorded equality codes to the categories a report shows; returns (values, unexpected).

    Ethnicity: NHS Data Dictionary categories, by letter or text (any dash or spacing);
    age band: ``18-25`` / ``18 to 25`` / ``76+``; sex: Male, Female, Indeterminate. Blanks,
    "not stated"/"not known" and anything unexpected become "not stated"; ``unexpected``
    counts the non-blank values that were not recognised, so the report can say how many.
    """
    raw = values.astype("string")
    blank = raw.fillna("").str.strip() == ""
    folded = _fold(raw).fillna("")
    if column == "ethnicity":
        key = folded.str.replace(r"\s*[-:–]\s*", " - ", regex=True)
        names = {v.casefold(): v for v in ETHNIC_CATEGORIES.values()}
        names |= {k.casefold(): v for k, v in ETHNIC_CATEGORIES.items()}
        names |= {"not stated": NOT_STATED, "not known": NOT_STATED, "unknown": NOT_STATED,
                  "prefer not to say": NOT_STATED, "declined": NOT_STATED}
        out = key.map(names)
    elif column == "age_band":
        m = raw.fillna("").str.extract(_AGE_BAND)
        out = pd.Series(pd.NA, index=raw.index, dtype="object")
        rng = m[0].notna() & m[1].notna()
        ok = rng & (m[0].fillna("0").astype(int) <= m[1].fillna("0").astype(int))
        out[ok] = m.loc[ok, 0] + "-" + m.loc[ok, 1]
        out[m[2].notna()] = m.loc[m[2].notna(), 2] + "+"
        out[folded.isin(["not stated", "not known", "unknown"])] = NOT_STATED
    elif column == "sex":
        out = folded.map(_SEX)
    else:
        raise InputError(f"no equality rules for column {column!r} (use {', '.join(EQUALITY_COLUMNS)})")
    unexpected = int((out.isna() & ~blank).sum())
    return out.fillna(NOT_STATED).astype(str), unexpected


# ---------------------------------------------------------------------------------------------
# Repeat incidents


def _person_counts(df: pd.DataFrame) -> pd.Series:
    """Incidents per person for each row (whole file when the loader counted them)."""
    if "person_incidents" in df.columns:
        return pd.to_numeric(df["person_incidents"], errors="coerce")
    key = df["person_key"]
    return key.map(key.value_counts()).where(key.notna())


def repeat_incidents(incidents: pd.DataFrame, *, group_by: str = "locality") -> pd.DataFrame:
    """Per group and for the whole frame: incidents, how many have a person key, people, and
    the share of keyed incidents from people with 2 or more incidents.

    Incidents without a person key are kept and counted ("no person key"), never dropped
    or guessed. Person keys themselves never appear in the result. A person's count is over
    the whole export (``person_incidents`` from the loader), so a locality report still sees
    that a person also had incidents elsewhere.
    """
    if "person_key" not in incidents.columns and "person_incidents" not in incidents.columns:
        raise InputError("no person_id column in the data: repeat incidents cannot be counted",
                         column="person_id")
    df = incidents.assign(_n=_person_counts(incidents))
    keyed = df["_n"].notna()
    repeat = keyed & (df["_n"] >= 2)
    key = df["person_key"] if "person_key" in df.columns else pd.Series(pd.NA, index=df.index)
    frame = pd.DataFrame({"group": df[group_by].astype(str), "keyed": keyed, "repeat": repeat,
                          "key": key.where(keyed), "repeat_key": key.where(repeat),
                          "most": df["_n"].fillna(0)})
    rows = []
    for name, part in [*frame.groupby("group", sort=True), ("all", frame)]:
        with_key = int(part["keyed"].sum())
        rep = int(part["repeat"].sum())
        rows.append({group_by: name, "incidents": len(part), "with_person_key": with_key,
                     NO_PERSON_KEY.replace(" ", "_"): len(part) - with_key,
                     "people": int(part["key"].nunique()),
                     "people_with_2_or_more": int(part["repeat_key"].nunique()),
                     "incidents_from_repeat_people": rep,
                     "repeat_share": rep / with_key if with_key else np.nan,
                     "most_incidents_one_person": int(part["most"].max()) if with_key else 0})
    return pd.DataFrame(rows)


def repeat_themes(incidents: pd.DataFrame, *, min_incidents: int = 2) -> pd.DataFrame:
    """Themes of incidents from people with ``min_incidents`` or more, against the others."""
    n = _person_counts(incidents)
    repeat = n.notna() & (n >= min_incidents)
    other = n.notna() & ~repeat
    labels = (incidents.groupby(incidents["theme_id"].astype(str))["theme_label"].first()
              if "theme_label" in incidents else None)
    theme = incidents["theme_id"].astype(str)
    t = pd.DataFrame({"repeat_incidents": theme[repeat].value_counts(),
                      "other_incidents": theme[other].value_counts()}).fillna(0).astype(int)
    t["repeat_share"] = t["repeat_incidents"] / max(int(repeat.sum()), 1)
    t["other_share"] = t["other_incidents"] / max(int(other.sum()), 1)
    t = t.rename_axis("theme_id").reset_index()
    if labels is not None:
        t.insert(1, "theme_label", t["theme_id"].map(labels))
    return t.sort_values(["repeat_incidents", "theme_id"], ascending=[False, True]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Referral conversion


def referral_flags(values: pd.Series) -> pd.Series:
    """``safeguarding_referral`` as a nullable boolean (text yes/no, or True/False read back)."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    return parse_flags(values.astype("string").replace({"True": "yes", "False": "no"}))[0]


def referral_conversion(assignments: pd.DataFrame, *, group_by: str = "locality") -> pd.DataFrame:
    """The share of incidents with a safeguarding referral, per group, on the funnel.

    Each group is judged against all other groups (leave-one-out exact test, ``too_few``
    when too small), like every funnel in sgreview. Incidents with the flag missing are left
    out of both numerator and denominator and counted in ``flag_missing``. Also a row per
    theme (``group_by = "theme"``, judged the same way across themes).
    """
    if "safeguarding_referral" not in assignments.columns:
        raise InputError("no safeguarding_referral column in the data", column="safeguarding_referral")
    flag = referral_flags(assignments["safeguarding_referral"])
    known = flag.notna()
    frames = []
    for by in (group_by, "theme_id"):
        key = assignments[by].astype(str)
        if by == "theme_id":
            key = key.where(key != UNTHEMED_ID)
        g = pd.DataFrame({"key": key, "yes": flag.fillna(False).astype(bool), "known": known})
        g = g[g["key"].notna()]
        agg = g.groupby("key", sort=True).agg(referrals=("yes", "sum"), n=("known", "sum"),
                                              incidents=("known", "size"))
        rows, _ = funnel_units(agg["referrals"].to_numpy(float), agg["n"].to_numpy(float))
        out = pd.DataFrame({"dimension": "theme" if by == "theme_id" else group_by, "group": agg.index,
                            "incidents": agg["incidents"].to_numpy(), "flag_missing":
                            (agg["incidents"] - agg["n"]).to_numpy(), "referrals": agg["referrals"].to_numpy(),
                            "n": agg["n"].to_numpy()})
        for col in ("proportion", "target", "lower95", "upper95", "lower998", "upper998", "flag"):
            out[col] = rows[col].to_numpy()
        frames.append(out)
    table = pd.concat(frames, ignore_index=True)
    if "theme_label" in assignments:
        labels = assignments.groupby(assignments["theme_id"].astype(str))["theme_label"].first()
        table["label"] = np.where(table["dimension"] == "theme", table["group"].map(labels), table["group"])
    else:
        table["label"] = table["group"]
    return table


# ---------------------------------------------------------------------------------------------
# Equality


def equality_funnel(assignments: pd.DataFrame, column: str) -> tuple[pd.DataFrame, int]:
    """Theme rates by an equality characteristic against all other groups, on the funnel.

    Returns (the :func:`~sgreview.funnel.funnel_table` rows with ``locality`` renamed to
    ``group``, the number of unexpected codes mapped to "not stated"). The whole period is
    compared (equality monitoring looks at the whole review period). "not stated" is shown
    but never flagged: it is a recording gap, not a group.
    """
    if column not in assignments.columns:
        raise InputError(f"no {column} column in the data", column=column)
    tidy, unexpected = tidy_equality(assignments[column], column)
    table = funnel_table(assignments.assign(**{column: tidy}), group_by=column, window_months=None)
    table = table.rename(columns={"locality": "group"})
    table.loc[table["group"] == NOT_STATED, "flag"] = ""
    table.attrs["unexpected_codes"] = unexpected
    return table, unexpected


# ---------------------------------------------------------------------------------------------
# Timeliness


def reporting_delay(incidents: pd.DataFrame, *, group_by: str = "locality") -> pd.DataFrame:
    """Days from incident to report, per group and overall: n, median, 90th percentile, and
    how many took more than 7 days. Missing or earlier-than-incident report dates are counted
    (``no_report_date``, ``report_before_incident``) and left out of the days."""
    if "reported_date" not in incidents.columns:
        raise InputError("no reported_date column in the data", column="reported_date")
    inc = pd.to_datetime(incidents["incident_date"], errors="coerce")
    rep = pd.to_datetime(incidents["reported_date"], errors="coerce")
    days = (rep.dt.normalize() - inc.dt.normalize()).dt.days
    frame = pd.DataFrame({"group": incidents[group_by].astype(str), "days": days,
                          "missing": rep.isna(), "negative": days < 0})
    rows = []
    for name, part in [*frame.groupby("group", sort=True), ("all", frame)]:
        ok = part.loc[~part["missing"] & ~part["negative"], "days"]
        rows.append({group_by: name, "incidents": len(part), "n": len(ok),
                     "median_days": float(ok.median()) if len(ok) else np.nan,
                     "p90_days": float(ok.quantile(0.9)) if len(ok) else np.nan,
                     "over_7_days": int((ok > 7).sum()),
                     "no_report_date": int(part["missing"].sum()),
                     "report_before_incident": int(part["negative"].sum())})
    return pd.DataFrame(rows)


def action_timeliness(actions: pd.DataFrame, *, today: str | pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per action: days from agreed to completed, or open for; per owner: actions, completed,
    median days to complete, open, overdue, longest overdue). ``actions`` is a validated
    register (:func:`~sgreview.learning.actions.load_actions`)."""
    today = pd.Timestamp(today if today is not None else pd.Timestamp.today()).normalize()
    a = actions.copy()
    agreed = pd.to_datetime(a["agreed_date"])
    done = pd.to_datetime(a["completed_date"])
    live = a["status"].astype(str).isin(["open", "in_progress"])
    per = pd.DataFrame({"action_id": a["action_id"], "owner": a["owner"], "status": a["status"],
                        "days_to_complete": (done - agreed).dt.days,
                        "days_open": np.where(live, (today - agreed).dt.days, np.nan),
                        "overdue": a["overdue"].astype(bool),
                        "days_overdue": a.get("days_overdue", pd.Series(0, index=a.index))})
    owner = per.groupby("owner", sort=True).agg(
        actions=("action_id", "size"),
        completed=("days_to_complete", "count"),
        median_days_to_complete=("days_to_complete", "median"),
        open=("days_open", "count"),
        overdue=("overdue", "sum"),
        longest_overdue_days=("days_overdue", "max"),
    ).reset_index()
    owner["overdue"] = owner["overdue"].astype(int)
    return per, owner.sort_values(["overdue", "owner"], ascending=[False, True]).reset_index(drop=True)


def check_group_by(columns: list[str] | pd.Index, group_by: str, source: object = None) -> str:
    """``group_by`` must be a column of the data; the error lists the columns there are."""
    from sgreview.errors import ParameterError

    if group_by not in list(columns):
        usable = ", ".join(c for c in columns if c not in ("narrative", "person_key", "incident_id"))
        raise ParameterError(f"group_by: column '{group_by}' is not in the data (columns: {usable})",
                             path=None if source is None else str(source), column="group_by")
    return group_by
