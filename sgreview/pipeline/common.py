"""Pieces every review stage shares: paths, demo data, load-and-redact, the disclosure policy.

The stage functions in this package are what the notebooks call, one line each. Keeping the
shared steps here means a number in any report can be traced to one place: the data are
always loaded through :mod:`sgreview.schema`, narratives are always redacted by
:mod:`sgreview.redact` before anything else sees them, and every stage reads the previous
stage's saved tables from the run folder rather than recomputing them differently.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import re
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sgreview.errors import InputError, ModelError, ParameterError
from sgreview.schema import EARLIEST_DATE

#: The repository root (the package's parent), so paths never depend on the working folder.
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where the demo's synthetic export lives; notebook defaults point here.
DEMO_DATA = REPO_ROOT / "outputs" / "demo" / "data" / "incidents.csv"
#: Default demo size: big enough for stable themes and funnels, small enough for a 3-minute demo.
DEMO_N = 6000
DEMO_SEED = 42

#: Stage folders inside a run directory (DESIGN.md, Outputs).
QUALITY_DIR = "data_quality"
THEMES_DIR = "themes"
LOCALITIES_DIR = "localities"
COMPARISON_DIR = "comparison"
LEARNING_DIR = "learning"

#: The stage hand-off files (Parquet keeps values exact; the CSVs beside them are for people).
ASSIGNMENTS_PARQUET = "assignments.parquet"
THEMES_PARQUET = "themes.parquet"

#: Assignment columns the later stages rely on (DESIGN.md).
ASSIGNMENT_COLUMNS = ("incident_id", "locality", "incident_date", "theme_id", "theme_label", "score")


def is_demo_location(path: str | Path) -> bool:
    """True for ``<base>/outputs/demo/data/incidents.csv``: where the demo keeps its export.

    Any base, not only this repository's: ``sgreview demo --out DIR`` and a copy of the
    notebooks in a temporary folder (the tests) keep their demo data under their own folder.
    """
    path = Path(path).expanduser().resolve()
    return path.name == DEMO_DATA.name and path.parts[-4:-1] == DEMO_DATA.parts[-4:-1]


def ensure_demo_data(path: str | Path = DEMO_DATA, *, n: int = DEMO_N, seed: int = DEMO_SEED) -> Path:
    """Return ``path``, creating the synthetic demo export there if it is a demo location.

    Why only there: a real review whose data path is wrong must stop with a clear message,
    never run on invented incidents.
    """
    path = Path(path).expanduser().resolve()
    if path.exists():
        return path
    if not is_demo_location(path):
        raise InputError("data file not found", path=path)
    return write_synthetic_export(path, n=n, seed=seed)


def write_synthetic_export(path: str | Path, *, n: int = DEMO_N, seed: int = DEMO_SEED) -> Path:
    """Generate a synthetic export with its sidecars at ``path`` (kept if it already exists).

    The export and its sidecars (actions, denominators, ground truth) are built in a temporary
    folder and moved in with the incident file last, so a reader (or a parallel kernel) never
    sees an incident file without its sidecars.
    """
    from sgreview.synth import generate, write_synth

    path = Path(path).expanduser().resolve()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".synth-") as tmp:
        main = Path(tmp) / path.name
        written = write_synth(generate(n, seed), main)
        for item in sorted(Path(p) for p in written.values()):
            if item.resolve() != main.resolve():
                item.replace(path.parent / item.name)
        main.replace(path)
    return path


def resolve_optional(path: str | Path | None) -> Path | None:
    """``None`` or an existing path; a missing file is the user's to fix, so say so."""
    if path in (None, ""):
        return None
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError("file not found", path=path)
    return path


@dataclass(frozen=True)
class LoadedData:
    """Validated, redacted incidents plus what it took to get them (for reconciliation)."""

    incidents: pd.DataFrame
    rejects: pd.DataFrame
    reconciliation: dict
    redaction_counts: dict[str, int]


def load_redacted(
    data_path: str | Path,
    columns: Mapping[str, str] | None = None,
    *,
    locality: str | None = None,
    incident_ids: Collection[str] | None = None,
    keep_columns: Collection[str] | None = None,
    earliest_date: dt.date | str | None = EARLIEST_DATE,
    services: Sequence[str] = (),
) -> LoadedData:
    """Load and validate an export, then redact narratives before anything else can see them.

    ``locality`` (or ``incident_ids``) keeps only those incidents *before* redaction, so a
    locality report never holds another locality's narratives in memory, let alone on
    screen, and a case set's briefing redacts only the case set. Only contract columns and
    ``keep_columns`` (vetted by content) are loaded; ``earliest_date`` bounds incident dates.
    ``services`` (the trust's published service names, :mod:`sgreview.services`) are kept.
    """
    from sgreview.redact import redact_incidents
    from sgreview.schema import load_incidents

    result = load_incidents(Path(data_path), dict(columns) if columns else None,
                            keep_columns=list(keep_columns or ()), earliest_date=earliest_date,
                            services=list(services))
    # Name columns are read only to redact those names from the same row's narrative.
    incidents = pd.concat([result.incidents, result.names], axis=1)
    if locality is not None:
        check_locality(locality, incidents["locality"], source=data_path)
        incidents = incidents.loc[incidents["locality"] == locality]
    if incident_ids is not None:
        incidents = incidents.loc[incidents["incident_id"].isin(list(incident_ids))]
    name_columns = list(result.names.columns)
    redacted, counts = redact_incidents(incidents, "narrative", name_columns=name_columns,
                                       services=list(services))
    return LoadedData(
        incidents=redacted.reset_index(drop=True),
        rejects=result.rejects,
        reconciliation=dict(result.reconciliation),
        redaction_counts=dict(counts),
    )


