"""The whole review: quality, discovery, every locality, comparison, learning, in that order.

Each stage is a batch of notebook jobs run through :func:`sgreview.runs.run_jobs` (the one
entry point the CLI, batches and tests share), and each reads the previous stage's saved
tables from the run folder. Stages run in order because they depend on each other; jobs
within a stage (one per locality, one per case set) run in parallel. A failing locality does
not stop the others; a failed discovery stops only what needs its model, and those jobs are
recorded as not run, so the summary names every gap.

Everything a user can get wrong (an unknown key, a missing file, a locality that is not in the
data, a broken per-locality parameter file) is checked before the first kernel starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sgreview.errors import ParameterError
from sgreview.pipeline.common import (
    COMPARISON_DIR,
    LEARNING_DIR,
    LOCALITIES_DIR,
    QUALITY_DIR,
    REPO_ROOT,
    THEMES_DIR,
    ensure_demo_data,
    slug,
)

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
DEMO_CONFIG = REPO_ROOT / "parameters" / "review_demo.yaml"
QUALITY_NB = "01_data_quality.ipynb"
DISCOVERY_NB = "02_theme_discovery.ipynb"
LOCALITY_NB = "03_locality_review.ipynb"
COMPARISON_NB = "04_locality_comparison.ipynb"
LEARNING_NB = "05_learning_summary.ipynb"
#: Keys only the whole-review config has; never injected into a notebook.
REVIEW_ONLY = ("localities", "case_sets")
#: Input files recorded (path, sha256, rows) in the manifest.
INPUT_KEYS = ("data_path", "denominators_path", "actions_path", "codebook_path")


@dataclass
class Stage:
    """One step of the review: its jobs, and the stages whose success it needs."""

    name: str
    jobs: list[Any]
    needs: tuple[str, ...] = ()


@dataclass
class ReviewOutcome:
    """What a review run produced; ``failures`` names every job that did not finish."""

    run_dir: Path
    results: list[Any]
    seconds: float
    manifest: Path | None = None
    index: Path | None = None
    failures: list[Any] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


def _notebook(name: str, notebook_dir: Path | None) -> Path:
    return (notebook_dir or NOTEBOOK_DIR) / name


def _job_params(
    notebook: Path, base: Mapping[str, Any], sources: Mapping[str, str], extra: Mapping[str, Any],
    extra_sources: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Keep what ``notebook`` declares, add the job's own values, and validate them.

    Review-level keys a notebook does not use are dropped (the data-quality report has no
    ``locality``); keys set for this job (``extra``, e.g. from a locality's parameter file)
    must be declared, so a typo there is an error naming that file.
    """
    from sgreview.params import LayeredParameters, declared_parameters, validate_for_notebook

    declared = declared_parameters(notebook)
    params = LayeredParameters({k: v for k, v in base.items() if k in declared})
    params.sources = {k: sources.get(k, "") for k in params}
    params.update(extra)
    for key in extra:
        params.sources[key] = (extra_sources or {}).get(key, "review")
    return validate_for_notebook(notebook, params)


def _locality_files(config_path: Path, localities: Sequence[str]) -> dict[str, Path]:
    """Per-locality parameter files ``<config folder>/localities/<slug>.yaml``, when present."""
    folder = config_path.resolve().parent / "localities"
    return {loc: folder / f"{slug(loc)}.yaml" for loc in localities if (folder / f"{slug(loc)}.yaml").is_file()}


def _read_locality_file(path: Path, locality: str) -> tuple[dict[str, Any], dict[str, str]]:
    from sgreview.params import load_parameter_files

    values = load_parameter_files([path], defaults=None)
    named = values.get("locality")
    if named not in (None, locality):
        raise ParameterError(
            f"parameter 'locality': file is for '{locality}' but says {named!r}", path=path
        )
    values.pop("locality", None)
    return dict(values), {k: str(path) for k in values}


