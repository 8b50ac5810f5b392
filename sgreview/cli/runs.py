"""``sgreview run`` and ``sgreview batch``: execute report notebooks from the command line.

Both validate every parameter before a kernel starts (exit 2 naming the key and file), run
through :func:`sgreview.runs.run_notebook`, and finish the run folder with ``manifest.json``
and ``index.html``. A failed notebook is exit 1 with each failure named; Ctrl-C keeps what
finished (manifest and index included) and exits 130.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sgreview.errors import ParameterError

DEFAULT_OUT = Path("outputs")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``run`` and ``batch`` to the top-level parser."""
    run = sub.add_parser(
        "run",
        help="execute one notebook with parameters and export reviewer HTML",
        description="Execute NOTEBOOK with layered parameters (parameters/_defaults.yaml, then "
        "each -f file, then -p overrides) into OUT/<review_name>/<run-id>/ with the executed "
        ".ipynb, an .html with code hidden, manifest.json and index.html.",
    )
    run.add_argument("notebook", type=Path, metavar="NOTEBOOK")
    _common(run)
    run.add_argument("--name", help="report name (default: the notebook's file name)")
    run.add_argument(
        "--prepare-only",
        action="store_true",
        help="write a parameterised copy to --out FILE without running it (to open in JupyterLab)",
    )
    run.add_argument("--force", action="store_true",
                     help="with --prepare-only: replace an existing --out FILE")
    run.set_defaults(handler=cmd_run)

    batch = sub.add_parser(
        "batch",
        help="one run of NOTEBOOK per parameter file, in parallel",
        description="Run NOTEBOOK once per PARAMS file (e.g. one per locality) into one run "
        "folder. Jobs run in parallel on a local process pool, or on a Dask cluster with "
        "--scheduler. A failing job does not stop the others; the exit code is 1 if any failed.",
    )
    batch.add_argument("notebook", type=Path, nargs="?", metavar="NOTEBOOK")
    batch.add_argument("params", type=Path, nargs="*", metavar="PARAMS.yaml")
    _common(batch)
    batch.add_argument("--workers", type=_positive, help="local worker processes (default: cores)")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    batch.add_argument(
        "--retry-failed",
        type=Path,
        metavar="RUN_DIR",
        help="rerun only the jobs that failed in an earlier run folder, in place",
    )
    batch.set_defaults(handler=cmd_batch)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--parameters", dest="files", type=Path, action="append", default=[],
                   metavar="PARAMS.yaml", help="parameter file (repeatable; later wins)")
    p.add_argument("-p", "--parameter", dest="overrides", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="override one parameter (value read as YAML)")
    p.add_argument("--out", type=Path, help="output folder (default: ./outputs)")
    p.add_argument("--cell-timeout", type=_positive, default=900, metavar="SECONDS")
    p.add_argument("--start-timeout", type=_positive, default=60, metavar="SECONDS")
    p.add_argument("--retries", type=int, default=3, help="kernel start retries (default 3)")
    p.add_argument("--quiet", action="store_true", help="no progress output")  # fmt: skip


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    return {name: value for name, value in args.overrides}


