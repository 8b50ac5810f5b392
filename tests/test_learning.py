"""Learning summaries: actions register, action effects, case sets and the 7-minute briefing."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from sgreview.disclosure import DisclosurePolicy
from sgreview.errors import InputError, ParameterError
from sgreview.learning import (
    ACTION_COLUMNS,
    ActionsRegisterError,
    action_effects,
    build_briefing,
    detect_practice_themes,
    effect_charts,
    learning_summary,
    load_actions,
    rate_ratio,
    run_learning,
    select_case_set,
    write_learning,
)
from sgreview.learning.briefing import QUESTION_BANK, TITLES, load_question_bank
from sgreview.redact import contains_identifiers

THEMES = pd.DataFrame({
    "theme_id": ["T01", "T02", "T03"],
    "theme_label": ["Self-harm: ligature, cut", "Absconding: leave, AWOL", "Financial abuse: money"],
    "taxonomy_key": ["self_harm", "absconding", "financial_abuse"],
    "top_terms": ["ligature; cut; self-harm", "leave; awol; returned", "money; bank; cash"],
})
PRACTICE = [
    {"key": "information_sharing_records", "name": "Information sharing and record keeping",
     "terms": ["not shared", "records"], "seips": "tools and technology"},
    {"key": "carers_family", "name": "Carers and family involvement",
     "terms": ["family", "carer"], "seips": "external environment"},
    {"key": "homelessness", "name": "Homelessness and housing", "terms": ["homeless"],
     "seips": "external environment"},
]
NHS = "999 123 4560"
PHONE = "07700 900123"
POLICY = DisclosurePolicy(threshold=7, base=5)


def _register(**overrides) -> pd.DataFrame:
    base = {
        "action_id": ["A1", "A2", "A3"],
        "theme": ["self_harm", "Absconding: leave, AWOL", "T03"],
        "locality": ["North", "", "all"],
        "description": ["Anti-ligature fittings", "Leave checklist", "Money checks"],
        "owner": ["Ward manager", "Matron", "Team lead"],
        "agreed_date": ["2023-05-10", "10/02/2023", "2023-03-01"],
        "due_date": ["2023-06-30", "30/06/2023", "2024-06-30"],
        "completed_date": ["2023-06-15", "", ""],
        "status": ["Completed", "open", "In progress"],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def _org(seed: int = 3, fall_from: str = "2023-07", factor: float = 0.35) -> pd.DataFrame:
    """Two years of incidents: T01 in North falls by ``factor`` from ``fall_from``; the rest flat."""
    rng = np.random.default_rng(seed)
    months = pd.period_range("2022-07", "2024-06", freq="M")
    rows = []
    for m in months:
        for theme, loc, lam in (("T01", "North", 12.0), ("T01", "South", 10.0),
                                ("T02", "North", 9.0), ("T02", "South", 9.0),
                                ("T03", "South", 5.0)):
            if theme == "T01" and loc == "North" and m >= pd.Period(fall_from, "M"):
                lam *= factor
            for day in rng.integers(0, m.days_in_month, rng.poisson(lam)):
                rows.append((m.start_time + pd.Timedelta(days=int(day)), theme, loc))
    df = pd.DataFrame(rows, columns=["incident_date", "theme_id", "locality"])
    # Pin the data window to whole months at both ends.
    edges = pd.DataFrame({"incident_date": [pd.Timestamp("2022-07-01"), pd.Timestamp("2024-06-30")],
                          "theme_id": "T02", "locality": "South"})
    df = pd.concat([df, edges], ignore_index=True).sort_values("incident_date", kind="stable")
    df["incident_id"] = [f"INC{i:05d}" for i in range(len(df))]
    df["theme_label"] = df["theme_id"].map(dict(zip(THEMES.theme_id, THEMES.theme_label, strict=True)))
    df["narrative"] = "Routine record of the incident. Staff followed the care plan."
    df["harm"] = "low"
    df["case_ref"] = ""
    return df.reset_index(drop=True)


def _with_case_set(df: pd.DataFrame) -> pd.DataFrame:
    """SAR-1: 12 T01 and 3 T02 incidents in North, 9 T03 in South, with identifiers planted."""
    df = df.copy()
    t1 = df.index[(df.theme_id == "T01") & (df.locality == "North")][:12]
    t2 = df.index[(df.theme_id == "T02") & (df.locality == "North")][:3]
    t3 = df.index[(df.theme_id == "T03") & (df.locality == "South")][:9]
    df.loc[t1.union(t2).union(t3), "case_ref"] = "SAR-1"
    df.loc[t1, "narrative"] = (
        "Patient found with a ligature on the ward and it was cut by staff. "
        f"Family were not told and records were not shared, NHS number {NHS} noted.")
    df.loc[t1[0], "narrative"] = (
        f"Mr John Smith rang on {PHONE} about a ligature and the cut was dressed.")
    df.loc[t2, "narrative"] = "Did not return from leave and was reported AWOL; the carer phoned the ward."
    df.loc[t3, "narrative"] = "Cash was taken from the bank card by a lodger. Police were informed."
    return df


# ------------------------------------------------------------------ actions register


def test_load_actions_resolves_theme_by_key_label_or_id():
    acts = load_actions(_register(), themes=THEMES, today="2024-01-01")
    assert acts["theme_id"].tolist() == ["T01", "T02", "T03"]
    assert acts["status"].tolist() == ["completed", "open", "in_progress"]
    assert acts.loc[1, "agreed_date"] == pd.Timestamp("2023-02-10")  # UK day-first
    assert acts.loc[0, "agreed_date"] == pd.Timestamp("2023-05-10")  # ISO, not swapped


def test_overdue_means_live_and_past_due_at_today():
    acts = load_actions(_register(), themes=THEMES, today="2024-01-01")
    assert acts["overdue"].tolist() == [False, True, False]
    assert acts.loc[1, "days_overdue"] == (pd.Timestamp("2024-01-01") - pd.Timestamp("2023-06-30")).days


def test_rejects_unknown_theme_naming_row_and_known_keys():
    with pytest.raises(ActionsRegisterError) as info:
        load_actions(_register(theme=["self_harm", "ligatures", "T03"]), themes=THEMES,
                     today="2024-01-01")
    err = info.value
    assert err.row == 3 and err.column == "theme"
    assert "unknown theme" in str(err) and "absconding" in str(err)


def test_rejects_missing_and_unreadable_dates():
    with pytest.raises(ActionsRegisterError) as info:
        load_actions(_register(agreed_date=["", "10/02/2023", "2023-03-01"],
                               due_date=["2023-06-30", "soon", "2024-06-30"]),
                     themes=THEMES, today="2024-01-01")
    got = set(zip(info.value.problems["source_row"], info.value.problems["column"], strict=True))
    assert got == {(2, "agreed_date"), (3, "due_date")}
    assert "agreed_date is missing" in str(info.value)


def test_rejects_due_date_before_agreed_date():
    with pytest.raises(ActionsRegisterError) as info:
        load_actions(_register(due_date=["2022-12-31", "30/06/2023", "2024-06-30"]),
                     themes=THEMES, today="2024-01-01")
    assert info.value.row == 2 and info.value.column == "due_date"
    assert "due_date is before agreed_date" in str(info.value)


def test_rejects_duplicate_action_ids_after_the_first():
    with pytest.raises(ActionsRegisterError) as info:
        load_actions(_register(action_id=["A1", "A2", "A1"]), themes=THEMES, today="2024-01-01")
    p = info.value.problems
    assert p[["source_row", "column"]].values.tolist() == [[4, "action_id"]]
    assert "first used on row 2" in p.loc[0, "reason"]


def test_register_error_keeps_every_problem_and_names_the_file(tmp_path):
    path = tmp_path / "actions.csv"
    _register(action_id=["A1", "A1", "A3"], theme=["self_harm", "nope", "T03"],
              status=["Completed", "open", "maybe"]).to_csv(path, index=False)
    with pytest.raises(ActionsRegisterError) as info:
        load_actions(path, themes=THEMES, today="2024-01-01")
    message = str(info.value)
    assert message.startswith(f"{path}, row 3, column ")
    assert "(and 2 more problems in the register)" in message
    assert len(info.value.problems) == 3
    assert isinstance(info.value, InputError)


def test_taxonomy_theme_missing_from_the_model_is_kept_and_not_measured():
    reg = _register(theme=["self_harm", "missed_escalation", "T03"],
                    completed_date=["2023-06-15", "2023-06-15", ""],
                    status=["Completed", "completed", "In progress"])
    acts = load_actions(reg, themes=THEMES, today="2024-07-01")
    assert acts.loc[1, "theme_label"] == "Missed escalation and physical deterioration"
    assert pd.isna(acts.loc[1, "theme_id"])
    df = _org()
    eff = action_effects(acts, df).set_index("action_id")
    assert eff.loc["A2", "effect"] == "not_measured"
    assert "no theme for 'missed_escalation'" in eff.loc["A2", "reason"]
    assert eff.loc["A1", "effect"] == "improved"
    assert "A2" not in set(effect_charts(acts, df)["action_id"])


def test_action_in_a_locality_with_no_incidents_is_not_measured():
    df = _org()
    acts = _actions_for(df)
    acts.loc[0, "locality"] = "Nroth"
    eff = action_effects(acts, df).set_index("action_id")
    assert eff.loc["FALL", "effect"] == "not_measured"
    assert "locality 'Nroth' has no incidents" in eff.loc["FALL", "reason"]


def test_completed_action_needs_a_completion_date():
    with pytest.raises(ActionsRegisterError, match="completed_date is missing"):
        load_actions(_register(completed_date=["", "", ""]), themes=THEMES, today="2024-01-01")


def test_register_without_required_column_is_an_input_error():
    with pytest.raises(InputError, match="no 'owner' column"):
        load_actions(_register().drop(columns="owner"), today="2024-01-01")


# ------------------------------------------------------------------ rate ratio and effects


def test_rate_ratio_matches_clopper_pearson_by_hand():
    rr, lo, hi, p = rate_ratio(10, 12.0, 30, 18.0)
    n, a = 40, 10
    pl = stats.beta.ppf(0.025, a, n - a + 1)
    pu = stats.beta.ppf(0.975, a + 1, n - a)
    scale = 18.0 / 12.0
    assert rr == pytest.approx((10 / 12) / (30 / 18))
    assert lo == pytest.approx(pl / (1 - pl) * scale, rel=1e-9)
    assert hi == pytest.approx(pu / (1 - pu) * scale, rel=1e-9)
    assert p == pytest.approx(stats.binomtest(10, 40, 12 / 30).pvalue)


def test_rate_ratio_with_no_events_after_has_zero_lower_limit():
    rr, lo, hi, _ = rate_ratio(0, 6.0, 20, 12.0)
    assert rr == 0 and lo == 0 and 0 < hi < 1


def _actions_for(df: pd.DataFrame, completed: str = "2023-06-20") -> pd.DataFrame:
    reg = pd.DataFrame({
        "action_id": ["FALL", "CONTROL", "LATE", "OPEN"],
        "theme": ["self_harm", "absconding", "financial_abuse", "absconding"],
        "locality": ["North", "", "South", "North"],
        "owner": ["Ward manager", "Matron", "Team lead", "Matron"],
        "agreed_date": ["2023-05-05", "2023-05-05", "2024-01-05", "2024-01-05"],
        "due_date": ["2023-06-30", "2023-06-30", "2024-04-30", "2024-03-31"],
        "completed_date": [completed, completed, "2024-03-10", ""],
        "status": ["completed", "completed", "completed", "open"],
    })
    return load_actions(reg, themes=THEMES, today="2024-07-01")


def test_planted_fall_is_improved_and_control_is_no_change():
    df = _org()
    eff = action_effects(_actions_for(df), df).set_index("action_id")
    assert eff.loc["FALL", "effect"] == "improved"
    assert eff.loc["FALL", "ci_high"] < 1 and eff.loc["FALL", "rate_ratio"] < 0.5
    # No real change, but 7 baseline months cannot rule out one of 25%: inconclusive.
    assert eff.loc["CONTROL", "effect"] == "inconclusive"
    assert eff.loc["CONTROL", "ci_low"] < 1 < eff.loc["CONTROL", "ci_high"]
    # Baseline: before the agreed month (2023-05) less 3 run-up months; after: from 2023-07.
    assert eff.loc["FALL", "months_before"] == 7 and eff.loc["FALL", "months_after"] == 12
    assert eff.loc["FALL", "method"].startswith("controlled segmented quasi-Poisson")
    assert "shift" in eff.loc["FALL", "spc_signal"] or "below" in eff.loc["FALL", "spc_signal"]


def test_too_early_says_how_many_periods_are_needed():
    df = _org()
    eff = action_effects(_actions_for(df), df).set_index("action_id")
    assert eff.loc["LATE", "effect"] == "too_early"
    assert eff.loc["LATE", "months_after"] == 3
    assert "3 complete month(s) since completion" in eff.loc["LATE", "reason"]
    assert "6 are needed" in eff.loc["LATE", "reason"]
    assert eff.loc["OPEN", "effect"] == "too_early" and "open" in eff.loc["OPEN", "reason"]


def test_rise_after_action_is_worse():
    df = _org(fall_from="2023-07", factor=2.5)
    eff = action_effects(_actions_for(df), df).set_index("action_id")
    assert eff.loc["FALL", "effect"] == "worse"
    assert eff.loc["FALL", "ci_low"] > 1


def test_direction_per_action_decides_improved_or_worse():
    df = _org(fall_from="2023-07", factor=2.5)  # North self-harm rises after completion
    acts = _actions_for(df)
    acts.loc[acts["action_id"] == "FALL", "direction"] = "increase"  # meant to find more
    eff = action_effects(acts, df).set_index("action_id")
    assert eff.loc["FALL", "direction"] == "increase"
    assert eff.loc["FALL", "effect"] == "improved" and eff.loc["FALL", "ci_low"] > 1
    assert eff.loc["CONTROL", "direction"] == "decrease"  # blank: the default


def test_direction_must_be_increase_or_decrease_and_agreed_before_completion():
    bad = _register(direction=["increase", "up", ""])
    with pytest.raises(ActionsRegisterError, match="direction must be increase or decrease") as err:
        load_actions(bad, themes=THEMES, today="2024-07-01")
    assert err.value.problems["source_row"].tolist() == [3]
    late = _register(agreed_date=["2023-07-10", "10/02/2023", "2023-03-01"],
                     due_date=["2023-08-30", "30/06/2023", "2024-06-30"])
    with pytest.raises(ActionsRegisterError, match="completed_date is before agreed_date"):
        load_actions(late, themes=THEMES, today="2024-07-01")


def test_p_value_and_interval_come_from_the_same_adjusted_test():
    df = _org()
    eff = action_effects(_actions_for(df), df).set_index("action_id")
    for aid in ("FALL", "CONTROL"):
        r = eff.loc[aid]
        excludes = r["ci_high"] < 1 or r["ci_low"] > 1
        assert excludes == (r["p_value"] < 0.05)  # Bonferroni on both: level 97.5%, p x 2


def test_no_change_needs_a_narrow_interval_and_wide_ones_are_inconclusive():
    from sgreview.learning.actions import NO_CHANGE_MARGIN

    rng = np.random.default_rng(0)
    months = pd.period_range("2021-01", "2024-12", freq="M")
    rows = []
    for m in months:
        for loc, lam in (("North", 200.0), ("South", 2.0)):
            for _ in range(rng.poisson(lam)):
                rows.append((m.start_time + pd.Timedelta(days=3), "T01", loc))
    df = pd.DataFrame(rows, columns=["incident_date", "theme_id", "locality"])
    df["incident_id"] = [f"I{i}" for i in range(len(df))]
    reg = pd.DataFrame({"action_id": ["BIG", "SMALL"], "theme": ["T01", "T01"],
                        "locality": ["North", "South"], "owner": "x",
                        "agreed_date": "2022-12-01", "due_date": "2023-03-31",
                        "completed_date": "2023-03-01", "status": "completed"})
    eff = action_effects(load_actions(reg, themes=THEMES, today="2025-01-01"), df,
                         controlled=False).set_index("action_id")
    assert eff.loc["BIG", "effect"] == "no_change"
    assert 1 / NO_CHANGE_MARGIN <= eff.loc["BIG", "ci_low"] <= eff.loc["BIG", "ci_high"] <= NO_CHANGE_MARGIN
    assert eff.loc["SMALL", "effect"] == "inconclusive"
    assert eff.loc["SMALL", "ci_low"] < 1 / NO_CHANGE_MARGIN or eff.loc["SMALL", "ci_high"] > NO_CHANGE_MARGIN


def test_bonferroni_widens_the_interval_for_each_judged_action():
    df = _org()
    acts = _actions_for(df)
    adj = action_effects(acts, df).set_index("action_id")
    raw = action_effects(acts, df, adjust="none").set_index("action_id")
    # FALL and CONTROL are judged (m = 2): each interval is at 97.5%.
    assert adj.loc["FALL", "ci_level"] == pytest.approx(0.975)
    assert raw.loc["FALL", "ci_level"] == pytest.approx(0.95)
    assert adj.loc["FALL", "ci_high"] > raw.loc["FALL", "ci_high"]
    assert "Bonferroni-adjusted for 2 actions" in adj.loc["FALL", "reason"]


def test_effect_uses_denominators_as_exposure():
    df = _org(factor=1.0)
    periods = pd.period_range("2022-07", "2024-06", freq="M").astype(str)
    # Exposure doubles after completion while counts stay flat: the rate halves.
    dens = pd.DataFrame({"locality": "North", "period": periods, "unit": "occupied_bed_days",
                         "denominator": np.where(periods > "2023-06", 2000.0, 1000.0)})
    eff = action_effects(_actions_for(df).iloc[[0]], df, denominators=dens).iloc[0]
    assert eff["rate_unit"] == "incidents per 1,000 occupied bed days"
    assert eff["exposure_after"] == 12 * 2000.0
    # Counts flat, exposure doubled: the modelled rate ratio is about a half (South has no
    # denominator, so the action is judged on its own series).
    assert eff["method"].startswith("segmented quasi-Poisson")
    assert eff["ci_low"] < 0.5 < eff["ci_high"] and eff["effect"] == "improved"


def test_denominators_with_several_units_need_a_choice():
    df = _org()
    dens = pd.DataFrame({"locality": ["North", "North"], "period": ["2023-01", "2023-01"],
                         "unit": ["caseload", "occupied_bed_days"], "denominator": [10, 20]})
    with pytest.raises(ParameterError, match="several units"):
        action_effects(_actions_for(df), df, denominators=dens)


def test_effect_chart_is_rebased_at_completion():
    df = _org()
    chart = effect_charts(_actions_for(df).iloc[[0]], df)
    assert set(chart["segment"]) == {"before", "completion", "after"}
    after = chart[chart["segment"] == "after"]
    before = chart[chart["segment"] == "before"]
    assert after["rebase_group"].nunique() == 1 and before["rebase_group"].nunique() == 1
    assert after["rebase_group"].iloc[0] != before["rebase_group"].iloc[0]
    assert after["centre"].iloc[0] < before["centre"].iloc[0]


def test_synthetic_generator_fall_is_improved_and_control_is_not():
    from sgreview.synth.generate import generate

    data = generate(6000, 42)
    assignments = data.truth.rename(columns={"theme": "theme_id"})
    acts = load_actions(data.actions, today=data.signals["as_of"])
    eff = action_effects(acts, assignments).set_index("action_id")
    planted = data.signals["falling"]["action_id"]
    assert eff.loc[planted, "effect"] == "improved"
    assert eff.loc["ACT-002", "effect"] in {"no_change", "inconclusive", "too_early"}
    assert eff.loc["ACT-007", "effect"] == "too_early"


# ------------------------------------------------------------------ case sets


def test_case_set_by_ids_case_ref_or_filter():
    df = _with_case_set(_org())
    by_ref = select_case_set(df, case_ref="sar-1")
    assert len(by_ref) == 24
    ids = by_ref["incident_id"].tolist()
    assert select_case_set(df, incident_ids=ids)["incident_id"].tolist() == ids
    filt = select_case_set(df, filter={"theme": "financial_abuse", "period": ["2024-01-01", "2024-03-31"]},
                           themes=THEMES)
    assert set(filt["theme_id"]) == {"T03"}
    assert filt["incident_date"].between("2024-01-01", "2024-03-31").all()


def test_case_set_matching_nothing_is_an_error():
    df = _org()
    with pytest.raises(InputError, match="case set 'SAR-9' matches no incidents"):
        select_case_set(df, case_ref="SAR-9", name="SAR-9")


def test_case_set_names_ids_not_in_the_data():
    df = _org()
    with pytest.raises(InputError, match="2 of 3 incident ids are not in the data.*INC99998"):
        select_case_set(df, incident_ids=["INC00001", "INC99998", "INC99999"])


def test_case_set_needs_exactly_one_route():
    with pytest.raises(ParameterError, match="exactly one"):
        select_case_set(_org(), case_ref="SAR-1", incident_ids=["INC00001"])
    with pytest.raises(ParameterError, match="unknown filter key 'ward'"):
        select_case_set(_org(), filter={"ward": "Oak"})


# ------------------------------------------------------------------ briefing


def _briefing(df: pd.DataFrame, case: pd.DataFrame):
    acts = _actions_for(df)
    eff = action_effects(acts, df)
    return build_briefing("SAR-1", case, df, THEMES, None, eff, policy=POLICY,
                          practice_themes=PRACTICE), eff


def _section_headings(text: str) -> list[str]:
    return re.findall(r"^## (\d)\. (.+)$", text, flags=re.M)


def test_briefing_golden_structure_seven_sections_no_identifiers_small_counts_hidden():
    df = _with_case_set(_org())
    case = select_case_set(df, case_ref="SAR-1")
    briefing, _ = _briefing(df, case)
    md, html = briefing.to_markdown(), briefing.to_html()
    assert _section_headings(md) == [(str(n), t) for n, t in TITLES.items()]
    assert re.findall(r'<section id="section-(\d)">', html) == list("1234567")
    for text in (md, html):
        assert NHS not in text and PHONE not in text and "John Smith" not in text
    quoted = pd.Series(re.findall(r"\u201c(.+?)\u201d", md))
    assert len(quoted) and not contains_identifiers(quoted).any()
    # 12 self-harm incidents show rounded to 10; 3 absconding are hidden, and so are the 9
    # financial abuse ones, or 25 - 10 - 10 would give the hidden 3 away.
    assert "This case set holds about 25 incidents, recorded in North and South" in md
    # The share follows the rounded counts shown (10 of about 25 = 40%), not the exact 12/24.
    assert "| Self-harm: ligature, cut | 10 | 40% |" in md
    assert "| Absconding: leave, AWOL | * | * |" in md
    assert "| Financial abuse: money | * | * |" in md
    assert "| North | 15 |" in md and "| South | 10 |" in md
    # Tables sit in the appendix, after the seven sections; no CSV path in the sections.
    sections_text = md.split("## Appendix")[0]
    assert "|" not in sections_text and ".csv" not in sections_text
    # The chronology quotes incidents of themes above the threshold only (absconding has 3),
    # each with its incident reference.
    chrono = briefing.tables["chronology"]
    assert len(chrono) == 6 and set(chrono["theme_id"]) <= {"T01", "T03"}
    assert all(f"(incident {i})" in md for i in chrono.loc[chrono["excerpt_shown"], "incident_id"])
    assert set(chrono["incident_id"]) <= set(case["incident_id"])


GOLDEN_SKELETON = [
    "# 7-minute briefing: SAR-1",
    "## 1. Background",
    "## 2. Why it matters",
    "## 3. What happened",
    "## 4. Key findings",
    "## 5. Learning",
    "## 6. Things to remember",
    "## 7. What to do",
    "**Information sharing and record keeping**",
    "**Carers and family involvement**",
    "**For every team**",
    "## Appendix: tables",
    "**Case set themes against the whole organisation**",
    "| Theme | Case set incidents | Share of case set | Organisation incidents | Share of organisation | Organisation trend |",
    "**Practice themes**",
    "| Practice theme | SAR domain | Incidents describing it | Of which something not done | Work-system factor |",
    "**Completed actions and their effect**",
    "| Action | Theme | Owner | Completed | Effect | Rate ratio after/before (CI) |",
    "**Open actions**",
    "| Action | Theme | Owner | Due | Status | Overdue |",
    "**Incidents by locality**",
    "| Locality | Incidents |",
]


def test_briefing_skeleton_matches_golden():
    df = _with_case_set(_org())
    briefing, _ = _briefing(df, select_case_set(df, case_ref="SAR-1"))
    lines = briefing.to_markdown().splitlines()
    skeleton = [
        line for i, line in enumerate(lines)
        if line.startswith("#") or (line.startswith("**") and line.endswith("**"))
        or (line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("| ---"))
    ]
    assert skeleton == GOLDEN_SKELETON


def test_briefing_escapes_record_text_in_html_and_markdown():
    df = _with_case_set(_org())
    first = df.index[df["case_ref"] == "SAR-1"][0]
    df.loc[first, "narrative"] = "A ligature was cut <script>alert(1)</script> on the ward."
    briefing, _ = _briefing(df, select_case_set(df, case_ref="SAR-1"))
    for text in (briefing.to_html(), briefing.to_markdown()):
        assert "<script>" not in text and "&lt;script&gt;" in text


def test_briefing_actions_show_owner_effect_and_overdue():
    df = _with_case_set(_org())
    briefing, _ = _briefing(df, select_case_set(df, case_ref="SAR-1"))
    s6, s7 = briefing.sections[5], briefing.sections[6]
    assert any("Action FALL" in b and "Effect: improved" in b for b in s6.bullets)
    assert any("Action CONTROL" in b and "Effect: inconclusive" in b for b in s6.bullets)
    assert s7.bullets == ["Action OPEN (Absconding: leave, AWOL, owner Matron): open, due 31 Mar 2024, "
                          "overdue by 92 days."]
    open_rows = next(t for t in briefing.appendix if t.caption == "Open actions")
    assert open_rows.rows[0][0] == "OPEN" and open_rows.highlight == [True]
    assert open_rows.rows[0][5].startswith("yes, ")
    assert "**OPEN**" in briefing.to_markdown() and 'class="overdue"' in briefing.to_html()


def test_briefing_questions_come_from_the_bank_for_detected_practice_themes():
    df = _with_case_set(_org())
    briefing, _ = _briefing(df, select_case_set(df, case_ref="SAR-1"))
    bank = load_question_bank()
    asked = dict(briefing.sections[6].questions)
    assert asked["Information sharing and record keeping"] == \
        bank["practice_themes"]["information_sharing_records"]["questions"][:2]
    assert "Carers and family involvement" in asked
    assert "Homelessness and housing" not in asked  # no narrative mentions it
    pt = briefing.tables["practice_themes"].set_index("practice_theme")
    # "records were not shared" (11, not the first narrative) + "Police were informed" (9)
    assert pt.loc["information_sharing_records", "incidents"] == 20
    # "Family were not told" counts; "the carer phoned the ward" describes no carer involvement
    assert pt.loc["carers_family", "incidents"] == 11


def test_fully_suppressed_case_set_says_so_in_one_line_instead_of_a_page_of_stars():
    df = _org()
    case = df[(df.theme_id == "T03")].head(5)
    briefing, _ = _briefing(df, case)
    md = briefing.to_markdown()
    assert briefing.fully_suppressed
    # Sections 2-5 would be all "*": they are left out, and section 1 says so in one line.
    assert _section_headings(md) == [("1", TITLES[1]), ("6", TITLES[6]), ("7", TITLES[7])]
    assert briefing.sections[0].paragraphs == [
        "This case set has fewer than 8 incidents (July 2022 to July 2022): too few to summarise "
        "without risk of identifying the people involved, so sections 2 to 5 are left out; the "
        "review panel should read the records."]
    assert "*" not in md.split("## 1.")[1].split("## 6.")[0]
    assert not [e for s in briefing.sections for e in s.excerpts]
    assert "Financial abuse: money" not in md.split("## 6.")[0]
    # No practice-theme questions that would hint at what the few records say.
    assert [h for h, _ in briefing.sections[-1].questions] == ["For every team"]


def test_detect_practice_themes_on_word_boundaries():
    texts = pd.Series(["The family raised concerns.", "Records were not shared.", "Familiar place, recordsroom"])
    hits = detect_practice_themes(texts, PRACTICE)
    assert hits["carers_family"].tolist() == [True, False, False]
    assert hits["information_sharing_records"].tolist() == [False, True, False]


def test_question_bank_covers_every_taxonomy_practice_theme():
    from sgreview.themes.labels import load_taxonomy

    keys = {t["key"] for t in load_taxonomy()["practice_themes"]}
    bank = yaml.safe_load(QUESTION_BANK.read_text(encoding="utf-8"))
    assert keys <= set(bank["practice_themes"])
    assert all(len(v["questions"]) >= 3 for v in bank["practice_themes"].values())


# ------------------------------------------------------------------ outputs


def test_write_learning_writes_every_output_and_replaces_atomically(tmp_path):
    df = _with_case_set(_org())
    briefing, eff = _briefing(df, select_case_set(df, case_ref="SAR-1"))
    out = tmp_path / "learning" / "SAR-1"
    paths = write_learning(briefing, eff, out, charts=effect_charts(_actions_for(df), df))
    for name in ("briefing.md", "briefing.html", "briefing.docx", "actions.csv", "summary.json",
                 "tables/theme_comparison.csv", "tables/practice_themes.csv",
                 "tables/effect_chart.csv"):
        assert name in paths and paths[name].stat().st_size > 0
    for s in briefing.sections:  # every section's numbers come from a written table
        for src in s.sources:
            assert (out / src).exists(), src
            assert src.startswith("reviewer/"), src  # briefings cite the gated versions
    from sgreview.audit import table_findings

    for src in sorted((out / "reviewer").glob("*.csv")):
        frame = pd.read_csv(src, dtype=str, keep_default_na=False)
        assert table_findings(frame, 7) == [], src.name
    actions = pd.read_csv(out / "actions.csv")
    assert actions.columns.tolist() == ACTION_COLUMNS
    assert set(actions["effect"]) <= {"improved", "no_change", "inconclusive", "worse", "too_early"}
    assert "Patient found" not in (out / "tables" / "evidence_index.csv").read_text()
    write_learning(briefing, eff, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["SAR-1"]


def test_word_briefing_has_the_seven_numbered_headings(tmp_path):
    from docx import Document

    df = _with_case_set(_org())
    briefing, _ = _briefing(df, select_case_set(df, case_ref="SAR-1"))
    path = tmp_path / "b.docx"
    path.write_bytes(briefing.to_docx())
    heads = [p.text for p in Document(str(path)).paragraphs if p.style.name == "Heading 1"]
    assert heads == [f"{n}. {t}" for n, t in TITLES.items()] + ["Appendix: tables"]


def test_learning_summary_one_call_and_a_bad_case_set_spares_the_rest(tmp_path):
    df = _with_case_set(_org())
    results, failures = run_learning(
        {"SAR-1": {"case_ref": "SAR-1"}, "Empty": {"case_ref": "NOPE"}},
        df.drop(columns=["narrative", "harm"]), THEMES, tmp_path,
        incidents=df[["incident_id", "narrative", "harm"]], actions=_register(),
        today="2024-07-01", practice_themes=PRACTICE)
    assert list(results) == ["SAR-1"] and "matches no incidents" in failures["Empty"]
    assert (tmp_path / "SAR-1" / "briefing.html").exists()
    assert not (tmp_path / "Empty").exists()
    res = learning_summary("SAR-1", {"case_ref": "SAR-1"}, df, THEMES, None,
                           practice_themes=PRACTICE)
    assert res.paths == {} and res.effects is None
    assert "No actions register was given" in res.briefing.to_markdown()


# ------------------------------------------------------------------ scope, summary, resources


def test_actions_in_scope_match_theme_and_locality_or_case_ref():
    from sgreview.learning import actions_in_scope

    acts = pd.DataFrame({
        "action_id": ["HERE", "ELSEWHERE", "TRUST", "OTHER_THEME", "PANEL"],
        "theme_id": ["T01", "T01", "T01", "T02", "T03"],
        "theme_ids": ["T01", "T01", "T01", "T02", "T03"],
        "locality": ["North", "Greystone", "all", "North", "Greystone"],
        "case_ref": ["", "", "", "", "SAR-1"],
    })
    case = pd.DataFrame({"locality": ["North", "North"], "case_ref": ["SAR-1", "SAR-1"]})
    got = actions_in_scope(acts, case, {"T01"})
    assert got[["action_id", "scope"]].values.tolist() == [
        ["HERE", "locality"], ["TRUST", "organisation"], ["PANEL", "case"]]


def test_briefing_shows_no_action_from_another_locality_and_summary_agrees_with_section_7():
    df = _with_case_set(_org())
    acts = _actions_for(df)
    extra = acts.iloc[[-1]].assign(action_id="EAST", locality="East")  # same theme, wrong place
    register = pd.concat([acts, extra], ignore_index=True)
    eff = action_effects(register, df)
    case = select_case_set(df, case_ref="SAR-1")
    briefing = build_briefing("SAR-1", case, df, THEMES, None, eff, policy=POLICY, practice_themes=PRACTICE)
    md = briefing.to_markdown()
    assert "EAST" in set(eff["action_id"]) and "EAST" not in md
    scope = briefing.actions_in_scope
    assert "EAST" not in set(scope["action_id"])
    live = scope[scope["status"].isin(["open", "in_progress"])]
    s7 = briefing.sections[6]
    assert s7.paragraphs[0] == f"Open actions in scope for this case set: {len(live)}; overdue: " \
                               f"{int(live['overdue'].sum())}."
    assert len(s7.bullets) == len(live)
    done = scope[scope["status"] == "completed"]
    summary = " ".join(briefing.one_minute_summary())
    assert f"{len(done)} of {len(scope)} actions in scope are completed" in summary
    assert f"chase {int(live['overdue'].sum())} overdue of the {len(live)} open actions in section 7" in summary


def test_case_summary_names_adult_a_with_age_band_and_setting():
    df = _with_case_set(_org())
    case = select_case_set(df, case_ref="SAR-1").assign(
        person_key="k1", age_band="36-45", service="Community mental health",
        safeguarding_referral=True)
    briefing = build_briefing("SAR-1", case, df, THEMES, None, None, policy=POLICY, practice_themes=PRACTICE)
    first = briefing.sections[0].paragraphs
    assert first[0] == ("Adult A, aged 36-45, was the subject of about 25 incidents recorded by "
                        "community mental health services in North and South between July 2022 "
                        "and August 2022, a span of 2 months.")
    assert first[1] == ("The most serious recorded harm was low, and no incidents were moderate harm "
                        "or worse; about 25 incidents led to a safeguarding referral.")


def test_resources_become_links_and_a_bad_url_is_a_parameter_error():
    df = _with_case_set(_org())
    case = select_case_set(df, case_ref="SAR-1")
    good = [{"title": "Care Act guidance", "url": "https://www.gov.uk/care-act"}]
    b = build_briefing("SAR-1", case, df, THEMES, None, None, policy=POLICY, resources=good)
    assert b.sections[5].links == [("Care Act guidance", "https://www.gov.uk/care-act")]
    assert '<a href="https://www.gov.uk/care-act">Care Act guidance</a>' in b.to_html()
    for bad in ("www.gov.uk/care-act", "javascript:alert(1)", "https://gov .uk", ""):
        with pytest.raises(ParameterError, match="bad URL"):
            build_briefing("SAR-1", case, df, THEMES, None, None, policy=POLICY,
                           resources=[{"title": "x", "url": bad}])


def test_briefing_reads_in_seven_minutes():
    df = _with_case_set(_org())
    briefing, _ = _briefing(df, select_case_set(df, case_ref="SAR-1"))
    assert 400 <= briefing.word_count() <= 900


def test_segmented_model_by_hand_on_a_short_series():
    """Level-only model (baseline under 12 months): the rate ratio is the ratio of the mean
    rates, its standard error sqrt(1/a + 1/b) times the dispersion's square root."""
    from sgreview.learning.its import dispersion_and_df, segmented_effect

    y = np.array([10, 12, 9, 11, 8, 10, 5, 6, 4, 5, 6, 4], dtype=float)
    after = np.array([False] * 6 + [True] * 6)
    fit = segmented_effect(y, np.ones(12), after, level=0.95)
    a, b = y[after].sum(), y[~after].sum()
    assert fit.rate_ratio == pytest.approx((a / 6) / (b / 6))
    mu = np.where(after, a / 6, b / 6)
    dev = 2 * np.sum(y * np.log(y / mu) - (y - mu))
    phi, df = dispersion_and_df(y, mu, dev, 10)
    assert phi == 1.0  # these counts vary less than Poisson: never narrowed below it
    se = np.sqrt(1 / a + 1 / b)
    q = stats.t.ppf(0.975, df)
    assert fit.ci_low == pytest.approx(fit.rate_ratio * np.exp(-q * se), rel=1e-6)
    assert fit.ci_high == pytest.approx(fit.rate_ratio * np.exp(q * se), rel=1e-6)
    assert fit.p_value == pytest.approx(2 * stats.t.sf(abs(np.log(fit.rate_ratio)) / se, df), rel=1e-6)
    assert "no trend term" in fit.method
    # Exposure is an offset: doubling it after halves the rate ratio, nothing else.
    doubled = segmented_effect(y, np.where(after, 2.0, 1.0), after)
    assert doubled.rate_ratio == pytest.approx(fit.rate_ratio / 2)
    assert doubled.ci_high / doubled.ci_low == pytest.approx(fit.ci_high / fit.ci_low)