def plan_review(
    config_path: str | Path,
    run_dir: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    notebook_dir: Path | None = None,
    localities: list[str] | None = None,
) -> tuple[list[Stage], dict[str, Any]]:
    """Validate the config and build every stage's jobs; nothing runs, nothing is written.

    ``localities`` (already resolved against the data) saves reading the data again.
    Returns the stages and the validated review parameters (JSON-safe) for the manifest.
    """
    from sgreview.params import load_review_config
    from sgreview.runs import Job

    config_path = Path(config_path)
    config = load_review_config(config_path, overrides or {})
    dumped = config.model_dump(mode="json")
    sources = {k: str(config_path) for k in dumped}
    base = {k: v for k, v in dumped.items() if k not in REVIEW_ONLY}
    base["output_dir"] = str(run_dir)
    given_model = base.get("model_dir")
    run_model = str(run_dir / THEMES_DIR / "model")

    if localities is None:
        localities = resolve_localities(config.localities, config.data_path, config.columns,
                                        source=config_path)

    def job(nb_name: str, name: str, folder: Path, extra: dict, labels: dict,
            extra_sources: dict | None = None) -> Any:
        notebook = _notebook(nb_name, notebook_dir)
        params = _job_params(notebook, base, sources, extra, extra_sources)
        return Job(notebook=notebook, parameters=params, name=name, output_dir=folder, labels=labels,
                   log_dir=run_dir / "logs")

    stages = [
        Stage("data_quality", [job(QUALITY_NB, "01_data_quality", run_dir / QUALITY_DIR, {},
                                   {"stage": "data quality", "title": "Data quality"})]),
        Stage("theme_discovery", [job(DISCOVERY_NB, "02_theme_discovery", run_dir / THEMES_DIR,
                                      {"model_dir": given_model},
                                      {"stage": "themes", "title": "Theme discovery"})]),
    ]
    per_locality = _locality_files(config_path, localities)
    locality_jobs = []
    for loc in localities:
        extra: dict[str, Any] = {"locality": loc, "model_dir": run_model}
        extra_sources: dict[str, str] = {}
        if loc in per_locality:
            values, value_sources = _read_locality_file(per_locality[loc], loc)
            extra.update(values)
            extra_sources.update(value_sources)
        locality_jobs.append(job(
            LOCALITY_NB, f"03_locality_review-{slug(loc)}", run_dir / LOCALITIES_DIR / slug(loc),
            extra, {"stage": "locality", "locality": loc, "title": f"Locality review: {loc}"},
            extra_sources,
        ))
    stages.append(Stage("localities", locality_jobs, needs=("theme_discovery",)))
    stages.append(Stage("comparison", [job(
        COMPARISON_NB, "04_locality_comparison", run_dir / COMPARISON_DIR,
        {"model_dir": run_model}, {"stage": "comparison", "title": "Comparing localities"},
    )], needs=("theme_discovery",)))
    learning_jobs = []
    for case in config.case_sets:
        extra = {
            "model_dir": run_model,
            "case_set": case.name,
            "case_ref": case.case_ref,
            "case_incident_ids": list(case.incident_ids or []),
            "case_filter": case.filter.model_dump(mode="json") if case.filter else None,
        }
        learning_jobs.append(job(
            LEARNING_NB, f"05_learning_summary-{slug(case.name)}", run_dir / LEARNING_DIR,
            extra, {"stage": "learning", "case_set": case.name,
                    "title": f"Learning summary: {case.name}"},
        ))
    stages.append(Stage("learning", learning_jobs, needs=("theme_discovery",)))
    params = dict(dumped, output_dir=str(run_dir), localities=localities, run_dir=str(run_dir))
    return stages, params


def resolve_localities(
    wanted: Sequence[str] | str, data_path: str | Path, columns: Mapping[str, str] | None,
    *, source: object = None,
) -> list[str]:
    """The localities to review, spelt as the validated data spells them.

    Reads the export through :mod:`sgreview.schema` (the notebooks do the same), so ``all``
    means every locality with at least one accepted incident, and a name given in the config
    with different case or spacing ("kingsford ") is matched to the data's "Kingsford".
    An unknown name is a :class:`ParameterError` suggesting the closest one.
    """
    from sgreview.pipeline.common import check_locality
    from sgreview.schema import load_incidents

    known = sorted(load_incidents(Path(data_path), dict(columns) if columns else None)
                   .incidents["locality"].astype(str).unique())
    if wanted == "all":
        if not known:
            raise ParameterError("no localities found in the data", path=data_path)
        return known
    folded = {" ".join(k.split()).casefold(): k for k in known}
    out = []
    for name in wanted:
        match = folded.get(" ".join(str(name).split()).casefold())
        out.append(match if match is not None else check_locality(str(name), known, source=source))
    return list(dict.fromkeys(out))


def _not_run(job: Any, reason: str) -> Any:
    """A failed result for a job that was skipped, so the manifest and ``--retry-failed`` see it."""
    from sgreview.runs import RunResult

    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return RunResult(
        name=job.name, notebook=Path(job.notebook), status="failed", ipynb=None, html=None,
        error=f"not run: {reason}", started=now, ended=now, seconds=0.0,
        parameters=dict(job.parameters), labels=dict(job.labels), attempts=0,
        output_dir=Path(job.output_dir),
    )


class ReviewInterrupted(KeyboardInterrupt):
    """Ctrl-C during a review; ``results`` covers every job (unfinished ones as failed)."""

    def __init__(self, results: list[Any]) -> None:
        super().__init__("interrupted")
        self.results = results


