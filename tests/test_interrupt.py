"""A review survives interruption: Ctrl-C gives exit 130 with a manifest marked interrupted,
a run killed outright (kill -9) is left recognisable as partial, no worker or kernel outlives
it, and ``--retry-failed`` completes either.

The five stage notebooks are replaced by small ones (same names, same parameters, a short
sleep) through ``notebook_dir``, so the runner's real code paths run in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from sgreview.params import NotebookParameters
from sgreview.pipeline.common import write_synthetic_export
from sgreview.pipeline.review import (
    COMPARISON_NB,
    DISCOVERY_NB,
    LEARNING_NB,
    LOCALITY_NB,
    QUALITY_NB,
    retry_failed,
)
from sgreview.runs import read_manifest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _stage_notebooks(folder: Path) -> Path:
    folder.mkdir()
    defaults = NotebookParameters().model_dump(mode="json") | {"briefing_dir": None}
    cell = "\n".join(f"{k} = {v!r}" for k, v in defaults.items())
    for name in (QUALITY_NB, DISCOVERY_NB, LOCALITY_NB, COMPARISON_NB, LEARNING_NB):
        nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}})
        nb.cells = [new_code_cell(cell,
                                  metadata={"tags": ["parameters"]}),
                    new_code_cell(f"import time\ntime.sleep({8.0 if name == LOCALITY_NB else 1.0})\n"
                                  "print('done', locality)")]
        nbformat.write(nb, folder / name)
    return folder


@pytest.fixture
def review(tmp_path):
    data = write_synthetic_export(tmp_path / "data" / "incidents.csv", n=300, seed=4)
    config = tmp_path / "review.yaml"
    config.write_text(yaml.safe_dump({
        "review_name": "stop", "data_path": str(data), "localities": ["Kingsford", "Northmoor",
                                                                       "Harbourside"],
        "case_sets": [],
    }), encoding="utf-8")
    return config, _stage_notebooks(tmp_path / "nbs"), tmp_path / "out"


def _as_from_a_terminal() -> None:
    """Ctrl-C at its default in the child, as a terminal starts a command. A test runner
    started in the background (``cmd &`` in a script) inherits SIGINT ignored, and Python
    then never raises KeyboardInterrupt, so the test would not be testing Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(config: Path, notebooks: Path, out: Path, marker: str) -> subprocess.Popen:
    code = ("import sys\nfrom pathlib import Path\nfrom sgreview.cli import main\n"
            "import sgreview.pipeline.review as r\n"
            f"r.NOTEBOOK_DIR = Path({str(notebooks)!r})\n"
            f"sys.exit(main(['review', {str(config)!r}, '--out', {str(out)!r}, '--workers', '1']))")
    env = {**os.environ, "SGREVIEW_TEST_MARKER": marker}
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, env=env,
                            preexec_fn=_as_from_a_terminal)


def _wait_for_a_running_locality(out: Path, proc: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for manifest in out.glob("stop/*/manifest.json"):
            with_status = json.loads(manifest.read_text(encoding="utf-8"))
            # data quality and discovery done: a locality report (8 s) is running now
            if with_status["status"] == "running" and with_status["counts"]["ok"] >= 2:
                return manifest.parent
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("no report finished in time")


def _processes_with(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if f"SGREVIEW_TEST_MARKER={marker}".encode() in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("how", ["ctrl-c", "kill-9"])
def test_an_interrupted_or_killed_review_is_completed_by_retry(review, how):
    config, notebooks, out = review
    marker = uuid.uuid4().hex
    proc = _start(config, notebooks, out, marker)
    run_dir = _wait_for_a_running_locality(out, proc)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole group
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert read_manifest(run_dir)["status"] == "interrupted"
    else:
        proc.kill()  # SIGKILL to the review process alone: no handler runs
        proc.communicate(timeout=60)
        manifest = read_manifest(run_dir)
        assert manifest["status"] == "running"  # recognisable as a partial run
        assert manifest["process"]["pid"] == proc.pid
        # Well before the running report's 8 s would end: the worker dies with its parent
        # (not when its notebook finishes), and its kernel follows.
        deadline = time.monotonic() + 4
        while _processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_with(marker) == [], "workers or kernels outlived the killed review"
    before = read_manifest(run_dir)
    done_before = {j["name"] for j in before["jobs"] if j["status"] == "ok"}
    assert done_before and len(done_before) < len(before["jobs"])
    kept = {name: (run_dir / j["ipynb"]).stat().st_mtime_ns
            for j in before["jobs"] if j["status"] == "ok" for name in [j["name"]]}

    outcome = retry_failed(run_dir, notebook_dir=notebooks)
    after = read_manifest(run_dir)
    assert outcome.exit_code == 0 and after["status"] == "ok"
    assert {j["name"] for j in after["jobs"]} == {j["name"] for j in before["jobs"]}
    assert all(j["status"] == "ok" for j in after["jobs"])
    # completed reports were kept, not rerun
    for job in after["jobs"]:
        if job["name"] in kept:
            assert (run_dir / job["ipynb"]).stat().st_mtime_ns == kept[job["name"]]
    assert not list(run_dir.rglob(".*.partial")) and not list(run_dir.rglob(".*.tmp"))
