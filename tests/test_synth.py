"""The synthetic generator: shape, determinism, planted truth visible in the data."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from nhs_number import is_valid
from scipy.stats import chi2_contingency

from sgreview.cli import main
from sgreview.errors import ParameterError
from sgreview.synth import LOCALITIES, THEME_KEYS, generate, sidecar_paths, write_synth
from sgreview.synth.generate import CATEGORY_BY_THEME
from sgreview.synth.identifiers import FIRST_FEMALE, FIRST_MALE, SURNAMES, nhs_check_digit

INCIDENT_COLUMNS = [
    "incident_id", "incident_date", "reported_date", "locality", "team", "service", "category",
    "harm", "safeguarding_referral", "age_band", "sex", "ethnicity", "narrative", "case_ref",
    "person_id",
]


@pytest.fixture(scope="module")
def data():
    return generate(6000, seed=7)


@pytest.fixture(scope="module")
def null_data():
    return generate(6000, seed=7, signals=False)


def _joined(data):
    return data.incidents.merge(data.truth[["incident_id", "theme", "secondary_theme"]], on="incident_id")


def test_same_seed_gives_identical_data():
    a, b = generate(800, seed=11), generate(800, seed=11)
    pd.testing.assert_frame_equal(a.incidents, b.incidents)
    pd.testing.assert_frame_equal(a.identifiers, b.identifiers)
    assert a.signals == b.signals


def test_different_seeds_give_different_narratives():
    a, b = generate(300, seed=1), generate(300, seed=2)
    assert (a.incidents["narrative"] != b.incidents["narrative"]).mean() > 0.9


def test_row_count_columns_and_unique_ids(data):
    inc = data.incidents
    assert len(inc) == 6000
    assert list(inc.columns) == INCIDENT_COLUMNS
    assert inc["incident_id"].is_unique
    assert pd.api.types.is_datetime64_any_dtype(inc["incident_date"])
    assert (inc["incident_date"] == inc["incident_date"].dt.normalize()).all()
    assert (inc["reported_date"] >= inc["incident_date"]).all()
    assert set(inc["safeguarding_referral"]) == {"yes", "no"}
    assert set(inc["harm"]) <= {"none", "low", "moderate", "severe", "death"}
    assert list(data.truth["incident_id"]) == list(inc["incident_id"])


def test_spans_at_least_24_months_and_six_localities_of_different_sizes(data):
    inc = data.incidents
    periods = inc["incident_date"].dt.to_period("M")
    assert periods.nunique() == 30 and (periods.max() - periods.min()).n == 29
    sizes = inc["locality"].value_counts()
    assert set(sizes.index) == set(LOCALITIES) and len(LOCALITIES) >= 6
    assert sizes.max() > 2.5 * sizes.min()
    assert inc.groupby("locality")["team"].nunique().min() >= 4


def test_every_planted_theme_present_with_uninformative_and_mixed(data):
    truth = data.truth
    assert len(THEME_KEYS) == 15
    assert set(THEME_KEYS) <= set(truth["theme"])
    assert set(truth["theme"]) - set(THEME_KEYS) == {"uninformative"}
    assert 0.03 < (truth["theme"] == "uninformative").mean() < 0.07
    informative = truth["theme"] != "uninformative"
    mixed = (truth.loc[informative, "secondary_theme"] != "").mean()
    assert 0.09 < mixed < 0.15
    assert (truth["secondary_theme"] != truth["theme"]).all()


def test_recorded_category_is_sometimes_wrong(data):
    j = _joined(data)
    informative = j["theme"] != "uninformative"
    right = j["theme"].map(dict(zip(THEME_KEYS, CATEGORY_BY_THEME, strict=False)))
    wrong = (j.loc[informative, "category"] != right[informative]).mean()
    assert 0.08 < wrong < 0.25


def test_informative_narratives_are_15_to_250_words_and_vary(data):
    j = _joined(data)
    words = j["narrative"].str.split().str.len()
    informative = j["theme"] != "uninformative"
    assert words[informative].min() >= 15
    assert words.max() <= 250
    assert words[informative].quantile(0.05) < 30
    assert words.max() > 180
    assert j.loc[informative, "narrative"].nunique() > 0.97 * informative.sum()
    assert j["narrative"].str.contains("\n").mean() > 0.03


def test_narratives_use_service_abbreviations_and_clinical_lookalikes(data):
    text = " ".join(data.incidents["narrative"])
    for token in ("pt", "SU", "obs", "s17", "MHA", "CPN", "CRHT", "NOK", "PRN", "IM", "RiO"):
        assert re.search(rf"\b{re.escape(token)}\b", text), token
    for lookalike in ("section 17", "s136", "Olanzapine 10mg IM", "Ward 3", "Rose Ward",
                      "Crisis Resolution Home Treatment"):
        assert lookalike in text, lookalike


def test_scenario_sentences_do_not_contradict_within_a_narrative(data):
    j = _joined(data)
    single = j[(j["theme"] == "self_harm") & (j["secondary_theme"] == "")]["narrative"]
    ligature = single.str.contains("ligature cutters|cut the ligature", case=False)
    overdose = single.str.contains("NAC infusion|paracetamol level", case=False)
    assert ligature.any() and overdose.any()
    assert not (ligature & overdose).any()


def test_every_recorded_identifier_appears_verbatim_in_its_narrative(data):
    ids = data.identifiers
    narrative = ids["incident_id"].map(data.incidents.set_index("incident_id")["narrative"])
    found = [v in s for v, s in zip(ids["value"], narrative, strict=True)]
    assert all(found)
    counts = [s.count(v) for v, s in zip(ids["value"], narrative, strict=True)]
    assert (ids["count"].to_numpy() == np.array(counts)).all()
    assert set(ids["type"]) == {"NHS_NUMBER", "NAME", "POSTCODE", "PHONE", "EMAIL", "DOB", "NI_NUMBER"}


def test_identifier_rates_are_realistic(data):
    per_type = data.identifiers.groupby("type")["incident_id"].nunique() / len(data.incidents)
    assert 0.15 < per_type["NAME"] < 0.6
    assert 0.03 < per_type["NHS_NUMBER"] < 0.09
    assert 0.005 < per_type["NI_NUMBER"] < 0.03


def test_nhs_numbers_are_999_range_and_check_digit_flag_is_true(data):
    nhs = data.identifiers[data.identifiers["type"] == "NHS_NUMBER"]
    digits = nhs["value"].str.replace(r"[ -]", "", regex=True)
    assert digits.str.fullmatch(r"999\d{7}").all()
    assert [is_valid(d) for d in digits] == nhs["valid_check_digit"].astype(bool).tolist()
    wrong = 1 - nhs["valid_check_digit"].astype(bool).mean()
    assert 0.08 < wrong < 0.25
    assert nhs["value"].str.contains(" ").any() and (~nhs["value"].str.contains(r"[ -]")).any()


def test_nhs_check_digit_matches_hand_computed_example():
    # 943 476 5919 is the NHS Data Dictionary's worked example: check digit 9.
    assert nhs_check_digit(np.array([[9, 4, 3, 4, 7, 6, 5, 9, 1]]))[0] == 9


def test_other_identifiers_use_reserved_or_fictional_ranges(data):
    ids = data.identifiers
    phones = ids.loc[ids["type"] == "PHONE", "value"].str.replace(" ", "")
    assert phones.str.fullmatch(r"(07700900\d{3}|\+447700900\d{3}|01632960\d{3}|0207946\d{4}|\+44207946\d{4}|0113496\d{4})").all()
    emails = ids.loc[ids["type"] == "EMAIL", "value"]
    assert emails.str.fullmatch(r"[a-z0-9.']+@(mail\.)?example\.(com|org|net|co\.uk)").all()
    postcodes = ids.loc[ids["type"] == "POSTCODE", "value"]
    outward = postcodes.str.split(" ").str[0]
    shapes = outward.str.replace(r"[A-Z]", "A", regex=True).str.replace(r"\d", "9", regex=True)
    assert set(shapes) == {"A9", "A99", "A9A", "AA9", "AA99", "AA9A"}
    ni = ids.loc[ids["type"] == "NI_NUMBER", "value"].str.replace(" ", "")
    assert ni.str.fullmatch(r"[A-Z]{2}\d{6}[A-D]").all()


def test_raised_share_is_visible_in_simple_counts(data):
    raised = data.signals["raised_share"]
    j = _joined(data)
    is_theme = j["theme"] == raised["theme"]
    here = j["locality"] == raised["locality"]
    ratio = is_theme[here].mean() / is_theme[~here].mean()
    assert ratio > 1.8


def test_rise_and_fall_are_visible_from_their_change_months(data):
    j = _joined(data)
    period = j["incident_date"].dt.to_period("M").astype(str)
    for key, lo, hi in (("rising", 1.5, 2.8), ("falling", 0.2, 0.65)):
        sig = data.signals[key]
        change = sig.get("start_month") or sig["change_month"]
        sel = j[(j["locality"] == sig["locality"]) & (j["theme"] == sig["theme"])]
        after = (period[sel.index] >= change)
        months_after = (period >= change)[j.index].groupby(period).first().sum()
        rate_after = after.sum() / months_after
        rate_before = (~after).sum() / (30 - months_after)
        assert lo < rate_after / rate_before < hi, key


def test_change_months_are_at_least_nine_months_from_both_ends(data):
    first, last = pd.Period(data.signals["start"], "M"), pd.Period(data.signals["end"], "M")
    for change in (data.signals["rising"]["start_month"], data.signals["falling"]["change_month"]):
        p = pd.Period(change, "M")
        assert (p - first).n >= 9 and (last - p).n >= 8


def test_null_data_has_no_locality_differences_beyond_noise(null_data):
    j = _joined(null_data)
    table = pd.crosstab(j["locality"], j["theme"])
    assert chi2_contingency(table).pvalue > 0.001
    assert null_data.signals["raised_share"] is None and null_data.signals["rising"] is None
    shares = j.groupby("locality")["locality"].size() / len(j)
    assert shares.max() > 2.5 * shares.min()


def test_actions_register_has_the_fall_action_a_control_and_open_overdue_ones(data):
    act = data.actions
    assert list(act.columns) == ["action_id", "theme", "locality", "description", "owner",
                                 "agreed_date", "due_date", "completed_date", "status"]
    fall = data.signals["falling"]
    row = act.set_index("action_id").loc[fall["action_id"]]
    assert row["status"] == "completed" and row["theme"] == fall["theme"]
    assert row["completed_date"].date().isoformat() == fall["completion_date"]
    planted = {data.signals[k]["theme"] for k in ("raised_share", "rising", "falling")}
    controls = act[(act["status"] == "completed") & ~act["theme"].isin(planted)]
    assert len(controls) >= 1
    assert {"open", "overdue"} <= set(act["status"])
    assert set(act["theme"]) <= set(THEME_KEYS)
    names = set(FIRST_MALE) | set(FIRST_FEMALE) | set(SURNAMES)
    assert not any(w in names for owner in act["owner"] for w in re.findall(r"\w+", owner))


def test_denominators_cover_every_locality_month_and_unit(data):
    den = data.denominators
    assert set(den["unit"]) == {"occupied_bed_days", "caseload"}
    assert len(den) == len(LOCALITIES) * 30 * 2
    assert not den.duplicated(["locality", "period", "unit"]).any()
    assert (den.groupby("setting")["unit"].unique().map(list).to_dict()
            == {"inpatient": ["occupied_bed_days"], "community": ["caseload"]})
    assert den["period"].str.fullmatch(r"\d{4}-\d{2}").all() and (den["denominator"] > 0).all()


def test_case_ref_groups_a_review_case_set(data):
    refs = data.incidents.loc[data.incidents["case_ref"] != "", "case_ref"].value_counts()
    assert refs.max() >= 5
    assert refs.index.str.fullmatch(r"(SAR|CSPR)-\d{4}-01").all()
    assert (data.incidents["case_ref"] != "").mean() < 0.01


def test_rejects_too_few_months_for_signals_and_bad_start():
    with pytest.raises(ParameterError):
        generate(100, months=12)
    with pytest.raises(ParameterError):
        generate(100, start="April 2023")
    assert len(generate(100, months=6, signals=False).incidents) == 100


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_write_synth_writes_main_file_and_sidecars(tmp_path, suffix):
    d = generate(200, seed=3)
    paths = write_synth(d, tmp_path / f"incidents{suffix}")
    assert paths == sidecar_paths(tmp_path / f"incidents{suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.values())
    reader = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".xlsx": pd.read_excel}[suffix]
    back = reader(paths["incidents"])
    assert list(back["narrative"]) == list(d.incidents["narrative"])
    assert json.loads(paths["signals"].read_text())["n"] == 200
    assert len(pd.read_csv(paths["truth"])) == 200


def test_cli_synth_writes_files_and_rejects_bad_suffix(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "s.csv"), "--n", "150", "--seed", "5"]) == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == 150
    assert (tmp_path / "s_denominators.csv").exists()
    assert main(["synth", "--out", str(tmp_path / "s.txt")]) == 2
    assert "s.txt" in capsys.readouterr().err


def test_core_question_plants_are_in_the_data_and_recorded(data):
    inc, sig = data.incidents, data.signals
    rep = sig["repeat_person"]
    mine = inc[inc["person_id"] == rep["person_id"]]
    assert len(mine) == rep["incidents"] == 12
    assert set(mine["locality"]) == {rep["locality"]}
    assert mine[["age_band", "sex", "ethnicity"]].nunique().max() == 1
    # Chance repeats stay small: nobody else outside the review case sets has 8 or more.
    others = inc[(inc["person_id"] != rep["person_id"]) & (inc["case_ref"] == "") & (inc["person_id"] != "")]
    assert others["person_id"].value_counts().max() < 8
    share = inc.groupby("locality")["safeguarding_referral"].apply(lambda s: (s == "yes").mean())
    low = sig["low_referral"]["locality"]
    assert share[low] < 0.6 * share.drop(low).min()
    grp = sig["raised_restraint"]["ethnicity"]
    restraint = data.truth["theme"].to_numpy() == "restrictive_practice"
    in_group = inc["ethnicity"].to_numpy() == grp
    assert restraint[in_group].mean() > 2 * restraint[~in_group].mean()
    # Each review case set is one person (Adult A).
    for ref in sig["case_sets"]:
        assert inc.loc[inc["case_ref"] == ref, "person_id"].nunique() == 1
    assert 0 < (inc["person_id"] == "").mean() < 0.05
