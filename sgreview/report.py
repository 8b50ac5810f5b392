"""Reviewer-facing HTML: executed notebooks with code hidden, and one index page per run.

Reviewers read HTML, often on locked-down NHS machines with no internet, so reports must be
self-contained: figures are embedded as base64 and the JupyterLab template's require.js,
MathJax, Mermaid and widget-manager CDN links are removed (``templates/report.html.j2``).
``--no-input`` alone hides code but keeps whatever a cell printed, so cells tagged
``debug`` or ``remove`` are dropped entirely. Every page carries a Content-Security-Policy
that allows no script and no remote image (:data:`sgreview.textsafe.CONTENT_SECURITY_POLICY`),
a second line of defence behind escaping data where it enters Markdown.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from sgreview.io import write_text
from sgreview.textsafe import CONTENT_SECURITY_POLICY, md


class ReportRecord(Protocol):
    """What the index needs from one report (a :class:`sgreview.runs.RunResult` has it all).

    A protocol rather than an import keeps this module below :mod:`sgreview.runs`, which
    calls :func:`export_html`: layers import downwards only.
    """

    name: str
    status: str
    error: str | None
    html: Path | None
    ipynb: Path | None
    log: Path | None
    seconds: float | None
    labels: dict
    parameters: dict

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Cells with any of these tags are removed from the HTML, input and output.
REMOVE_CELL_TAGS = frozenset({"debug", "remove", "remove_cell", "parameters", "injected-parameters"})
REMOVE_OUTPUT_TAGS = frozenset({"remove_output"})
#: Cells the runner or papermill add to mark a failure; the reviewer sees the panel instead.
ERROR_CELL_TAGS = frozenset({"sgreview-error", "papermill-error-cell-tag"})
#: Errors whose message was written for users (one line naming file, row, column).
USER_ERRORS = frozenset({"SgreviewError", "InputError", "ParameterError", "ModelError"})


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


def _heading_before(cells: list, index: int) -> str | None:
    """The last markdown heading before cell ``index``: the report section that failed."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            found = re.findall(r"^#{1,6}\s+(.+?)\s*$", cell.source, flags=re.MULTILINE)
            if found:
                return found[-1]
    return None


def failure_of(nb: Any) -> dict[str, str] | None:
    """What stopped an executed notebook, in plain words, or None if it finished.

    Looks for an error output (a cell raised) or the runner's banner (the kernel died, a
    cell timed out). A user-facing error's own message is kept (it was written to be read);
    anything else is named only by its type, since its text is for the analyst.
    """
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                ename = str(out.get("ename", "Error"))
                if ename in USER_ERRORS:
                    what = " ".join(str(out.get("evalue", "")).split())[:300]
                else:
                    what = f"an unexpected error in the analysis code ({ename})"
                return {"what": what, "section": _heading_before(nb.cells, i) or "the start"}
    for cell in nb.cells:
        if "sgreview-error" in cell.get("metadata", {}).get("tags", []):
            text = re.sub(r"<[^>]+>", "", cell.source)
            what = text.split(":", 1)[-1].strip() if ":" in text else text.strip()
            stopped = [i for i, c in enumerate(nb.cells)
                       if c.get("metadata", {}).get("papermill", {}).get("exception")]
            section = _heading_before(nb.cells, stopped[0]) if stopped else None
            return {"what": what or "the run did not finish", "section": section or "the start"}
    return None


def _failure_panel(failure: Mapping[str, str], ipynb: Path, log: Path | None) -> str:
    log_hint = f" and its log `logs/{Path(log).name}` in the run folder" if log is not None else ""
    return (
        '<div class="sgreview-failure" role="alert">\n\n'
        "## This report did not finish\n\n"
        f"**What failed:** the section *{md(failure['section'])}*: {md(failure['what'])}.\n\n"
        "**What this means:** sections before that point are complete; sections after it "
        "are empty and should not be read as \"nothing found\".\n\n"
        f"**Where to look:** the analyst notebook *{md(Path(ipynb).name)}* beside this page"
        f"{log_hint} show the full error. After fixing the cause, "
        "`sgreview review PARAMS.yaml --retry-failed RUN_DIR` reruns only what failed.\n\n"
        "</div>"
    )


