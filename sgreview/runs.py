"""Running report notebooks: the one entry point, batch fan-out, run folders and manifests.

Everything that executes a notebook (``sgreview run``, ``sgreview batch``, ``sgreview
review``, the tests, a scheduler) goes through :func:`run_notebook`, so the hard-won fixes
live in one place:

* papermill with ``shutdown_kernel="immediate"`` (no 3.5 s stall per notebook) and start and
  cell timeouts;
* retries when the kernel fails to start (parallel kernels occasionally race for a port:
  "Address already in use"); a failure after the first cell started is never retried;
* ``OMP_NUM_THREADS=1`` (and the BLAS equivalents) for kernels that run side by side, passed
  through the kernel manager so the caller's own environment is untouched;
* papermill writes to a hidden temporary folder and the notebook is renamed into place, so an
  earlier run's report is never replaced by half a notebook; a failed run still keeps its
  executed notebook with the error marked, and its HTML shows it;
* a failing notebook is a :class:`RunResult` with ``status="failed"``, not an exception, so
  a batch carries on.

:func:`run_jobs` fans jobs out through any ``concurrent.futures.Executor``: a local process
pool by default, or ``dask.distributed`` (``Client(address).get_executor()``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from sgreview.audience import file_audiences
from sgreview.disclosure import disclosure_summary
from sgreview.errors import InputError, ParameterError
from sgreview.io import sha256_file, write_json, write_text
from sgreview.services import services_summary

#: Environment for kernels that share the machine: one BLAS/OpenMP thread each.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
#: Always set for kernels: silences the debugger's frozen-modules warning on stderr.
KERNEL_ENV = {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}
#: Packages whose versions go into every manifest.
MANIFEST_PACKAGES = (
    "sgreview", "pandas", "numpy", "scipy", "scikit-learn", "matplotlib", "seaborn",
    "papermill", "nbconvert", "nbclient", "ipykernel", "pydantic", "skops", "dask",
    "distributed", "pyarrow", "openpyxl", "phonenumbers", "nhs-number",
)  # fmt: skip

Status = Literal["ok", "failed"]


@dataclass
class Job:
    """One notebook to run with validated, JSON-safe parameters.

    The executed notebook is written to ``output_dir/<name>.ipynb`` and the reviewer HTML to
    ``output_dir/<name>.html``; ``labels`` (locality, period, ...) are for the index page.
    """

    notebook: Path
    parameters: dict
    name: str
    output_dir: Path
    labels: dict = field(default_factory=dict)
    #: Where the job's log goes; ``None`` means ``output_dir/logs``. A whole review points
    #: every stage at the run folder's single ``logs/`` (DESIGN.md).
    log_dir: Path | None = None

    @property
    def log_path(self) -> Path:
        base = Path(self.log_dir) if self.log_dir is not None else Path(self.output_dir) / "logs"
        return base / f"{self.name}.log"

    @property
    def ipynb(self) -> Path:
        return Path(self.output_dir) / f"{self.name}.ipynb"

    @property
    def html(self) -> Path:
        return Path(self.output_dir) / f"{self.name}.html"


@dataclass
class RunResult:
    """What happened to one job. ``error`` is one line (exception type and message)."""

    name: str
    notebook: Path
    status: Status
    ipynb: Path | None
    html: Path | None
    error: str | None
    started: str
    ended: str
    seconds: float
    parameters: dict
    labels: dict = field(default_factory=dict)
    attempts: int = 1
    output_dir: Path | None = None
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch. ``results`` holds every job: finished ones as they ended, the
    rest as failed with error "interrupted", so the manifest can record them and
    ``--retry-failed`` can rerun them."""

    def __init__(self, results: list[RunResult]) -> None:
        super().__init__("interrupted")
        self.results = results


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def now_iso() -> str:
    """The current UTC time as the manifests record it."""
    return _iso(_now())


def _check_name(name: str) -> None:
    if not name or name != Path(name).name or name.startswith("."):
        raise ParameterError(f"job name {name!r} must be a plain file name")


def _escape_braces(path: Path) -> str:
    """papermill fills ``{name}`` in paths from parameters; keep literal braces literal."""
    return str(path).replace("{", "{{").replace("}", "}}")