def _labels(params: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    labels: dict[str, Any] = {}
    locality = params.get("locality") or raw.get("locality")
    if locality:
        labels["locality"] = locality
    start, end = params.get("period_start"), params.get("period_end")
    if start or end:
        labels["period"] = f"{start or '…'} to {end or '…'}"
    return labels


def _inputs(notebook: Path, files: Sequence[Path], params: Sequence[Mapping]) -> list[Path]:
    from sgreview.params import INPUT_FILE_KEYS

    paths = [Path(notebook), *map(Path, files)]
    for p in params:
        paths += [Path(p[k]) for k in (*INPUT_FILE_KEYS, "model_dir") if p.get(k)]
    return [p for p in paths if p.exists()]


def _prepare(
    notebook: Path, raw: Mapping[str, Any], *, in_run_folder: bool = True
) -> tuple[dict[str, Any], bool]:
    """Validate for the notebook, leaving ``output_dir`` to the runner (it is the run folder).

    ``review_name`` names the run folder, so it is accepted even when the notebook does not
    declare it (it is then not injected).
    """
    from sgreview.params import declared_parameters, validate_for_notebook

    declared = declared_parameters(notebook)
    params = type(raw)(raw)
    if hasattr(raw, "sources"):
        params.sources = dict(raw.sources)  # type: ignore[attr-defined]
        params.defaults_file = raw.defaults_file  # type: ignore[attr-defined]
    source = getattr(raw, "sources", {}).get("output_dir")
    if in_run_folder and source and source != getattr(raw, "defaults_file", None):
        print(f"sgreview: note: output_dir from {source} is ignored: reports and tables go to "
              "the run folder under --out", file=sys.stderr)  # fmt: skip
    params.pop("output_dir", None)
    if "review_name" not in declared:
        params.pop("review_name", None)
    return validate_for_notebook(notebook, params), "output_dir" in declared


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _summary(results: Sequence[Any], run_dir: Path, index: Path) -> int:
    rows = [("job", "status", "seconds", "locality", "report")]
    for r in results:
        report = _shown(r.html or r.ipynb) if (r.html or r.ipynb) else "-"
        rows.append((r.name, r.status, f"{r.seconds:.1f}",
                     str(r.labels.get("locality", "")), report or "-"))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    failed = [r for r in results if not r.ok]
    print(f"{len(results) - len(failed)} ok, {len(failed)} failed; run folder {_shown(run_dir)}")
    print(f"index: {_shown(index)}")
    for r in failed:
        print(f"sgreview: failed: {r.name}: {r.error} (see {_shown(r.ipynb) if r.ipynb else 'the log'})", file=sys.stderr)
    return 1 if failed else 0


def _finish(run_dir, results, *, inputs, parameters, seed, started, title) -> int:
    from sgreview.report import write_index
    from sgreview.runs import now_iso, write_manifest

    write_manifest(run_dir, inputs=inputs, parameters=parameters, results=results, seed=seed,
                   started=started, ended=now_iso(), command=sys.argv, title=title)  # fmt: skip
    index = write_index(run_dir, results, title=title)
    return _summary(results, run_dir, index)


def cmd_run(args: argparse.Namespace) -> int:
    from sgreview.params import load_parameter_files
    from sgreview.runs import (
        Job,
        failed_result,
        new_run_dir,
        now_iso,
        prepare_notebook,
        run_notebook,
    )

    raw = load_parameter_files(args.files, _overrides(args))
    if args.prepare_only:
        if args.out is None or args.out.suffix != ".ipynb":
            raise ParameterError("--prepare-only needs --out FILE.ipynb")
        from sgreview.io import check_outputs

        # --force may replace an earlier prepared copy, never the notebook or a parameter file.
        check_outputs([args.out], [args.notebook, *args.files])
        params, wants_out = _prepare(args.notebook, raw, in_run_folder=False)
        if wants_out and raw.get("output_dir"):
            params["output_dir"] = str(raw["output_dir"])
        out = prepare_notebook(args.notebook, params, args.out, force=args.force)
        print(f"wrote {out} (parameterised, not executed)")
        return 0
    params, wants_out = _prepare(args.notebook, raw)
    review = str(raw.get("review_name") or "adhoc")
    started = now_iso()
    run_dir = new_run_dir(args.out or DEFAULT_OUT, review)
    if wants_out:
        params["output_dir"] = str(run_dir.resolve())
    job = Job(args.notebook, params, args.name or args.notebook.stem, run_dir,
              _labels(params, raw))  # fmt: skip
    finish = dict(inputs=_inputs(args.notebook, args.files, [params]), parameters=params,
                  seed=params.get("seed"), started=started, title=f"{review}: {job.name}")
    try:
        result = run_notebook(job, start_timeout=args.start_timeout,
                              cell_timeout=args.cell_timeout, retries=args.retries,
                              progress=not args.quiet)  # fmt: skip
    except KeyboardInterrupt:
        _finish(run_dir, [failed_result(job, "interrupted (Ctrl-C)")], **finish)
        raise
    return _finish(run_dir, [result], **finish)


def _batch_jobs(args: argparse.Namespace) -> tuple[list, str, list[dict]]:
    from sgreview.params import load_parameter_files

    if args.notebook is None or not args.params:
        raise ParameterError("batch needs NOTEBOOK and at least one PARAMS.yaml "
                             "(or --retry-failed RUN_DIR)")  # fmt: skip
    stems = [p.stem for p in args.params]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise ParameterError(f"two parameter files are both named '{dupes[0]}': "
                             "job names come from file names and must differ")  # fmt: skip
    prepared = []
    for file in args.params:
        raw = load_parameter_files([*args.files, file], _overrides(args))
        params, wants_out = _prepare(args.notebook, raw)
        prepared.append((file, raw, params, wants_out))
    reviews = {str(raw.get("review_name") or "adhoc") for _, raw, _, _ in prepared}
    review = reviews.pop() if len(reviews) == 1 else "batch"
    return prepared, review, [p for _, _, p, _ in prepared]


def cmd_batch(args: argparse.Namespace) -> int:
    from sgreview.runs import new_run_dir, now_iso

    if args.retry_failed is not None:
        return _retry(args)
    prepared, review, all_params = _batch_jobs(args)
    with _executor(args) as executor:
        started = now_iso()
        run_dir = new_run_dir(args.out or DEFAULT_OUT, review)
        return _run_batch(args, prepared, review, all_params, run_dir, started, executor)


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    """The Dask executor for --scheduler (connected before anything is written), else None."""
    if not args.scheduler:
        yield None
        return
    from sgreview.runs import connect_scheduler

    client = connect_scheduler(args.scheduler)
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


def _run_batch(args, prepared, review, all_params, run_dir, started, executor) -> int:
    from sgreview.runs import Job, RunInterrupted, run_jobs

    jobs = []
    for file, raw, params, wants_out in prepared:
        if wants_out:
            params["output_dir"] = str(run_dir.resolve())
        jobs.append(Job(args.notebook, params, file.stem, run_dir, _labels(params, raw)))
    finish = dict(
        inputs=_inputs(args.notebook, [*args.files, *args.params], all_params),
        parameters={"notebook": str(args.notebook), "jobs": {j.name: j.parameters for j in jobs}},
        seed=all_params[0].get("seed"), started=started,
        title=f"{review}: {args.notebook.stem}",
    )  # fmt: skip
    try:
        results = run_jobs(jobs, workers=args.workers, scheduler=args.scheduler,
                           executor=executor, progress=not args.quiet,
                           start_timeout=args.start_timeout,
                           cell_timeout=args.cell_timeout, retries=args.retries)  # fmt: skip
    except RunInterrupted as stop:
        _finish(run_dir, stop.results, **finish)
        raise
    return _finish(run_dir, results, **finish)


def _retry(args: argparse.Namespace) -> int:
    from sgreview.params import validate_for_notebook
    from sgreview.runs import (
        RunInterrupted,
        clean_partials,
        failed_jobs,
        merge_results,
        read_manifest,
        results_from_manifest,
        run_jobs,
    )

    if args.notebook is not None or args.params:
        raise ParameterError("--retry-failed RUN_DIR reruns that folder's failed jobs: "
                             "give no NOTEBOOK or PARAMS")  # fmt: skip
    run_dir = args.retry_failed
    manifest = read_manifest(run_dir)
    jobs = failed_jobs(run_dir)
    if not jobs:
        print(f"nothing to retry: every job in {run_dir} finished ok")
        return 0
    for job in jobs:
        validate_for_notebook(job.notebook, job.parameters)
    clean_partials(run_dir)
    old = results_from_manifest(run_dir)
    finish = dict(
        inputs=[Path(i["path"]) for i in manifest.get("inputs", []) if i.get("path")],
        parameters=manifest.get("parameters", {}), seed=manifest.get("seed"),
        started=manifest.get("started"),
        title=manifest.get("title") or Path(run_dir).resolve().parent.name,
    )  # fmt: skip
    try:
        with _executor(args) as executor:
            new = run_jobs(jobs, workers=args.workers, scheduler=args.scheduler,
                           executor=executor, progress=not args.quiet,
                           start_timeout=args.start_timeout, cell_timeout=args.cell_timeout,
                           retries=args.retries)  # fmt: skip
    except RunInterrupted as stop:
        _finish(run_dir, merge_results(old, stop.results), **finish)
        raise
    return _finish(run_dir, merge_results(old, new), **finish)