def _reviewer_copy(nb: Any, ipynb: Path, log: Path | None) -> Any:
    """The notebook as a reviewer sees it: a failure becomes a plain panel, never a traceback.

    Error outputs, stderr and the runner's own banners are dropped; the analyst notebook on
    disk keeps all of them.
    """
    import copy

    import nbformat

    failure = failure_of(nb)
    if failure is None:
        return nb
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells
                if not ERROR_CELL_TAGS & set(c.get("metadata", {}).get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if o.get("output_type") != "error"
                            and not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    panel = nbformat.v4.new_markdown_cell(_failure_panel(failure, ipynb, log))
    first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    nb.cells.insert(first_md + 1, panel)  # after the title, so headings stay in order
    return nb


def export_html(
    ipynb: Path, html: Path, *, title: str | None = None, resources_dir: Path | None = None,
    log: Path | None = None,
) -> Path:
    """Render an executed notebook as offline HTML with code hidden; write it atomically.

    A failed run's HTML opens with a plain failure panel (what failed, where to look); the
    traceback stays in the analyst notebook and the ``log``. Images linked from markdown are
    embedded, resolved against ``resources_dir`` (the source notebook's folder; default: the
    executed notebook's folder).
    """
    import nbformat

    ipynb, html = Path(ipynb), Path(html)
    nb = _reviewer_copy(nbformat.read(ipynb, as_version=4), ipynb, log)
    folder = Path(resources_dir) if resources_dir is not None else ipynb.parent
    resources = {"metadata": {"name": title or ipynb.stem, "path": str(folder)},
                 "sgreview_banner": report_banner(nb),
                 "content_security_policy": CONTENT_SECURITY_POLICY}
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    return write_text(body, html)


def report_banner(nb) -> str | None:
    """The NOT FOR CIRCULATION banner when the notebook ran with a weakened disclosure policy.

    Read from the parameters papermill recorded, so a report cannot show small numbers
    without saying so on every page.
    """
    from sgreview.disclosure import banner_for

    params = dict(nb.get("metadata", {}).get("papermill", {}).get("parameters", {}) or {})
    return banner_for(params)


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


#: Index sections in review order: (stage label set by the planner, heading).
STAGES = (
    ("data quality", "Data quality"),
    ("themes", "Themes"),
    ("locality", "Localities"),
    ("comparison", "Comparing localities"),
    ("learning", "Learning summaries and briefings"),
)
#: Briefing formats a learning summary writes, as the index names them.
BRIEFING_FORMATS = (("briefing.html", "web page"), ("briefing.md", "Markdown"),
                    ("briefing.docx", "Word"))


def _existing(path: Path | None) -> Path | None:
    return path if path is not None and Path(path).exists() else None


def _briefings(r: ReportRecord, run_dir: Path) -> list[dict[str, str]]:
    """Links to a learning summary's briefing in each format that was written."""
    folder = r.labels.get("briefing_dir")
    if not folder:
        return []
    base = run_dir / folder
    return [{"href": _rel(base / name, run_dir) or "", "text": text}
            for name, text in BRIEFING_FORMATS if (base / name).is_file()]


def _row(r: ReportRecord, run_dir: Path) -> dict[str, Any]:
    html, ipynb = _existing(r.html), _existing(r.ipynb)
    log = _existing(getattr(r, "log", None))
    return {
        "name": r.name,
        "title": r.labels.get("title") or r.name,
        "status": r.status,
        "error": r.error,
        "locality": r.labels.get("locality") or r.parameters.get("locality") or "",
        "period": _period(r.labels, r.parameters),
        "seconds": f"{r.seconds:.1f} s" if r.seconds is not None else "",
        "html": _rel(html, run_dir),
        "ipynb": Path(ipynb).name if ipynb else None,
        "log": _rel(log, run_dir) if log else None,
        "briefings": _briefings(r, run_dir),
    }


def _rows_line(reconciliation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not reconciliation:
        return None
    try:
        read = int(reconciliation["rows_read"])
        accepted = int(reconciliation["rows_accepted"])
        rejected = int(reconciliation["rows_rejected"])
    except (KeyError, TypeError, ValueError):
        return None
    return {"read": f"{read:,}", "accepted": f"{accepted:,}", "rejected": rejected,
            "rejected_text": f"{rejected:,}"}


def write_index(
    run_dir: Path, results: Sequence[ReportRecord], *, title: str,
    reconciliation: Mapping[str, Any] | None = None,
    audit: Mapping[str, Any] | None = None, banner: str | None = None,
) -> Path:
    """Write ``run_dir/index.html``: every report under its stage, with plain titles.

    A reviewer opens one page instead of a folder tree: sections follow the review's order
    (data quality, themes, each locality, comparison, learning), every locality report and
    every briefing (web page, Markdown, Word) is linked, failed reports say what failed and
    where an analyst should look, and rejected rows are shown beside the report count, so
    nothing is silently missing. Reports a review did not plan (``sgreview run``/``batch``)
    are listed under "Reports". ``audit`` (the disclosure audit's summary) is shown at the
    top: clean, or how many findings (details in ``audit.json`` for analysts); ``banner``
    marks a run whose reports show small numbers.
    """
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    run_dir = Path(run_dir)
    rows = [_row(r, run_dir) for r in results]
    stage_of = [r.labels.get("stage") for r in results]
    sections = []
    for key, heading in STAGES:
        members = [row for row, st in zip(rows, stage_of, strict=True) if st == key]
        if key == "locality":
            members.sort(key=lambda row: row["locality"].casefold())
        if members:
            sections.append({"heading": heading, "rows": members, "kind": key})
    known = {k for k, _ in STAGES}
    other = [row for row, st in zip(rows, stage_of, strict=True) if st not in known]
    if other:
        sections.append({"heading": "Reports", "rows": other, "kind": "other"})
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    page = env.get_template("index.html.j2").render(
        content_security_policy=CONTENT_SECURITY_POLICY,
        title=title,
        run_id=run_dir.name,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        rows=rows,
        sections=sections,
        n_ok=sum(r["status"] == "ok" for r in rows),
        n_failed=sum(r["status"] != "ok" for r in rows),
        failed=[r["title"] for r in rows if r["status"] != "ok"],
        data=_rows_line(reconciliation),
        audit=audit,
        banner=banner,
    )
    return write_text(page, run_dir / "index.html")