def _kernel_manager_class(extra_env: Mapping[str, str], log: Any = None) -> type:
    """An AsyncKernelManager that starts its kernel with ``extra_env`` added.

    nbclient gives no hook to pass ``env`` to the kernel, and changing ``os.environ`` would
    leak into the caller (and race between threads), so the manager adds it at launch. The
    kernel process's own stdout/stderr (start-up warnings, crash messages) go to ``log``.
    """
    from jupyter_client.manager import AsyncKernelManager

    env = dict(extra_env)

    class _Manager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            if log is not None:
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
            return await super()._async_pre_start_kernel(**kw)

    return _Manager


def _read_nb(path: Path) -> Any | None:
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except Exception:
        return None


def _started_cells(nb: Any) -> list[int]:
    if nb is None:
        return []
    return [
        i for i, c in enumerate(nb.cells)
        if c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]  # fmt: skip


def _is_start_failure(err: Exception, nb: Any) -> bool:
    """A kernel that failed to start (port race, slow start): worth another attempt.

    Only before any cell has started, and only for the errors a kernel start raises; a
    broken notebook file or a failure mid-run is reported at once.
    """
    import zmq

    kinds = (RuntimeError, TimeoutError, OSError, zmq.ZMQError)
    return isinstance(err, kinds) and not _started_cells(nb)


def _mark_error(path: Path, message: str) -> None:
    """Put a visible error banner at the top of a notebook papermill could not finish."""
    import nbformat

    nb = _read_nb(path)
    if nb is None:
        return
    banner = nbformat.v4.new_markdown_cell(
        f'<span style="color:red; font-size:1.5em;">The run did not finish: {message}</span>',
        metadata={"tags": ["sgreview-error"]},
    )
    nb.cells.insert(0, banner)
    for cell in nb.cells:
        state = cell.get("metadata", {}).get("papermill", {})
        if state.get("status") == "running":
            state["status"] = "failed"
            state["exception"] = True
    nbformat.write(nb, path)


def _describe(err: BaseException, nb: Any, cell_timeout: int | None) -> str:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    started = _started_cells(nb)
    where = f" in cell {started[-1] + 1} of {len(nb.cells)}" if started else ""
    if isinstance(err, DeadKernelError):
        return f"the kernel died{where} (out of memory, or the code exited the process)"
    if isinstance(err, CellTimeoutError):
        return f"a cell ran longer than the {cell_timeout} s cell timeout{where}"
    text = " ".join(str(err).split())[:300]
    return f"{type(err).__name__}{where}: {text}" if text else f"{type(err).__name__}{where}"


def _prepare_dirs(job: Job) -> tuple[Path, Path]:
    out = Path(job.output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        job.log_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{job.name}.", suffix=".partial", dir=out))
    except OSError as err:
        raise InputError(f"cannot write to output folder: {err.strerror}", path=out) from None
    return out, tmp


def _write_parameterised(notebook: Path, parameters: Mapping[str, Any], out: Path) -> None:
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(notebook)), dict(parameters))
    nbformat.write(nb, out)


