"""Parameters are layered, typed and checked before any kernel starts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nbformat
import pytest
import yaml

from sgreview.errors import InputError, ParameterError
from sgreview.params import (
    VOCABULARY,
    NotebookParameters,
    ReviewConfig,
    declared_parameters,
    load_parameter_files,
    load_review_config,
    validate_for_notebook,
)

REPO = Path(__file__).resolve().parents[1]


def make_notebook(path: Path, parameters_source: str | None) -> Path:
    cells = []
    if parameters_source is not None:
        cell = nbformat.v4.new_code_cell(parameters_source)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.append(nbformat.v4.new_code_cell("print(locality)"))
    nb = nbformat.v4.new_notebook(
        cells=cells,
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}},
    )  # fmt: skip
    nbformat.write(nb, path)
    return path


def write_yaml(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    return make_notebook(
        tmp_path / "report.ipynb",
        'review_name = "demo"\ndata_path = "x.csv"\nlocality = None\noutput_dir = "."\n'
        "seed = 42\nperiod_start = None\nperiod_end = None\nrun_length = 7\nthreshold = 0.5\n"
        'k = "auto"\nperiod = "month"',
    )


@pytest.fixture
def incidents(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "incidents.csv"
    path.parent.mkdir()
    path.write_text(
        "incident_id,Date of incident,Locality,narrative\n"
        "1,01/02/2024,North,a\n2,02/02/2024, South ,b\n3,03/02/2024,North,c\n",
        encoding="utf-8",
    )
    return path


def test_later_files_win_and_overrides_win_over_files(tmp_path: Path) -> None:
    defaults = write_yaml(tmp_path / "_defaults.yaml", {"seed": 1, "run_length": 7, "k": "auto"})
    a = write_yaml(tmp_path / "a.yaml", {"seed": 2, "locality": "North"})
    b = write_yaml(tmp_path / "b.yaml", {"seed": 3})
    merged = load_parameter_files([a, b], {"run_length": "9"}, defaults=defaults)
    assert merged == {"seed": 3, "run_length": 9, "k": "auto", "locality": "North"}
    assert merged.sources == {
        "seed": str(b), "run_length": "-p", "k": str(defaults), "locality": str(a),
    }  # fmt: skip


def test_relative_paths_resolve_against_the_yaml_files_folder(tmp_path: Path) -> None:
    f = write_yaml(tmp_path / "params" / "north.yaml", {"data_path": "../data/incidents.csv"})
    merged = load_parameter_files([f], defaults=None)
    assert merged["data_path"] == str((tmp_path / "data" / "incidents.csv").resolve())


def test_override_values_are_read_as_yaml(tmp_path: Path) -> None:
    merged = load_parameter_files(
        [], {"seed": "7", "screen_outliers": "true", "locality": "North", "k": "auto",
             "case_incident_ids": "[A1, 22]", "period_start": "2024-13-01"},
        defaults=None,
    )  # fmt: skip
    assert merged["seed"] == 7 and merged["screen_outliers"] is True
    assert merged["locality"] == "North" and merged["case_incident_ids"] == ["A1", 22]
    assert merged["period_start"] == "2024-13-01"  # not a date: left for validation to reject


def test_unknown_key_names_the_key_file_and_closest_name(tmp_path: Path, notebook: Path) -> None:
    f = write_yaml(tmp_path / "north.yaml", {"localty": "North"})
    with pytest.raises(ParameterError) as err:
        validate_for_notebook(notebook, load_parameter_files([f], defaults=None))
    assert str(err.value) == (
        f"{f}: unknown parameter 'localty' for notebook report.ipynb (did you mean 'locality'?)"
    )


def test_vocabulary_key_the_notebook_does_not_declare_is_an_error(notebook: Path) -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'case_set'"):
        validate_for_notebook(notebook, {"case_set": "x"})


def test_keys_only_from_defaults_are_dropped_when_not_declared(
    tmp_path: Path, notebook: Path
) -> None:
    defaults = write_yaml(tmp_path / "_defaults.yaml", {"case_set": None, "seed": 5})
    params = load_parameter_files([], defaults=defaults)
    assert validate_for_notebook(notebook, params) == {"seed": 5}


def test_wrong_type_names_key_and_value(tmp_path: Path, notebook: Path) -> None:
    f = write_yaml(tmp_path / "bad.yaml", {"seed": "forty"})
    with pytest.raises(ParameterError, match=r"bad.yaml: parameter 'seed': .*'forty'"):
        validate_for_notebook(notebook, load_parameter_files([f], defaults=None))
    with pytest.raises(ParameterError, match="parameter 'seed'"):
        validate_for_notebook(notebook, {"seed": True})  # a bool is not a seed


def test_non_vocabulary_parameter_is_checked_against_its_default_type(notebook: Path) -> None:
    assert validate_for_notebook(notebook, {"threshold": 2})["threshold"] == 2
    with pytest.raises(ParameterError, match="parameter 'threshold': expected float, got str"):
        validate_for_notebook(notebook, {"threshold": "high"})


def test_dates_are_parsed_and_passed_as_iso_text(notebook: Path) -> None:
    out = validate_for_notebook(
        notebook, {"period_start": dt.date(2024, 1, 1), "period_end": "2024-06-30"}
    )
    assert out == {"period_start": "2024-01-01", "period_end": "2024-06-30"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period_start": "01/02/2024"}, "expected an ISO date YYYY-MM-DD"),
        ({"period_start": "2024-13-01"}, "expected an ISO date YYYY-MM-DD"),
        ({"period_start": "2024-07-01", "period_end": "2024-06-30"}, "is after period_end"),
        ({"run_length": 0}, "parameter 'run_length': must be at least 1"),
        ({"k": "five"}, r"parameter 'k': Input should be a valid integer or 'auto' \(got 'five'\)"),
        ({"k": 1}, "parameter 'k': must be at least 2 or 'auto'"),
        ({"period": "monthly"}, "parameter 'period': Input should be 'month' or 'week'"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(notebook: Path, params, message) -> None:
    with pytest.raises(ParameterError, match=message):
        validate_for_notebook(notebook, params)


def test_missing_data_file_names_the_key(tmp_path: Path, notebook: Path) -> None:
    f = write_yaml(tmp_path / "north.yaml", {"data_path": "nowhere.csv"})
    with pytest.raises(ParameterError) as err:
        validate_for_notebook(notebook, load_parameter_files([f], defaults=None))
    assert str(err.value).startswith(f"{f}: parameter 'data_path': file not found:")


def test_missing_demo_data_from_defaults_is_left_to_the_notebook(
    tmp_path: Path, notebook: Path
) -> None:
    defaults = write_yaml(tmp_path / "_defaults.yaml", {"data_path": "demo/incidents.csv"})
    out = validate_for_notebook(notebook, load_parameter_files([], defaults=defaults))
    assert out["data_path"].endswith("demo/incidents.csv")


def test_unknown_locality_is_rejected_with_the_closest_known_name(
    notebook: Path, incidents: Path
) -> None:
    params = {"data_path": str(incidents), "columns": {}, "locality": "Nroth"}
    nb_with_columns = make_notebook(
        notebook.with_name("cols.ipynb"), 'data_path = ""\ncolumns = {}\nlocality = None'
    )
    with pytest.raises(ParameterError, match="'Nroth' does not appear .*did you mean 'North'"):
        validate_for_notebook(nb_with_columns, params | {"columns": {"locality": "Locality"}})
    ok = validate_for_notebook(nb_with_columns, params | {"columns": {"locality": "Locality"},
                                                           "locality": "south"})  # fmt: skip
    assert ok["locality"] == "south"
    # Without a map the loader's header spellings apply ("Locality" -> locality).
    with pytest.raises(ParameterError, match="'West' does not appear"):
        validate_for_notebook(nb_with_columns, params | {"locality": "West"})


def test_unwritable_output_dir_is_rejected(tmp_path: Path, notebook: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ParameterError, match="parameter 'output_dir': cannot write to"):
        validate_for_notebook(notebook, {"output_dir": str(blocker / "out")})


def test_notebook_without_parameters_cell_is_rejected(tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "plain.ipynb", None)
    with pytest.raises(ParameterError, match="no cell tagged 'parameters'"):
        validate_for_notebook(nb, {})


def test_missing_notebook_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="notebook not found"):
        validate_for_notebook(tmp_path / "nope.ipynb", {})


def test_bad_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("locality: North\nseed: [1, 2\n", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"broken.yaml: not valid YAML at line \d"):
        load_parameter_files([f], defaults=None)
    f.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="must be a YAML mapping"):
        load_parameter_files([f], defaults=None)


def test_review_config_validates_localities_and_case_sets(tmp_path: Path, incidents: Path) -> None:
    f = write_yaml(tmp_path / "review.yaml", {
        "review_name": "q1", "data_path": str(incidents), "columns": {"locality": "Locality"},
        "localities": ["North", "South"], "period_start": "2024-01-01",
        "case_sets": [{"name": "sar-1", "case_ref": "SAR/2024/01"},
                      {"name": "ids", "incident_ids": [1, "2"]}],
    })  # fmt: skip
    config = load_review_config(f, defaults=None)
    assert isinstance(config, ReviewConfig)
    assert config.period_start == dt.date(2024, 1, 1)
    assert config.case_sets[1].incident_ids == ["1", "2"]

    bad = write_yaml(tmp_path / "bad.yaml", {"data_path": str(incidents),
                                              "columns": {"locality": "Locality"},
                                              "localities": ["North", "Westt"]})  # fmt: skip
    with pytest.raises(ParameterError, match="'Westt' does not appear"):
        load_review_config(bad, defaults=None)
    two = write_yaml(tmp_path / "two.yaml", {"case_sets": [{"name": "x", "case_ref": "A",
                                                            "incident_ids": ["1"]}]})  # fmt: skip
    with pytest.raises(ParameterError, match="needs exactly one of"):
        load_review_config(two, defaults=None)
    typo = write_yaml(tmp_path / "typo.yaml", {"localites": "all"})
    with pytest.raises(ParameterError, match="did you mean 'localities'"):
        load_review_config(typo, defaults=None)


# --- the repository's own notebooks and parameter files -------------------------------------

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PARAMETER_FILES = sorted(p for p in (REPO / "parameters").rglob("*.yaml"))


def _needs(paths: list[Path], what: str) -> None:
    if not paths:
        pytest.skip(f"no {what} in the repository yet")


def test_every_notebook_declares_only_the_shared_vocabulary_with_valid_defaults() -> None:
    _needs(NOTEBOOKS, "notebooks")
    import ast

    for nb in NOTEBOOKS:
        declared = declared_parameters(nb)
        unknown = set(declared) - VOCABULARY
        assert not unknown, f"{nb.name} declares parameters outside the vocabulary: {unknown}"
        defaults = {k: ast.literal_eval(v["default"]) for k, v in declared.items()}
        NotebookParameters.model_validate(defaults)


def test_defaults_file_holds_the_whole_vocabulary_with_valid_values() -> None:
    defaults = REPO / "parameters" / "_defaults.yaml"
    if not defaults.is_file():
        pytest.skip("parameters/_defaults.yaml not written yet")
    params = load_parameter_files([], defaults=defaults)
    assert set(params) <= VOCABULARY, set(params) - VOCABULARY
    NotebookParameters.model_validate(dict(params))


def test_every_parameter_file_fits_the_notebooks_that_declare_its_keys() -> None:
    """Each key in each file is declared by some notebook, and values validate for each
    notebook that declares all of the file's notebook keys (papermill.inspect_notebook)."""
    _needs(NOTEBOOKS, "notebooks")
    _needs(PARAMETER_FILES, "parameter files")
    declared = {nb: set(declared_parameters(nb)) for nb in NOTEBOOKS}
    review_only = set(ReviewConfig.model_fields) - VOCABULARY
    for f in PARAMETER_FILES:
        if f.name == "_defaults.yaml":
            continue
        raw = load_parameter_files([f])
        own = {k for k, src in raw.sources.items() if src == str(f)}
        if own & review_only:
            load_review_config(f, check_files=False)
            continue
        fits = [nb for nb, names in declared.items() if own <= names]
        assert fits, f"{f.name}: no notebook declares all of {sorted(own)}"
        for nb in fits:
            validate_for_notebook(nb, raw, check_files=False)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"suppression_threshold": -1, "disclosure": "analyst_only"}, "must not be negative"),
        ({"suppression_threshold": 7.5}, "suppression_threshold"),
        ({"rounding_base": 2.5}, "rounding_base"),
        ({"rounding_base": 0, "disclosure": "analyst_only"}, "rounding_base': must be at least 1"),
        ({"suppression_threshold": 0}, "disclosure: analyst_only"),
        ({"suppression_threshold": 7, "rounding_base": 1}, "disclosure: analyst_only"),
    ],
)
def test_disclosure_settings_are_whole_numbers_and_never_weakened_silently(params, message) -> None:
    with pytest.raises(ParameterError, match=message):
        _validate_vocab(params)