def run_stages(
    stages: Sequence[Stage],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    announce: Callable[[str], None] | None = None,
) -> list[Any]:
    """Run stages in order; jobs within a stage in parallel; skip what a failure blocks.

    On Ctrl-C, raises :class:`ReviewInterrupted` with every job accounted for, so the caller
    can still write the manifest and a later ``--retry-failed`` picks up the rest.
    """
    from sgreview.runs import RunInterrupted, run_jobs

    results: list[Any] = []
    failed_stages: set[str] = set()
    with _executor(stages, workers, scheduler) as executor:
        for i, stage in enumerate(stages):
            if not stage.jobs:
                continue
            blocked = [s for s in stage.needs if s in failed_stages]
            if blocked:
                reason = f"{blocked[0].replace('_', ' ')} failed"
                results.extend(_not_run(j, reason) for j in stage.jobs)
                failed_stages.add(stage.name)
                continue
            if announce:
                announce(f"stage {i + 1} of {len(stages)}, {stage.name.replace('_', ' ')}: "
                         f"{len(stage.jobs)} report(s)")
            try:
                stage_results = run_jobs(stage.jobs, executor=executor, scheduler=scheduler)
            except RunInterrupted as stop:
                results.extend(stop.results)
                results.extend(_not_run(j, "interrupted") for later in stages[i + 1:] for j in later.jobs)
                raise ReviewInterrupted(results) from None
            results.extend(stage_results)
            if any(r.status != "ok" for r in stage_results):
                failed_stages.add(stage.name)
    return results


@contextlib.contextmanager
def _executor(stages: Sequence[Stage], workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """One pool (or one Dask client) for the whole review.

    Starting a fresh process pool per stage costs a few seconds each time (spawned workers
    import papermill and nbclient again); one pool shared by the five stages does not.
    """
    from sgreview.runs import local_executor

    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as err:
            raise ParameterError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    widest = max((len(s.jobs) for s in stages), default=1)
    pool = local_executor(max(1, min(workers or os.cpu_count() or 1, widest)))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        raise
    else:
        pool.shutdown(wait=True)


def _reconciliation(run_dir: Path) -> dict | None:
    path = run_dir / QUALITY_DIR / "reconciliation.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def run_review(
    config_path: str | Path,
    *,
    out: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    notebook_dir: Path | None = None,
    announce: Callable[[str], None] | None = None,
    command: Sequence[str] | None = None,
) -> ReviewOutcome:
    """Validate, plan and run a whole review into ``<out>/<review_name>/<run-id>/``.

    ``out`` defaults to the repository's ``outputs/`` folder. The run folder is created
    only after every parameter has been validated, so bad input leaves nothing behind.
    """
    from sgreview.params import load_review_config
    from sgreview.runs import new_run_dir

    started = dt.datetime.now(dt.UTC)
    _ensure_demo_input(Path(config_path), overrides or {})
    config = load_review_config(Path(config_path), overrides or {})
    base = Path(out).expanduser().resolve() if out else REPO_ROOT / "outputs"
    localities = resolve_localities(config.localities, config.data_path, config.columns,
                                    source=config_path)
    # Validate everything against a placeholder run folder before creating the real one.
    plan_review(config_path, base / config.review_name / "_pending", overrides=overrides,
                notebook_dir=notebook_dir, localities=localities)
    run_dir = new_run_dir(base, config.review_name)
    stages, params = plan_review(config_path, run_dir, overrides=overrides,
                                 notebook_dir=notebook_dir, localities=localities)
    try:
        results = run_stages(stages, workers=workers, scheduler=scheduler, announce=announce)
    except ReviewInterrupted as stop:
        _finish(run_dir, stop.results, params, config.seed, started, config.review_name, command)
        raise
    return _finish(run_dir, results, params, config.seed, started, config.review_name, command)


def _ensure_demo_input(config_path: Path, overrides: Mapping[str, Any]) -> None:
    """Create the demo export when the config points at it and it is missing (fresh checkout)."""
    from sgreview.params import load_parameter_files
    from sgreview.pipeline.common import DEMO_DATA

    raw = load_parameter_files([config_path], overrides)
    data = raw.get("data_path")
    if data and Path(data).resolve() == DEMO_DATA.resolve():
        ensure_demo_data(DEMO_DATA)


def _finish(run_dir: Path, results: list[Any], params: Mapping[str, Any], seed: int | None,
            started: dt.datetime, review_name: str, command: Sequence[str] | None = None) -> ReviewOutcome:
    from sgreview.report import write_index
    from sgreview.runs import write_manifest

    inputs = [Path(params[k]) for k in INPUT_KEYS if params.get(k)]
    ended = dt.datetime.now(dt.UTC)
    manifest = write_manifest(
        run_dir, inputs=inputs, parameters=params, results=results, seed=seed,
        reconciliation=_reconciliation(run_dir), started=started, ended=ended, command=command,
    )
    index = write_index(run_dir, results, title=f"sgreview review: {review_name}")
    return ReviewOutcome(
        run_dir=run_dir, results=results, seconds=(ended - started).total_seconds(),
        manifest=manifest, index=index, failures=[r for r in results if r.status != "ok"],
    )


