"""Reviewer-facing HTML: executed notebooks with code hidden, and one index page per run.

Reviewers read HTML, often on locked-down NHS machines with no internet, so reports must be
self-contained: figures are embedded as base64 and the JupyterLab template's require.js,
MathJax, Mermaid and widget-manager CDN links are removed (``templates/report.html.j2``).
``--no-input`` alone hides code but keeps whatever a cell printed, so cells tagged
``debug`` or ``remove`` are dropped entirely.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sgreview.io import write_text

if TYPE_CHECKING:
    from sgreview.runs import RunResult

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Cells with any of these tags are removed from the HTML, input and output.
REMOVE_CELL_TAGS = frozenset({"debug", "remove", "remove_cell", "parameters", "injected-parameters"})
REMOVE_OUTPUT_TAGS = frozenset({"remove_output"})


def _exporter():
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(TEMPLATES)],
        template_file="report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        anchor_link_text="",
    )
    tags = TagRemovePreprocessor(
        remove_cell_tags=set(REMOVE_CELL_TAGS),
        remove_all_outputs_tags=set(REMOVE_OUTPUT_TAGS),
        enabled=True,
    )
    exporter.register_preprocessor(tags, enabled=True)
    return exporter


def export_html(
    ipynb: Path, html: Path, *, title: str | None = None, resources_dir: Path | None = None
) -> Path:
    """Render an executed notebook as offline HTML with code hidden; write it atomically.

    The notebook's error markers stay visible, so a failed run's HTML shows what went wrong.
    Images linked from markdown are embedded, resolved against ``resources_dir`` (the source
    notebook's folder; default: the executed notebook's folder).
    """
    import nbformat

    ipynb, html = Path(ipynb), Path(html)
    nb = nbformat.read(ipynb, as_version=4)
    folder = Path(resources_dir) if resources_dir is not None else ipynb.parent
    resources = {"metadata": {"name": title or ipynb.stem, "path": str(folder)}}
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    return write_text(body, html)


def _rel(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()
    except ValueError:  # different drive on Windows
        return Path(path).resolve().as_uri()


def _period(labels: dict, params: dict) -> str:
    if labels.get("period"):
        return str(labels["period"])
    start, end = params.get("period_start"), params.get("period_end")
    if start or end:
        return f"{start or '…'} to {end or '…'}"
    return "all dates"


def write_index(run_dir: Path, results: Sequence[RunResult], *, title: str) -> Path:
    """Write ``run_dir/index.html``: one row per report with status, locality, period, links.

    A reviewer opens one page instead of a folder tree; failed reports are listed with their
    error so nothing is silently missing.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    run_dir = Path(run_dir)
    rows = []
    for r in results:
        html = r.html if r.html is not None and Path(r.html).exists() else None
        ipynb = r.ipynb if r.ipynb is not None and Path(r.ipynb).exists() else None
        rows.append(
            {
                "name": r.name,
                "status": r.status,
                "error": r.error,
                "locality": r.labels.get("locality") or r.parameters.get("locality") or "all",
                "period": _period(r.labels, r.parameters),
                "seconds": f"{r.seconds:.1f} s" if r.seconds is not None else "",
                "html": _rel(html, run_dir),
                "ipynb": _rel(ipynb, run_dir),
            }
        )
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    page = env.get_template("index.html.j2").render(
        title=title,
        run_id=run_dir.name,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        rows=rows,
        n_ok=sum(r["status"] == "ok" for r in rows),
        n_failed=sum(r["status"] != "ok" for r in rows),
        failed=[r["name"] for r in rows if r["status"] != "ok"],
    )
    return write_text(page, run_dir / "index.html")