def test_each_action_is_judged_over_the_exposure_of_its_own_setting():
    df = _org(factor=1.0)
    df = df.assign(service=np.where(np.arange(len(df)) % 2 == 0, "Community team", "Ward"))
    periods = pd.period_range("2022-07", "2024-06", freq="M").astype(str)
    # Community caseload doubles after completion (rate halves); bed days stay flat.
    dens = pd.concat([
        pd.DataFrame({"locality": "North", "period": periods, "unit": "caseload",
                      "setting": "community",
                      "denominator": np.where(periods > "2023-06", 2000.0, 1000.0)}),
        pd.DataFrame({"locality": "North", "period": periods, "unit": "occupied_bed_days",
                      "setting": "Inpatient", "denominator": 3000.0}),
    ], ignore_index=True)
    base = _actions_for(df).iloc[[0, 0, 0]].reset_index(drop=True)
    acts = base.assign(action_id=["COMM", "WARD", "CRISIS"],
                       setting=["community", "inpatient", "crisis"])
    eff = action_effects(acts, df, denominators=dens, setting_column="service",
                         setting_map={"Community team": "community", "Ward": "inpatient"},
                         ).set_index("action_id")
    community = df["service"] == "Community team"
    north_t01 = (df["locality"] == "North") & (df["theme_id"] == acts.loc[0, "theme_id"])
    assert eff.loc["COMM", "rate_unit"] == "incidents per 1,000 caseload"
    assert eff.loc["COMM", "exposure_after"] == 12 * 2000.0
    assert eff.loc["COMM", "setting"] == "community"
    after = pd.to_datetime(df["incident_date"]).dt.to_period("M") > pd.Period("2023-06", "M")
    assert eff.loc["COMM", "events_after"] == int((community & north_t01 & after).sum())
    assert eff.loc["COMM", "effect"] == "improved"
    assert eff.loc["WARD", "rate_unit"] == "incidents per 1,000 occupied bed days"
    assert eff.loc["WARD", "exposure_after"] == 12 * 3000.0
    assert eff.loc["WARD", "events_after"] == int((~community & north_t01 & after).sum())
    assert eff.loc["WARD", "effect"] != "improved"
    assert eff.loc["CRISIS", "effect"] == "not_measured"
    assert "no denominator for setting 'crisis'" in eff.loc["CRISIS", "reason"]