def check_locality(locality: str, localities: pd.Series | list[str], *, source: object = None) -> str:
    """Raise a :class:`ParameterError` naming the closest locality when ``locality`` is unknown."""
    known = sorted({str(x) for x in pd.Series(localities).dropna().unique()})
    if locality in known:
        return locality
    close = difflib.get_close_matches(str(locality), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(known)}"
    raise ParameterError(
        f"locality '{locality}' is not in the data{hint}",
        path=None if source is None else str(source),
        column="locality",
    )


def slug(text: str) -> str:
    """A folder-safe name for a locality or case set ("North East" -> "north-east")."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return cleaned or "unnamed"


def check_folder_names(
    names: Collection[str], what: str = "localities", slugger: Callable[[str], str] | None = None
) -> None:
    """Refuse names that would share one output folder ("North South" and "North/South").

    Run at parameter validation, before any stage runs: found later, the second report
    would overwrite the first's folder, or fail after earlier stages had already run.
    Folder names are compared without case (Windows and macOS folders ignore case).
    """
    make = slugger or slug
    folders: dict[str, list[str]] = {}
    for name in names:
        folders.setdefault(make(str(name)).casefold(), []).append(str(name))
    clashes = {f: n for f, n in folders.items() if len(n) > 1}
    if clashes:
        folder, clash = sorted(clashes.items())[0]
        listed = " and ".join(f"'{n}'" for n in clash)
        raise ParameterError(
            f"{what} {listed} would share the output folder '{folder}'; rename one in the "
            f"data (or review them in separate runs)"
            + (f"; {len(clashes) - 1} more clash(es)" if len(clashes) > 1 else ""),
            column="locality" if what == "localities" else None,
        )


def stage_dir(output_dir: str | Path, *parts: str) -> Path:
    """The stage folder under a run directory, created on demand."""
    folder = Path(output_dir).expanduser().resolve().joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def staged_files(folder: Path) -> Iterator[Path]:
    """Write a stage's files into a hidden temporary folder, then move them all into ``folder``.

    Nothing is moved if writing fails, so a crash never leaves a mixture of this run's tables
    and an earlier run's. The stage folder itself is not replaced: the runner keeps the
    executed notebook and its logs there.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tables.", suffix=".tmp", dir=folder))
    try:
        yield tmp
        for item in sorted(tmp.iterdir()):
            item.replace(folder / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_figure_records(folder: Path, figures) -> Path:
    """Save what each reviewer figure of a report was drawn from as ``<folder>/figures.json``
    (analyst audience), so ``sgreview audit`` can check no chart plots a small count."""
    from sgreview.disclosure import figure_records
    from sgreview.io import write_json

    return write_json(figure_records(list(figures)), Path(folder) / "figures.json")


def model_path(output_dir: str | Path, model_dir: str | Path | None = None) -> Path:
    """Where the shared theme model is: ``model_dir`` if given, else ``<run>/themes/model``."""
    if model_dir not in (None, ""):
        return Path(model_dir).expanduser().resolve()
    return Path(output_dir).expanduser().resolve() / THEMES_DIR / "model"


def read_assignments(output_dir: str | Path) -> pd.DataFrame:
    """Read the discovery stage's ``themes/assignments.parquet`` with the right types.

    Later stages use this saved table (not a fresh fit) so that every locality, the
    comparison and the learning summary count the same incidents under the same themes.
    It is the Parquet twin of ``assignments.csv``: values round-trip exactly, where the CSV's
    formula-neutralised cells ("'=North") would not.
    """
    path = Path(output_dir).expanduser().resolve() / THEMES_DIR / ASSIGNMENTS_PARQUET
    if not path.exists():
        raise ModelError(
            "no theme assignments in this run folder; run 02_theme_discovery first", path=path
        )
    frame = pd.read_parquet(path)
    missing = [c for c in ASSIGNMENT_COLUMNS if c not in frame]
    if missing:
        raise InputError(f"assignments lack columns {missing}", path=path)
    for col in ("incident_id", "theme_id", "locality"):
        frame[col] = frame[col].astype(str)
    frame["incident_date"] = pd.to_datetime(frame["incident_date"]).astype("datetime64[ns]")
    if "secondary_themes" in frame:
        frame["secondary_themes"] = frame["secondary_themes"].fillna("").astype(str)
    return frame


def read_themes_table(output_dir: str | Path) -> pd.DataFrame:
    """Read ``themes/themes.parquet`` written by discovery (twin of ``themes.csv``)."""
    path = Path(output_dir).expanduser().resolve() / THEMES_DIR / THEMES_PARQUET
    if not path.exists():
        raise ModelError("no themes table in this run folder; run 02_theme_discovery first", path=path)
    frame = pd.read_parquet(path)
    frame["theme_id"] = frame["theme_id"].astype(str)
    return frame


def in_window(
    frame: pd.DataFrame, period_start: str | None, period_end: str | None, column: str = "incident_date"
) -> pd.DataFrame:
    """Rows whose date lies in [period_start, period_end] (either end optional)."""
    dates = pd.to_datetime(frame[column])
    keep = pd.Series(True, index=frame.index)
    if period_start:
        keep &= dates >= pd.Timestamp(period_start)
    if period_end:
        keep &= dates <= pd.Timestamp(period_end)
    return frame.loc[keep]


def copy_file(src: Path, dst: Path) -> Path:
    """Copy a small file atomically (temp sibling + rename), with ordinary permissions."""
    from sgreview.io import write_bytes

    return write_bytes(Path(src).read_bytes(), dst)
