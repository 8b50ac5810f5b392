"""The thematic review's core questions: repeats, referrals, equality, timeliness, person key."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sgreview import questions as q
from sgreview.errors import ParameterError
from sgreview.schema import validate_incidents


def _frame(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame({
        "incident_id": [f"I{i:03d}" for i in range(n)],
        "incident_date": pd.Timestamp("2024-01-10") + pd.to_timedelta(np.arange(n) % 28, unit="D"),
        "locality": np.where(np.arange(n) < n // 2, "North", "South"),
        "narrative": "Pt found with a ligature.",
    })


def test_person_id_is_pseudonymised_at_load_and_blanks_are_kept_and_counted(monkeypatch):
    monkeypatch.setenv("SGREVIEW_PERSON_KEY", "test-secret")
    df = _frame(6).assign(person_id=["943 476 5919", "9434765919", "", "P2", "p2", None])
    res = validate_incidents(df)
    inc = res.incidents
    assert "person_id" not in inc.columns and len(inc) == 6
    assert res.reconciliation["warnings"]["person_id_blank"] == 2
    keys = inc["person_key"]
    assert keys[0] == keys[1] and keys[3] == keys[4] and keys[0] != keys[3]
    assert keys[[2, 5]].isna().all()
    assert not keys.dropna().str.contains("9434765919|P2", case=False).any()
    assert inc["person_incidents"].tolist()[:2] == [2, 2]
    # Keyed: another secret gives other pseudonyms, so a list of NHS numbers cannot reverse it.
    monkeypatch.setenv("SGREVIEW_PERSON_KEY", "other")
    assert validate_incidents(df).incidents["person_key"][0] != keys[0]


def test_repeat_incidents_share_most_and_no_key_counted():
    inc = _frame(10).assign(person_key=["a", "a", "a", "b", "c", "c", None, "d", "e", None],
                            theme_id=["T1"] * 10, theme_label="Self-harm")
    t = q.repeat_incidents(inc).set_index("locality")
    north, allrow = t.loc["North"], t.loc["all"]
    assert north["incidents"] == 5 and north["with_person_key"] == 5
    assert north["incidents_from_repeat_people"] == 4  # a three times, and c (also once in South)
    assert north["most_incidents_one_person"] == 3
    assert allrow["no_person_key"] == 2 and allrow["people"] == 5
    assert allrow["people_with_2_or_more"] == 2 and allrow["repeat_share"] == pytest.approx(5 / 8)
    assert "person_key" not in t.columns and not t.astype(str).isin(["a", "b", "c"]).any().any()


def test_equality_codes_tidied_and_unexpected_counted_as_not_stated():
    eth, bad = q.tidy_equality(pd.Series(["White - British", "M", "white-british", "Martian", "", None,
                                          "Not known"]), "ethnicity")
    assert eth.tolist() == ["White - British", "Black or Black British - Caribbean", "White - British",
                            "not stated", "not stated", "not stated", "not stated"]
    assert bad == 1
    age, bad = q.tidy_equality(pd.Series(["18-25", "18 to 25", "76+", "forty", "65-18"]), "age_band")
    assert age.tolist() == ["18-25", "18-25", "76+", "not stated", "not stated"] and bad == 2
    sex, bad = q.tidy_equality(pd.Series(["M", "female", "X"]), "sex")
    assert sex.tolist() == ["Male", "Female", "not stated"] and bad == 1


def _equality_data(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 3000
    group = rng.choice(["A", "B", "C"], size=n, p=[0.8, 0.1, 0.1])
    p = np.where(group == "B", 0.3, 0.1)
    theme = np.where(rng.random(n) < p, "T_restraint", "T_other")
    return pd.DataFrame({"incident_id": [f"I{i}" for i in range(n)], "theme_id": theme,
                         "theme_label": theme, "ethnicity": group, "locality": "X",
                         "incident_date": pd.Timestamp("2024-01-01")})


def test_equality_funnel_flags_the_raised_group_only():
    table, unexpected = q.equality_funnel(_equality_data().assign(
        ethnicity=lambda d: d["ethnicity"].map({"A": "White - British", "B": "Black or Black British - Caribbean",
                                                "C": "Asian or Asian British - Indian"})), "ethnicity")
    r = table[table["theme_id"] == "T_restraint"].set_index("group")
    assert r.loc["Black or Black British - Caribbean", "flag"] == "alarm_high"
    assert r.loc["Asian or Asian British - Indian", "flag"] in ("within", "alert_low", "alert_high")
    assert unexpected == 0


def test_equality_view_suppresses_small_counts():
    from sgreview import views
    from sgreview.pipeline.questions import _equality_view

    data = _equality_data().head(400)
    data.loc[data.index[:5], "ethnicity"] = "White - Irish"
    data.loc[data.index[:5], "theme_id"] = "T_restraint"
    data["theme_label"] = data["theme_id"]
    table, _ = q.equality_funnel(data.assign(ethnicity=data["ethnicity"].replace(
        {"A": "White - British", "B": "Black or Black British - Caribbean", "C": "Mixed - White and Asian"})),
        "ethnicity")
    table.loc[table["group"] == "White - Irish", "flag"] = "alarm_high"  # force it into the view
    view = _equality_view(table.assign(characteristic="ethnicity"), views.policy())
    row = view[(view["group"] == "White - Irish") & (view.index == "T_restraint")].iloc[0]
    assert row["incidents in theme"] == "*" and row["share in theme"] == "*"


def test_referral_conversion_flags_the_low_locality():
    rng = np.random.default_rng(3)
    n = 8000
    loc = rng.choice(["North", "South", "East", "West", "Vale", "Moor", "Port", "Ford"], size=n)
    p = np.where(loc == "East", 0.15, 0.3)
    df = pd.DataFrame({"locality": loc, "theme_id": rng.choice(["T01", "T02"], size=n),
                       "safeguarding_referral": np.where(rng.random(n) < p, "yes", "no")})
    df.loc[:9, "safeguarding_referral"] = ""
    t = q.referral_conversion(df)
    by = t[t["dimension"] == "locality"].set_index("group")
    assert by.loc["East", "flag"] == "alarm_low"
    assert set(by.drop("East")["flag"]) <= {"within", "alert_high", "alert_low"}
    assert by["flag_missing"].sum() == 10 and by["n"].sum() == n - 10
    assert set(t.loc[t["dimension"] == "theme", "group"]) == {"T01", "T02"}


def test_reporting_delay_and_action_timeliness():
    inc = _frame(4).assign(reported_date=[pd.Timestamp("2024-01-12"), pd.NaT,
                                          pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-30")])
    d = q.reporting_delay(inc).set_index("locality")
    assert d.loc["all", "n"] == 2 and d.loc["all", "no_report_date"] == 1
    assert d.loc["all", "report_before_incident"] == 1 and d.loc["all", "median_days"] == pytest.approx(9.5)
    acts = pd.DataFrame({"action_id": ["A", "B", "C"], "owner": ["Matron", "Matron", "Lead"],
                         "status": ["completed", "open", "open"],
                         "agreed_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01"]),
                         "completed_date": pd.to_datetime(["2024-01-31", None, None]),
                         "overdue": [False, True, False], "days_overdue": [0, 40, 0]})
    per, owner = q.action_timeliness(acts, today="2024-04-01")
    assert per.set_index("action_id").loc["A", "days_to_complete"] == 30
    o = owner.set_index("owner")
    assert o.loc["Matron", "overdue"] == 1 and o.loc["Matron", "longest_overdue_days"] == 40
    assert owner["owner"].tolist()[0] == "Matron"  # most overdue first


def test_group_by_column_that_does_not_exist_lists_the_columns():
    with pytest.raises(ParameterError, match=r"group_by: column 'ward' is not in the data \(columns: locality, team"):
        q.check_group_by(["incident_id", "locality", "team", "narrative", "person_key"], "ward")


def test_person_key_and_raw_person_id_never_reach_any_output(tmp_path, monkeypatch):
    """Every stage on a synthetic export with person ids: no file holds a pseudonym or raw id."""
    from sgreview import pipeline
    from sgreview.pipeline.common import write_synthetic_export
    from sgreview.schema import load_incidents

    monkeypatch.setenv("SGREVIEW_PERSON_KEY", "test-secret")
    data = write_synthetic_export(tmp_path / "data" / "inc.csv", n=900, seed=5)
    raw = pd.read_csv(data, dtype=str)["person_id"].dropna().unique()
    keys = load_incidents(data).incidents["person_key"].dropna().unique()
    out = tmp_path / "run"
    pipeline.theme_discovery(data, out, k=6, seed=1)
    loc = sorted(pd.read_csv(data)["locality"].unique())[0]
    pipeline.locality_review(data, out, loc, actions_path=data.with_name("inc_actions.csv"))
    pipeline.locality_comparison(data, out)
    pipeline.core_questions(data, out, locality=loc, actions_path=data.with_name("inc_actions.csv"))
    res = pipeline.core_questions(data, out, actions_path=data.with_name("inc_actions.csv"))
    pipeline.learning_summary(data, out, case_set="SAR", case_ref=pd.read_csv(data)["case_ref"].dropna().iloc[0],
                              actions_path=data.with_name("inc_actions.csv"))
    assert "repeat_incidents" in res.paths and res.paths["repeat_incidents"].exists()
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in {".csv", ".json", ".md", ".html", ".yaml", ".txt"}]
    assert len(files) > 10
    text = "\n".join(p.read_text(encoding="utf-8", errors="ignore") for p in files)
    assert not re.search(r"\bperson_(?:key|id)\b", text)  # no such column anywhere
    leaked = [k for k in keys if k in text] + [r for r in raw if r in text]
    assert not leaked, leaked[:3]


def test_core_questions_on_data_without_the_optional_columns_say_so(tmp_path):
    from sgreview import pipeline

    texts = ["Patient found with a ligature on the ward, removed by staff and observations increased.",
             "Medication dose omitted on the evening round, pharmacy informed and the error reported.",
             "Patient absconded from section 17 leave and police were informed, returned later.",
             "Staff member assaulted by a patient during an argument about leave in the lounge."]
    rows = _frame(60).assign(narrative=[texts[i % 4] + f" Note {i}." for i in range(60)])
    data = tmp_path / "inc.csv"
    rows.to_csv(data, index=False)
    out = tmp_path / "run"
    pipeline.theme_discovery(data, out, k=2, seed=1)
    res = pipeline.core_questions(data, out)
    assert res.summary.startswith("None of the core questions can be answered from this data")
    assert "no person_id column" in str(res.repeats.iloc[0, 0])
