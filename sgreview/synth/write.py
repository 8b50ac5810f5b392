"""Write a :class:`SynthData` as an incident file plus its ground-truth sidecars.

The main file's format follows its suffix (``.csv``, ``.xlsx``, ``.parquet``); sidecars are
always CSV/JSON next to it: ``<stem>_truth.csv``, ``<stem>_identifiers.csv``,
``<stem>_signals.json``, ``<stem>_actions.csv``, ``<stem>_denominators.csv``. Everything is
built in a temporary folder beside the destination and renamed into place, the main file
last, so an interrupted run never leaves a data file without its truth.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from sgreview.errors import ParameterError
from sgreview.io import write_bytes, write_csv, write_json
from sgreview.synth.generate import SynthData

SUFFIXES = (".csv", ".xlsx", ".parquet")
SIDECARS = ("truth", "identifiers", "signals", "actions", "denominators")


def sidecar_paths(out: str | os.PathLike[str]) -> dict[str, Path]:
    """Where :func:`write_synth` puts each file for main file ``out`` (keys: incidents + sidecars)."""
    out = Path(out)
    paths = {"incidents": out}
    for name in SIDECARS:
        suffix = ".json" if name == "signals" else ".csv"
        paths[name] = out.with_name(f"{out.stem}_{name}{suffix}")
    return paths


def _write_incidents(df: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_csv(df, path)
        return
    buf = io.BytesIO()
    if suffix == ".xlsx":
        df.to_excel(buf, index=False, sheet_name="incidents")
    else:
        df.to_parquet(buf, index=False)
    write_bytes(buf.getvalue(), path)


def write_synth(data: SynthData, out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the incident file ``out`` and its sidecars atomically; return their paths."""
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise ParameterError(
            f"output must end in one of {', '.join(SUFFIXES)}, got {out.name!r}", path=out
        )
    final = sidecar_paths(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.stem}.", dir=out.parent))
    try:
        staged = {k: tmp / p.name for k, p in final.items()}
        write_csv(data.truth, staged["truth"])
        write_csv(data.identifiers, staged["identifiers"])
        write_json(data.signals, staged["signals"])
        write_csv(data.actions, staged["actions"])
        write_csv(data.denominators, staged["denominators"])
        _write_incidents(data.incidents, staged["incidents"])
        for key in (*SIDECARS, "incidents"):
            os.replace(staged[key], final[key])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
