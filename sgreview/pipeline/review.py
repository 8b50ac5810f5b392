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
    check_folder_names,
    ensure_demo_data,
    slug,
)
from sgreview.schema import EARLIEST_DATE
from sgreview.services import read_services

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
INPUT_KEYS = ("data_path", "denominators_path", "actions_path", "codebook_path", "services_path")


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
    #: Rows of the export that validation rejected (``data_quality/rejects.csv``).
    rows_rejected: int = 0
    #: ``sgreview audit`` findings ("file: rule: detail"); any makes the run exit 1.
    audit_findings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when a report failed, rows were rejected (as ``sgreview validate`` does) or the
        disclosure audit found something."""
        return 1 if self.failures or self.rows_rejected or self.audit_findings else 0


@dataclass(frozen=True)
class DataFacts:
    """What the export holds, read once before any kernel starts, to check names against."""

    localities: list[str]
    columns: frozenset[str]
    incident_ids: frozenset[str]
    case_refs: frozenset[str]


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


def read_data_facts(
    data_path: str | Path, columns: Mapping[str, str] | None, *,
    keep_columns: Sequence[str] = (), earliest_date: Any = EARLIEST_DATE,
    services: Sequence[str] = (),
) -> DataFacts:
    """Localities, columns, incident ids and case references of the validated export.

    Read through :mod:`sgreview.schema` as the notebooks read it (``services`` included, so
    a kept ward column of listed services is judged as they will judge it), so a name is
    checked against exactly what the reports will see (rejected rows are not there).
    """
    from sgreview.schema import load_incidents

    incidents = load_incidents(Path(data_path), dict(columns) if columns else None,
                               keep_columns=list(keep_columns), earliest_date=earliest_date,
                               services=list(services)).incidents
    refs = (incidents["case_ref"].dropna().astype(str).str.strip()
            if "case_ref" in incidents.columns else [])
    return DataFacts(
        localities=sorted(incidents["locality"].astype(str).unique()),
        columns=frozenset(map(str, incidents.columns)),
        incident_ids=frozenset(incidents["incident_id"].astype(str).str.strip()),
        case_refs=frozenset(r for r in refs if r),
    )


def _listing(names: Sequence[str], limit: int = 15) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def known_theme_names(config: Any) -> dict[str, str]:
    """Names a case-set ``theme`` filter may use before the model exists, folded -> as shown.

    A theme id (``T03``) is always accepted (the model decides later whether it exists);
    names come from the built-in taxonomy (keys and display names) and, when the review
    reuses a saved model or codebook, that codebook's labels.
    """
    from sgreview.themes.labels import load_taxonomy

    names: dict[str, str] = {}
    for entry in load_taxonomy().get("incident_themes", []):
        for value in (entry.get("key"), entry.get("name")):
            if value:
                names[_fold_theme(value)] = str(value)
    books = [Path(config.codebook_path)] if config.codebook_path else []
    if config.model_dir:
        books.append(Path(config.model_dir) / "codebook.yaml")
    for book in books:
        if book.is_file():
            from sgreview.themes.codebook import Codebook

            with contextlib.suppress(Exception):
                for entry in Codebook.load(book).themes:
                    names[_fold_theme(entry.label)] = entry.label
    return names


def _fold_theme(name: str) -> str:
    return " ".join(str(name).replace("_", " ").replace("-", " ").split()).casefold()


def check_case_sets(config: Any, facts: DataFacts, source: object) -> None:
    """Every case set must be able to match something, checked before any kernel starts.

    Incident ids and case references are checked against the validated export; a filter's
    localities against its localities, and its themes against the names a theme can have
    (see :func:`known_theme_names`). Each error lists the valid names.
    """
    import re

    themes = None
    for case in config.case_sets:
        where = f"case set '{case.name}'"
        if case.incident_ids is not None:
            missing = sorted(set(map(str.strip, case.incident_ids)) - facts.incident_ids)
            if missing:
                raise ParameterError(
                    f"{where}: {len(missing)} incident id(s) are not among the accepted rows "
                    f"(rejected at validation or mistyped): {_listing(missing, 5)}", path=source)
        if case.case_ref is not None and case.case_ref.strip().casefold() not in {
                r.casefold() for r in facts.case_refs}:
            known = sorted(facts.case_refs)
            hint = f"known: {_listing(known)}" if known else "the data has no case references"
            raise ParameterError(f"{where}: case_ref {case.case_ref!r} is not in the data ({hint})",
                                 path=source)
        if case.filter is None:
            continue
        if case.filter.locality is not None:
            folded = {_fold_theme(k) for k in facts.localities}
            if _fold_theme(case.filter.locality) not in folded:
                raise ParameterError(
                    f"{where}: filter locality {case.filter.locality!r} is not in the data "
                    f"(known: {_listing(facts.localities)})", path=source)
        if case.filter.theme is not None:
            if re.fullmatch(r"\s*T\d{2,}\s*", case.filter.theme):
                continue
            themes = themes if themes is not None else known_theme_names(config)
            if _fold_theme(case.filter.theme) not in themes:
                raise ParameterError(
                    f"{where}: filter theme {case.filter.theme!r} is not a theme name; use a "
                    f"theme id (T01...) or one of: {_listing(sorted(set(themes.values())), 40)}",
                    path=source)


def check_columns(config: Any, facts: DataFacts, source: object) -> None:
    """``group_by`` and ``setting_column`` name columns: each must be one the export has
    (after the column map), checked before any notebook starts."""
    for key in ("group_by", "setting_column"):
        name = getattr(config, key, None)
        if name is not None and name not in facts.columns:
            raise ParameterError(
                f"parameter '{key}': no column {name!r} in the data "
                f"(columns: {_listing(sorted(facts.columns), 30)}; a column outside the data "
                "contract must also be listed in keep_columns)", path=source)


def plan_review(
    config_path: str | Path,
    run_dir: Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    notebook_dir: Path | None = None,
    localities: list[str] | None = None,
    facts: DataFacts | None = None,
) -> tuple[list[Stage], dict[str, Any]]:
    """Validate the config and build every stage's jobs; nothing runs, nothing is written.

    ``facts`` (the export read once by :func:`read_data_facts`) saves reading the data
    again; ``localities`` (already resolved against the data) likewise. Every name a
    parameter gives (localities, case-set ids, references, filter localities and themes,
    ``group_by``) is checked here. Returns the stages and the validated review parameters
    (JSON-safe) for the manifest.
    """
    from sgreview.learning import slug as case_slug
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

    if facts is None:
        facts = read_data_facts(config.data_path, config.columns,
                                keep_columns=config.keep_columns, earliest_date=config.earliest_date,
                                services=read_services(config.services_path))
    if localities is None:
        localities = resolve_localities(config.localities, config.data_path, config.columns,
                                        source=config_path, known=facts.localities)
    check_columns(config, facts, config_path)
    check_case_sets(config, facts, config_path)
    check_folder_names([case.name for case in config.case_sets], "case sets", case_slug)

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
                    "title": f"Learning summary: {case.name}",
                    "briefing_dir": f"{LEARNING_DIR}/{case_slug(case.name)}"},
        ))
    stages.append(Stage("learning", learning_jobs, needs=("theme_discovery",)))
    params = dict(dumped, output_dir=str(run_dir), localities=localities, run_dir=str(run_dir))
    return stages, params


def resolve_localities(
    wanted: Sequence[str] | str, data_path: str | Path, columns: Mapping[str, str] | None,
    *, source: object = None, known: Sequence[str] | None = None,
) -> list[str]:
    """The localities to review, spelt as the validated data spells them.

    Reads the export through :mod:`sgreview.schema` (the notebooks do the same), so ``all``
    means every locality with at least one accepted incident, and a name given in the config
    with different case or spacing ("kingsford ") is matched to the data's "Kingsford".
    An unknown name is a :class:`ParameterError` suggesting the closest one.
    """
    from sgreview.pipeline.common import check_locality

    known = sorted(known) if known is not None else read_data_facts(data_path, columns).localities
    if wanted == "all":
        if not known:
            raise ParameterError("no localities found in the data", path=data_path)
        check_folder_names(known)
        return known
    folded = {" ".join(k.split()).casefold(): k for k in known}
    out = []
    for name in wanted:
        match = folded.get(" ".join(str(name).split()).casefold())
        out.append(match if match is not None else check_locality(str(name), known, source=source))
    out = list(dict.fromkeys(out))
    check_folder_names(out)
    return out


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
    on_result: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Run stages in order; jobs within a stage in parallel; skip what a failure blocks.

    ``on_result`` sees each report's result as it ends (the review rewrites its manifest).

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
                stage_results = run_jobs(stage.jobs, executor=executor, scheduler=scheduler,
                                         on_result=on_result)
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
        # Take the worker list before shutdown: shutdown sets ``_processes`` to None, and a
        # second Ctrl-C then ended in an AttributeError traceback instead of exit 130.
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
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
    facts = read_data_facts(config.data_path, config.columns,
                            keep_columns=config.keep_columns, earliest_date=config.earliest_date,
                            services=read_services(config.services_path))
    localities = resolve_localities(config.localities, config.data_path, config.columns,
                                    source=config_path, known=facts.localities)
    # Validate everything against a placeholder run folder before creating the real one.
    plan_review(config_path, base / config.review_name / "_pending", overrides=overrides,
                notebook_dir=notebook_dir, localities=localities, facts=facts)
    run_dir = new_run_dir(base, config.review_name)
    stages, params = plan_review(config_path, run_dir, overrides=overrides,
                                 notebook_dir=notebook_dir, localities=localities, facts=facts)
    progress = _Progress(run_dir, [], [j for st in stages for j in st.jobs], params, config.seed,
                         started, command)
    try:
        results = run_stages(stages, workers=workers, scheduler=scheduler, announce=announce,
                             on_result=progress.record)
    except ReviewInterrupted as stop:
        _finish(run_dir, stop.results, params, config.seed, started, config.review_name, command,
                status="interrupted")
        raise
    return _finish(run_dir, results, params, config.seed, started, config.review_name, command)


class _Progress:
    """Keeps ``manifest.json`` current while a review runs: ``status: running``, the process
    id, finished reports as they end and the rest as not finished.

    Why: a run killed outright (``kill -9``, power loss) then still has a manifest saying
    what completed, so it is recognisable as partial and ``--retry-failed RUN_DIR`` (alias
    ``--resume``) reruns exactly what did not finish.
    """

    def __init__(self, run_dir: Path, done: list[Any], todo: list[Any], params: Mapping[str, Any],
                 seed: int | None, started: dt.datetime, command: Sequence[str] | None) -> None:
        from sgreview.runs import failed_result

        self.run_dir, self.params, self.seed = run_dir, params, seed
        self.started, self.command = started, command
        self.results = {r.name: r for r in done}
        for job in todo:
            self.results[job.name] = failed_result(
                job, "not finished: the run stopped before this report ended")
        self.write()

    def record(self, result: Any) -> None:
        self.results[result.name] = result
        self.write()

    def write(self) -> None:
        from sgreview.runs import write_manifest

        inputs = [Path(self.params[k]) for k in INPUT_KEYS if self.params.get(k)]
        write_manifest(self.run_dir, inputs=inputs, parameters=self.params,
                       results=list(self.results.values()), seed=self.seed,
                       started=self.started, command=self.command, status="running")


def _ensure_demo_input(config_path: Path, overrides: Mapping[str, Any]) -> None:
    """Create the demo export when the config points at it and it is missing (fresh checkout)."""
    from sgreview.params import load_parameter_files
    from sgreview.pipeline.common import is_demo_location

    raw = load_parameter_files([config_path], overrides)
    data = raw.get("data_path")
    if data and is_demo_location(data):
        ensure_demo_data(data)


def _finish(run_dir: Path, results: list[Any], params: Mapping[str, Any], seed: int | None,
            started: dt.datetime, review_name: str, command: Sequence[str] | None = None,
            status: str | None = None) -> ReviewOutcome:
    from sgreview.audit import audit_run, write_audit
    from sgreview.disclosure import banner_for
    from sgreview.report import write_index
    from sgreview.runs import write_manifest

    inputs = [Path(params[k]) for k in INPUT_KEYS if params.get(k)]
    ended = dt.datetime.now(dt.UTC)
    reconciliation = _reconciliation(run_dir)

    def manifest_now(audit: Mapping[str, Any] | None) -> Path:
        return write_manifest(
            run_dir, inputs=inputs, parameters=params, results=results, seed=seed,
            reconciliation=reconciliation, started=started, ended=ended,
            command=command, audit=audit, status=status,
        )

    # The audit reads the manifest (run folder, policy), then the index shows its result and
    # the manifest is rewritten to list every file, the index and audit.json included.
    manifest_now(None)
    audit = audit_run(run_dir)
    write_audit(audit)
    index = write_index(run_dir, results, title=f"Review: {review_name}",
                        reconciliation=reconciliation, audit=audit.summary(),
                        banner=banner_for(params))
    manifest = manifest_now(audit.summary())
    return ReviewOutcome(
        run_dir=run_dir, results=results, seconds=(ended - started).total_seconds(),
        manifest=manifest, index=index, failures=[r for r in results if r.status != "ok"],
        rows_rejected=int((reconciliation or {}).get("rows_rejected") or 0),
        audit_findings=[str(f) for f in audit.findings],
    )


#: Parameters a retry may change: they affect only the reports being rerun.
RETRY_MAY_CHANGE = frozenset(REVIEW_ONLY) | {"output_dir", "run_dir"}


def _retry_plan(
    config_path: Path, run_dir: Path, stored: Mapping[str, Any], notebook_dir: Path | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Jobs (by name) and parameters from corrected ``config_path``, planned into ``run_dir``.

    A correction may change which localities and case sets there are, and any per-locality
    parameter file; a change to a shared parameter (data, model, thresholds...) would make the
    rerun reports disagree with the ones that already completed, so it is refused.
    """
    from sgreview.params import load_review_config

    config = load_review_config(config_path)
    dumped = config.model_dump(mode="json")
    changed = sorted(k for k in dumped if k not in RETRY_MAY_CHANGE and k in stored
                     and dumped[k] != stored[k])  # fmt: skip
    if changed:
        raise ParameterError(
            f"--retry-failed: {', '.join(changed)} differ(s) from the run being retried, and the "
            "reports that already completed used the old value; start a new review instead",
            path=config_path)
    stages, params = plan_review(config_path, run_dir, notebook_dir=notebook_dir)
    return {j.name: j for stage in stages for j in stage.jobs}, params