def merge_parameter_cells(nb: Any) -> Any:
    """Fold papermill's ``injected-parameters`` cell into the ``parameters`` cell.

    An analyst's copy should have one place to edit: two cells, where the second silently
    overrides the first, is a trap (editing the first does nothing). Each injected value
    replaces the original assignment of that name in place (so the cell keeps its order
    and comments); names the original did not have are added at the end. The cell keeps
    its ``parameters`` tag, so papermill can still parameterise the copy.
    """
    import ast

    tags = [c.get("metadata", {}).get("tags", []) for c in nb.cells]
    original = next((i for i, t in enumerate(tags) if "parameters" in t), None)
    injected = next((i for i, t in enumerate(tags) if "injected-parameters" in t), None)
    if original is None or injected is None:
        return nb
    values: dict[str, str] = {}
    for node in ast.parse(nb.cells[injected].source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.get_source_segment(nb.cells[injected].source, node) or ""
    lines = nb.cells[original].source.splitlines()
    done: set[str] = set()
    for node in sorted(ast.parse(nb.cells[original].source).body, key=lambda n: -n.lineno):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            name = getattr(target, "id", None)
            if name in values:
                lines[node.lineno - 1:node.end_lineno] = [values[name]]
                done.add(name)
    extra = [code for name, code in values.items() if name not in done]
    header = "# Parameters (values from the parameter files merged in by sgreview --prepare-only)"
    nb.cells[original].source = "\n".join([header, *lines, *extra]).strip() + "\n"
    del nb.cells[injected]
    return nb


def prepare_notebook(
    notebook: Path, parameters: Mapping[str, Any], out: Path, *, force: bool = False,
) -> Path:
    """Write a parameterised, unexecuted copy of ``notebook`` for an analyst to open.

    The values a real run would inject are merged into the notebook's one ``parameters``
    cell (:func:`merge_parameter_cells`), so exploring it in JupyterLab starts from the same
    values a scheduled run would use, and there is one cell to edit. An existing ``out`` is
    an analyst's work: it is only replaced with ``force``.
    """
    import nbformat
    import papermill as pm

    notebook, out = Path(notebook), Path(out)
    if not notebook.is_file():
        raise InputError("notebook not found", path=notebook)
    if out.exists() and not force:
        raise InputError("already exists: not overwriting an analyst's copy (use --force to "
                         "replace it)", path=out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.stem}.", suffix=".partial", dir=out.parent))
    except OSError as err:
        raise InputError(f"cannot write here: {err.strerror}", path=out) from None
    try:
        pm.execute_notebook(
            _escape_braces(notebook.resolve()), _escape_braces(tmp / out.name),
            parameters=dict(parameters), prepare_only=True, progress_bar=False,
        )  # fmt: skip
        nb = merge_parameter_cells(nbformat.read(tmp / out.name, as_version=4))
        nbformat.write(nb, tmp / out.name)
        os.replace(tmp / out.name, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run_notebook(
    job: Job,
    *,
    start_timeout: int = 60,
    cell_timeout: int | None = 900,
    retries: int = 3,
    progress: bool = True,
    threads: int | None = None,
    export: bool = True,
) -> RunResult:
    """Execute ``job`` with papermill, keep the executed notebook, export reviewer HTML.

    Never raises for a failing notebook: a cell error, a dead kernel, a timeout or a kernel
    that would not start (after ``retries`` further attempts) give ``status="failed"`` with a
    one-line ``error``, and the executed notebook shows the error. ``threads=1`` limits the
    kernel's BLAS/OpenMP threads (use it when kernels run side by side). Raises
    :class:`InputError` only when the notebook is missing or the output folder is unwritable.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    _check_name(job.name)
    notebook = Path(job.notebook).resolve()
    if not notebook.is_file():
        raise InputError("notebook not found", path=job.notebook)
    out, tmp = _prepare_dirs(job)
    tmp_nb = tmp / f"{job.name}.ipynb"
    log_path = job.log_path
    env = {**KERNEL_ENV, **(SINGLE_THREAD_ENV if threads == 1 else {})}
    if threads and threads > 1:
        env |= {k: str(threads) for k in SINGLE_THREAD_ENV}
    started = _now()
    clock = time.perf_counter()
    error: str | None = None
    attempt = 0
    log_lines = [f"{_iso(started)} start {notebook} -> {job.ipynb}"]
    if progress:
        print(f"running {notebook.name} as '{job.name}' -> {job.ipynb}", file=sys.stderr)
    try:
        with open(tmp / "kernel.log", "w", encoding="utf-8") as kernel_log:
            for attempt in range(1, retries + 2):
                try:
                    pm.execute_notebook(
                        _escape_braces(notebook),
                        _escape_braces(tmp_nb),
                        parameters=dict(job.parameters),
                        progress_bar=progress,
                        start_timeout=start_timeout,
                        execution_timeout=cell_timeout,
                        log_output=True,
                        stdout_file=kernel_log,
                        stderr_file=kernel_log,
                        resources={"metadata": {"path": str(notebook.parent)}},
                        kernel_manager_class=_kernel_manager_class(env, kernel_log),
                        shutdown_kernel="immediate",
                    )
                    error = None
                    break
                except PapermillExecutionError as err:
                    error = f"{err.ename}: {' '.join(str(err.evalue).split())[:300]}"
                    error += f" (cell In [{err.exec_count}])"
                    break
                except Exception as err:
                    nb = _read_nb(tmp_nb)
                    error = _describe(err, nb, cell_timeout)
                    if _is_start_failure(err, nb) and attempt <= retries:
                        log_lines.append(f"{_iso(_now())} kernel start failed ({error}); retrying")
                        time.sleep(0.5 * attempt + secrets.randbelow(500) / 1000)
                        continue
                    if nb is None:  # the kernel never started: keep the parameterised input
                        _write_parameterised(notebook, job.parameters, tmp_nb)
                    _mark_error(tmp_nb, error)
                    break
        html: Path | None = None
        os.replace(tmp_nb, job.ipynb)
        if export:
            from sgreview.report import export_html

            try:
                html = export_html(job.ipynb, job.html, title=job.labels.get("title") or job.name,
                                   resources_dir=notebook.parent, log=log_path)  # fmt: skip
            except Exception as err:
                job.html.unlink(missing_ok=True)  # never leave an earlier run's HTML beside it
                error = error or f"HTML export failed: {type(err).__name__}: {err}"
        ended = _now()
        log_lines.append(f"{_iso(ended)} {'failed: ' + error if error else 'ok'}")
        kernel_text = (tmp / "kernel.log").read_text(encoding="utf-8", errors="replace")
        write_text("\n".join(log_lines) + "\n--- notebook output ---\n" + kernel_text, log_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = RunResult(
        name=job.name,
        notebook=notebook,
        status="failed" if error else "ok",
        ipynb=job.ipynb,
        html=html,
        error=error,
        started=_iso(started),
        ended=_iso(ended),
        seconds=round(time.perf_counter() - clock, 3),
        parameters=dict(job.parameters),
        labels=dict(job.labels),
        attempts=attempt,
        output_dir=Path(job.output_dir),
        log=log_path,
    )
    if progress:
        print(_progress_line(result), file=sys.stderr)
    return result


def _progress_line(r: RunResult, done: int | None = None, total: int | None = None) -> str:
    count = f"[{done}/{total}] " if done is not None else ""
    tail = f"  {r.error}" if r.error else f"  {r.html or r.ipynb}"
    return f"{count}{r.status:<6} {r.name} ({r.seconds:.1f} s){tail}"


def failed_result(job: Job, error: str, started: dt.datetime | None = None) -> RunResult:
    t = started or _now()
    ipynb = job.ipynb if job.ipynb.exists() else None
    html = job.html if job.html.exists() else None
    return RunResult(
        name=job.name, notebook=Path(job.notebook), status="failed", ipynb=ipynb, html=html,
        error=error, started=_iso(t), ended=_iso(_now()), seconds=0.0,
        parameters=dict(job.parameters), labels=dict(job.labels), attempts=0,
        output_dir=Path(job.output_dir), log=job.log_path,
    )  # fmt: skip


def _ignore_sigint() -> None:
    # Ctrl-C is handled once, in the parent: workers finish their current notebook cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()


def die_with_parent() -> None:
    """Make this worker process end when the process that started it ends, even by ``kill -9``.

    Why: a pool worker orphaned by a killed ``sgreview review`` would go on running its
    notebook into the run folder, racing a ``--retry-failed``. On Linux the kernel delivers
    SIGKILL on the parent's death (``PR_SET_PDEATHSIG``); elsewhere a daemon thread notices
    the parent is gone within a second. Kernels follow their worker (ipykernel polls its
    parent).
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os._exit(1)
                return

    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="sgreview-parent-watch", daemon=True).start()


def local_executor(workers: int) -> ProcessPoolExecutor:
    """A process pool for notebook jobs.

    Processes, not threads: papermill and nbclient keep per-process state (event loops,
    working-directory handlers). ``spawn`` avoids forking a parent that may hold ZMQ sockets.
    """
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_ignore_sigint,
    )


