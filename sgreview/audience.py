"""Who each file in a run folder is for: reviewers or analysts (DESIGN.md, Outputs).

A run folder mixes what reviewers may open and circulate (the code-hidden HTML reports, the
index, the briefings and the suppressed tables they cite) with what only analysts should
hold (exact tables, executed notebooks, logs, the theme model). The split is a rule on the
path, so it is visible in the layout and needs no bookkeeping while a run writes files:

* **reviewer**: ``index.html``; every ``.html`` report outside ``logs/`` and the theme
  model; ``briefing.md`` and ``briefing.docx``; anything inside a folder named ``reviewer/``
  (the suppressed tables a briefing cites);
* **analyst**: everything else (``.ipynb``, exact ``.csv``/``.parquet``/``.json`` tables,
  ``figures.json`` records, ``logs/``, ``themes/model/``, ``manifest.json``, ``audit.json``).

Reviewer files pass the disclosure gate (:mod:`sgreview.disclosure`) and are what
``sgreview audit`` checks; the manifest records the audience of every file.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

REVIEWER = "reviewer"
ANALYST = "analyst"
#: The folder that holds reviewer versions of tables (suppressed, rounded).
REVIEWER_DIR = "reviewer"
_REVIEWER_NAMES = frozenset({"index.html", "briefing.md", "briefing.docx"})
_ANALYST_FOLDERS = frozenset({"logs", "model"})


def audience_of(relative: str | PurePosixPath) -> str:
    """``reviewer`` or ``analyst`` for a path relative to the run folder."""
    path = PurePosixPath(relative)
    parts = path.parts[:-1]
    if any(p in _ANALYST_FOLDERS or p.startswith(".") for p in parts):
        return ANALYST
    if REVIEWER_DIR in parts or path.name in _REVIEWER_NAMES:
        return REVIEWER
    if path.suffix.lower() == ".html":
        return REVIEWER
    return ANALYST


def run_files(run_dir: str | Path) -> list[PurePosixPath]:
    """Every file in the run folder (relative, sorted), hidden temporary files left out."""
    run_dir = Path(run_dir)
    out = []
    for p in run_dir.rglob("*"):
        rel = PurePosixPath(p.relative_to(run_dir).as_posix())
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out.append(rel)
    return sorted(out)


def file_audiences(run_dir: str | Path, extra: tuple[str, ...] = ("manifest.json",)) -> dict[str, str]:
    """``{relative path: audience}`` for every file in the run folder (plus ``extra``,
    files about to be written, such as the manifest itself)."""
    files = {str(p): audience_of(p) for p in run_files(run_dir)}
    for name in extra:
        files.setdefault(name, audience_of(name))
    return dict(sorted(files.items()))


def reviewer_files(run_dir: str | Path) -> list[PurePosixPath]:
    """The files a reviewer may open: what the disclosure audit checks."""
    return [p for p in run_files(run_dir) if audience_of(p) == REVIEWER]
