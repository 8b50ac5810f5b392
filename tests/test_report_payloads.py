"""Hostile strings from data and codebooks never become live markup in reviewer HTML.

A payload corpus (script, event handlers, ``javascript:`` URLs, Markdown links and images,
SVG, CSS, iframes) is planted in locality names, theme labels (through the codebook), a
failure message and index rows. The real stage functions build the report text, the real
exporter writes the HTML, and headless Chromium loads each page: its DOM after scripts would
have run must hold no element or attribute that came from data. Skips cleanly when Chromium
is not installed (CI installs it; see ``.ci/run``).
"""

from __future__ import annotations

import html.parser
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from sgreview.report import export_html, write_index
from sgreview.runs import RunResult

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)

#: Every payload tries to set data-pwned on <body> (proof that script ran) or to load a
#: remote resource from tracker.example (proof of a live link or image).
PWN = "document.body.setAttribute('data-pwned','1')"
PAYLOADS = [
    f"<img src=x onerror=\"{PWN}\">",
    f"<script>{PWN}</script>",
    f"<svg onload=\"{PWN}\"><circle r=5></svg>",
    f"<a href=\"javascript:{PWN}\">go</a>",
    f"[click](javascript:{PWN})",
    "![pixel](http://tracker.example/p.png)",
    "<http://tracker.example/auto>",
    "<style>body{visibility:hidden;color:#c0ffee}</style>",
    "<iframe src=\"http://tracker.example/f\"></iframe>",
    "<div style=\"background:url(http://tracker.example/c.png)\">css</div>",
    "**bold** `code` $x$",
]


class _Dom(html.parser.HTMLParser):
    """Every element with its attributes, and the text of style elements."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def live_markup(dom_html: str) -> list[str]:
    """What in a rendered DOM came alive from data: handlers, scripts, remote loads."""
    dom = _Dom()
    dom.feed(dom_html)
    found = []
    for tag, attrs in dom.elements:
        if tag in {"script", "iframe", "svg", "object", "embed"}:
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            low = value.strip().lower()
            if name.startswith("on"):
                found.append(f"{tag} {name}=")
            if name in {"href", "src", "action", "formaction"} and low.startswith(("javascript:", "http:", "https:", "//")):
                found.append(f"{tag} {name}={value}")
            if name == "style" and "url(" in low:
                found.append(f"{tag} style url()")
            if name == "data-pwned":
                found.append("script ran (data-pwned)")
    found += ["style from data" for s in dom.styles if "c0ffee" in s]
    return found


def dump_dom(page: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={profile}", "--virtual-time-budget=2000", "--dump-dom",
             page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_live_markup_finder_sees_an_unescaped_payload(tmp_path):
    """The check can fail: a page that embeds the payloads raw is caught."""
    page = tmp_path / "raw.html"
    page.write_text("<html><body>" + " ".join(PAYLOADS) + "</body></html>", encoding="utf-8")
    found = live_markup(page.read_text(encoding="utf-8"))
    assert "<script>" in found and any("onerror" in f for f in found)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A small export whose localities are payloads, run through the real stage functions,
    then relabelled with payload theme labels through an edited codebook."""
    from sgreview.pipeline import common
    from sgreview.pipeline.comparison import locality_comparison
    from sgreview.pipeline.discovery import theme_discovery
    from sgreview.pipeline.locality import locality_review
    from sgreview.pipeline.quality import data_quality
    from sgreview.themes.codebook import Codebook

    folder = tmp_path_factory.mktemp("hostile")
    export = common.write_synthetic_export(folder / "clean.csv", n=500, seed=3)
    frame = pd.read_csv(export, dtype=str, keep_default_na=False)
    names = sorted(frame["locality"].unique())
    hostile = {names[0]: PAYLOADS[0], names[1]: PAYLOADS[4], names[2]: PAYLOADS[5]}
    frame["locality"] = frame["locality"].replace(hostile)
    data = folder / "hostile.csv"
    frame.to_csv(data, index=False)
    run = folder / "run"
    theme_discovery(data, run, k=6, seed=1)
    book_path = run / "themes" / "model" / "codebook.yaml"
    book = Codebook.load(book_path)
    for entry, payload in zip(book.themes, PAYLOADS * 2, strict=False):
        entry.label = payload
    edited = folder / "codebook.yaml"
    book.save(edited)
    model = folder / "model"
    shutil.copytree(run / "themes" / "model", model)
    parts = {
        "quality": data_quality(data, run),
        "discovery": theme_discovery(data, run, model_dir=model, codebook_path=edited),
        "comparison": locality_comparison(data, run),
    }
    parts |= {f"locality{i}": locality_review(data, run, name) for i, name in enumerate(hostile.values())}
    return run, parts, list(hostile.values())


def _notebook_of(parts: dict) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells.append(new_markdown_cell("# Report"))
    count = 0
    for part in parts.values():
        for name in ("title", "summary"):
            if isinstance(getattr(part, name, None), str):
                count += 1
                cell = new_code_cell("x")
                cell.outputs = [new_output("execute_result", execution_count=count,
                                           data={"text/markdown": getattr(part, name), "text/plain": ""})]
                nb.cells.append(cell)
        for value in vars(part).values():
            if isinstance(value, pd.DataFrame):
                count += 1
                cell = new_code_cell("x")
                cell.outputs = [new_output("execute_result", execution_count=count,
                                           data={"text/html": value._repr_html_(), "text/plain": ""})]
                nb.cells.append(cell)
    return nb


def test_stage_text_carries_the_payloads_as_text(hostile_run):
    _, parts, localities = hostile_run
    text = " ".join(str(p.summary) for p in parts.values())
    assert "onerror" in text and "tracker.example" in text  # the payloads are there, as text


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_no_live_markup_in_reports_and_index_in_a_real_browser(hostile_run, tmp_path):
    run, parts, localities = hostile_run
    ipynb = tmp_path / "report.ipynb"
    nbformat.write(_notebook_of(parts), ipynb)
    report = export_html(ipynb, tmp_path / "report.html", title=localities[0])
    assert 'http-equiv="Content-Security-Policy"' in report.read_text(encoding="utf-8")

    failed_nb = _notebook_of({})
    failed_nb.cells.append(new_markdown_cell("## Trends"))
    bad = new_code_cell("x", metadata={"tags": []})
    bad.outputs = [new_output("error", ename="ParameterError", evalue=f"locality '{PAYLOADS[0]}' is not in the data",
                              traceback=[])]
    bad.metadata["papermill"] = {"exception": True}
    failed_nb.cells.append(bad)
    failed_ipynb = tmp_path / "failed.ipynb"
    nbformat.write(failed_nb, failed_ipynb)
    failed = export_html(failed_ipynb, tmp_path / "failed.html", title=PAYLOADS[2])

    results = [
        RunResult(name=p, notebook=ipynb, status="failed" if i % 2 else "ok", ipynb=ipynb,
                  html=report, error=PAYLOADS[(i + 3) % len(PAYLOADS)], started="", ended="",
                  seconds=1.0, parameters={"locality": p},
                  labels={"stage": "locality", "locality": p, "title": f"Locality review: {p}"})
        for i, p in enumerate(PAYLOADS)
    ]
    index = write_index(tmp_path, results, title=PAYLOADS[1])

    for page in (report, failed, index):
        dom = dump_dom(page)
        assert "tracker.example" in dom or page == failed  # the payload text is shown ...
        assert live_markup(dom) == [], page.name  # ... and nothing in it is alive
        assert 'data-pwned="1"' not in dom