def _check_jobs(jobs: Sequence[Job]) -> None:
    seen: dict[Path, str] = {}
    for job in jobs:
        _check_name(job.name)
        key = job.ipynb.resolve()
        if key in seen:
            raise ParameterError(f"two jobs would write the same report {job.ipynb}: "
                                 f"'{seen[key]}' and '{job.name}'")
        seen[key] = job.name


def connect_scheduler(address: str, timeout: str = "20s") -> Any:
    """A ``distributed.Client`` for ``address``, or :class:`ParameterError` if unreachable.

    Connect before creating a run folder, so a wrong address leaves nothing behind.
    """
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        raise ParameterError(f"cannot reach the Dask scheduler at {address}: {err}") from None


def run_jobs(
    jobs: Sequence[Job],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    on_result: Callable[[RunResult], None] | None = None,
    **run_kwargs: Any,
) -> list[RunResult]:
    """Run ``jobs`` in parallel and return their results in job order.

    Uses ``executor`` if given, else ``dask.distributed`` when ``scheduler`` is an address,
    else a local process pool of ``workers`` (default: one per core). Each kernel gets one
    BLAS thread. One failing job never stops the others. Ctrl-C cancels jobs not yet started,
    lets running ones finish (a second Ctrl-C stops waiting) and raises
    :class:`RunInterrupted` carrying every result. ``run_kwargs`` go to :func:`run_notebook`.
    """
    # Absolute paths: a Dask worker's working directory is not the caller's.
    jobs = [replace(j, notebook=Path(j.notebook).resolve(), output_dir=Path(j.output_dir).resolve(),
                    log_dir=None if j.log_dir is None else Path(j.log_dir).resolve())
            for j in jobs]  # fmt: skip
    if not jobs:
        return []
    _check_jobs(jobs)
    client = None
    own = executor is None
    if executor is None and scheduler:
        client = connect_scheduler(scheduler)
        executor = client.get_executor(pure=False)
    elif executor is None:
        workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
        executor = local_executor(workers)
    kwargs = {"progress": False, "threads": 1, **run_kwargs}
    submitted_at = _now()
    # A process pool marks queued work "running" as soon as it feeds it to a worker, and
    # running futures cannot be cancelled; handing it only as many jobs as it has workers
    # keeps every other job cancellable, so Ctrl-C stops the queue at once.
    window = (getattr(executor, "_max_workers", None) or len(jobs)
              if isinstance(executor, ProcessPoolExecutor) else len(jobs))
    queue = list(enumerate(jobs))
    futures: dict[Future, int] = {}
    results: list[RunResult | None] = [None] * len(jobs)
    pending: set[Future] = set()
    interrupted = False

    def submit_more() -> None:
        while queue and len(pending) < window:
            i, job = queue.pop(0)
            fut = executor.submit(run_notebook, job, **kwargs)
            futures[fut] = i
            pending.add(fut)

    def drop_queue() -> None:
        for i, _job in queue:
            res = failed_result(jobs[i], "interrupted before it started", submitted_at)
            results[i] = res
            if on_result is not None:
                on_result(res)
        queue.clear()

    def collect(done: set[Future]) -> None:
        for fut in done:
            i = futures[fut]
            try:
                res = fut.result()
            except CancelledError:
                res = failed_result(jobs[i], "interrupted before it started", submitted_at)
            except Exception as err:  # the worker itself died, or the output folder failed
                res = failed_result(jobs[i], f"{type(err).__name__}: {err}", submitted_at)
            results[i] = res
            if on_result is not None:
                on_result(res)
            if progress:
                n = sum(r is not None for r in results)
                print(_progress_line(res, n, len(jobs)), file=sys.stderr, flush=True)

    if progress:
        where = (f"the Dask scheduler at {scheduler}" if scheduler
                 else f"{workers} local worker(s)" if own else type(executor).__name__)  # fmt: skip
        print(f"running {len(jobs)} notebook(s) on {where}", file=sys.stderr, flush=True)
    try:
        try:
            submit_more()
            while pending:
                done, still = wait(pending, return_when=FIRST_COMPLETED)
                pending.intersection_update(still)
                collect(done)
                submit_more()
        except KeyboardInterrupt:
            interrupted = True
            n_queued = len(queue)
            drop_queue()
            cancelled = {f for f in pending if f.cancel()}
            pending -= cancelled
            collect(cancelled)
            if pending:
                print(f"interrupted: cancelled {len(cancelled) + n_queued} job(s) not yet started; "
                      f"waiting for {len(pending)} running job(s) (Ctrl-C again to stop waiting)",
                      file=sys.stderr, flush=True)
            try:
                while pending:
                    done, still = wait(pending, return_when=FIRST_COMPLETED)
                    pending.intersection_update(still)
                    collect(done)
            except KeyboardInterrupt:
                for fut in pending:
                    i = futures[fut]
                    results[i] = failed_result(jobs[i], "interrupted while running",
                                                submitted_at)
                if isinstance(executor, ProcessPoolExecutor):
                    # No public API stops a running task; the kernels exit with their parent.
                    for proc in list((getattr(executor, "_processes", None) or {}).values()):
                        proc.terminate()
    finally:
        if own and isinstance(executor, ProcessPoolExecutor):
            executor.shutdown(wait=not interrupted, cancel_futures=True)
        elif own:
            executor.shutdown(wait=not interrupted)
        if client is not None:
            client.close()
    final = [r for r in results if r is not None]
    if interrupted:
        raise RunInterrupted(final)
    return final


