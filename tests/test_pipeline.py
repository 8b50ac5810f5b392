"""Unit tests for the review pipeline's stage functions and review planning (no kernels)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sgreview import views
from sgreview.disclosure import DisclosurePolicy
from sgreview.errors import InputError, ParameterError
from sgreview.pipeline import common
from sgreview.pipeline.learning import case_set_spec
from sgreview.pipeline.locality import locality_profile
from sgreview.pipeline.quality import completeness_by_locality, data_quality

REPO = Path(__file__).resolve().parents[1]


def _incidents_csv(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _row(i: int, locality: str = "North", **extra) -> dict:
    base = {
        "incident_id": f"INC{i:04d}",
        "incident_date": f"{(i % 27) + 1:02d}/0{(i % 9) + 1}/2024",
        "locality": locality,
        "narrative": "Patient found with ligature on the ward, removed by staff, obs increased to level 3.",
        "team": "Ward A",
        "ethnicity": "White British",
    }
    return base | extra


def test_ensure_demo_data_refuses_to_invent_data_for_a_missing_real_path(tmp_path):
    with pytest.raises(InputError, match="data file not found"):
        common.ensure_demo_data(tmp_path / "export.csv")
    assert not (tmp_path / "export.csv").exists()


def test_ensure_demo_data_returns_an_existing_file_untouched(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("x\n1\n", encoding="utf-8")
    assert common.ensure_demo_data(path) == path.resolve()
    assert path.read_text(encoding="utf-8") == "x\n1\n"


def test_write_synthetic_export_writes_incidents_with_sidecars(tmp_path):
    path = common.write_synthetic_export(tmp_path / "data" / "inc.csv", n=300, seed=3)
    names = sorted(p.name for p in path.parent.iterdir())
    assert "inc.csv" in names
    assert {"inc_actions.csv", "inc_denominators.csv", "inc_identifiers.csv"} <= set(names)
    assert not [n for n in names if n.startswith(".")], "temporary files left behind"
    assert len(pd.read_csv(path)) == 300


def test_check_locality_names_the_closest_known_locality():
    with pytest.raises(ParameterError, match="did you mean 'Northmoor'"):
        common.check_locality("Northmore", pd.Series(["Northmoor", "Kingsford"]))
    assert common.check_locality("Kingsford", ["Northmoor", "Kingsford"]) == "Kingsford"


def test_slug_makes_folder_safe_names():
    assert common.slug("Ashdown Vale") == "ashdown-vale"
    assert common.slug("St. Mary's / East") == "st-mary-s-east"
    assert common.slug("***") == "unnamed"


def test_in_window_keeps_dates_inside_both_ends():
    frame = pd.DataFrame({"incident_date": pd.to_datetime(["2024-01-31", "2024-02-01", "2024-03-01"])})
    assert len(common.in_window(frame, "2024-02-01", "2024-02-29")) == 1
    assert len(common.in_window(frame, None, None)) == 3


def test_completeness_by_locality_counts_blanks_as_missing():
    frame = pd.DataFrame(
        {
            "locality": ["A", "A", "A", "A", "B"],
            "narrative": ["one two three four five six seven eight"] * 4 + ["see notes"],
            "team": ["W1", "", None, "W2", "W3"],
            "ethnicity": ["x", "y", "z", "w", ""],
            "incident_date": pd.to_datetime(["2024-01-01"] * 5),
        }
    )
    table = completeness_by_locality(frame)
    assert table.loc["A", "incidents"] == 4
    assert table.loc["A", "team"] == pytest.approx(0.5)
    assert table.loc["B", "ethnicity"] == 0.0
    assert table.loc["B", "narrative_informative"] == 0.0
    assert table.loc["A", "narrative_informative"] == 1.0


def test_locality_profile_compares_with_all_other_localities_combined():
    a = pd.DataFrame(
        {
            "locality": ["N"] * 4 + ["S"] * 6 + ["E"] * 10,
            "theme_id": ["T01", "T01", "T01", "T02"] + ["T01"] * 3 + ["T02"] * 3 + ["T02"] * 10,
            "theme_label": "x",
        }
    )
    profile = locality_profile(a, "N").set_index("theme_id")
    assert profile.loc["T01", "events"] == 3
    assert profile.loc["T01", "share"] == pytest.approx(0.75)
    assert profile.loc["T01", "others_events"] == 3
    assert profile.loc["T01", "others_share"] == pytest.approx(3 / 16)
    assert profile.loc["T01", "ratio"] == pytest.approx(0.75 / (3 / 16))
    assert set(profile.columns) >= {"others_n", "n"}
    assert "locality" not in profile.columns


def test_profile_table_suppresses_small_counts_and_their_shares():
    profile = pd.DataFrame(
        {
            "theme_id": ["T01", "T02"], "theme_label": ["Self-harm", "Absconding"],
            "events": [23, 3], "n": [26, 26], "share": [23 / 26, 3 / 26],
            "others_events": [100, 50], "others_n": [150, 150],
            "others_share": [2 / 3, 1 / 3], "ratio": [1.3, 0.35], "flag": ["within", "alert_low"],
        }
    )
    shown = views.profile_table(profile, DisclosurePolicy(), others="All other localities")
    assert shown.loc["Self-harm", "incidents"] == "25"
    assert shown.loc["Absconding", "incidents"] == "*"
    assert shown.loc["Absconding", "share here"] == "*"
    assert shown.loc["Absconding", "ratio"] == "*"
    # The share follows the rounded counts shown (25 of 25), so it cannot give back 23 of 26.
    assert shown.loc["Self-harm", "share here"] == "100.0%"
    # So does the ratio: 100% here over 100/150 there, not the exact 23/26 over 2/3 (1.33).
    assert shown.loc["Self-harm", "ratio"] == "1.50"


def test_profile_chart_bars_sit_at_the_shares_the_table_prints():
    profile = pd.DataFrame(
        {
            "theme_id": ["T01"], "theme_label": ["Self-harm"], "events": [14], "n": [46],
            "share": [14 / 46], "others_events": [102], "others_n": [433],
            "others_share": [102 / 433], "ratio": [1.29], "flag": ["within"],
        }
    )
    fig = views.profile_figure(profile, DisclosurePolicy(), locality="Here", others="All other localities")
    widths = sorted(round(p.get_width(), 4) for p in fig.axes[0].patches)
    # 15 of 45 (33.3%) as the table prints it, not 14 of 46 (30.4%); 100 of 435 there.
    assert widths == [round(100 / 435, 4), round(15 / 45, 4)]


def test_evidence_table_shows_no_examples_for_small_themes_and_redacts_again():
    evidence = pd.DataFrame(
        {
            "theme_id": ["T01", "T02"], "incident_id": ["I1", "I2"],
            "sentence": ["Pt called 07700 900123 about leave.", "Small theme sentence."],
            "score": [0.9, 0.8],
        }
    )
    sizes = pd.DataFrame({"theme_id": ["T01", "T02"], "theme_label": ["Leave", "Tiny"], "size": [40, 5]})
    shown = views.evidence_table(evidence, sizes, DisclosurePolicy())
    assert list(shown.index) == ["Leave"]
    assert "07700" not in shown.to_string()


def test_data_quality_writes_reconciliation_and_rejects_without_identifiers(tmp_path):
    rows = [_row(i) for i in range(12)] + [_row(20, "South") for _ in range(2)]
    rows.append(_row(30, incident_date="ring 07700 900123"))
    data = _incidents_csv(tmp_path / "inc.csv", rows)
    result = data_quality(data, tmp_path / "run")
    rec = json.loads((tmp_path / "run" / "data_quality" / "reconciliation.json").read_text())
    assert rec["rows_read"] == 15
    assert rec["rows_accepted"] + rec["rows_rejected"] == rec["rows_read"]
    assert rec["by_reason"] == {"duplicate_incident_id": 1, "unparseable_date": 1}
    rejects = (tmp_path / "run" / "data_quality" / "rejects.csv").read_text()
    assert "07700" not in rejects and "unparseable_date" in rejects
    # South has 1 accepted incident: its count and rates are hidden from reviewers.
    assert result.completeness.loc["South", "incidents"] == "*"
    assert set(result.completeness.loc["South"].drop("incidents")) == {"*"}
    assert "13 (86.7%) were accepted" in result.summary


def test_case_set_spec_maps_notebook_parameters_to_exactly_one_selector():
    assert case_set_spec("SAR-1", [], None) == {"case_ref": "SAR-1"}
    assert case_set_spec(None, ["1", "2"], None) == {"incident_ids": ["1", "2"]}
    assert case_set_spec(None, [], {"theme": "self_harm", "period_start": "2024-01-01"}) == {
        "filter": {"theme": "self_harm", "start": "2024-01-01"}
    }
    with pytest.raises(ParameterError, match="exactly one"):
        case_set_spec("SAR-1", ["1"], None)
    with pytest.raises(ParameterError, match="exactly one"):
        case_set_spec(None, [], None)


# --- review planning: everything checked before a kernel starts --------------------------


@pytest.fixture(scope="module")
def small_export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    return common.write_synthetic_export(folder / "incidents.csv", n=400, seed=11)


def _review_yaml(folder: Path, data: Path, **extra) -> Path:
    config = {"review_name": "unit", "data_path": str(data), "localities": "all"} | extra
    path = folder / "review.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_plan_review_runs_stages_in_order_with_one_job_per_locality_and_case_set(tmp_path, small_export):
    from sgreview.pipeline.review import plan_review

    config = _review_yaml(tmp_path, small_export, case_sets=[{"name": "SAR A", "case_ref": "SAR-2024-01"}])
    stages, params = plan_review(config, tmp_path / "run")
    assert [s.name for s in stages] == ["data_quality", "theme_discovery", "localities", "comparison", "learning"]
    localities = sorted(pd.read_csv(small_export)["locality"].unique())
    assert sorted(j.parameters["locality"] for j in stages[2].jobs) == localities
    assert params["localities"] == localities
    learning = stages[4].jobs[0]
    assert learning.parameters["case_ref"] == "SAR-2024-01" and learning.parameters["case_set"] == "SAR A"
    assert all(j.parameters["output_dir"] == str(tmp_path / "run") for s in stages for j in s.jobs)
    assert "locality" not in stages[0].jobs[0].parameters
    later = [j for s in stages[2:] for j in s.jobs]
    assert {j.parameters["model_dir"] for j in later} == {str(tmp_path / "run" / "themes" / "model")}
    # every report logs to the run folder's single logs/ (DESIGN.md), wherever its report goes
    assert {j.log_path.parent for s in stages for j in s.jobs} == {tmp_path / "run" / "logs"}
    assert not (tmp_path / "run").exists(), "planning must not write anything"


def test_plan_review_rejects_a_locality_that_is_not_in_the_data(tmp_path, small_export):
    from sgreview.pipeline.review import plan_review

    config = _review_yaml(tmp_path, small_export, localities=["Kingsford", "Atlantis"])
    with pytest.raises(ParameterError, match="Atlantis"):
        plan_review(config, tmp_path / "run")


def test_run_review_with_a_missing_data_path_fails_before_creating_a_run(tmp_path):
    from sgreview.pipeline.review import run_review

    config = _review_yaml(tmp_path, tmp_path / "nowhere.csv")
    with pytest.raises(ParameterError, match="data_path"):
        run_review(config, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_locality_parameter_file_is_layered_onto_that_locality_only(tmp_path, small_export):
    from sgreview.pipeline.review import plan_review

    config = _review_yaml(tmp_path, small_export, localities=["Kingsford", "Northmoor"])
    (tmp_path / "localities").mkdir()
    (tmp_path / "localities" / "kingsford.yaml").write_text(
        "locality: Kingsford\nimprovement_direction: decrease\n", encoding="utf-8"
    )
    stages, _ = plan_review(config, tmp_path / "run")
    direction = {j.parameters["locality"]: j.parameters["improvement_direction"] for j in stages[2].jobs}
    assert direction == {"Kingsford": "decrease", "Northmoor": "neutral"}


def test_a_typo_in_a_locality_file_is_named_with_that_file(tmp_path, small_export):
    from sgreview.pipeline.review import plan_review

    config = _review_yaml(tmp_path, small_export, localities=["Kingsford"])
    (tmp_path / "localities").mkdir()
    bad = tmp_path / "localities" / "kingsford.yaml"
    bad.write_text("locality: Kingsford\nimprovment_direction: decrease\n", encoding="utf-8")
    with pytest.raises(ParameterError) as err:
        plan_review(config, tmp_path / "run")
    assert "improvment_direction" in str(err.value) and "kingsford.yaml" in str(err.value)


def test_every_shipped_parameter_file_validates_against_its_notebook(small_export):
    from sgreview.params import load_parameter_files, validate_for_notebook

    notebook = REPO / "notebooks" / "03_locality_review.ipynb"
    for path in sorted((REPO / "parameters" / "localities").glob("*.yaml")):
        params = load_parameter_files([path], {"data_path": str(small_export)})
        checked = validate_for_notebook(notebook, params, check_files=False)
        assert checked["locality"] == yaml.safe_load(path.read_text())["locality"]


def test_review_localities_are_spelt_as_the_validated_data_spells_them(small_export):
    from sgreview.pipeline.review import resolve_localities

    everything = resolve_localities("all", small_export, None)
    assert everything == sorted(pd.read_csv(small_export)["locality"].unique())
    assert resolve_localities([" kingsford", "NORTHMOOR", "Kingsford"], small_export, None) == [
        "Kingsford", "Northmoor"
    ]
    with pytest.raises(ParameterError, match="did you mean 'Eastmere'"):
        resolve_localities(["Eastmeer"], small_export, None)


def test_summary_table_lists_every_report_and_names_the_failure():
    from sgreview.pipeline.review import ReviewOutcome, summary_table
    from sgreview.runs import RunResult

    def result(name: str, status: str, error: str | None = None) -> RunResult:
        return RunResult(name=name, notebook=Path("nb.ipynb"), status=status, ipynb=None, html=None,
                         error=error, started="", ended="", seconds=2.5, parameters={})

    results = [result("01_data_quality", "ok"), result("03_locality_review-x", "failed", "ModelError: bad")]
    outcome = ReviewOutcome(run_dir=Path("run"), results=results, seconds=9.0,
                            failures=[r for r in results if not r.ok])
    text = summary_table(outcome)
    assert "03_locality_review-x  failed" in text and "ModelError: bad" in text
    assert "1 of 2 reports ok" in text
    assert outcome.exit_code == 1


def test_rejected_rows_alone_make_the_review_exit_1_and_are_named():
    from sgreview.pipeline.review import ReviewOutcome, summary_table
    from sgreview.runs import RunResult

    ok = RunResult(name="01_data_quality", notebook=Path("nb.ipynb"), status="ok", ipynb=None,
                   html=None, error=None, started="", ended="", seconds=1.0, parameters={})
    clean = ReviewOutcome(run_dir=Path("run"), results=[ok], seconds=1.0)
    assert clean.exit_code == 0 and "rejected" not in summary_table(clean)
    rejected = ReviewOutcome(run_dir=Path("run"), results=[ok], seconds=1.0, rows_rejected=2)
    assert rejected.exit_code == 1
    assert "2 rows of the export rejected at validation: see data_quality/rejects.csv" in summary_table(rejected)


def test_demo_out_keeps_its_data_under_that_folder(tmp_path, monkeypatch):
    import sgreview.pipeline.review as review

    seen = {}
    monkeypatch.setattr(review, "run_review", lambda config, **kw: seen.update(kw))
    review.run_demo(tmp_path / "demo-out", n=60, seed=3)
    data = Path(seen["overrides"]["data_path"])
    assert data.is_file() and data.is_relative_to(tmp_path / "demo-out")
    assert data.parent == tmp_path / "demo-out" / "demo" / "data"
    assert Path(seen["overrides"]["actions_path"]).is_relative_to(tmp_path / "demo-out")
    assert seen["out"] == tmp_path / "demo-out"


def test_demo_locations_are_recognised_under_any_base_folder(tmp_path):
    assert common.is_demo_location(tmp_path / "outputs" / "demo" / "data" / "incidents.csv")
    assert not common.is_demo_location(tmp_path / "data" / "incidents.csv")
    made = common.ensure_demo_data(tmp_path / "outputs" / "demo" / "data" / "incidents.csv", n=50)
    assert made.is_file()


def test_demo_case_sets_follow_the_references_planted_in_the_data(small_export):
    from sgreview.pipeline.review import _demo_case_sets

    refs = sorted(pd.read_csv(small_export, dtype=str)["case_ref"].dropna().unique())
    sets = _demo_case_sets(small_export)
    assert [c["name"] for c in sets if "case_ref" in c] == refs
    assert any("filter" in c for c in sets)


def test_failed_discovery_skips_the_stages_that_need_its_model_but_not_data_quality(monkeypatch):
    from sgreview import runs
    from sgreview.pipeline.review import Stage, run_stages
    from sgreview.runs import Job, RunResult

    def job(name: str) -> Job:
        return Job(notebook=Path(f"{name}.ipynb"), parameters={}, name=name, output_dir=Path("out"))

    ran: list[str] = []

    def fake_run_jobs(jobs, **kwargs):
        ran.extend(j.name for j in jobs)
        return [RunResult(name=j.name, notebook=j.notebook, status="failed" if "02" in j.name else "ok",
                          ipynb=None, html=None, error="ModelError: x" if "02" in j.name else None,
                          started="", ended="", seconds=1.0, parameters={}) for j in jobs]

    monkeypatch.setattr(runs, "run_jobs", fake_run_jobs)
    stages = [
        Stage("data_quality", [job("01")]),
        Stage("theme_discovery", [job("02")]),
        Stage("localities", [job("03-a"), job("03-b")], needs=("theme_discovery",)),
        Stage("comparison", [job("04")], needs=("theme_discovery",)),
    ]
    results = run_stages(stages, workers=1)
    assert ran == ["01", "02"]
    status = {r.name: (r.status, r.error) for r in results}
    assert status["01"] == ("ok", None)
    assert status["03-a"] == ("failed", "not run: theme discovery failed")
    assert status["04"][1] == "not run: theme discovery failed"
    assert [r.name for r in results] == ["01", "02", "03-a", "03-b", "04"]


def test_quality_summary_names_the_weakest_field_and_locality():
    from sgreview.pipeline.quality import _summary

    completeness = pd.DataFrame(
        {"incidents": [100, 20], "team": [1.0, 1.0], "ethnicity": [0.95, 0.5]},
        index=pd.Index(["A", "B"], name="locality"),
    )
    rec = {"rows_read": 121, "rows_accepted": 120, "rows_rejected": 1, "by_reason": {"missing_date": 1}}
    text = _summary(rec, completeness, {"NAME": 3}, "x.csv")
    assert "**ethnicity**, recorded for 88% of incidents overall and lowest in B (50%)" in text
    assert "missing incident date" in text and "3 words or phrases that may identify someone" in text
    assert "ask B to improve recording of ethnicity" in text


def test_a_datix_style_export_is_reviewed_through_a_column_map(tmp_path, small_export):
    from sgreview.pipeline.review import plan_review

    datix = pd.read_csv(small_export, dtype=str).rename(
        columns={"incident_id": "Ref", "incident_date": "Occurred", "locality": "Patch",
                 "narrative": "Free text"}
    )
    path = tmp_path / "datix.csv"
    datix.to_csv(path, index=False)
    columns = {"incident_id": "Ref", "incident_date": "Occurred", "locality": "Patch", "narrative": "Free text"}
    config = _review_yaml(tmp_path, path, columns=columns, localities=["kingsford"])
    stages, _ = plan_review(config, tmp_path / "run")
    assert [j.parameters["locality"] for j in stages[2].jobs] == ["Kingsford"]
    assert stages[0].jobs[0].parameters["columns"] == columns
    result = data_quality(path, tmp_path / "run", columns=columns)
    assert result.reconciliation_raw["rows_accepted"] == 400


def _assignments_for(counts: dict[str, dict[str, int]]) -> pd.DataFrame:
    rows = []
    for locality, by_theme in counts.items():
        for theme, n in by_theme.items():
            rows += [{"locality": locality, "theme_id": theme, "theme_label": f"Theme {theme}"}] * n
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "local",
    [
        {"T01": 12, "T02": 9, "T03": 3},          # ordinary: two shown, one suppressed
        {"T01": 2, "T02": 3, "T03": 1},           # every theme too small to show
        {"T03": 30},                              # one theme only
        {"T00": 10, "T02": 8},                    # unthemed is never a "largest theme"
    ],
)
def test_every_largest_theme_sentence_agrees_with_the_locality_table(local):
    """The summary names only themes the locality has, largest first, with the table's shares."""
    import re

    from sgreview.pipeline.locality import largest_themes_sentence

    others = {"T01": 400, "T02": 50, "T03": 20, "T04": 300, "T00": 10}
    profile = locality_profile(_assignments_for({"Small": local, "Big": others}), "Small")
    pol = views.policy()
    sentence = largest_themes_sentence(profile, pol)
    named = re.findall(r"Theme (T\d\d) \(([\d.]+%) of its incidents, against ([\d.]+%)", sentence)
    table = profile.set_index("theme_id")
    printed = views.profile_table(profile.assign(flag="within"), pol, others="All other localities")
    printed.index = profile["theme_id"].to_numpy()
    shown = profile.loc[(profile["theme_id"] != "T00") & (profile["events"] > 7)]
    assert [t for t, _, _ in named] == shown["theme_id"].head(3).tolist()
    for theme, share, others_share in named:
        assert table.loc[theme, "events"] > 0  # never a 0% theme
        assert share == printed.loc[theme, "share here"]  # exactly what the table prints
        assert others_share == printed.loc[theme, "share in all other localities combined"]
    if not named:
        assert "too few incidents here to show" in sentence
        assert "0%" not in sentence


