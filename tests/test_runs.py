"""The notebook runner: papermill on fixture notebooks, batches, manifests, reviewer HTML."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from sgreview.cli import main
from sgreview.errors import InputError
from sgreview.runs import (
    Job,
    failed_jobs,
    new_run_dir,
    prepare_notebook,
    read_manifest,
    run_jobs,
    run_notebook,
    write_manifest,
)

pytestmark = pytest.mark.notebooks

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OK, FAIL, PRINTS = FIXTURES / "ok.ipynb", FIXTURES / "fail.ipynb", FIXTURES / "prints.ipynb"


def injected(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    return cells[0].source


def assert_offline(html: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external link"
    assert "require.js" not in html and "MathJax.js" not in html and "cdnjs" not in html


def test_run_injects_parameters_and_exports_offline_html_without_code(tmp_path: Path) -> None:
    job = Job(OK, {"locality": "North", "output_dir": str(tmp_path), "period_start": "2024-01-01"},
              "north", tmp_path, {"locality": "North"})  # fmt: skip
    omp_before = os.environ.get("OMP_NUM_THREADS")
    result = run_notebook(job, progress=False, threads=1)

    assert result.status == "ok" and result.error is None, result.error
    assert result.ipynb == tmp_path / "north.ipynb" and result.html == tmp_path / "north.html"
    assert 'locality = "North"' in injected(result.ipynb)
    summary = json.loads((tmp_path / "fixture" / "North.json").read_text())
    assert summary["period_start"] == "2024-01-01"
    assert summary["omp_num_threads"] == "1"  # one BLAS thread per parallel kernel
    assert Path(summary["cwd"]) == FIXTURES  # runs from the notebook's own folder
    assert os.environ.get("OMP_NUM_THREADS") == omp_before  # the caller's env is untouched

    html = result.html.read_text(encoding="utf-8")
    assert "Report for North" in html and "Fixture report" in html
    assert "DEBUG-ONLY-MARKER" not in html  # debug cell removed, not just its code
    assert "np.random" not in html and "import json" not in html  # code hidden
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', html)) == 1  # embedded
    assert "Traceback" not in html
    assert_offline(html)
    assert not list(tmp_path.glob(".*.partial"))  # no temporary folders left behind
    assert "Report for North" in result.log.read_text()


def test_html_drops_debug_and_remove_cells_but_keeps_printed_text(tmp_path: Path) -> None:
    result = run_notebook(Job(PRINTS, {"lines": 2}, "prints", tmp_path), progress=False)
    html = result.html.read_text(encoding="utf-8")
    assert "visible line 1" in html and "visible line 2" not in html
    assert "DEBUG-ONLY-MARKER" not in html and "REMOVE-ONLY-MARKER" not in html
    assert "DEBUG-ONLY-MARKER" in result.ipynb.read_text()  # analysts still see it
    # The markdown image beside the source notebook is embedded, not linked.
    assert re.search(r'<img [^>]*src="data:image/png;base64,', html)
    assert 'src="logo.png"' not in html


def test_failing_notebook_is_a_failed_result_with_the_error_in_notebook_and_html(
    tmp_path: Path,
) -> None:
    result = run_notebook(Job(FAIL, {"locality": "Failtown"}, "failtown", tmp_path),
                          progress=False)  # fmt: skip
    assert result.status == "failed"
    assert result.error.startswith("ValueError: planted failure for Failtown")
    nb = nbformat.read(result.ipynb, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]  # fmt: skip
    assert [e.ename for e in errors] == ["ValueError"]
    html = result.html.read_text(encoding="utf-8")
    assert "This report did not finish" in html and "failtown.ipynb" in html
    assert "An Exception was encountered" not in html and "Traceback" not in html


def test_kernel_that_dies_mid_run_is_reported(tmp_path: Path) -> None:
    result = run_notebook(Job(FAIL, {"die": True}, "dies", tmp_path), progress=False)
    assert result.status == "failed"
    assert result.error.startswith("the kernel died in cell 5 of 7")
    assert result.attempts == 1  # a cell had started: never retried
    html = result.html.read_text(encoding="utf-8")
    assert "This report did not finish" in html and "the kernel died in cell 5 of 7" in html
    nb = nbformat.read(result.ipynb, as_version=4)  # the analyst copy keeps the runner's banner
    assert "The run did not finish: the kernel died" in nb.cells[0].source


def test_cell_timeout_fails_the_job(tmp_path: Path) -> None:
    result = run_notebook(Job(FAIL, {"sleep_seconds": 30.0}, "slow", tmp_path),
                          progress=False, cell_timeout=2)  # fmt: skip
    assert result.status == "failed"
    assert "ran longer than the 2 s cell timeout" in result.error
    assert result.seconds < 25


def test_kernel_start_failure_is_retried(tmp_path: Path, monkeypatch) -> None:
    import papermill
    import zmq

    real = papermill.execute_notebook
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise zmq.error.ZMQError(98, "Address already in use")
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    result = run_notebook(Job(FAIL, {"locality": "North"}, "north", tmp_path), progress=False)
    assert result.status == "ok" and result.attempts == 2 and len(calls) == 2
    assert "kernel start failed" in result.log.read_text()


def test_kernel_that_never_starts_fails_after_retries(tmp_path: Path, monkeypatch) -> None:
    import papermill

    def broken(*args, **kwargs):
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", broken)
    monkeypatch.setattr("sgreview.runs.time.sleep", lambda s: None)
    result = run_notebook(Job(FAIL, {}, "nostart", tmp_path), progress=False, retries=2)
    assert result.status == "failed" and result.attempts == 3
    assert "Kernel died before replying" in result.error
    html = result.html.read_text(encoding="utf-8")
    assert "This report did not finish" in html and "Kernel died before replying" in html


def test_run_into_unwritable_folder_is_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write to output folder"):
        run_notebook(Job(OK, {}, "x", blocker / "out"), progress=False)


def test_prepare_only_writes_a_parameterised_unexecuted_copy(tmp_path: Path) -> None:
    out = prepare_notebook(OK, {"locality": "West"}, tmp_path / "a" / "west.ipynb")
    nb = nbformat.read(out, as_version=4)
    # One parameter cell, with the injected value merged in: the cell an analyst edits is
    # the cell that counts.
    cells = [c for c in nb.cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert len(cells) == 1 and cells[0].metadata["tags"] == ["parameters"]
    assert 'locality = "West"' in cells[0].source
    assert cells[0].source.count("locality =") == 1
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert not (tmp_path / "a" / "fixture").exists()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["west.ipynb"]  # no temp left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # shareable, like a plain open()


def test_prepare_only_never_overwrites_an_analysts_copy_without_force(tmp_path: Path, capsys) -> None:
    out = tmp_path / "west.ipynb"
    out.write_text("my edits", encoding="utf-8")
    assert main(["run", str(OK), "-p", "locality", "West", "--prepare-only", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_text() == "my edits"
    assert main(["run", str(OK), "-p", "locality", "West", "--prepare-only", "--out", str(out),
                 "--force"]) == 0  # fmt: skip
    assert 'locality = "West"' in nbformat.read(out, as_version=4).cells[1].source


def test_merged_parameter_cell_keeps_order_comments_and_adds_new_names() -> None:
    from sgreview.runs import merge_parameter_cells

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('a = 1  # first\nb = {\n    "x": 1,\n}\nc = "keep"',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('b = {"x": 2}\nd = [1, 2]', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(a)"),
    ]
    merged = merge_parameter_cells(nb)
    assert len(merged.cells) == 2
    body = merged.cells[0].source.splitlines()[1:]
    assert body == ["a = 1  # first", 'b = {"x": 2}', 'c = "keep"', "d = [1, 2]"]


def test_run_dirs_are_unique_and_sort_by_time(tmp_path: Path) -> None:
    dirs = [new_run_dir(tmp_path, "q1") for _ in range(5)]
    assert len(set(dirs)) == 5 and all(d.parent == tmp_path / "q1" for d in dirs)
    assert [d.name[:18] for d in dirs] == sorted(d.name[:18] for d in dirs)


def test_manifest_records_inputs_versions_jobs_and_reconciliation(tmp_path: Path) -> None:
    data = tmp_path / "incidents.csv"
    data.write_text('incident_id,narrative\n1,"two\nlines"\n2,b\n3,c\n', encoding="utf-8")
    (tmp_path / "data_quality").mkdir()
    (tmp_path / "data_quality" / "reconciliation.json").write_text('{"rows_read": 3}')
    result = run_notebook(Job(FAIL, {"locality": "North"}, "north", tmp_path), progress=False)
    path = write_manifest(tmp_path, inputs=[data, FAIL], parameters={"seed": 1},
                          results=[result], seed=1)  # fmt: skip
    m = json.loads(path.read_text())
    assert m["inputs"][0]["rows"] == 3 and len(m["inputs"][0]["sha256"]) == 64
    assert m["inputs"][1]["rows"] is None
    assert m["packages"]["papermill"] and m["packages"]["pandas"]
    assert m["reconciliation"] == {"rows_read": 3}
    assert m["jobs"][0]["status"] == "ok" and m["jobs"][0]["ipynb"] == "north.ipynb"
    assert m["status"] == "ok" and m["counts"] == {"jobs": 1, "ok": 1, "failed": 0}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_batch_with_a_failing_job_finishes_the_others_and_exits_1(tmp_path: Path, capsys) -> None:
    marker = _write(tmp_path / "marker", "x")
    north = _write(tmp_path / "north.yaml", "locality: North\n")
    south = _write(tmp_path / "south.yaml", f"locality: South\nfail_if_exists: {marker}\n")
    west = _write(tmp_path / "west.yaml", "locality: West\n")
    out = tmp_path / "out"
    code = main(["batch", str(FAIL), str(north), str(south), str(west), "--out", str(out),
                 "--workers", "2", "-p", "review_name", "fixture"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    assert "sgreview: failed: south: RuntimeError: marker file present" in captured.err
    assert re.search(r"^south\s+failed", captured.out, re.M)
    (run_dir,) = (out / "fixture").iterdir()
    manifest = read_manifest(run_dir)
    assert {j["name"]: j["status"] for j in manifest["jobs"]} == {
        "north": "ok", "south": "failed", "west": "ok"}  # fmt: skip
    south = (run_dir / "south.html").read_text(encoding="utf-8")
    # Reviewers get a plain panel: what failed and where to look, never the traceback.
    assert "This report did not finish" in south and "south.ipynb" in south
    assert "logs/south.log" in south and "unexpected error in the analysis code (RuntimeError)" in south
    assert "Traceback" not in south and "marker file present" not in south
    nb = nbformat.read(run_dir / "south.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in nb.cells for o in c.get("outputs", []))
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    for name in ("north", "south", "west"):
        assert f'<a href="{name}.html">{name}</a>' in index
    assert "marker file present" in index and "1 failed" in index
    assert_offline(index)

    # --retry-failed reruns only south, in place, once the cause is fixed.
    north_before = (run_dir / "north.ipynb").stat().st_mtime_ns
    marker.unlink()
    assert [j.name for j in failed_jobs(run_dir)] == ["south"]
    assert main(["batch", "--retry-failed", str(run_dir), "--workers", "1"]) == 0
    manifest = read_manifest(run_dir)
    assert {j["name"]: j["status"] for j in manifest["jobs"]} == {
        "north": "ok", "south": "ok", "west": "ok"}  # fmt: skip
    assert (run_dir / "north.ipynb").stat().st_mtime_ns == north_before
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert 'class="status failed"' not in index and index.count('class="status ok"') == 3


def test_batch_rejects_a_typo_before_any_kernel_starts(tmp_path: Path, capsys) -> None:
    good = _write(tmp_path / "north.yaml", "locality: North\n")
    typo = _write(tmp_path / "south.yaml", "localty: South\n")
    out = tmp_path / "out"
    assert main(["batch", str(FAIL), str(good), str(typo), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"sgreview: error: {typo}: unknown parameter 'localty' for notebook "
                           "fail.ipynb (did you mean 'locality'?)")  # fmt: skip
    assert not out.exists()  # nothing written


def test_batch_runs_on_a_dask_local_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    jobs = [Job(FAIL, {"locality": loc}, loc.lower(), tmp_path, {"locality": loc})
            for loc in ("North", "Failtown")]  # fmt: skip
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:  # fmt: skip
        results = run_jobs(jobs, scheduler=cluster.scheduler_address, progress=False)
    assert [(r.name, r.status) for r in results] == [("north", "ok"), ("failtown", "failed")]
    assert "planted failure" in results[1].error
    assert (tmp_path / "failtown.ipynb").exists() and (tmp_path / "north.html").exists()


def test_cli_run_writes_report_manifest_and_index(tmp_path: Path, capsys) -> None:
    params = _write(tmp_path / "north.yaml", "locality: North\nperiod_start: 2024-01-01\n")
    code = main(["run", str(OK), "-f", str(params), "-p", "review_name", "fix",
                 "--out", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (run_dir,) = (tmp_path / "out" / "fix").iterdir()
    assert {p.name for p in run_dir.iterdir()} >= {"ok.ipynb", "ok.html", "manifest.json",
                                                    "index.html", "logs", "fixture"}  # fmt: skip
    # output_dir is always the run folder, so the notebook's tables land beside its report.
    assert (run_dir / "fixture" / "North.json").exists()
    index = (run_dir / "index.html").read_text()
    assert "North" in index and "2024-01-01 to" in index


def test_ctrl_c_during_a_batch_keeps_finished_work_and_exits_130(tmp_path: Path) -> None:
    files = [_write(tmp_path / f"l{i}.yaml", f"locality: L{i}\nsleep_seconds: 2.0\n")
             for i in range(4)]  # fmt: skip
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sgreview", "batch", str(FAIL), *map(str, files),
           "--out", str(out), "--workers", "1", "-p", "review_name", "stop"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_as_from_a_terminal)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("stop/*/l0.ipynb")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    (run_dir,) = (out / "stop").iterdir()
    statuses = {j["name"]: j["status"] for j in read_manifest(run_dir)["jobs"]}
    assert statuses["l0"] == "ok" and statuses["l3"] == "failed"
    assert set(statuses) == {"l0", "l1", "l2", "l3"}
    assert [j.name for j in failed_jobs(run_dir)] == [n for n, s in statuses.items() if s != "ok"]
    assert not list(run_dir.glob(".*.partial"))
    # queued jobs were cancelled, never started (a pool is only handed what it can run now)
    assert not (run_dir / "l2.ipynb").exists() and not (run_dir / "l3.ipynb").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "missing.ipynb"], "missing.ipynb: notebook not found"),
        (["run", str(OK), "-p", "period_start", "2024-02-30"], "expected an ISO date"),
        (["run", str(OK), "-p", "seed", "x"], "parameter 'seed'"),
        (["run", str(OK), "--prepare-only"], "--prepare-only needs --out FILE.ipynb"),
        (["batch", str(FAIL)], "batch needs NOTEBOOK and at least one PARAMS.yaml"),
        (["batch", "--retry-failed", "."], "no manifest.json: not a run folder"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "outputs").exists()


def test_cli_unwritable_output_folder_is_exit_2(tmp_path: Path, capsys) -> None:
    blocker = _write(tmp_path / "blocker", "x")
    assert main(["run", str(OK), "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sgreview: error: ") and "cannot create the output folder" in err


def test_index_lists_reports_in_order_and_escapes_text(tmp_path: Path) -> None:
    from sgreview.report import write_index
    from sgreview.runs import RunResult

    (tmp_path / "localities" / "north").mkdir(parents=True)
    report = _write(tmp_path / "localities" / "north" / "north.html", "<html></html>")

    def result(name, status, html=None, error=None, **labels):
        return RunResult(name=name, notebook=OK, status=status, ipynb=None, html=html,
                         error=error, started="", ended="", seconds=1.5,
                         parameters={"period_start": "2024-01-01", "period_end": "2024-03-31"},
                         labels=labels)  # fmt: skip

    index = write_index(tmp_path, [
        result("01_data_quality", "ok"),
        result("north", "ok", html=report, locality="North"),
        result("evil", "failed", error="ValueError: <script>alert(1)</script>",
               locality="<b>Sea</b>"),
    ], title="Q1 <review>")  # fmt: skip
    page = index.read_text(encoding="utf-8")
    table = page[page.index("<tbody>"):]
    assert table.index("01_data_quality") < table.index(">north<") < table.index("evil")
    assert '<a href="localities/north/north.html">north</a>' in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Sea&lt;/b&gt;" in page and "Q1 &lt;review&gt;" in page
    assert "2024-01-01 to 2024-03-31" in page and "1.5 s" in page
    assert "2 of 3 reports completed" in page and "1 failed</strong>: evil" in page


def test_index_groups_reports_by_stage_with_plain_titles_and_links_every_briefing(tmp_path: Path) -> None:
    from sgreview.report import write_index
    from sgreview.runs import RunResult

    briefing = tmp_path / "learning" / "SAR-1"
    briefing.mkdir(parents=True)
    for name in ("briefing.html", "briefing.md", "briefing.docx"):
        _write(briefing / name, "x")
    reports = {}
    for rel in ("data_quality/01.html", "localities/b/03-b.html", "localities/a/03-a.html",
                "learning/05-sar.html"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        reports[rel] = _write(tmp_path / rel, "<html></html>")

    def result(name, html, **labels):
        return RunResult(name=name, notebook=OK, status="ok", ipynb=None, html=reports.get(html),
                         error=None, started="", ended="", seconds=1.0, parameters={},
                         labels=labels)  # fmt: skip

    page = write_index(tmp_path, [
        result("05_learning_summary-sar-1", "learning/05-sar.html", stage="learning",
               title="Learning summary: SAR-1", briefing_dir="learning/SAR-1"),
        result("03_locality_review-b", "localities/b/03-b.html", stage="locality", locality="Bexley",
               title="Locality review: Bexley"),
        result("01_data_quality", "data_quality/01.html", stage="data quality", title="Data quality"),
        result("03_locality_review-a", "localities/a/03-a.html", stage="locality", locality="Acton",
               title="Locality review: Acton"),
    ], title="Review: q1", reconciliation={"rows_read": 10, "rows_accepted": 10,
                                           "rows_rejected": 0}).read_text(encoding="utf-8")
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert headings == ["Data quality", "Localities (2)", "Learning summaries and briefings"]
    assert "03_locality_review" not in page  # plain titles, not file names
    assert page.index(">Locality review: Acton<") < page.index(">Locality review: Bexley<")
    for name, text in (("briefing.html", "web page"), ("briefing.md", "Markdown"),
                       ("briefing.docx", "Word")):
        assert f'<a href="learning/SAR-1/{name}">{text}</a>' in page
    assert "10 read, 10 accepted, none rejected" in page


def test_prepare_only_never_overwrites_its_notebook_even_with_force(tmp_path: Path, capsys) -> None:
    notebook = tmp_path / "ok.ipynb"
    notebook.write_bytes(OK.read_bytes())
    before = notebook.read_bytes()
    assert main(["run", str(notebook), "--prepare-only", "--out", str(notebook), "--force"]) == 2
    assert "would overwrite the input file" in capsys.readouterr().err
    assert notebook.read_bytes() == before


def _as_from_a_terminal() -> None:
    """Ctrl-C at its default in the child, as a terminal starts a command. A test runner
    started in the background (``cmd &`` in a script) inherits SIGINT ignored, and Python
    then never raises KeyboardInterrupt, so the test would not be testing Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
