"""The report notebooks, executed: a whole review through ``sgreview review`` on synthetic data.

One review run (module fixture) executes every notebook with papermill through the runner,
with one locality deliberately broken (its parameter file points at a folder that is not a
theme model). The tests then read what a reviewer would read: the HTML reports.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from sgreview.pipeline.common import slug, write_synthetic_export

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
GOOD, BROKEN = "Harbourside", "Greystone"
SECTIONS = {
    "01_data_quality": ["Summary", "Every row accounted for", "Why rows were rejected",
                        "Completeness by locality", "Identifiers removed before analysis"],
    "02_theme_discovery": ["Summary", "The themes", "Evidence: what each theme looks like"],
    "03_locality_review": ["Summary", "Theme profile", "Trends", "What the incidents say", "Learning points",
                           "Learning and actions"],
    "04_locality_comparison": ["Summary", "Theme mix by group", "Funnel plots", "Organisation-wide trends"],
    "05_learning_summary": ["Summary", "7-minute briefing", "Did the learning change practice?"],
}


def _cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``sgreview`` in-process and capture what it prints."""
    from sgreview.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def review_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    data = write_synthetic_export(root / "data" / "incidents.csv", n=1500, seed=5)
    incidents = pd.read_csv(data, dtype=str)
    case_ref = sorted(incidents["case_ref"].dropna().unique())[0]
    config_dir = root / "config"
    (config_dir / "localities").mkdir(parents=True)
    broken_model = root / "not_a_model"
    broken_model.mkdir()
    (config_dir / "localities" / f"{slug(BROKEN)}.yaml").write_text(
        yaml.safe_dump({"locality": BROKEN, "model_dir": str(broken_model)}), encoding="utf-8"
    )
    config = config_dir / "review.yaml"
    config.write_text(yaml.safe_dump({
        "review_name": "nbtest",
        "data_path": str(data),
        "denominators_path": str(data.with_name("incidents_denominators.csv")),
        "actions_path": str(data.with_name("incidents_actions.csv")),
        "localities": [GOOD, BROKEN],
        "case_sets": [{"name": case_ref, "case_ref": case_ref}],
    }), encoding="utf-8")
    code, out, err = _cli(["review", str(config), "--out", str(root / "out"), "--workers", "2"])
    runs = sorted((root / "out" / "nbtest").iterdir())
    assert len(runs) == 1, (out, err)
    manifest = json.loads((runs[0] / "manifest.json").read_text(encoding="utf-8"))
    return {
        "root": root, "code": code, "out": out, "err": err, "run": runs[0], "manifest": manifest,
        "incidents": incidents, "case_ref": case_ref, "broken_model": broken_model, "data": data,
        "identifiers": pd.read_csv(data.with_name("incidents_identifiers.csv"), dtype=str),
    }


def _jobs(run) -> dict[str, dict]:
    return {j["name"]: j for j in run["manifest"]["jobs"]}


def _html(run, name: str) -> str:
    job = _jobs(run)[name]
    assert job["html"], f"{name} has no HTML report"
    return (run["run"] / job["html"]).read_text(encoding="utf-8")


def _visible_text(html: str) -> str:
    text = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text)


def _ok_reports(run) -> list[str]:
    return [n for n, j in _jobs(run).items() if j["status"] == "ok"]


def test_review_exits_1_naming_the_broken_locality_and_the_rest_complete(review_run):
    jobs = _jobs(review_run)
    broken = f"03_locality_review-{slug(BROKEN)}"
    assert review_run["code"] == 1
    assert broken in review_run["err"]
    assert jobs[broken]["status"] == "failed"
    assert [n for n, j in jobs.items() if j["status"] != "ok"] == [broken]
    expected = {"01_data_quality", "02_theme_discovery", f"03_locality_review-{slug(GOOD)}",
                "04_locality_comparison", f"05_learning_summary-{slug(review_run['case_ref'])}"}
    assert expected <= set(jobs)
    assert "report" in review_run["out"] and "failed" in review_run["out"]
    assert (review_run["run"] / "index.html").is_file()


