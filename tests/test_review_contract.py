"""The ``sgreview review`` contract on a tiny stand-in for the five report notebooks.

The real notebooks are exercised in ``test_notebooks.py``; here each stage is a two-cell
notebook (the data-quality one runs the real stage, so rejected rows are real), which keeps
these exit-code and retry tests to seconds per review.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from sgreview.cli import main
from sgreview.pipeline.common import write_synthetic_export

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

STAGES = {
    "01_data_quality.ipynb": (
        'data_path = ""\ncolumns = {}\noutput_dir = ""\n',
        "from sgreview import pipeline\npipeline.data_quality(data_path, output_dir, columns=columns)",
    ),
    "02_theme_discovery.ipynb": (
        'output_dir = ""\nmodel_dir = None\n',
        "from pathlib import Path\nfolder = Path(output_dir) / 'themes' / 'model'\n"
        "folder.mkdir(parents=True, exist_ok=True)\n(folder / 'model.json').write_text('{}')",
    ),
    "03_locality_review.ipynb": (
        'output_dir = ""\nmodel_dir = None\nlocality = None\n',
        "from pathlib import Path\nif not (Path(model_dir) / 'model.json').exists():\n"
        "    raise ValueError('not a theme model')",
    ),
    "04_locality_comparison.ipynb": ('output_dir = ""\nmodel_dir = None\n', "pass"),
    "05_learning_summary.ipynb": (
        'output_dir = ""\nmodel_dir = None\ncase_set = None\ncase_ref = None\n'
        "case_incident_ids = []\ncase_filter = None\n",
        "pass",
    ),
}


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("notebooks")
    for name, (params, body) in STAGES.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"),
                    nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(body)]
        nbformat.write(nb, folder / name)
    return folder


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return write_synthetic_export(tmp_path_factory.mktemp("data") / "incidents.csv", n=300, seed=3)


def _review(monkeypatch, notebooks: Path, argv: list[str]) -> tuple[int, str, str]:
    import sgreview.pipeline.review as review

    monkeypatch.setattr(review, "NOTEBOOK_DIR", notebooks)
    return _cli(argv)


def _config(folder: Path, data: Path, **extra) -> Path:
    path = folder / "review.yaml"
    path.write_text(yaml.safe_dump({"review_name": "contract", "data_path": str(data)} | extra),
                    encoding="utf-8")
    return path


def test_review_exits_1_when_rows_were_rejected_and_says_so(tmp_path, monkeypatch, notebooks, export):
    frame = pd.read_csv(export, dtype=str)
    frame.loc[3, "incident_date"] = "31/02/2024"  # no such day: rejected as unparseable_date
    data = tmp_path / "with_bad_date.csv"
    frame.to_csv(data, index=False)
    locality = frame["locality"].iloc[0]
    config = _config(tmp_path, data, localities=[locality])
    code, out, err = _review(monkeypatch, notebooks,
                             ["review", str(config), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert code == 1, (out, err)
    (run,) = (tmp_path / "out" / "contract").iterdir()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert all(j["status"] == "ok" for j in manifest["jobs"])  # every report fine: the rows are not
    assert "1 row of the export rejected at validation" in out
    assert "1 row(s) rejected" in err and "rejects.csv" in err
    index = (run / "index.html").read_text(encoding="utf-8")
    assert "<strong>1 rejected</strong>" in index and f"{len(frame):,} read" in index


def test_retry_with_corrected_parameters_reruns_the_failure_and_exits_0(
    tmp_path, monkeypatch, notebooks, export
):
    names = sorted(pd.read_csv(export, dtype=str)["locality"].unique())
    good, broken = names[0], names[1]
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    (tmp_path / "localities").mkdir()
    locality_file = tmp_path / "localities" / f"{broken.lower().replace(' ', '-')}.yaml"
    locality_file.write_text(yaml.safe_dump({"locality": broken, "model_dir": str(not_a_model)}))
    config = _config(tmp_path, export, localities=[good, broken])
    argv = ["review", str(config), "--out", str(tmp_path / "out"), "--workers", "1"]
    code, out, err = _review(monkeypatch, notebooks, argv)
    assert code == 1 and "not a theme model" in err
    (run,) = (tmp_path / "out" / "contract").iterdir()
    before = {j["name"]: j for j in json.loads((run / "manifest.json").read_text())["jobs"]}

    # Without PARAMS the stored (bad) parameter is reused: still failing, still exit 1.
    code, out, err = _review(monkeypatch, notebooks, ["review", "--retry-failed", str(run)])
    assert code == 1 and "not a theme model" in err

    # The README's form: the corrected review file, then --retry-failed RUN_DIR.
    locality_file.write_text(yaml.safe_dump({"locality": broken}))
    code, out, err = _review(monkeypatch, notebooks,
                             ["review", str(config), "--retry-failed", str(run), "--workers", "1"])
    assert code == 0, (out, err)
    after = {j["name"]: j for j in json.loads((run / "manifest.json").read_text())["jobs"]}
    assert set(after) == set(before) and all(j["status"] == "ok" for j in after.values())
    rerun = [n for n in before if before[n]["status"] != "ok"]
    assert len(rerun) == 1 and broken.lower() in rerun[0]
    assert all(after[n]["started"] == before[n]["started"] for n in before if n not in rerun)


def test_retry_refuses_a_change_that_completed_reports_did_not_use(
    tmp_path, monkeypatch, notebooks, export
):
    run = tmp_path / "out" / "contract" / "run1"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"parameters": {"seed": 42, "jobs": []},
                                                   "jobs": []}))
    config = _config(tmp_path, export, seed=7)
    code, out, err = _review(monkeypatch, notebooks, ["review", str(config), "--retry-failed", str(run)])
    assert code == 2 and "seed" in err and "start a new review" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("case_set", "message"),
    [
        ({"name": "x", "filter": {"theme": "Absconding from the moon"}}, "Self-harm and ligatures"),
        ({"name": "x", "filter": {"locality": "Atlantis"}}, "is not in the data (known: "),
        ({"name": "x", "case_ref": "SAR-1999-99"}, "case_ref 'SAR-1999-99' is not in the data"),
        ({"name": "x", "incident_ids": ["NOPE1"]}, "NOPE1"),
    ],
)
def test_case_set_names_are_checked_before_any_kernel_starts(
    tmp_path, monkeypatch, notebooks, export, case_set, message
):
    config = _config(tmp_path, export, case_sets=[case_set])
    code, out, err = _review(monkeypatch, notebooks, ["review", str(config), "--out", str(tmp_path / "out")])
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was written


def test_group_by_must_name_a_column_of_the_data(tmp_path, monkeypatch, notebooks, export):
    config = _config(tmp_path, export, group_by="ward_name")
    code, out, err = _review(monkeypatch, notebooks, ["review", str(config), "--out", str(tmp_path / "out")])
    assert code == 2 and "'ward_name'" in err and "locality" in err


def test_setting_column_must_name_a_column_of_the_data(tmp_path, monkeypatch, notebooks, export):
    config = _config(tmp_path, export, setting_column="care_setting")
    code, out, err = _review(monkeypatch, notebooks, ["review", str(config), "--out", str(tmp_path / "out")])
    assert code == 2 and "parameter 'setting_column'" in err and "'care_setting'" in err
    assert "locality" in err and "service" in err  # the columns there are
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()
