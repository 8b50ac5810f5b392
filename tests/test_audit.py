"""``sgreview audit``: every rule is broken on purpose once and must be caught; a clean run
passes; a folder that is not a run is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sgreview.audience import ANALYST, REVIEWER, audience_of, file_audiences
from sgreview.audit import audit_run, html_tables, table_findings
from sgreview.cli import main
from sgreview.disclosure import BANNER
from sgreview.disclosure import REVIEWER as POLICY


def _table_html(frame: pd.DataFrame) -> str:
    return f"<html><body><h1>Report</h1>{frame.to_html()}</body></html>"


def _clean_frame() -> pd.DataFrame:
    counts = [40, 12, 3, 0]
    return pd.DataFrame(
        {"incidents": POLICY.format_counts(counts), "share": POLICY.percent(counts, [55] * 4)},
        index=pd.Index(["Self-harm", "Falls", "Absconding", "Other"], name="theme"),
    )


def make_run(tmp_path: Path, *, params: dict | None = None, html: str | None = None,
             figures: list | None = None, vocab: list | None = None,
             csv: pd.DataFrame | None = None, md: str | None = None) -> Path:
    run = tmp_path / "run"
    (run / "localities" / "north").mkdir(parents=True)
    (run / "themes" / "model").mkdir(parents=True)
    (run / "learning" / "sar-1" / "reviewer").mkdir(parents=True)
    parameters = {"suppression_threshold": 7, "rounding_base": 5, **(params or {})}
    weakened = parameters["suppression_threshold"] < 7 or parameters["rounding_base"] < 5
    (run / "manifest.json").write_text(json.dumps(
        {"run_id": "run", "parameters": parameters, "disclosure": {"weakened": weakened}}))
    (run / "index.html").write_text("<html><body>index</body></html>")
    (run / "localities" / "north" / "03_locality_review-north.html").write_text(
        html if html is not None else _table_html(_clean_frame()))
    (run / "localities" / "north" / "03_locality_review-north.ipynb").write_text("{}")
    (run / "localities" / "north" / "exact.csv").write_text("theme,incidents\nFalls,3\n")
    (run / "localities" / "north" / "figures.json").write_text(json.dumps(figures or []))
    (run / "themes" / "model" / "model.json").write_text(
        json.dumps({"vocabulary_": vocab or ["absconding", "ligature", "leave"]}))
    (csv if csv is not None else pd.DataFrame({"theme": ["Falls"], "incidents": ["10"]})).to_csv(
        run / "learning" / "sar-1" / "reviewer" / "theme_comparison.csv", index=False)
    (run / "learning" / "sar-1" / "briefing.md").write_text(md or "# Briefing\n\nAbout 10 incidents.\n")
    return run


def rules(run: Path) -> list[str]:
    return sorted({f.rule for f in audit_run(run).findings})


def test_a_clean_run_passes_and_exact_analyst_files_are_not_reviewer_files(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    result = audit_run(run)
    assert result.clean, [str(f) for f in result.findings]
    assert result.files_checked == 4  # index, report html, reviewer csv, briefing.md
    assert main(["audit", str(run)]) == 0


def test_small_count_in_a_reviewer_table_is_caught(tmp_path: Path) -> None:
    frame = _clean_frame().assign(incidents=["40", "10", "3", "0"])
    run = make_run(tmp_path, html=_table_html(frame))
    findings = audit_run(run).findings
    assert [f.rule for f in findings] == ["small_count"]
    assert findings[0].path == "localities/north/03_locality_review-north.html"
    assert "'incidents' shows 3" in findings[0].detail
    assert main(["audit", str(run)]) == 1


def test_small_count_in_a_reviewer_csv_is_caught(tmp_path: Path) -> None:
    run = make_run(tmp_path, csv=pd.DataFrame({"severity": ["severe"], "incidents": ["3"]}))
    assert rules(run) == ["small_count"]


def test_whole_organisation_columns_are_exempt(tmp_path: Path) -> None:
    frame = pd.DataFrame({"rows (whole organisation)": ["3"]}, index=["Rejected"])
    assert table_findings(frame, 7) == []


def test_percentage_beside_a_suppressed_count_is_caught(tmp_path: Path) -> None:
    frame = _clean_frame().assign(share=["73%", "18%", "5%", "0%"])
    run = make_run(tmp_path, html=_table_html(frame))
    assert "percentage_reveals_count" in rules(run)


def test_percentages_from_exact_counts_beside_rounded_counts_are_caught(tmp_path: Path) -> None:
    # The example: 12 of 30 shown as "10 | 40%" and 8 of 30 as "10 | 27%".
    frame = pd.DataFrame({"incidents": ["10", "10", "10"], "share": ["40%", "27%", "33%"]})
    run = make_run(tmp_path, html=_table_html(frame))
    assert rules(run) == ["percentage_reveals_count"]
    gated = pd.DataFrame({"incidents": POLICY.format_counts([12, 8, 10]),
                          "share": POLICY.percent([12, 8, 10], [30, 30, 30])})
    assert table_findings(gated, 7) == []


def test_chart_drawn_from_small_counts_is_caught(tmp_path: Path) -> None:
    figures = [{"title": "North: self-harm", "kind": "spc", "drawn_from": "comparison/spc.csv",
                "smallest_plotted_count": 1.0}]
    run = make_run(tmp_path, figures=figures)
    assert rules(run) == ["small_count_chart"]


@pytest.mark.parametrize("leak", ["NHS no 943 476 5919", "call 07700 900123", "a@b.nhs.uk",
                                  "DOB 01/02/1980", "NI QQ 12 34 56 C", "lives at LS1 4AP",
                                  "“Staff found that Olamide Adeyemi was distressed”"])
def test_identifier_in_a_reviewer_file_is_caught(tmp_path: Path, leak: str) -> None:
    run = make_run(tmp_path, md=f"# Briefing\n\n{leak}\n")
    findings = audit_run(run).findings
    assert [f.rule for f in findings] == ["identifier"]
    assert findings[0].path == "learning/sar-1/briefing.md"
    assert leak.strip("“”")[4:14] not in findings[0].detail  # findings never echo the value


def test_names_in_the_saved_theme_model_vocabulary_are_caught(tmp_path: Path) -> None:
    run = make_run(tmp_path, vocab=["absconding", "patel", "mohammed", "leave"])
    findings = audit_run(run).findings
    assert [f.rule for f in findings] == ["model_vocabulary", "model_vocabulary"]
    assert findings[0].path == "themes/model/model.json"


def test_weakened_run_must_carry_the_banner_on_every_report(tmp_path: Path) -> None:
    frame = _clean_frame().assign(incidents=["40", "10", "3", "0"])
    params = {"suppression_threshold": 0, "rounding_base": 1, "disclosure": "analyst_only"}
    run = make_run(tmp_path, params=params, html=_table_html(frame))
    assert rules(run) == ["missing_banner"]
    marked = _table_html(frame).replace("<body>", f"<body><div>{BANNER}</div>")
    run2 = make_run(tmp_path / "b", params=params, html=marked)
    assert audit_run(run2).clean


def test_a_folder_that_is_not_a_run_is_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["audit", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a run folder" in err and str(tmp_path) in err and "Traceback" not in err
    assert main(["audit", str(tmp_path / "missing")]) == 2


def test_html_tables_merge_pandas_header_rows() -> None:
    frames = html_tables(_table_html(_clean_frame()))
    assert list(frames[0].columns) == ["theme", "incidents", "share"]
    assert frames[0]["incidents"].tolist() == ["40", "10", "*", "0"]


def test_every_file_has_an_audience_recorded_in_the_manifest(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    files = file_audiences(run)
    assert files["index.html"] == REVIEWER
    assert files["localities/north/03_locality_review-north.html"] == REVIEWER
    assert files["learning/sar-1/reviewer/theme_comparison.csv"] == REVIEWER
    assert files["learning/sar-1/briefing.md"] == REVIEWER
    for analyst in ("localities/north/03_locality_review-north.ipynb", "localities/north/exact.csv",
                    "localities/north/figures.json", "themes/model/model.json", "manifest.json"):
        assert files[analyst] == ANALYST
    assert audience_of("logs/x.html") == ANALYST


def _executed_notebook(path: Path, parameters: dict) -> Path:
    import nbformat

    cell = nbformat.v4.new_code_cell("print('table')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="table\n")]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"papermill": {"parameters": parameters}})
    nbformat.write(nb, path)
    return path


def test_banner_on_the_report_when_suppression_is_weakened(tmp_path: Path) -> None:
    from sgreview.report import export_html

    weak = _executed_notebook(tmp_path / "weak.ipynb", {"suppression_threshold": 0, "rounding_base": 1,
                                                         "disclosure": "analyst_only"})
    safe = _executed_notebook(tmp_path / "safe.ipynb", {"suppression_threshold": 7, "rounding_base": 5})
    weak_html = export_html(weak, tmp_path / "weak.html").read_text(encoding="utf-8")
    safe_html = export_html(safe, tmp_path / "safe.html").read_text(encoding="utf-8")
    assert BANNER in weak_html and 'class="sgreview-banner"' in weak_html
    assert BANNER not in safe_html


def test_manifest_records_the_audience_of_every_file_and_the_policy(tmp_path: Path) -> None:
    from sgreview.runs import write_manifest

    run = make_run(tmp_path)
    params = {"suppression_threshold": 0, "rounding_base": 1, "disclosure": "analyst_only"}
    path = write_manifest(run, inputs=[], parameters=params, results=[], seed=1)
    manifest = json.loads(path.read_text())
    on_disk = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk
    assert set(manifest["files"].values()) == {REVIEWER, ANALYST}
    assert manifest["files"]["manifest.json"] == ANALYST
    assert manifest["disclosure"]["weakened"] and manifest["disclosure"]["banner"] == BANNER


# --- the percentage rule, generalised: every share column against every count column --------


def _profile(share_here: list[str], referrals: list[str] | None = None) -> pd.DataFrame:
    """A locality profile laid out shares first: no share sits beside its own count."""
    frame = pd.DataFrame(
        {"share here": share_here, "% others": ["30%", "20%", "10%", "15%"],
         "incidents": ["40", "30", "25", "*"], "incidents others": ["300", "200", "100", "150"]},
        index=pd.Index(["Self-harm", "Falls", "Absconding", "Fire setting"], name="theme"))
    return frame


def test_a_share_away_from_its_count_still_cannot_show_a_suppressed_count(tmp_path: Path) -> None:
    # "share here" is incidents / 100 two columns away: 5% where incidents is * gives back 5.
    run = make_run(tmp_path, html=_table_html(_profile(["40%", "30%", "25%", "5%"])))
    findings = audit_run(run).findings
    assert [f.rule for f in findings] == ["percentage_reveals_count"]
    assert "'share here' shows 5%" in findings[0].detail and "'incidents'" in findings[0].detail
    assert "row 4" in findings[0].detail


def test_a_correctly_gated_table_with_shares_away_from_their_counts_passes(tmp_path: Path) -> None:
    frame = _profile(["40%", "30%", "25%", "*"])
    assert table_findings(frame, 7) == []
    assert audit_run(make_run(tmp_path, html=_table_html(frame))).clean


def test_a_share_of_two_other_columns_must_follow_their_rounded_counts(tmp_path: Path) -> None:
    # "share with a referral" = referrals / incidents in each row, wherever the columns sit.
    good = pd.DataFrame({"share with a referral": ["25.0%", "50.0%", "20.0%", "37.5%", "*"],
                         "incidents": ["40", "60", "100", "80", "50"],
                         "referrals": ["10", "30", "20", "30", "*"]})
    assert table_findings(good, 7) == []
    # Row 5: 12 of 48 (25.0%) shown beside the rounded 10 of 50 (which would be 20.0%).
    exact = good.assign(**{"share with a referral": ["25.0%", "50.0%", "20.0%", "37.5%", "25.0%"],
                           "referrals": ["10", "30", "20", "30", "10"]})
    found = table_findings(exact, 7)
    assert [r for r, _ in found] == ["percentage_reveals_count"]
    assert "row 5" in found[0][1] and "not the rounded 'referrals'" in found[0][1]
    # Row 5 again: the share shown where the referrals are hidden gives them back.
    hidden = good.assign(**{"share with a referral": ["25.0%", "50.0%", "20.0%", "37.5%", "8.0%"]})
    found = table_findings(hidden, 7)
    assert len(found) == 1 and "suppressed" in found[0][1]
    run = make_run(tmp_path, csv=hidden)
    assert rules(run) == ["percentage_reveals_count"]  # reviewer CSVs too


def test_limits_and_percentile_columns_are_not_shares() -> None:
    frame = pd.DataFrame({"incidents": ["40", "30", "*"], "95% limits": ["1.0 to 2.0"] * 3,
                          "90th percentile": ["3", "4", "5"]})
    assert table_findings(frame, 7) == []


@pytest.mark.parametrize("sentence", [
    "Falls were reported in fewer than 8 (3%) of the incidents.",
    "Falls: 3% (* of 120 incidents).",
    "Absconding: 5 (4%) of its incidents.",
    "Absconding: 5% (about 10 of 120) of its incidents.",  # 5% of 120 is 6
    "Self-harm: 27% (10 of 30) of the case set.",  # 27% of 30 is 8, not the rounded 10
])
def test_a_percentage_in_a_sentence_that_reveals_a_count_is_caught(tmp_path: Path, sentence: str) -> None:
    page = f"<html><body><p>{sentence}</p>{_clean_frame().to_html()}</body></html>"
    findings = audit_run(make_run(tmp_path, html=page)).findings
    assert [f.rule for f in findings] == ["percentage_reveals_count"], [str(f) for f in findings]
    md = audit_run(make_run(tmp_path / "md", md=f"# Briefing\n\n{sentence}\n")).findings
    assert [f.rule for f in md] == ["percentage_reveals_count"]


@pytest.mark.parametrize("sentence", [
    "Self-harm: 33% (10 of 30) of the case set.",
    "Self-harm: about 15 (12%) of its incidents.",
    "Of the rows read, 3 (0.1%) were rejected across the whole organisation.",
    "The rate ratio was 0.30 (97.5% likely range 0.1 to 0.9).",
])
def test_sentences_with_gated_or_whole_organisation_percentages_pass(tmp_path: Path, sentence: str) -> None:
    page = f"<html><body><p>{sentence}</p></body></html>"
    assert audit_run(make_run(tmp_path, html=page)).clean
