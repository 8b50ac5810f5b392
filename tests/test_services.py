"""The trust's service-name list (``services_path``): a review parameter that reaches every
redaction step, checked before any kernel starts, and recorded in the manifest."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sgreview.errors import ParameterError
from sgreview.pipeline import common

#: Units a trust might publish that the redactor would otherwise tag ("X Lodge" reads as a
#: house name, "Amara" as a given name).
SERVICES = ["Cedar Lodge", "Amara Ward"]


def _services_file(folder: Path, text: str | None = None) -> Path:
    path = folder / "services.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(SERVICES), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def export_with_places(tmp_path_factory) -> Path:
    """A synthetic export whose every sentence names a listed unit and an unlisted care home."""
    folder = tmp_path_factory.mktemp("places")
    src = common.write_synthetic_export(folder / "src" / "incidents.csv", n=300, seed=3)
    frame = pd.read_csv(src)
    frame["narrative"] = frame["narrative"].str.replace(
        r"\.(\s|$)", r" at Cedar Lodge near Bramhall Manor.\1", regex=True)
    path = folder / "incidents.csv"
    frame.to_csv(path, index=False)
    return path


def test_load_redacted_keeps_listed_services_and_tags_unlisted_places(tmp_path, export_with_places):
    loaded = common.load_redacted(export_with_places, services=SERVICES)
    text = " ".join(loaded.incidents["narrative"].astype(str))
    assert "Cedar Lodge" in text
    assert "Bramhall" not in text and "[ADDRESS]" in text
    plain = " ".join(common.load_redacted(export_with_places).incidents["narrative"].astype(str))
    assert "Cedar Lodge" not in plain  # without the list the unit reads as a house name


def test_theme_discovery_excerpts_keep_a_listed_unit_and_hide_an_unlisted_care_home(
    tmp_path, export_with_places
):
    from sgreview.pipeline.discovery import theme_discovery

    services = _services_file(tmp_path)
    shown = theme_discovery(export_with_places, tmp_path / "run", services_path=services)
    excerpts = " ".join(shown.evidence["excerpt"].astype(str))
    assert "Cedar Lodge" in excerpts
    assert "Bramhall" not in excerpts and "[ADDRESS]" in excerpts
    without = theme_discovery(export_with_places, tmp_path / "run2")
    assert "Cedar Lodge" not in " ".join(without.evidence["excerpt"].astype(str))


def test_evidence_and_action_tables_redact_again_but_keep_listed_services():
    from sgreview import views
    from sgreview.disclosure import DisclosurePolicy

    evidence = pd.DataFrame({"theme_id": ["T01"], "incident_id": ["I1"], "score": [0.9],
                             "sentence": ["Moved to Amara Ward from Bramhall Manor overnight."]})
    sizes = pd.DataFrame({"theme_id": ["T01"], "theme_label": ["Moves"], "size": [40]})
    kept = views.evidence_table(evidence, sizes, DisclosurePolicy(), services=SERVICES).to_string()
    assert "Amara Ward" in kept and "Bramhall" not in kept
    plain = views.evidence_table(evidence, sizes, DisclosurePolicy()).to_string()
    assert "Amara Ward" not in plain
    actions = pd.DataFrame({"action_id": ["A1"], "description": ["Review night cover on Amara Ward"]})
    table = views.actions_table(actions, DisclosurePolicy(), services=SERVICES)
    assert table.loc["A1", "action"] == "Review night cover on Amara Ward"


def test_briefing_excerpts_keep_listed_services():
    from sgreview.learning.briefing import _clean_excerpts

    ex = pd.DataFrame({"theme_id": ["T01", "T01"], "incident_id": ["1", "2"],
                       "text": ["She was moved to Amara Ward after the fall at night.",
                                "Staff at Bramhall Manor were told of the fall at night."]})
    kept = _clean_excerpts(ex, SERVICES)
    assert "She was moved to Amara Ward after the fall at night." in kept["text"].tolist()
    assert not kept["text"].str.contains("Bramhall").any()


def test_services_path_is_resolved_against_the_parameter_file(tmp_path, export_with_places):
    from sgreview.params import load_review_config

    _services_file(tmp_path)
    config = tmp_path / "review.yaml"
    config.write_text(yaml.safe_dump({"data_path": str(export_with_places),
                                      "services_path": "services.yaml"}), encoding="utf-8")
    loaded = load_review_config(config)
    assert loaded.services_path == str((tmp_path / "services.yaml").resolve())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- Cedar Lodge\n- [Amara Ward\n", "not valid YAML at line"),
        ("services: {ward: Cedar Lodge}\n", "expected a list of names"),
        (None, "file not found"),
    ],
)
def test_a_bad_service_list_is_a_parameter_error_naming_the_file(tmp_path, export_with_places,
                                                                  text, message):
    from sgreview.params import load_review_config

    if text is not None:
        _services_file(tmp_path, text)
    config = tmp_path / "review.yaml"
    config.write_text(yaml.safe_dump({"data_path": str(export_with_places),
                                      "services_path": "services.yaml"}), encoding="utf-8")
    with pytest.raises(ParameterError, match=message) as err:
        load_review_config(config)
    assert "services_path" in str(err.value) or "services.yaml" in str(err.value)
    assert "services.yaml" in str(err.value)


def _cli(argv: list[str]) -> tuple[int, str, str]:
    from sgreview.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("broken", [True, False], ids=["bad-yaml", "missing-file"])
def test_review_with_a_bad_service_list_exits_2_before_anything_runs(tmp_path, export_with_places,
                                                                      broken):
    if broken:
        _services_file(tmp_path, "services:\n  - Cedar Lodge\n  - [Amara Ward\n")
    config = tmp_path / "review.yaml"
    config.write_text(yaml.safe_dump({"review_name": "svc", "data_path": str(export_with_places),
                                      "services_path": "services.yaml"}), encoding="utf-8")
    code, out, err = _cli(["review", str(config), "--out", str(tmp_path / "out")])
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "services.yaml" in err and "services_path" in err
    assert not (tmp_path / "out").exists()


def test_themes_cli_refuses_a_bad_service_list_with_exit_2(tmp_path, export_with_places):
    services = _services_file(tmp_path, "- Cedar Lodge\n- [Amara Ward\n")
    code, out, err = _cli(["themes", "fit", str(export_with_places), "--out", str(tmp_path / "m"),
                           "--services", str(services)])
    assert code == 2 and "services.yaml" in err and "not valid YAML" in err
    assert not (tmp_path / "m").exists()


def test_manifest_records_the_service_list_and_the_audit_honours_it(tmp_path):
    from sgreview.audit import audit_run, identifier_findings
    from sgreview.io import sha256_file, write_text
    from sgreview.runs import write_manifest

    services = _services_file(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    write_manifest(run, inputs=[], parameters={"services_path": str(services)}, results=[], seed=1)
    record = json.loads((run / "manifest.json").read_text())["service_names"]
    assert record["path"] == str(services.resolve())
    assert record["sha256"] == sha256_file(services) and record["names"] == 2
    # A listed unit in a quoted excerpt is not a name; an unlisted given name still is.
    page = "<p>“The patient was transferred to Amara Ward overnight and settled.”</p>"
    assert identifier_findings(page, SERVICES) == []
    assert identifier_findings(page) != []
    write_text(page, run / "themes" / "02_theme_discovery.html")
    assert audit_run(run).clean
    write_manifest(run, inputs=[], parameters={}, results=[], seed=1)
    assert json.loads((run / "manifest.json").read_text())["service_names"] is None
    assert not audit_run(run).clean


def test_every_report_that_redacts_text_receives_the_service_list(tmp_path, export_with_places):
    from sgreview.pipeline.review import plan_review

    services = _services_file(tmp_path)
    config = tmp_path / "review.yaml"
    config.write_text(yaml.safe_dump({"review_name": "svc", "data_path": str(export_with_places),
                                      "services_path": "services.yaml",
                                      "case_sets": [{"name": "A", "case_ref": "SAR-2025-01"}]}),
                      encoding="utf-8")
    stages, params = plan_review(config, tmp_path / "run")
    got = {j.name.split("-")[0]: j.parameters.get("services_path") for s in stages for j in s.jobs}
    expected = str(services.resolve())
    assert got["01_data_quality"] == got["02_theme_discovery"] == expected
    assert got["03_locality_review"] == got["05_learning_summary"] == expected
    assert params["services_path"] == expected


def test_a_kept_ward_column_of_listed_services_is_not_refused_as_identifiers(tmp_path, export_with_places):
    from sgreview.schema import load_incidents

    frame = pd.read_csv(export_with_places)
    frame["ward_name"] = ["Cedar Lodge", "Amara Ward"] * (len(frame) // 2) + ["Cedar Lodge"] * (len(frame) % 2)
    data = tmp_path / "wards.csv"
    frame.to_csv(data, index=False)
    with pytest.raises(ParameterError, match="ward_name"):
        load_incidents(data, keep_columns=["ward_name"])
    kept = load_incidents(data, keep_columns=["ward_name"], services=SERVICES).incidents
    assert set(kept["ward_name"]) == set(SERVICES)


def test_data_quality_says_which_service_list_was_kept(tmp_path, export_with_places):
    from sgreview.pipeline.quality import data_quality

    services = _services_file(tmp_path)
    shown = data_quality(export_with_places, tmp_path / "run", services_path=services)
    assert "The names of the 2 services listed in *services.yaml*" in shown.summary
    assert "services listed" not in data_quality(export_with_places, tmp_path / "run2").summary


def test_a_single_notebook_run_checks_the_service_list_before_its_kernel_starts(tmp_path, export_with_places):
    from sgreview.params import load_parameter_files, validate_for_notebook

    _services_file(tmp_path, "- Cedar Lodge\n- [Amara Ward\n")
    overrides = {"data_path": str(export_with_places), "services_path": str(tmp_path / "services.yaml"),
                 "output_dir": str(tmp_path / "out")}
    params = load_parameter_files([], overrides)
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "01_data_quality.ipynb"
    with pytest.raises(ParameterError, match="parameter 'services_path': service names: not valid YAML"):
        validate_for_notebook(notebook, params)