def new_run_dir(base: Path, review: str) -> Path:
    """Create ``base/<review>/<run-id>/`` with a sortable, unique run id (UTC time + random).

    Raises :class:`InputError` when the folder cannot be created (read-only, not a folder).
    """
    if not review or any(c in review for c in '/\\:*?"<>|{}') or review.startswith("."):
        raise ParameterError(f"review_name {review!r} cannot be used as a folder name")
    parent = Path(base) / review
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder: {err.strerror}", path=parent) from None
    for _ in range(20):
        t = _now()
        path = parent / f"{t:%Y%m%dT%H%M%S}.{t.microsecond // 1000:03d}Z-{secrets.token_hex(2)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as err:
            raise InputError(f"cannot create the run folder: {err.strerror}", path=path) from None
    raise InputError("could not find an unused run id", path=parent)  # pragma: no cover


def _table_rows(path: Path) -> int | None:
    """Data rows in a tabular input (CSV, Excel, Parquet), or None for anything else."""
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".txt"}:
            import pandas as pd

            return sum(len(chunk) for chunk in pd.read_csv(
                path, usecols=[0], dtype=str, chunksize=200_000, encoding_errors="replace"))
        if suffix in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        if suffix in {".xlsx", ".xlsm"}:
            import openpyxl

            wb = openpyxl.load_workbook(path, read_only=True)
            try:
                return max(wb.worksheets[0].max_row - 1, 0)
            finally:
                wb.close()
    except Exception:
        return None
    return None


