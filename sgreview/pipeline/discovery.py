"""Stage 2, theme discovery: fit the one theme model every later stage shares.

Localities are only comparable if "Theme 7" means the same thing everywhere, so discovery
fits once on the whole export (or, for a scheduled run, applies a saved model), saves it and
its editable codebook under ``themes/``, and writes the assignments every later stage reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from sgreview import views
from sgreview.io import write_csv, write_parquet
from sgreview.pipeline.common import (
    ASSIGNMENTS_PARQUET,
    THEMES_DIR,
    THEMES_PARQUET,
    copy_file,
    is_demo_location,
    load_redacted,
    model_path,
    resolve_optional,
    stage_dir,
    staged_files,
    write_figure_records,
)
from sgreview.schema import UNTHEMED_ID
from sgreview.services import read_services
from sgreview.textsafe import md

#: Stability below this is called out: the theme may not reappear on new data.
LOW_STABILITY = 0.6


@dataclass
class Discovery:
    """What the theme-discovery notebook shows (reviewer tables already suppressed)."""

    summary: str
    themes: pd.DataFrame
    evidence: pd.DataFrame
    figure: Figure
    unthemed_share: float
    model_dir: Path
    paths: dict[str, Path] = field(default_factory=dict)


def assignment_frame(assignments: pd.DataFrame) -> pd.DataFrame:
    """DESIGN.md's assignment columns first, extras after; never the narrative, never the
    person key (a pseudonym still links a person's incidents: it stays in memory)."""
    first = ["incident_id", "locality", "incident_date", "theme_id", "theme_label", "score"]
    rest = [c for c in assignments.columns if c not in first and c not in ("narrative", "person_key")]
    out = assignments[first + rest].sort_values("incident_id", kind="stable").reset_index(drop=True)
    out["incident_date"] = pd.to_datetime(out["incident_date"]).dt.strftime("%Y-%m-%d")
    return out


def theme_discovery(
    data_path: str | Path,
    output_dir: str | Path,
    *,
    columns: dict[str, str] | None = None,
    keep_columns: list[str] | None = None,
    earliest_date: str | None = "1990-01-01",
    k: int | str = "auto",
    seed: int = 42,
    codebook_path: str | Path | None = None,
    model_dir: str | Path | None = None,
    suppression_threshold: int = 7,
    rounding_base: int = 5,
    disclosure: str = "reviewer",
    services_path: str | Path | None = None,
) -> Discovery:
    """Fit themes on the redacted export and write ``themes/`` (model, codebook, tables).

    Without ``model_dir`` a model is fitted (``k``, ``seed``, seeded from ``codebook_path``
    when given). With ``model_dir`` the saved model is applied unchanged, as a scheduled run
    should: theme ids keep their meaning from run to run; ``codebook_path`` then replaces its
    codebook (analysts' renames, merges and retirements). Either way the model used is saved
    to ``<output_dir>/themes/model``, so a run folder is self-contained. ``services_path``
    names the trust's published service names, kept un-redacted (:mod:`sgreview.services`).
    """
    from sgreview.themes import (
        apply_themes,
        fit_themes,
        load_model,
        save_model,
        theme_evidence,
        themes_table,
    )

    policy = views.policy(suppression_threshold, rounding_base, disclosure)
    services = read_services(services_path)
    loaded = load_redacted(data_path, columns, keep_columns=keep_columns,
                           earliest_date=earliest_date, services=services)
    incidents = loaded.incidents
    codebook = resolve_optional(codebook_path)
    if model_dir not in (None, ""):
        model = load_model(model_path(output_dir, model_dir))
        if codebook is not None:
            _use_codebook(model, codebook)
        how = f"the saved theme model *{md(Path(model_dir).name)}* was applied (not refitted), so theme ids match earlier runs"
    else:
        model = fit_themes(incidents, k=k, seed=seed, codebook=codebook)
        how = "a new theme model was fitted"

    out = stage_dir(output_dir, THEMES_DIR)
    target = out / "model"
    save_model(model, target)
    assignments = apply_themes(model, incidents)
    evidence = theme_evidence(model, incidents, assignments, n=5, services=services)
    table = themes_table(model, assignments, evidence)
    frame = assignment_frame(assignments)
    with staged_files(out) as tmp:
        # CSV for people (formula-safe); Parquet for the later stages (values exact).
        write_csv(frame, tmp / "assignments.csv")
        write_csv(table, tmp / "themes.csv")
        write_parquet(frame.assign(incident_date=pd.to_datetime(frame["incident_date"])),
                      tmp / ASSIGNMENTS_PARQUET)
        write_parquet(table, tmp / THEMES_PARQUET)
        if (target / "codebook.yaml").exists():
            copy_file(target / "codebook.yaml", tmp / "codebook.yaml")
        paths = {p.stem: out / p.name for p in tmp.iterdir()} | {"model": target}

    unthemed = float((assignments["theme_id"] == UNTHEMED_ID).mean()) if len(assignments) else 0.0
    result = Discovery(
        summary=_summary(table, unthemed, len(incidents), how),
        themes=views.themes_overview(_with_local_note(table, assignments), len(incidents), policy),
        evidence=views.evidence_table(evidence, table, policy, services=services),
        figure=views.theme_size_figure(table, len(incidents), policy),
        unthemed_share=unthemed,
        model_dir=target,
        paths=paths,
    )
    write_figure_records(out, [result.figure])
    return result


def ensure_model(
    data_path: str | Path,
    output_dir: str | Path,
    *,
    model_dir: str | Path | None = None,
    columns: dict[str, str] | None = None,
    seed: int = 42,
) -> Path:
    """The shared model for a later stage; on the demo data only, fit it when it is missing.

    Why the demo exception: an analyst opening the locality notebook in JupyterLab should see
    it run top to bottom with its defaults. On real data a missing model means discovery has
    not run (or failed), and quietly fitting a different model would break comparability.
    """
    from sgreview.errors import ModelError

    path = model_path(output_dir, model_dir)
    assignments = Path(output_dir).expanduser().resolve() / THEMES_DIR / ASSIGNMENTS_PARQUET
    if path.exists() and assignments.exists():
        return path
    if is_demo_location(data_path) and model_dir in (None, ""):
        return theme_discovery(data_path, output_dir, columns=columns, seed=seed).model_dir
    raise ModelError(
        "no theme model or assignments for this run; run 02_theme_discovery first", path=path
    )


def _with_local_note(table: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """The themes table with ``note`` for themes that come mostly from one locality."""
    from sgreview.concentration import LOCAL_NOTE, local_concentration

    conc = local_concentration(assignments, "locality").set_index("theme_id")
    local = conc.loc[conc["local"]]
    notes = {t: f"{LOCAL_NOTE} ({r.theme_share:.0%} of its incidents from one locality)"
             for t, r in local.iterrows()}
    return table.assign(note=table["theme_id"].astype(str).map(notes).fillna(""))


def _use_codebook(model, path: Path) -> None:
    """Replace a loaded model's codebook with an analyst-edited one, checked against its ids."""
    from sgreview.themes.codebook import Codebook

    book = Codebook.load(path)
    book.check(str(path), known_ids=set(model.theme_ids_))
    model.codebook_ = book


def _summary(table: pd.DataFrame, unthemed: float, n: int, how: str) -> str:
    themed = table.loc[table["theme_id"] != UNTHEMED_ID].sort_values(
        ["size", "theme_id"], ascending=[False, True]
    )
    lines = [
        f"**Themes at a glance.** {len(themed)} themes were found in {n:,} redacted incident "
        f"descriptions ({how}); {unthemed:.0%} of incidents were too short or too unlike any theme to "
        "place, and are reported as *Unthemed* rather than forced into a theme."
    ]
    if len(themed):
        top = themed.head(3)
        names = "; ".join(f"{md(r.theme_label)} ({views.pct(r.size, n, 0)})" for r in top.itertuples())
        lines.append(f"The largest themes are {names}.")
        stable = themed["stability"].astype(float)
        weak = themed.loc[stable < LOW_STABILITY]
        if len(weak):
            lines.append(
                f"{len(weak)} theme{'s are' if len(weak) > 1 else ' is'} less stable "
                f"(reappears in under {LOW_STABILITY:.0%} of resamples), e.g. "
                f"{md(weak.iloc[0]['theme_label'])}: treat with caution."
            )
        else:
            lines.append(
                f"Every theme is stable: each reappears in at least {LOW_STABILITY:.0%} of resamples."
            )
    lines.append(
        "**What to do:** check the theme names and evidence below with the safeguarding team, "
        "and rename, merge or retire themes in `themes/codebook.yaml`; later runs keep these ids."
    )
    return "\n\n".join(lines)
