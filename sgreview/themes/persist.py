"""Save and load theme models safely: JSON plus ``.npy`` arrays, checksummed, never pickle.

A model directory may come from anyone (a shared drive, an email). Unpickling it would run
whatever code it holds, so a model is stored as plain JSON (parameters, vocabulary, theme
metadata) and numeric ``.npy`` arrays read with ``allow_pickle=False``. ``manifest.json``
records the format name and version and the SHA-256 of every model file, so a truncated,
edited or foreign file is refused with a clear :class:`~sgreview.errors.ModelError` instead
of producing wrong themes. ``codebook.yaml`` is deliberately outside the checksums: it is
the analyst's file to edit.

Saving builds the directory under a temporary name beside the target and renames it into
place, so a crash never leaves half a model.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from sgreview import __version__
from sgreview.errors import ModelError, ParameterError, SgreviewError
from sgreview.io import make_dirs, sha256_file, to_json, unwritable, write_text
from sgreview.themes.carryover import default_codebook
from sgreview.themes.codebook import Codebook
from sgreview.themes.model import ThemeModel

FORMAT = "sgreview-theme-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
META = "model.json"
CODEBOOK = "codebook.yaml"
ARRAYS = (
    "idf",
    "components",
    "centroids",
    "prototypes",
    "prototype_theme",
    "term_weights",
    "stability",
    "sizes",
)

_META_FIELDS = (
    "vocabulary_",
    "theme_ids_",
    "status_",
    "origin_",
    "names_",
    "taxonomy_",
    "labels_",
    "top_terms_",
    "agreement_",
    "k_scores_",
    "notes_",
    "n_fit_docs_",
    "n_unusable_",
    "seed_names_",
    "seed_token_ids_",
    "matched_from_",
)


def save_model(model: ThemeModel, directory: str | Path) -> None:
    """Write ``model`` (and its codebook) to ``directory``, replacing an older model there."""
    if not hasattr(model, "centroids_"):
        raise ModelError("the theme model is not fitted")
    target = Path(directory)
    if target.exists() and not _replaceable(target):
        raise ModelError(
            "refusing to replace a folder that is not a theme model; choose another --out",
            path=target,
        )
    make_dirs(target.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as err:
        raise unwritable(target, err) from None
    try:
        files = {}
        for name in ARRAYS:
            path = tmp / f"{name}.npy"
            np.save(path, np.ascontiguousarray(getattr(model, f"{name}_")), allow_pickle=False)
            files[path.name] = sha256_file(path)
        params = model.get_params()
        params["k_range"] = list(params["k_range"])
        meta = {"params": params, **{f: _plain(getattr(model, f, None)) for f in _META_FIELDS}}
        write_text(to_json(meta) + "\n", tmp / META)
        files[META] = sha256_file(tmp / META)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "sgreview_version": __version__,
            "n_themes": int(model.n_themes_),
            "files": files,
        }
        write_text(to_json(manifest) + "\n", tmp / MANIFEST)
        model.codebook_.save(tmp / CODEBOOK)
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_model(directory: str | Path) -> ThemeModel:
    """Read a saved model; any problem raises :class:`ModelError` naming the folder."""
    path = Path(directory)
    if not path.exists():
        raise ModelError("model directory not found", path=path)
    if not path.is_dir():
        raise ModelError("not a model directory (it is a file)", path=path)
    manifest = _read_json(
        path / MANIFEST, path, missing="not a theme model directory (no manifest.json)"
    )
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError("not an sgreview theme model (unknown format in manifest.json)", path=path)
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"model format version {version} is not supported by sgreview {__version__} "
            f"(it reads version {FORMAT_VERSION}); refit with `sgreview themes fit`",
            path=path,
        )
    files = manifest.get("files")
    expected = {META, *(f"{a}.npy" for a in ARRAYS)}
    if not isinstance(files, dict) or set(files) != expected:
        raise ModelError("corrupt model: manifest.json does not list the model files", path=path)
    for name, digest in sorted(files.items()):
        file = path / name
        if not file.is_file():
            raise ModelError(f"corrupt model: {name} is missing", path=path)
        if sha256_file(file) != digest:
            raise ModelError(f"corrupt model: {name} does not match its checksum", path=path)
    meta = _read_json(path / META, path, missing=f"corrupt model: {META} is missing")
    try:
        params = dict(meta["params"])
        params["k_range"] = tuple(params["k_range"])
        model = ThemeModel(**params)
        for field in _META_FIELDS:
            setattr(model, field, meta.get(field))
        model.vocabulary_ = np.array(meta["vocabulary_"], dtype=object)
        for name in ARRAYS:
            setattr(model, f"{name}_", load_array(path / f"{name}.npy"))
        model.seed_token_ids_ = [list(map(int, ids)) for ids in model.seed_token_ids_ or []]
        model.k_scores_ = {int(k): v for k, v in (meta.get("k_scores_") or {}).items()}
        model.agreement_ = float("nan") if model.agreement_ is None else float(model.agreement_)
        _check_shapes(model)
    except SgreviewError:
        raise
    except (KeyError, TypeError, ValueError, OSError) as err:
        raise ModelError(f"corrupt model: {type(err).__name__}: {err}", path=path) from err

    book_path = path / CODEBOOK
    try:
        model.codebook_ = (
            Codebook.load(book_path) if book_path.exists() else default_codebook(model)
        )
        model.codebook_.check(str(book_path), known_ids=set(model.theme_ids_))
    except ParameterError as err:
        # The analyst's edit is the problem, not the model files: say so, keep the line.
        raise ModelError(str(err)) from err
    return model


def load_array(file: Path) -> np.ndarray:
    """``np.load`` after checking the ``.npy`` header against the file's real size.

    Why: the header states the array's shape, and ``np.load`` allocates that much memory
    before reading. A crafted header claiming a 373 GiB array (with matching checksums in an
    edited manifest) would exhaust memory instead of being refused.
    """
    size = file.stat().st_size
    with open(file, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        except ValueError as err:
            raise ModelError(f"corrupt model: {file.name} has no valid .npy header ({err})",
                             path=file.parent) from None
        offset = fh.tell()
    if dtype.hasobject:
        raise ModelError(f"corrupt model: {file.name} holds Python objects", path=file.parent)
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need != size - offset:
        raise ModelError(
            f"corrupt model: {file.name} header claims {need:,} bytes of data but the file "
            f"holds {size - offset:,}",
            path=file.parent,
        )
    return np.load(file, allow_pickle=False)


def _check_shapes(model: ThemeModel) -> None:
    v, k = len(model.vocabulary_), len(model.theme_ids_)
    dims = model.components_.shape[1] if model.components_.ndim == 2 else -1
    ok = (
        model.idf_.shape == (v,)
        and model.components_.shape[0] == v
        and model.centroids_.shape == (k, dims)
        and model.prototypes_.shape == (len(model.prototype_theme_), dims)
        and (k == 0 or set(np.unique(model.prototype_theme_)) == set(range(k)))
        and model.term_weights_.shape == (k, v)
        and model.stability_.shape == (k,)
        and model.sizes_.shape == (k,)
        and all(len(x) == k for x in (model.labels_, model.status_, model.origin_))
    )
    if not ok:
        raise ModelError("corrupt model: array shapes do not agree")


def _read_json(file: Path, folder: Path, missing: str) -> dict:
    if not file.is_file():
        raise ModelError(missing, path=folder)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"corrupt model: {file.name} is not valid JSON", path=folder) from err


def _replaceable(target: Path) -> bool:
    """Only an empty folder or an earlier theme model may be replaced."""
    if not target.is_dir():
        return False
    return not any(target.iterdir()) or (target / MANIFEST).is_file()


def _swap_into_place(tmp: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.rmdir(old)
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
