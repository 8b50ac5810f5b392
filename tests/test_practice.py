"""Sentence-level practice themes: negation, hedging, ambiguous words, subject, the gate."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from sgreview.practice import (
    detect_sentences,
    load_precision,
    practice_by_narrative,
    practice_hits,
    reportable_themes,
    split_sentences,
    theme_info,
)

ROOT = Path(__file__).resolve().parents[1]
PFD = ROOT.parent / "shared" / "data" / "pfd_dev" / "pfd_reports_2013_2019.csv"


def _one(sentence: str) -> dict[str, str]:
    row = detect_sentences(pd.Series([sentence])).iloc[0]
    return {k: v for k, v in row.items() if v}


def test_not_escalated_is_an_omission_and_escalated_is_affirmed():
    assert _one("The deterioration was not escalated to the nurse in charge.") == {
        "risk_assessment_escalation": "omission"}
    assert _one("Staff escalated the deterioration to the on-call doctor.") == {
        "risk_assessment_escalation": "affirmed"}
    assert _one("A risk assessment had not been carried out.")["risk_assessment_escalation"] == "omission"


def test_no_concerns_about_capacity_is_not_a_capacity_finding():
    assert "mental_capacity" not in _one("There were no concerns about her capacity to make this decision.")
    assert "mental_capacity" not in _one("No concerns were raised about his mental capacity at the time.")
    assert _one("Her capacity to refuse treatment was not assessed.")["mental_capacity"] == "omission"


def test_hedged_sentence_is_marked_hedged():
    found = _one("It may be that the police were not told about the earlier incidents.")
    assert found["information_sharing_records"] in {"hedged", "omission"}
    assert _one("It is unclear whether information was shared with the GP.")[
        "information_sharing_records"] == "hedged"


def test_duty_counts_for_legal_literacy_only_in_a_legal_phrase():
    assert _one("The duty doctor reviewed him at midnight.") == {}
    assert _one("Duty of Candour was not applicable.") == {}
    assert _one("The nurse was on duty alone for the night shift.") == {}
    assert "legal_literacy" in _one("The trust did not meet its statutory duty under the Care Act.")


def test_voice_counts_only_when_it_is_the_persons_voice():
    assert _one("He was responsive to voice but not to pain.") == {}
    assert _one("She was hearing voices telling her to harm herself.") == {}
    assert _one("He raised his voice at the nurse.") == {}
    assert _one("The patient's voice was not heard in the care plan.")["persons_voice"] == "omission"


def test_subject_matters_for_involvement_in_care():
    assert "persons_voice" not in _one("The clinicians involved in her care met twice.")
    assert "persons_voice" in _one("She was not involved in her own care plan.")


def test_handover_is_a_transition_only_between_services():
    assert "transitions" not in _one("Handover between shifts was verbal.")
    assert "information_sharing_records" in _one("Handover between shifts was verbal.")
    assert "transitions" in _one("He was discharged home without a handover to the community team.")


def test_curiosity_out_of_interest_is_not_professional_curiosity():
    assert "professional_curiosity" not in _one("The officer attended out of curiosity.")
    assert "professional_curiosity" in _one("There was a lack of curiosity on the part of the officers.")


def test_sentences_are_numbered_per_text_and_empty_texts_give_none():
    s = split_sentences(pd.Series(["First one. Second one!\nThird", "", None], index=["a", "b", "c"]))
    assert s["row"].tolist() == ["a", "a", "a"]
    assert s["sentence_no"].tolist() == [1, 2, 3]
    assert s["sentence"].tolist() == ["First one.", "Second one!", "Third"]


def test_hits_carry_no_sentence_text_and_narratives_roll_up():
    texts = pd.Series(["Nothing here. The risk was not escalated.", "He was drunk."], index=[10, 11])
    hits = practice_hits(texts)
    assert "sentence" not in hits.columns
    assert hits[["row", "sentence_no", "practice_theme", "polarity"]].values.tolist() == [
        [10, 2, "risk_assessment_escalation", "omission"], [11, 1, "substance_use", "affirmed"]]
    by = practice_by_narrative(texts)
    assert by.loc[10, "risk_assessment_escalation"] and not by.loc[11, "risk_assessment_escalation"]
    assert by.loc[11, "substance_use"]


def test_only_themes_measured_at_precision_080_are_reportable(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("themes:\n  a: {precision: 0.81, predicted: 20}\n  b: {precision: 0.79, predicted: 20}\n"
                    "  c: {precision: 1.0, predicted: 3}\n  d: {precision: null, predicted: 0}\n")
    assert reportable_themes(path=path) == {"a"}


def test_every_practice_theme_has_a_sar_domain_and_a_seips_factor():
    info = theme_info()
    assert set(info["sar_domain"]) <= {"individual", "team_organisation", "inter_agency", "governance"}
    assert (info["seips"].str.len() > 0).all()
    assert info["reportable"].any()


@pytest.mark.skipif(not PFD.exists(), reason="../shared PFD data not available")
def test_recorded_precision_matches_the_labelled_sample():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_practice import evaluate, pfd_sentences

    after = evaluate(pfd_sentences())["after"]
    recorded = load_precision()
    for key, row in after.iterrows():
        if pd.isna(row["precision"]):
            continue
        assert recorded[key]["precision"] == pytest.approx(row["precision"], abs=1e-3), key
    assert after["tp"].sum() / after["predicted"].sum() >= 0.8
