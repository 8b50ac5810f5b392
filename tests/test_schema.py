"""The incident data contract: every row accounted for, every bad file named clearly."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from sgreview.cli import main
from sgreview.errors import InputError, ParameterError
from sgreview.io import write_csv
from sgreview.schema import (
    load_incidents,
    parse_column_map,
    parse_dates,
    parse_flags,
    tidy_labels,
    validate_incidents,
)

TODAY = date(2025, 6, 30)
HEADER = "incident_id,incident_date,locality,narrative,harm,safeguarding_referral\n"
GOOD_ROWS = (
    "I1,03/04/2024,Northgate,Pt found with ligature on obs,low,yes\n"
    "I2,2024-05-01,Riverside,Medication error: PRN given twice,none,no\n"
    "I3,12/12/2023 14:30,northgate ,Assault on HCA during restraint,moderate,Y\n"
)


def write(tmp_path: Path, text: str, name: str = "inc.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_accepts_clean_rows_and_types_them(tmp_path):
    res = load_incidents(write(tmp_path, HEADER + GOOD_ROWS), today=TODAY)
    assert res.reconciliation["rows_read"] == 3
    assert res.reconciliation["rows_accepted"] == 3
    assert res.rejects.empty
    inc = res.incidents
    assert list(inc["incident_date"]) == [
        pd.Timestamp("2024-04-03"), pd.Timestamp("2024-05-01"), pd.Timestamp("2023-12-12")]
    assert list(inc["harm"].astype(str)) == ["low", "none", "moderate"]
    assert list(inc["safeguarding_referral"]) == [True, False, True]
    # case and spacing variants of a locality become one label
    assert inc["locality"].nunique() == 2
    assert list(inc["source_row"]) == [2, 3, 4]


@pytest.mark.parametrize(
    ("row", "reason", "column"),
    [
        ("I9,03/04/2024,Northgate,,low,no\n", "empty_narrative", "narrative"),
        (",03/04/2024,Northgate,text,low,no\n", "missing_incident_id", "incident_id"),
        ("I9,03/04/2024,,text,low,no\n", "missing_locality", "locality"),
        ("I9,,Northgate,text,low,no\n", "missing_date", "incident_date"),
        ("I9,31/02/2024,Northgate,text,low,no\n", "unparseable_date", "incident_date"),
        ("I9,not a date,Northgate,text,low,no\n", "unparseable_date", "incident_date"),
        ("I9,01/01/2030,Northgate,text,low,no\n", "future_date", "incident_date"),
        ("I1,01/01/2024,Northgate,again,low,no\n", "duplicate_incident_id", "incident_id"),
        ("I9,01/01/2024,Northgate,text,low\n", "ragged_row", ""),
        ("I9,01/01/2024,Northgate,text,with,extra,commas\n", "ragged_row", ""),
    ],
)
def test_rejects_each_bad_row_with_reason_row_and_column(tmp_path, row, reason, column):
    res = load_incidents(write(tmp_path, HEADER + GOOD_ROWS + row), today=TODAY)
    rec = res.reconciliation
    assert (rec["rows_read"], rec["rows_accepted"], rec["rows_rejected"]) == (4, 3, 1)
    assert rec["by_reason"] == {reason: 1}
    rej = res.rejects.iloc[0]
    assert rej["reason"] == reason
    assert rej["source_row"] == 5
    assert rej["column"] == column
    assert rej["detail"]


def test_duplicate_keeps_first_and_names_its_row(tmp_path):
    res = load_incidents(write(tmp_path, HEADER + GOOD_ROWS + "I2,01/01/2024,X,dup,low,no\n"),
                         today=TODAY)
    assert res.incidents["incident_id"].tolist() == ["I1", "I2", "I3"]
    assert res.rejects["detail"].iloc[0] == "incident_id already used at row 3"


def test_reconciliation_adds_up_on_a_mixed_file(tmp_path):
    bad = ("I4,31/13/2024,A,t,low,no\n" "I5,01/01/2024,A,,low,no\n" "I1,01/01/2024,A,t,low,no\n"
           "\n" "I6,01/01/2024,A,t\n" "I7,01/01/2024,A,fine,bogus-harm,maybe\n")
    res = load_incidents(write(tmp_path, HEADER + GOOD_ROWS + bad), today=TODAY)
    rec = res.reconciliation
    assert rec["rows_read"] == rec["rows_accepted"] + rec["rows_rejected"] == 8
    assert rec["rows_accepted"] == 4
    assert rec["blank_lines_skipped"] == 1
    assert rec["warnings"] == {"harm_unrecognised": 1, "safeguarding_referral_unrecognised": 1}
    assert set(res.rejects["source_row"]).isdisjoint(set(res.incidents["source_row"]))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_reads_each_encoding(tmp_path, encoding):
    text = HEADER + "I1,03/04/2024,Northgate,Pt said “I’m fine” – café £5 note,low,no\n"
    res = load_incidents(write(tmp_path, text, encoding=encoding), today=TODAY)
    assert res.incidents["narrative"].iloc[0] == "Pt said “I’m fine” – café £5 note"
    assert res.incidents.columns[0] == "incident_id"  # no BOM left on the first header


def test_damaged_utf8_names_the_row(tmp_path):
    raw = (HEADER + "I1,03/04/2024,Northgate,café ok,low,no\n").encode() + \
        b"I2,03/04/2024,Northgate,bad \xff byte,low,no\n"
    path = tmp_path / "bad.csv"
    path.write_bytes(raw)
    with pytest.raises(InputError, match=r"bad\.csv, row 3: invalid byte 0xff"):
        load_incidents(path)


def test_reads_xlsx_and_parquet(tmp_path):
    df = pd.DataFrame({"Incident ID": ["X1", "X2"], "Date of incident": ["03/04/2024", "01/05/2024"],
                       "Locality": ["A", "B"], "Description": ["one", "two"]})
    xlsx = tmp_path / "inc.xlsx"
    df.to_excel(xlsx, index=False)
    res = load_incidents(xlsx, today=TODAY)
    assert res.incidents["incident_id"].tolist() == ["X1", "X2"]
    assert res.incidents["incident_date"].iloc[0] == pd.Timestamp("2024-04-03")
    pq = tmp_path / "inc.parquet"
    df.assign(**{"Date of incident": pd.to_datetime(["2024-04-03", "2024-05-01"])}).to_parquet(pq)
    res = load_incidents(pq, today=TODAY)
    assert res.incidents["incident_date"].tolist() == [pd.Timestamp("2024-04-03"),
                                                       pd.Timestamp("2024-05-01")]


def test_maps_columns_explicitly(tmp_path):
    text = "Ref No,When,Patch,Free text\nR1,01/02/2024,East,hello there\n"
    path = write(tmp_path, text)
    with pytest.raises(InputError, match="missing required columns incident_id, incident_date"):
        load_incidents(path)
    cmap = parse_column_map(["incident_id=Ref No", "incident_date=When", "locality=Patch",
                             "narrative=Free text"])
    res = load_incidents(path, cmap, today=TODAY)
    assert res.incidents.loc[0, "narrative"] == "hello there"


def test_map_to_absent_column_names_it(tmp_path):
    path = write(tmp_path, HEADER + GOOD_ROWS)
    with pytest.raises(InputError, match="mapped column 'Nope' .*columns found: incident_id"):
        load_incidents(path, {"narrative": "Nope"})


def test_map_syntax_errors_are_parameter_errors():
    with pytest.raises(ParameterError, match="CANONICAL=SOURCE"):
        parse_column_map(["narrative"])
    with pytest.raises(ParameterError, match="not a canonical column"):
        parse_column_map(["story=Description"])


def test_extra_columns_are_dropped_unless_kept(tmp_path):
    text = HEADER.strip() + ",Ward code\n" + "I1,03/04/2024,N,text,low,no,W7\n"
    res = load_incidents(write(tmp_path, text), today=TODAY)
    assert "Ward code" not in res.incidents
    assert res.dropped_columns == ["Ward code"]
    kept = load_incidents(write(tmp_path, text), today=TODAY, keep_columns=["Ward code"])
    assert kept.incidents.loc[0, "Ward code"] == "W7"


def _with_extras(tmp_path: Path, n: int = 40) -> Path:
    rows = [
        f"I{i},03/04/2024,North,Pt absconded from ward {i},low,no,{4000000000 + 7 * i},"
        f"Pat Person{i},Pt was upset after the visit and said many things about staff {i},"
        f"{'W1' if i % 2 else 'W2'}"
        for i in range(n)
    ]
    text = HEADER.strip() + ",nhs_no,patient_name,further_notes,ward_code\n" + "\n".join(rows) + "\n"
    return write(tmp_path, text)


def test_identifier_and_free_text_columns_never_reach_incidents(tmp_path):
    res = load_incidents(_with_extras(tmp_path), today=TODAY)
    assert set(res.incidents.columns).isdisjoint({"nhs_no", "patient_name", "further_notes", "ward_code"})
    # the name column is read only to redact names from the same row's narrative
    assert list(res.names.columns) == ["patient_name"]
    assert len(res.names) == len(res.incidents)


@pytest.mark.parametrize(
    ("column", "why"),
    [("further_notes", "free text"), ("nhs_no", "identifier"), ("patient_name", "identifier")],
)
def test_keep_columns_refuses_free_text_and_identifiers_by_content(tmp_path, column, why):
    with pytest.raises(ParameterError, match=why) as info:
        load_incidents(_with_extras(tmp_path), today=TODAY, keep_columns=[column])
    assert f"'{column}'" in str(info.value)


def test_keep_columns_keeps_a_short_category_column(tmp_path):
    res = load_incidents(_with_extras(tmp_path), today=TODAY, keep_columns=["ward_code"])
    assert set(res.incidents["ward_code"]) == {"W1", "W2"}


def test_keep_columns_naming_an_absent_column_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="Nope"):
        load_incidents(write(tmp_path, HEADER + GOOD_ROWS), today=TODAY, keep_columns=["Nope"])


def test_duplicate_headers_are_refused_naming_them(tmp_path):
    text = "incident_id,incident_date,locality,narrative,Narrative\nI1,03/04/2024,N,a,b\n"
    with pytest.raises(InputError, match=r"'narrative' \(columns 4, 5\)"):
        load_incidents(write(tmp_path, text))


def test_duplicate_headers_in_xlsx_are_refused(tmp_path):
    frame = pd.DataFrame([["I1", "03/04/2024", "N", "a", "b"]],
                         columns=["incident_id", "incident_date", "locality", "narrative", "x"])
    frame.columns = ["incident_id", "incident_date", "locality", "narrative", "narrative"]
    path = tmp_path / "dup.xlsx"
    frame.to_excel(path, index=False)
    with pytest.raises(InputError, match="more than once"):
        load_incidents(path)


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0001-01-01", "implausible_date"), ("9999-12-31", "future_date"),
     ("1900-01-01", "implausible_date"), ("31/12/1989", "implausible_date")],
)
def test_out_of_range_and_implausible_dates_are_row_rejects(tmp_path, value, reason):
    res = load_incidents(write(tmp_path, HEADER + GOOD_ROWS + f"I9,{value},N,text,low,no\n"),
                         today=TODAY)
    assert len(res.incidents) == 3
    assert res.rejects[["incident_id", "reason", "value"]].values.tolist() == [["I9", reason, value]]


def test_earliest_date_is_a_parameter(tmp_path):
    path = write(tmp_path, HEADER + "I1,01/06/1985,N,text,low,no\n")
    assert load_incidents(path, today=TODAY).rejects["reason"].tolist() == ["implausible_date"]
    res = load_incidents(path, today=TODAY, earliest_date="1980-01-01")
    assert res.incidents["incident_date"].tolist() == [pd.Timestamp("1985-06-01")]


def test_a_nul_byte_rejects_only_its_row_naming_row_and_column(tmp_path):
    text = HEADER + GOOD_ROWS + "I4,01/01/2024,N,bro\x00ken,low,no\n" + "I5,01/01/2024,N,fine,low,no\n"
    res = load_incidents(write(tmp_path, text), today=TODAY)
    assert res.incidents["incident_id"].tolist() == ["I1", "I2", "I3", "I5"]
    assert res.rejects[["source_row", "column", "reason"]].values.tolist() == [[5, "narrative", "nul_byte"]]


def test_fields_over_the_csv_module_limit_are_read(tmp_path):
    huge = "word " * 40_000
    res = load_incidents(write(tmp_path, HEADER + f"I1,01/01/2024,N,{huge},low,no\n"), today=TODAY)
    assert len(res.incidents.loc[0, "narrative"]) == len(huge.strip())


def test_a_20000_column_export_reads_only_the_contract_columns(tmp_path):
    extra = ",".join(f"c{i}" for i in range(20_000))
    values = ",".join("x" for _ in range(20_000))
    text = HEADER.strip() + "," + extra + "\n" + "I1,01/01/2024,N,text,low,no," + values + "\n"
    res = load_incidents(write(tmp_path, text), today=TODAY)
    assert list(res.incidents.columns)[:4] == ["incident_id", "incident_date", "locality", "narrative"]
    assert len(res.incidents.columns) == 7  # 6 contract columns + source_row
    assert len(res.dropped_columns) == 20_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (HEADER.encode(), "has a header but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20, "binary file"),
        (b"incident_id;incident_date;locality;narrative\nI1;01/01/2024;A;t\n", "semicolon-delimited"),
    ],
)
def test_unusable_csv_files_raise_one_clear_error(tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        load_incidents(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_fake_xlsx_is_named(tmp_path):
    path = tmp_path / "in.xlsx"
    path.write_text(HEADER + GOOD_ROWS)
    with pytest.raises(InputError, match="not a real XLSX"):
        load_incidents(path)


def test_validate_incidents_accepts_in_memory_frames():
    df = pd.DataFrame({"incident_id": ["a", "b"], "incident_date": pd.to_datetime(["2024-01-01",
                       "2024-01-02"]), "locality": ["L", "L"], "narrative": ["x", ""]})
    res = validate_incidents(df, today=TODAY)
    assert res.reconciliation["by_reason"] == {"empty_narrative": 1}


def test_parse_dates_is_day_first():
    s = pd.Series(["03/04/2024", "3/4/24", "2024-04-03", "03-Apr-2024", "3 April 2024", "",
                   "13/13/2024"])
    out = parse_dates(s)
    assert (out.iloc[:5] == pd.Timestamp("2024-04-03")).all()
    assert out.iloc[5:].isna().all()


def test_parse_flags_and_tidy_labels():
    flags, bad = parse_flags(pd.Series(["Yes", "n", "TRUE", "", "perhaps"]))
    assert flags.tolist()[:3] == [True, False, True]
    assert bad.tolist() == [False, False, False, False, True]
    labels = tidy_labels(pd.Series(["North East", "north  east", " North East", "NORTH EAST", "West"]))
    assert labels.tolist() == ["North East"] * 4 + ["West"]


def test_written_csv_cannot_carry_live_formulas(tmp_path):
    df = pd.DataFrame({"a": ["=HYPERLINK(\"x\")", "+cmd", "-2", "@SUM(A1)", "ok"], "n": [1, -2, 3, 4, 5]})
    out = write_csv(df, tmp_path / "o.csv")
    back = pd.read_csv(out, dtype=str)
    assert back["a"].tolist() == ["'=HYPERLINK(\"x\")", "'+cmd", "-2", "'@SUM(A1)", "ok"]
    assert back["n"].tolist() == ["1", "-2", "3", "4", "5"]


# --- CLI -------------------------------------------------------------------------------------


def test_cli_validate_exit_codes_and_rejects_file(tmp_path, capsys):
    clean = write(tmp_path, HEADER + GOOD_ROWS, "clean.csv")
    assert main(["validate", str(clean)]) == 0
    dirty = write(tmp_path, HEADER + GOOD_ROWS + "I1,01/01/2024,A,t,low,no\n", "dirty.csv")
    before = hashlib.sha256(dirty.read_bytes()).hexdigest()
    rejects = tmp_path / "rej" / "rejects.csv"
    assert main(["validate", str(dirty), "--rejects", str(rejects)]) == 1
    out = capsys.readouterr().out
    assert "4 rows read, 3 accepted, 1 rejected" in out
    assert pd.read_csv(rejects)["reason"].tolist() == ["duplicate_incident_id"]
    assert hashlib.sha256(dirty.read_bytes()).hexdigest() == before


@pytest.mark.parametrize(
    ("content", "args"),
    [
        (b"", []),
        (HEADER.encode(), []),
        (b"a,b\n1,2\n", []),
        ((HEADER + GOOD_ROWS).encode(), ["--map", "narrative=Missing"]),
    ],
)
def test_cli_unusable_input_is_one_line_exit_2(tmp_path, capsys, content, args):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    rejects = tmp_path / "rejects.csv"
    code = main(["validate", str(path), "--rejects", str(rejects), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("sgreview: error: ")
    assert "Traceback" not in err
    assert not rejects.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.csv"]  # nothing half-written


def test_cli_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.csv")]) == 2
    assert "file not found" in capsys.readouterr().err