def retry_failed(
    run_dir: str | Path,
    config_path: str | Path | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    announce: Callable[[str], None] | None = None,
    command: Sequence[str] | None = None,
    notebook_dir: Path | None = None,
) -> ReviewOutcome:
    """Rerun only the jobs that failed (or were not run) in ``run_dir``, in stage order.

    With ``config_path`` (the review file, corrected), the failed jobs run with the
    corrected parameters, case sets or localities new to it are run too, and failed jobs it
    no longer plans are dropped; everything is validated before a kernel starts. Without
    it, the stored parameters are reused (for a cause fixed outside the parameters, such as
    a replaced model or data file). The reruns write into the same run folder; the manifest
    and index are rewritten with the earlier successes kept and each rerun job's new result.
    """
    from sgreview.runs import (
        clean_partials,
        failed_jobs,
        merge_results,
        read_manifest,
        results_from_manifest,
        still_running,
    )

    run_dir = Path(run_dir).expanduser().resolve()
    started = dt.datetime.now(dt.UTC)
    manifest = read_manifest(run_dir)
    if still_running(manifest):
        raise ParameterError(
            f"this run is still in progress (process {manifest['process']['pid']}); wait for "
            "it to end or stop it before retrying", path=run_dir)
    clean_partials(run_dir)
    previous = results_from_manifest(run_dir)
    params = manifest.get("parameters", {})
    if config_path is not None:
        planned, params = _retry_plan(Path(config_path), run_dir, params, notebook_dir)
        seen = {r.name for r in previous}
        failed_names = [r.name for r in previous if not r.ok]
        dropped = [n for n in failed_names if n not in planned]
        if dropped and announce:
            announce(f"no longer planned, dropped from the run: {', '.join(dropped)}")
        previous = [r for r in previous if r.name not in dropped]
        jobs = [planned[n] for n in failed_names if n in planned]
        jobs += [j for n, j in planned.items() if n not in seen]
    else:
        jobs = failed_jobs(run_dir)
    stage_of = {QUALITY_NB: "data_quality", DISCOVERY_NB: "theme_discovery",
                LOCALITY_NB: "localities", COMPARISON_NB: "comparison", LEARNING_NB: "learning"}
    stages = [
        Stage(stage, [j for j in jobs if Path(j.notebook).name == nb_name],
              () if stage in ("data_quality", "theme_discovery") else ("theme_discovery",))
        for nb_name, stage in stage_of.items()
    ]
    name = params.get("review_name", run_dir.parent.name)
    rerun_jobs = [j for st in stages for j in st.jobs]
    rerun_names = {j.name for j in rerun_jobs}
    progress = _Progress(run_dir, [r for r in previous if r.name not in rerun_names], rerun_jobs,
                         params, params.get("seed"), started, command)
    try:
        rerun = run_stages(stages, workers=workers, scheduler=scheduler, announce=announce,
                           on_result=progress.record)
    except ReviewInterrupted as stop:
        _finish(run_dir, merge_results(previous, stop.results), params, params.get("seed"),
                started, name, command, status="interrupted")
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

    Everything goes under ``out`` (default: the repository's ``outputs/``): the data in
    ``out/demo/data/`` and the run in ``out/demo/<run-id>/``. The default size and seed use
    ``incidents.csv`` there (where the notebooks' defaults point, for ``outputs/``); another
    size or seed gets its own file beside it, so it never overwrites that one.
    """
    from sgreview.pipeline.common import DEMO_DATA, DEMO_N, DEMO_SEED, write_synthetic_export

    n = DEMO_N if n is None else n
    seed = DEMO_SEED if seed is None else seed
    if n < 1:
        raise ParameterError(f"--n must be a positive number of incidents, got {n}")
    base = Path(out).expanduser().resolve() if out else REPO_ROOT / "outputs"
    demo_data = base / DEMO_DATA.relative_to(REPO_ROOT / "outputs")
    if (n, seed) == (DEMO_N, DEMO_SEED):
        data = write_synthetic_export(demo_data, n=n, seed=seed)
    else:
        data = write_synthetic_export(demo_data.with_name(f"incidents_n{n}_s{seed}.csv"), n=n, seed=seed)
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
    if outcome.rows_rejected:
        n = outcome.rows_rejected
        lines.append(f"{n:,} row{'' if n == 1 else 's'} of the export rejected at validation: "
                     f"see {QUALITY_DIR}/rejects.csv (exit 1)")
    return "\n".join(lines)