def test_broken_locality_notebook_shows_its_error(review_run):
    job = _jobs(review_run)[f"03_locality_review-{slug(BROKEN)}"]
    nb = nbformat.read(review_run["run"] / job["ipynb"], as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "ModelError"
    assert "ModelError" in job["error"]
    html = _html(review_run, job["name"])
    text = _visible_text(html)
    # The reviewer's page says what failed, in the error's own plain words, and where to look;
    # the traceback stays in the analyst notebook.
    assert "This report did not finish" in text and job["name"] + ".ipynb" in text
    assert str(errors[0]["evalue"]).split(":")[-1].strip()[:40] in text
    assert "Traceback" not in text and "ModelError" not in text
    assert text.index("Locality review") < text.index("This report did not finish")


def test_stage_outputs_follow_the_design_layout(review_run):
    run = review_run["run"]
    rec = json.loads((run / "data_quality" / "reconciliation.json").read_text())
    assert rec["rows_read"] == rec["rows_accepted"] + rec["rows_rejected"] == 1500
    assert review_run["manifest"]["reconciliation"]["rows_read"] == 1500
    for name in ("codebook.yaml", "assignments.csv", "themes.csv", "model"):
        assert (run / "themes" / name).exists(), name
    assignments = pd.read_csv(run / "themes" / "assignments.csv", dtype=str)
    assert {"incident_id", "locality", "incident_date", "theme_id", "theme_label", "score"} <= set(assignments)
    assert "narrative" not in assignments
    for name in ("funnel.csv", "spc.csv", "theme_by_group.csv"):
        assert (run / "comparison" / name).is_file(), name
    assert (run / "localities" / slug(GOOD) / "profile.csv").is_file()
    learning = run / "learning" / review_run["case_ref"]
    assert (learning / "actions.csv").is_file() and (learning / "briefing.md").is_file()


@pytest.mark.parametrize("stem", list(SECTIONS))
def test_reports_read_as_reports(review_run, stem):
    names = [n for n in _ok_reports(review_run) if n.startswith(stem)]
    assert names, f"no successful {stem} report"
    for name in names:
        html = _html(review_run, name)
        text = _visible_text(html)
        for section in SECTIONS[stem]:
            assert section in text, f"{name}: section '{section}' missing"
        assert "data:image/png;base64" in html, f"{name}: no figure"
        assert "Traceback" not in text and not re.search(r"\b\w+Error\b", text), f"{name}: error shown"
        assert not re.search(r"\b\w*Warning\b", text), f"{name}: a warning reached the report"
        for code in ("pipeline.", "import ", "ensure_demo_data", "data_path ="):
            assert code not in text, f"{name}: code '{code}' visible"
        assert str(review_run["run"]) not in text, f"{name}: the analysts' paths cell was not removed"
        assert "at a glance" in text.split("Summary", 1)[1][:400], f"{name}: no opening summary"


def test_no_planted_identifier_reaches_any_report(review_run):
    identifiers = review_run["identifiers"]
    pages = {name: _visible_text(_html(review_run, name)) for name in _ok_reports(review_run)}
    for name, text in pages.items():
        leaked = []
        for kind, value in zip(identifiers["type"], identifiers["value"], strict=True):
            value = str(value).strip()
            if kind == "NAME":
                # Names are words: only a whole-word match is a leak.
                if len(value) > 2 and re.search(rf"(?<![\w\[]){re.escape(value)}(?!\w)", text):
                    leaked.append(value)
            elif value in text:
                leaked.append(value)
        assert not leaked, f"{name} shows identifiers: {sorted(set(leaked))[:5]}"


def test_locality_report_shows_no_other_locality(review_run):
    run, incidents = review_run["run"], review_run["incidents"]
    text = _visible_text(_html(review_run, f"03_locality_review-{slug(GOOD)}"))
    for other in incidents["locality"].unique():
        if other != GOOD:
            assert other not in text, f"{GOOD}'s report names {other}"
    assert "all other localities combined" in text.lower()
    others = set(incidents.loc[incidents["locality"] != GOOD, "incident_id"])
    quoted = set(re.findall(r"\bINC\d+\b", text))
    assert quoted, "expected quoted evidence with incident references"
    assert not quoted & others, f"evidence from other localities: {sorted(quoted & others)[:5]}"
    assert quoted <= set(incidents.loc[incidents["locality"] == GOOD, "incident_id"])
    profile = pd.read_csv(run / "localities" / slug(GOOD) / "profile.csv")
    assert (profile["events"].sum(), profile["others_n"].iloc[0]) == (
        (incidents["locality"] == GOOD).sum(), (incidents["locality"] != GOOD).sum()
    )


def test_small_counts_are_suppressed_in_the_locality_report(review_run):
    run = review_run["run"]
    html = _html(review_run, f"03_locality_review-{slug(GOOD)}")
    profile = pd.read_csv(run / "localities" / slug(GOOD) / "profile.csv")
    small = profile.loc[profile["events"].between(1, 7)]
    assert len(small), "the test data should give this locality some small themes"
    for label in small["theme_label"]:
        row = re.search(rf"<th>{re.escape(escape(str(label)))}</th>\s*<td>([^<]*)</td>", html)
        assert row, f"theme {label} missing from the profile table"
        assert row.group(1).strip() == "*", f"{label}: small count shown as {row.group(1)!r}"
    counts = re.findall(r"<th>[^<]+</th>\s*<td>([\d,]+)</td>", html)
    assert counts and all(int(c.replace(",", "")) % 5 == 0 for c in counts), counts


def test_retry_failed_reruns_only_the_broken_locality(review_run):
    shutil.rmtree(review_run["broken_model"])
    shutil.copytree(review_run["run"] / "themes" / "model", review_run["broken_model"])
    before = _jobs(review_run)
    code, out, err = _cli(["review", "--retry-failed", str(review_run["run"]), "--workers", "1"])
    assert code == 0, err
    after = {j["name"]: j for j in json.loads((review_run["run"] / "manifest.json").read_text())["jobs"]}
    assert set(after) == set(before)
    assert all(j["status"] == "ok" for j in after.values())
    unchanged = [n for n in before if n != f"03_locality_review-{slug(BROKEN)}"]
    assert all(after[n]["started"] == before[n]["started"] for n in unchanged)


def test_bad_review_input_is_one_line_and_exit_2(tmp_path, review_run):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"data_path": str(review_run["data"]), "localities": ["Atlantis"]}))
    code, out, err = _cli(["review", str(config), "--out", str(tmp_path / "out")])
    assert code == 2 and "Atlantis" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    config.write_text(yaml.safe_dump({"data_path": str(tmp_path / "missing.csv")}))
    code, out, err = _cli(["review", str(config), "--out", str(tmp_path / "out")])
    assert code == 2 and "missing.csv" in err and "data_path" in err