def test_localities_sharing_a_folder_name_are_refused_before_anything_runs(tmp_path):
    from sgreview.pipeline.review import run_review

    rows = [_row(i, "North South" if i % 2 else "North/South") for i in range(20)]
    data = _incidents_csv(tmp_path / "clash.csv", rows)
    config = _review_yaml(tmp_path, data)
    with pytest.raises(ParameterError, match="'North South' and 'North/South' would share the output folder 'north-south'"):
        run_review(config, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_case_sets_sharing_a_folder_name_are_refused(tmp_path, small_export):
    from sgreview.pipeline.review import plan_review

    config = _review_yaml(tmp_path, small_export, case_sets=[
        {"name": "SAR A", "case_ref": "SAR-2024-01"}, {"name": "sar-a", "case_ref": "SAR-2024-01"}])
    with pytest.raises(ParameterError, match="case sets 'SAR A' and 'sar-a'"):
        plan_review(config, tmp_path / "run")


def test_later_stages_read_values_exactly_even_formula_like_localities(tmp_path):
    """A locality named "=North" is written "'=North" in the CSV for spreadsheets, but the
    stages hand each other Parquet, so the locality's own report still finds it."""
    from sgreview.io import write_csv, write_parquet
    from sgreview.pipeline.discovery import assignment_frame

    frame = pd.DataFrame({
        "incident_id": ["1", "2"], "locality": ["=North", "+South"],
        "incident_date": pd.to_datetime(["2024-01-02", "2024-02-03"]),
        "theme_id": ["T01", "T00"], "theme_label": ["@risk", "Unthemed"], "score": [0.5, 0.1],
    })
    out = assignment_frame(frame)
    themes = tmp_path / "themes"
    write_csv(out, themes / "assignments.csv")
    write_parquet(out.assign(incident_date=pd.to_datetime(out["incident_date"])),
                  themes / common.ASSIGNMENTS_PARQUET)
    assert pd.read_csv(themes / "assignments.csv")["locality"].tolist() == ["'=North", "'+South"]
    back = common.read_assignments(tmp_path)
    assert back["locality"].tolist() == ["=North", "+South"]
    assert back["theme_label"].tolist() == ["@risk", "Unthemed"]
    assert back["incident_date"].tolist() == list(pd.to_datetime(["2024-01-02", "2024-02-03"]))


def test_profile_chart_only_draws_themes_the_locality_has():
    pol = views.policy()
    profile = locality_profile(_assignments_for({"Small": {"T01": 12, "T02": 3},
                                                 "Big": {"T01": 50, "T02": 50, "T03": 60}}), "Small")
    fig = views.profile_figure(profile, pol, locality="Small", others="All other localities")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["Theme T01"]  # T02 is suppressed (3), T03 is 0 here: neither drawn
    tiny = locality_profile(_assignments_for({"Small": {"T01": 2}, "Big": {"T01": 50, "T03": 60}}), "Small")
    fig = views.profile_figure(tiny, pol, locality="Small", others="All other localities")
    assert "too few" in views.describe_figure(fig)


def test_profile_flag_with_settings_is_the_most_serious_setting_flag():
    from sgreview.pipeline.locality import worst_flag_per_theme

    funnel = pd.DataFrame({"theme_id": ["T01", "T01", "T02", "T02", "T03"],
                           "setting": ["community", "inpatient"] * 2 + ["crisis"],
                           "flag": ["within", "alarm_high", "too_few", "no_denominator", "within"]})
    worst = worst_flag_per_theme(funnel).set_index("theme_id")["flag"].to_dict()
    assert worst == {"T01": "alarm_high", "T02": "no_denominator", "T03": "within"}


def test_flags_table_with_settings_names_each_rows_setting_and_denominator():
    flagged = pd.DataFrame({
        "theme_label": ["Violence", "Exploitation"], "locality": ["Kingsford", "Harbourside"],
        "setting": ["inpatient", "community"], "unit": ["occupied_bed_days", "caseload"],
        "events": [70, 15], "proportion": [0.002, 0.0005], "target": [0.001, 0.00015],
        "lower95": [0.0, 0.0], "upper95": [0.0015, 0.0003], "lower998": [0.0, 0.0],
        "upper998": [0.0018, 0.0004], "flag": ["alarm_high", "alarm_high"]})
    table = views.flags_table(flagged, DisclosurePolicy(threshold=7, base=5), kind="rate",
                              unit="occupied_bed_days")
    assert table["group"].tolist() == ["Kingsford (inpatient)", "Harbourside (community)"]
    assert table["denominator"].tolist() == ["occupied bed days", "caseload"]
    assert "value (per 1,000 of the setting's denominator)" in table.columns