def _validate_vocab(params: dict) -> None:
    from pydantic import ValidationError

    from sgreview.params import _raise_validation

    try:
        NotebookParameters.model_validate(params)
    except ValidationError as err:
        _raise_validation(err, params, {})


def test_weakened_disclosure_is_accepted_when_named_analyst_only() -> None:
    ok = NotebookParameters.model_validate(
        {"suppression_threshold": 0, "rounding_base": 1, "disclosure": "analyst_only"})
    assert ok.disclosure == "analyst_only"
    assert NotebookParameters().disclosure == "reviewer"


def test_parameter_reference_in_docs_is_generated_from_the_schema_and_up_to_date():
    from pathlib import Path

    from sgreview.params_reference import reference_markdown, undocumented

    assert undocumented() == [], "add a meaning to sgreview/params_reference.py MEANINGS"
    docs = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
    assert docs.read_text(encoding="utf-8") == reference_markdown() + "\n", (
        "regenerate: sgreview params --markdown > docs/parameters.md")


def test_sgreview_params_lists_every_key_with_type_default_and_meaning(capsys):
    from sgreview.cli import main
    from sgreview.params import ReviewConfig

    assert main(["params"]) == 0
    text = capsys.readouterr().out
    for key in ReviewConfig.model_fields:
        assert f"\n{key}\n" in f"\n{text}", key
    assert "type: whole number or auto; default: \"auto\"" in text
    assert "case_sets[].filter.theme" in text


def test_resources_with_a_bad_url_are_exit_2_naming_the_url(tmp_path: Path) -> None:
    from sgreview.params import load_review_config

    good = {"data_path": "x.csv", "resources": [{"title": "MCA", "url": "https://www.legislation.gov.uk/ukpga/2005/9"}]}
    cfg = load_review_config(write_yaml(tmp_path / "good.yaml", good), check_files=False)
    assert cfg.resources[0].url == "https://www.legislation.gov.uk/ukpga/2005/9"
    bad = {"data_path": "x.csv", "resources": [{"title": "MCA", "url": "legislation.gov.uk/ukpga"}]}
    with pytest.raises(ParameterError, match=r"resources.*bad URL 'legislation.gov.uk/ukpga'"):
        load_review_config(write_yaml(tmp_path / "bad.yaml", bad), check_files=False)