def test_notebooks_run_top_to_bottom_with_their_defaults_under_nbval(tmp_path):
    """What an analyst gets in JupyterLab: every notebook runs with its own defaults.

    Run on a copy in a temporary folder, so the demo data and outputs the defaults point at
    (``../outputs/demo/...``) are made there and the working tree is never written to.
    """
    copy = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, copy)
    before = sorted(p.relative_to(REPO) for p in (REPO / "outputs").rglob("*"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "notebooks"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed", result.stdout) and "failed" not in result.stdout
    assert (tmp_path / "outputs" / "demo" / "data" / "incidents.csv").is_file()
    assert sorted(p.relative_to(REPO) for p in (REPO / "outputs").rglob("*")) == before


def _reviewer_pages(run) -> dict[str, str]:
    """Every reviewer HTML page of the run: the reports, the index and the briefings."""
    pages = {name: _html(run, name) for name in _ok_reports(run)}
    pages["index.html"] = (run["run"] / "index.html").read_text(encoding="utf-8")
    for path in sorted((run["run"] / "learning").rglob("briefing.html")):
        pages[str(path.relative_to(run["run"]))] = path.read_text(encoding="utf-8")
    return pages


def test_every_reviewer_page_has_meaningful_alt_text_and_ordered_headings(review_run):
    """Accessibility of published board papers: every figure described, headings in order."""
    for name, html in _reviewer_pages(review_run).items():
        for img in re.findall(r"<img\b[^>]*>", html):
            alt = re.search(r'\balt="([^"]*)"', img)
            assert alt, f"{name}: an image has no alt attribute"
            text = alt.group(1).strip()
            assert len(text) >= 20 and "no description" not in text.lower(), f"{name}: alt {text!r}"
        levels = [int(h) for h in re.findall(r"<h([1-6])\b", html)]
        assert levels and levels[0] == 1, f"{name}: does not start with one h1 ({levels[:3]})"
        jumps = [(a, b) for a, b in zip(levels, levels[1:], strict=False) if b > a + 1]
        assert not jumps, f"{name}: heading levels skip {jumps[:3]}"


def test_reports_never_show_pandas_truncation_or_statistical_jargon(review_run):
    for name in _ok_reports(review_run):
        text = _visible_text(_html(review_run, name))
        assert not re.search(r"\d+ rows × \d+ columns", text), f"{name}: a table was cut by pandas"
        for jargon in ("Bonferroni", "SEIPS", "adjusted standardised residual"):
            assert jargon not in text, f"{name}: '{jargon}' in a reviewer report"
        assert not re.search(r"\bp = [0-9.]+e-\d+", text), f"{name}: raw p-value"