def describe_input(path: Path) -> dict[str, Any]:
    """Path, SHA-256 and row count of one input, as recorded in the manifest."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        digest = sha256_of_text("\n".join(f"{p.relative_to(path)} {sha256_file(p)}" for p in files))
        return {"path": str(path.resolve()), "sha256": digest, "rows": None, "files": len(files)}
    if not path.is_file():
        return {"path": str(path), "sha256": None, "rows": None, "missing": True}
    return {"path": str(path.resolve()), "sha256": sha256_file(path), "rows": _table_rows(path)}


def sha256_of_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in MANIFEST_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _rel(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def _result_record(r: RunResult, run_dir: Path) -> dict[str, Any]:
    rec = asdict(r)
    rec["notebook"] = str(Path(r.notebook).resolve())
    for key in ("ipynb", "html", "log", "output_dir"):
        rec[key] = _rel(getattr(r, key), run_dir)
    return rec


def write_manifest(
    run_dir: Path,
    *,
    inputs: Sequence[Path],
    parameters: Mapping,
    results: Sequence[RunResult],
    seed: int | None,
    reconciliation: Mapping | None = None,
    started: str | dt.datetime | None = None,
    ended: str | dt.datetime | None = None,
    command: Sequence[str] | None = None,
    title: str | None = None,
    audit: Mapping | None = None,
    status: str | None = None,
) -> Path:
    """Write ``run_dir/manifest.json`` (atomically): what ran, on what, with what, and how it went.

    ``files`` gives every file's audience (reviewer or analyst, :mod:`sgreview.audience`);
    ``disclosure`` the policy the reports used and whether it was weakened (then every
    report carries the NOT FOR CIRCULATION banner); ``service_names`` the trust's service
    list kept un-redacted (path, SHA-256, number of names; :mod:`sgreview.services`);
    ``audit`` the disclosure audit's result.

    ``status`` overrides the one read from the results: ``running`` while a review is in
    progress (rewritten as each report ends, with the process id, so a run killed outright
    is recognisable and ``--retry-failed`` completes it) or ``interrupted`` after Ctrl-C.

    ``inputs`` are hashed and their rows counted; ``reconciliation`` defaults to the data
    quality stage's ``data_quality/reconciliation.json`` when that exists. Paths inside the
    run folder are stored relative to it, so the folder can be moved or archived whole.
    """
    run_dir = Path(run_dir)
    if reconciliation is None:
        rec_file = run_dir / "data_quality" / "reconciliation.json"
        if rec_file.is_file():
            with contextlib.suppress(ValueError, OSError):
                reconciliation = json.loads(rec_file.read_text(encoding="utf-8"))
    unique_inputs = list(dict.fromkeys(Path(p).resolve() for p in inputs))
    times = [r.started for r in results] + [r.ended for r in results]
    manifest = {
        "run_id": run_dir.name,
        "title": title,
        "status": status or ("ok" if results and all(r.ok for r in results) else "failed"),
        "process": {"pid": os.getpid(), "host": platform.node()},
        "started": _iso(started) if isinstance(started, dt.datetime) else started or min(times, default=None),
        "ended": _iso(ended) if isinstance(ended, dt.datetime) else ended or max(times, default=None),
        "command": list(command) if command is not None else None,
        "inputs": [_described(p) for p in unique_inputs],
        "parameters": dict(parameters),
        "seed": seed,
        "packages": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "cpus": os.cpu_count()},
        "reconciliation": reconciliation,
        "jobs": [_result_record(r, run_dir) for r in results],
        "counts": {"jobs": len(results), "ok": sum(r.ok for r in results),
                   "failed": sum(not r.ok for r in results)},
        "disclosure": disclosure_summary(parameters),
        "service_names": services_summary(parameters),
        "audit": dict(audit) if audit is not None else None,
        "files": file_audiences(run_dir),
    }  # fmt: skip
    return write_json(manifest, run_dir / "manifest.json")


_DESCRIBED: dict[tuple, dict[str, Any]] = {}


def _described(path: Path) -> dict[str, Any]:
    """:func:`describe_input`, remembered while the file is unchanged: the manifest is
    rewritten after every report of a review, and hashing a large export each time is waste."""
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
    except OSError:
        return describe_input(path)
    if key not in _DESCRIBED:
        _DESCRIBED[key] = describe_input(path)
    return _DESCRIBED[key]


def still_running(manifest: Mapping[str, Any]) -> bool:
    """True when a manifest says ``running`` and its process is alive on this machine."""
    if manifest.get("status") != "running":
        return False
    proc = manifest.get("process") or {}
    pid = proc.get("pid")
    if not isinstance(pid, int) or proc.get("host") != platform.node():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of an earlier run, or :class:`InputError` naming what is wrong."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        raise InputError("no manifest.json: not a run folder (or the run never finished)",
                         path=run_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise InputError(f"cannot read manifest: {err}", path=path) from None


def results_from_manifest(run_dir: Path) -> list[RunResult]:
    """Rebuild the :class:`RunResult` list of an earlier run (to merge with a rerun)."""
    run_dir = Path(run_dir)
    out = []
    for rec in read_manifest(run_dir).get("jobs", []):
        paths = {k: (run_dir / rec[k]) if rec.get(k) else None
                 for k in ("ipynb", "html", "log", "output_dir")}
        out.append(RunResult(
            name=rec["name"], notebook=Path(rec["notebook"]), status=rec["status"],
            ipynb=paths["ipynb"], html=paths["html"], error=rec.get("error"),
            started=rec.get("started", ""), ended=rec.get("ended", ""),
            seconds=float(rec.get("seconds") or 0.0), parameters=rec.get("parameters", {}),
            labels=rec.get("labels", {}), attempts=int(rec.get("attempts") or 0),
            output_dir=paths["output_dir"], log=paths["log"],
        ))  # fmt: skip
    return out


def failed_jobs(run_dir: Path) -> list[Job]:
    """The jobs of an earlier run that did not finish ok, ready to run again in place."""
    run_dir = Path(run_dir)
    jobs = []
    for r in results_from_manifest(run_dir):
        if r.ok:
            continue
        jobs.append(Job(notebook=r.notebook, parameters=r.parameters, name=r.name,
                        output_dir=r.output_dir or run_dir, labels=r.labels,
                        log_dir=Path(r.log).parent if r.log else None))
    return jobs


def merge_results(old: Sequence[RunResult], new: Sequence[RunResult]) -> list[RunResult]:
    """Earlier results with any rerun job replaced by its new result (order kept)."""
    by_name = {r.name: r for r in new}
    merged = [by_name.pop(r.name, r) for r in old]
    return merged + list(by_name.values())


def clean_partials(run_dir: Path) -> int:
    """Remove the hidden temporary files and folders a killed run left behind (``.*.partial``
    notebook folders, ``.*.tmp`` staged tables, models and atomic writes); returns how many.
    Only hidden names the writers themselves use are touched."""
    n = 0
    for pattern in (".*.partial", ".*.tmp", ".*.old"):
        for p in sorted(Path(run_dir).rglob(pattern), key=lambda q: len(q.parts), reverse=True):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink(missing_ok=True)
            n += 1
    return n
