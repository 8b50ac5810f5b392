"""Notebook parameters: one vocabulary, layered YAML, validated before any kernel starts.

papermill only *warns* about a parameter the notebook does not declare and leaves YAML dates
as whatever the loader produced, so a typo'd key silently runs the report with its default.
Here every value is checked first: unknown keys, wrong types, missing input files and
localities absent from the data are a :class:`~sgreview.errors.ParameterError` naming the key
and the file it came from (exit 2 at the CLI), and nothing has run yet.

Layering follows papermill and Kedro: ``parameters/_defaults.yaml``, then each ``-f`` file
(later wins), then ``-p NAME VALUE`` overrides. Relative paths in a YAML file are resolved
against that file's folder, so a parameter file means the same from any working directory.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from sgreview.disclosure import DEFAULT_BASE, DEFAULT_THRESHOLD
from sgreview.errors import InputError, ParameterError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULTS_PATH = REPO_ROOT / "parameters" / "_defaults.yaml"

#: Keys holding paths: resolved against the YAML file's folder (or the working directory for
#: ``-p`` overrides) and passed to notebooks as absolute paths.
PATH_KEYS = frozenset(
    {"data_path", "denominators_path", "actions_path", "output_dir", "model_dir", "codebook_path",
     "services_path"}
)
#: Paths that must already exist when a run starts.
INPUT_FILE_KEYS = ("data_path", "denominators_path", "actions_path", "codebook_path", "services_path")


def _parse_date(value: Any) -> Any:
    """Accept ``date``/``datetime`` (YAML) or an ISO ``YYYY-MM-DD`` string (CLI, quoted YAML)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an ISO date YYYY-MM-DD, got {value!r}")


def _ids_as_text(value: Any) -> Any:
    """Incident ids are text; YAML turns ``- 1001`` into an int, which is still a valid id."""
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