def retry_failed(
    run_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    announce: Callable[[str], None] | None = None,
    command: Sequence[str] | None = None,
) -> ReviewOutcome:
    """Rerun only the jobs that failed (or were not run) in ``run_dir``, in stage order.

    The reruns write into the same run folder; the manifest and index are rewritten with
    the earlier successes kept and each rerun job's new result.
    """
    from sgreview.runs import failed_jobs, merge_results, read_manifest, results_from_manifest

    run_dir = Path(run_dir).expanduser().resolve()
    started = dt.datetime.now(dt.UTC)
    manifest = read_manifest(run_dir)
    previous = results_from_manifest(run_dir)
    jobs = failed_jobs(run_dir)
    stage_of = {QUALITY_NB: "data_quality", DISCOVERY_NB: "theme_discovery",
                LOCALITY_NB: "localities", COMPARISON_NB: "comparison", LEARNING_NB: "learning"}
    stages = [
        Stage(stage, [j for j in jobs if Path(j.notebook).name == nb_name],
              () if stage in ("data_quality", "theme_discovery") else ("theme_discovery",))
        for nb_name, stage in stage_of.items()
    ]
    params = manifest.get("parameters", {})
    name = params.get("review_name", run_dir.parent.name)
    try:
        rerun = run_stages(stages, workers=workers, scheduler=scheduler, announce=announce)
    except ReviewInterrupted as stop:
        _finish(run_dir, merge_results(previous, stop.results), params, params.get("seed"),
                started, name, command)
        raise
    return _finish(run_dir, merge_results(previous, rerun), params, params.get("seed"), started,
                   name, command)


def run_demo(
    out: str | Path | None = None,
    *,
    n: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    announce: Callable[[str], None] | None = None,
    command: Sequence[str] | None = None,
) -> ReviewOutcome:
    """Make the synthetic data (if missing) and run ``parameters/review_demo.yaml`` on it.

    The default size and seed use the shared demo export that the notebooks' defaults point
    at; another size or seed gets its own file beside it, so it never overwrites that one.
    """
    from sgreview.pipeline.common import DEMO_DATA, DEMO_N, DEMO_SEED, write_synthetic_export

    n = DEMO_N if n is None else n
    seed = DEMO_SEED if seed is None else seed
    if n < 1:
        raise ParameterError(f"--n must be a positive number of incidents, got {n}")
    if (n, seed) == (DEMO_N, DEMO_SEED):
        data = ensure_demo_data(DEMO_DATA)
    else:
        data = write_synthetic_export(DEMO_DATA.with_name(f"incidents_n{n}_s{seed}.csv"), n=n, seed=seed)
    overrides = {
        "data_path": str(data),
        "denominators_path": str(data.with_name(f"{data.stem}_denominators.csv")),
        "actions_path": str(data.with_name(f"{data.stem}_actions.csv")),
        "seed": seed,
        "case_sets": _demo_case_sets(data),
    }
    return run_review(DEMO_CONFIG, out=out, workers=workers, scheduler=scheduler,
                      overrides=overrides, announce=announce, command=command)


def _demo_case_sets(data: Path) -> list[dict]:
    """The demo's case sets: one per review reference the generator planted, plus the filter
    examples from ``parameters/review_demo.yaml`` (references carry the year, which depends
    on the seed, so they are read from the data rather than written in the file)."""
    import pandas as pd
    import yaml

    refs = pd.read_csv(data, usecols=["case_ref"], dtype=str)["case_ref"].dropna().str.strip()
    template = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8")).get("case_sets", [])
    by_ref = [{"name": r, "case_ref": r} for r in sorted(set(refs) - {""})]
    return by_ref + [c for c in template if "case_ref" not in c]


def summary_table(outcome: ReviewOutcome) -> str:
    """A plain-text table of every report: name, status, seconds, and the error if any."""
    rows = [("report", "status", "seconds", "detail")]
    for r in outcome.results:
        detail = "" if r.status == "ok" else " ".join(str(r.error or "").split())[:100]
        rows.append((r.name, r.status, f"{float(r.seconds or 0):.1f}", detail))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows
    ]
    ok = sum(r.status == "ok" for r in outcome.results)
    lines.append(f"{ok} of {len(outcome.results)} reports ok in {outcome.seconds:.0f} s")
    return "\n".join(lines)