IsoDate = Annotated[dt.date | None, BeforeValidator(_parse_date)]
IncidentIds = Annotated[list[str], BeforeValidator(_ids_as_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CaseFilter(_Strict):
    """Select a review case set by theme, locality and period instead of listing ids."""

    theme: str | None = None
    locality: str | None = None
    period_start: IsoDate = None
    period_end: IsoDate = None


def _http_url(value: Any) -> Any:
    """An absolute http(s) address without spaces, or a clear error naming the value."""
    from urllib.parse import urlparse

    text = str(value).strip() if isinstance(value, str) else value
    if not isinstance(text, str):
        return value
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in text):
        raise ValueError(f"bad URL {value!r}: use an absolute http:// or https:// address")
    return text


class Resource(_Strict):
    """A link for section 6 of the 7-minute briefing (guidance, training, a local procedure)."""

    title: str
    url: Annotated[str, BeforeValidator(_http_url)]


class NotebookParameters(_Strict):
    """The shared vocabulary every report notebook draws its ``parameters`` cell from.

    Names and types are agreed between the runner and the notebooks; a notebook declares the
    subset it uses. Defaults mirror ``parameters/_defaults.yaml``.
    """

    review_name: str = "demo"
    data_path: str = "../outputs/demo/data/incidents.csv"
    columns: dict[str, str] = {}
    keep_columns: list[str] = []
    earliest_date: IsoDate = dt.date(1990, 1, 1)
    denominators_path: str | None = None
    denominator_unit: str = "occupied_bed_days"
    setting_column: str | None = None
    setting_map: dict[str, str] = {}
    actions_path: str | None = None
    output_dir: str = "../outputs/demo"
    model_dir: str | None = None
    codebook_path: str | None = None
    services_path: str | None = None
    k: int | Literal["auto"] = "auto"
    seed: int = 42
    locality: str | None = None
    group_by: str = "locality"
    period: Literal["month", "week"] = "month"
    period_start: IsoDate = None
    period_end: IsoDate = None
    improvement_direction: Literal["neutral", "increase", "decrease"] = "neutral"
    run_length: int = 7
    screen_outliers: bool = False
    comparison_months: int = 12
    funnel_target: Literal["leave_one_out", "pooled"] = "leave_one_out"
    suppression_threshold: int = 7
    rounding_base: int = 5
    disclosure: Literal["reviewer", "analyst_only"] = "reviewer"
    case_set: str | None = None
    case_ref: str | None = None
    case_incident_ids: IncidentIds = []
    case_filter: CaseFilter | None = None
    resources: list[Resource] = []

    @model_validator(mode="after")
    def _check_ranges(self) -> NotebookParameters:
        if isinstance(self.k, int) and self.k < 2:
            raise ValueError("k: must be at least 2 or 'auto'")
        for name in ("run_length", "rounding_base"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1")
        if self.comparison_months < 0:
            raise ValueError("comparison_months: must be 0 (all data) or a number of months")
        if self.suppression_threshold < 0:
            raise ValueError("suppression_threshold: must not be negative")
        if self.disclosure == "reviewer" and (
            self.suppression_threshold < DEFAULT_THRESHOLD or self.rounding_base < DEFAULT_BASE
        ):
            raise ValueError(
                f"suppression_threshold: {self.suppression_threshold} (rounding_base "
                f"{self.rounding_base}) is weaker than the reviewer default {DEFAULT_THRESHOLD} "
                f"({DEFAULT_BASE}); set 'disclosure: analyst_only' for reports that show small "
                "numbers (they are marked NOT FOR CIRCULATION)"
            )
        if self.period_start and self.period_end and self.period_start > self.period_end:
            raise ValueError(
                f"period_start: {self.period_start} is after period_end {self.period_end}"
            )
        return self


VOCABULARY = frozenset(NotebookParameters.model_fields)


class CaseSet(_Strict):
    """A named set of incidents for a learning summary: by case reference, ids or a filter."""

    name: str
    case_ref: str | None = None
    incident_ids: IncidentIds | None = None
    filter: CaseFilter | None = None

    @model_validator(mode="after")
    def _exactly_one_selector(self) -> CaseSet:
        given = [k for k in ("case_ref", "incident_ids", "filter") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"case set '{self.name}' needs exactly one of case_ref, incident_ids, filter"
            )
        return self


class ReviewConfig(NotebookParameters):
    """The whole-review "control panel": the shared keys plus which localities and case sets."""

    localities: list[str] | Literal["all"] = "all"
    case_sets: list[CaseSet] = []

    @model_validator(mode="after")
    def _unique_case_sets(self) -> ReviewConfig:
        names = [c.name for c in self.case_sets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"case_sets: duplicate name {dupes[0]!r}")
        return self


class LayeredParameters(dict):
    """A plain dict of merged parameters that also remembers where each value came from.

    ``sources[key]`` is the file (or ``"-p"``) that set the winning value, so errors can name
    the file to fix, and keys that only came from ``_defaults.yaml`` can be dropped for a
    notebook that does not declare them instead of being reported as typos.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sources: dict[str, str] = {}
        self.defaults_file: str | None = None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ParameterError("parameter file not found", path=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ParameterError(f"not valid YAML{where}", path=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ParameterError(f"cannot read: {err}", path=path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError("must be a YAML mapping of NAME: VALUE", path=path)
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ParameterError(f"parameter names must be text, got {bad[0]!r}", path=path)
    return data


def _resolve_paths(values: Mapping[str, Any], base: Path) -> dict[str, Any]:
    out = dict(values)
    for key in PATH_KEYS & out.keys():
        value = out[key]
        if isinstance(value, str) and value:
            out[key] = str((base / Path(value).expanduser()).resolve())
    return out


def parse_override(value: str) -> Any:
    """Read a ``-p NAME VALUE`` value as YAML, so ``12``, ``true`` and ``[a, b]`` get types."""
    try:
        return yaml.safe_load(value)
    except (yaml.YAMLError, ValueError):  # ValueError: "2024-13-01" looks like a date but is not
        return value


def load_parameter_files(
    files: Sequence[Path],
    overrides: Mapping[str, Any] = {},  # noqa: B006 - read only
    *,
    defaults: Path | None = DEFAULTS_PATH,
) -> LayeredParameters:
    """Merge ``defaults`` (if it exists), each file in order, then ``overrides`` (later wins).

    String override values are parsed as YAML (``-p seed 7`` gives an int). Path values are
    made absolute. The result is not validated yet: see :func:`validate_for_notebook` and
    :func:`load_review_config`.
    """
    merged = LayeredParameters()
    layers: list[tuple[str, dict[str, Any]]] = []
    if defaults is not None and Path(defaults).is_file():
        defaults = Path(defaults)
        merged.defaults_file = str(defaults)
        layers.append((str(defaults), _resolve_paths(_read_yaml(defaults), defaults.parent)))
    for f in files:
        f = Path(f)
        layers.append((str(f), _resolve_paths(_read_yaml(f), f.parent.resolve())))
    parsed = {k: parse_override(v) if isinstance(v, str) else v for k, v in overrides.items()}
    layers.append(("-p", _resolve_paths(parsed, Path.cwd())))
    for source, values in layers:
        merged.update(values)
        merged.sources.update(dict.fromkeys(values, source))
    return merged


@functools.lru_cache(maxsize=64)
def _declared(notebook: str, mtime_ns: int) -> dict[str, Any]:
    import papermill

    try:
        params = papermill.inspect_notebook(notebook)
    except Exception as err:  # nbformat/json errors: the file is not a usable notebook
        raise InputError(f"cannot read notebook: {err}", path=notebook) from None
    return params


def declared_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """Parameters the notebook's ``parameters`` cell declares (``papermill.inspect_notebook``).

    Maps name to papermill's description (``inferred_type_name``, ``default``, ``help``).
    Raises :class:`InputError` for a missing notebook and :class:`ParameterError` when there
    is no cell tagged ``parameters``.
    """
    notebook = Path(notebook)
    if not notebook.is_file():
        raise InputError("notebook not found", path=notebook)
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as err:
        raise InputError(f"cannot read notebook: {err}", path=notebook) from None
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise ParameterError("notebook has no cell tagged 'parameters'", path=notebook)
    return dict(_declared(str(notebook.resolve()), notebook.stat().st_mtime_ns))


def _suggest(key: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_TYPE_TAGS = frozenset({"int", "float", "str", "bool", "date", "list", "dict", "none"})


def _is_union_tag(part: Any) -> bool:
    """pydantic names the union member it tried in ``loc`` (``int``, ``literal['auto']``)."""
    return isinstance(part, str) and ("[" in part or part in _TYPE_TAGS)


def _raise_validation(err: ValidationError, values: Mapping[str, Any], sources: Mapping) -> None:
    errors = err.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"] if not _is_union_tag(p)]
    msg = first["msg"].removeprefix("Value error, ")
    if any(_is_union_tag(p) for p in first["loc"]):
        alternatives = [e["msg"].removeprefix("Input should be ") for e in errors
                        if [str(p) for p in e["loc"] if not _is_union_tag(p)] == loc]  # fmt: skip
        msg = "Input should be " + " or ".join(dict.fromkeys(alternatives))
    if loc:
        key = loc[0]
        detail = ".".join(loc)
        shown = values.get(key)
        got = f" (got {first['input']!r})" if first["type"] != "missing" else ""
        if len(loc) == 1 and not isinstance(shown, dict | list):
            got = f" (got {shown!r})"
        if "got " in msg:
            got = ""
        raise ParameterError(f"parameter '{detail}': {msg}{got}", path=sources.get(key))
    # Model-level checks name their key as "key: message".
    key = msg.split(":", 1)[0]
    raise ParameterError(f"parameter '{key}': {msg.split(':', 1)[-1].strip()}",
                         path=sources.get(key))


_SIMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def _declared_type(param: Mapping[str, Any]) -> str | None:
    """The annotated type, else the type of the literal default (``die = False`` -> bool)."""
    name = param.get("inferred_type_name")
    if name and name != "None":
        return str(name)
    try:
        default = ast.literal_eval(str(param.get("default")))
    except (ValueError, SyntaxError):
        return None
    return None if default is None else type(default).__name__


def _check_output_dir(value: str, source: str | None) -> None:
    path = Path(value)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ParameterError(f"parameter 'output_dir': cannot write to {value}", path=source)


def read_localities(data_path: Path, columns: Mapping[str, str] | None = None) -> list[str] | None:
    """Distinct locality names in an incident export, reading only that column.

    The locality column is found as the loader finds it (``sgreview.schema.resolve_columns``:
    the column map, then known header spellings such as "Area" or "Borough"). Returns None
    when it cannot be found or read: the full validation in the notebook then reports the
    problem with row and column.
    """
    import pandas as pd

    from sgreview.errors import SgreviewError
    from sgreview.schema import resolve_columns

    suffix = data_path.suffix.lower()
    try:
        if suffix in {".csv", ".txt"}:
            def read(**kw: Any) -> pd.DataFrame:
                return pd.read_csv(data_path, dtype=str, encoding_errors="replace", **kw)
        elif suffix in {".xlsx", ".xlsm"}:
            def read(**kw: Any) -> pd.DataFrame:
                return pd.read_excel(data_path, dtype=str, **kw)
        elif suffix in {".parquet", ".pq"}:
            def read(usecols: list[str] | None = None, nrows: int | None = None) -> pd.DataFrame:
                frame = pd.read_parquet(data_path, columns=usecols)
                return frame.head(nrows) if nrows is not None else frame
        else:
            return None
        header = [str(c) for c in read(nrows=0).columns]
        rename = resolve_columns(header, columns, str(data_path))
        source = next(src for src, canonical in rename.items() if canonical == "locality")
        values = read(usecols=[source])[source]
    except (SgreviewError, StopIteration, ValueError, KeyError, OSError, ImportError):
        return None
    names = values.dropna().astype(str).map(lambda v: " ".join(v.split()))
    return sorted(n for n in names.unique().tolist() if n)


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def check_localities(
    wanted: Sequence[str], data_path: str | Path, columns: Mapping[str, str] | None, source: Any
) -> None:
    """Fail before a kernel starts when a requested locality is not in the data."""
    known = read_localities(Path(data_path), columns)
    if known is None:
        return
    lookup = {_norm(k) for k in known}
    for name in wanted:
        if _norm(name) not in lookup:
            hint = _suggest(name, known) or f" (known: {', '.join(known[:12])})"
            raise ParameterError(
                f"parameter 'locality': {name!r} does not appear in {data_path}{hint}", path=source
            )


def _check_services(path: str) -> None:
    """A service-name list must read as a YAML list of names before any kernel starts: found
    in a notebook, the error would come after earlier stages had already run."""
    from sgreview.services import read_services

    try:
        read_services(path)
    except ParameterError as err:
        raise ParameterError(f"parameter 'services_path': {err.message}", path=err.path) from None


def _check_files(
    values: Mapping[str, Any], sources: Mapping[str, Any], defaults_file: str | None = None
) -> None:
    for key in INPUT_FILE_KEYS:
        value = values.get(key)
        # The defaults point at the demo data, which the notebooks create on first use.
        from_defaults = defaults_file is not None and sources.get(key) == defaults_file
        if value and not from_defaults and not Path(value).exists():
            raise ParameterError(f"parameter '{key}': file not found: {value}", path=sources.get(key))
    if values.get("services_path"):
        _check_services(values["services_path"])
    model_dir, output_dir = values.get("model_dir"), values.get("output_dir")
    if model_dir and not Path(model_dir).exists():
        # Discovery writes the model inside this run's output folder before later stages read it.
        produced_here = output_dir and Path(model_dir).resolve().is_relative_to(
            Path(output_dir).resolve()
        )
        if not produced_here:
            raise ParameterError(
                f"parameter 'model_dir': folder not found: {model_dir}", path=sources.get("model_dir")
            )
    if output_dir:
        _check_output_dir(output_dir, sources.get("output_dir"))


def validate_for_notebook(
    notebook: Path, params: Mapping[str, Any], *, check_files: bool = True
) -> dict[str, Any]:
    """Check ``params`` against what ``notebook`` declares and return the dict to inject.

    Unknown keys raise :class:`ParameterError` naming the key and the closest declared name,
    except keys that only came from ``_defaults.yaml`` (those are dropped: the defaults file
    covers every notebook). Shared-vocabulary values are type-checked with
    :class:`NotebookParameters`; other declared parameters against the type papermill infers
    from the cell's annotation. Input files must exist, the output folder must be writable and
    a ``locality`` must appear in the data. Dates come back as ISO strings, paths as absolute
    strings: the result is JSON-safe and ready for papermill.
    """
    notebook = Path(notebook)
    declared = declared_parameters(notebook)
    sources: Mapping[str, Any] = getattr(params, "sources", {})
    defaults_file = getattr(params, "defaults_file", None)

    kept: dict[str, Any] = {}
    for key, value in params.items():
        if key in declared:
            kept[key] = value
        elif defaults_file is None or sources.get(key) != defaults_file:
            raise ParameterError(
                f"unknown parameter '{key}' for notebook {notebook.name}"
                f"{_suggest(key, list(declared))}",
                path=sources.get(key),
            )

    vocab = {k: v for k, v in kept.items() if k in VOCABULARY}
    try:
        model = NotebookParameters.model_validate(vocab)
    except ValidationError as err:
        _raise_validation(err, vocab, sources)
    out: dict[str, Any] = model.model_dump(mode="json", include=set(vocab))

    for key in kept.keys() - VOCABULARY:
        value = kept[key]
        type_name = _declared_type(declared[key])
        expected = _SIMPLE_TYPES.get(type_name or "")
        wrong_bool = isinstance(value, bool) and bool not in (expected or (bool,))
        if value is not None and expected and (not isinstance(value, expected) or wrong_bool):
            raise ParameterError(
                f"parameter '{key}': expected {type_name}, got {type(value).__name__} {value!r}",
                path=sources.get(key),
            )
        if isinstance(value, dt.date):
            value = value.isoformat()
        out[key] = value

    if check_files:
        _check_files(out, sources, defaults_file)
        if out.get("locality") and out.get("data_path"):
            check_localities([out["locality"]], out["data_path"], out.get("columns"),
                             sources.get("locality"))
    return out


def load_review_config(
    path: Path,
    overrides: Mapping[str, Any] = {},  # noqa: B006 - read only
    *,
    defaults: Path | None = DEFAULTS_PATH,
    check_files: bool = True,
) -> ReviewConfig:
    """Load and validate a whole-review config (defaults, then ``path``, then overrides)."""
    params = load_parameter_files([Path(path)], overrides, defaults=defaults)
    allowed = set(ReviewConfig.model_fields)
    for key in params:
        if key not in allowed:
            raise ParameterError(
                f"unknown parameter '{key}'{_suggest(key, sorted(allowed))}",
                path=params.sources.get(key),
            )
    try:
        config = ReviewConfig.model_validate(dict(params))
    except ValidationError as err:
        _raise_validation(err, params, params.sources)
    if check_files:
        dumped = config.model_dump(mode="json")
        _check_files(
            {k: dumped[k] for k in params if k in dumped}, params.sources, params.defaults_file
        )
        if isinstance(config.localities, list) and config.localities:
            check_localities(config.localities, config.data_path, config.columns,
                             params.sources.get("localities"))
    return config
