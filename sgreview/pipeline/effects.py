"""Each action's effect, computed once per run and read by every report that shows it.

A locality report and a learning briefing used to compute an action's effect separately,
each on its own slice of the data, so ACT-002 read "20 to 12 a month, RR 0.48" in one and
"21 to 14 per 1,000 bed days, RR 0.53" in the other (issue 9). Here the whole register is
judged once, on the whole organisation's assignments with the run's denominators, and
written to ``learning/action_effects.parquet`` (with a CSV copy for people). Reports only
read and filter that table. The table is keyed by a digest of everything it depends on
(register, assignments, denominators, options): a changed input is recomputed, an unchanged
one is read back, so parallel locality reports get identical numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from sgreview.io import write_csv
from sgreview.pipeline.common import LEARNING_DIR, read_assignments, read_themes_table, stage_dir

EFFECTS_FILE = "action_effects.parquet"
#: With no direction set (``neutral``), a safeguarding action aims to reduce its theme.
DEFAULT_EFFECT_DIRECTION = "decrease"


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


def effect_direction(improvement_direction: str) -> str:
    """The default direction for actions without their own: the parameter, or decrease."""
    return DEFAULT_EFFECT_DIRECTION if improvement_direction == "neutral" else improvement_direction


def run_action_effects(
    output_dir: str | Path,
    actions_path: str | Path,
    *,
    denominators_path: str | Path | None = None,
    denominator_unit: str | None = None,
    period: str = "month",
    improvement_direction: str = "neutral",
    setting_column: str | None = None,
    setting_map: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The run's action-effects table: read it when it matches the inputs, else compute it.

    With ``setting_column`` and a denominators file with a ``setting`` column, each action
    is judged over its own setting's denominator (the register's ``setting`` column).

    Raises the register's :class:`~sgreview.learning.actions.ActionsRegisterError` when the
    register is invalid (callers decide whether that sinks their report).
    """
    from sgreview.learning import action_effects, load_actions

    out = stage_dir(output_dir, LEARNING_DIR)
    path = out / EFFECTS_FILE
    run = Path(output_dir).expanduser().resolve()
    options = {"period": period, "direction": effect_direction(improvement_direction),
               "unit": denominator_unit if denominators_path else None,
               "setting_column": setting_column, "setting_map": dict(setting_map or {})}
    parts = [Path(actions_path).read_bytes(),
             (run / "themes" / "assignments.csv").read_bytes(),
             (run / "themes" / "themes.csv").read_bytes(),
             Path(denominators_path).read_bytes() if denominators_path else b"",
             json.dumps(options, sort_keys=True).encode()]
    key = _digest(*parts)
    if path.exists():
        try:
            table = pd.read_parquet(path)
            if _stored_key(path) == key:
                return table
        except (OSError, ValueError):
            pass  # unreadable or half-written by another run: recompute
    themes = read_themes_table(output_dir)
    register = load_actions(actions_path, themes=themes)
    assignments = read_assignments(output_dir)
    denominators = None
    if denominators_path:
        denominators = pd.read_csv(denominators_path, dtype={"locality": str, "period": str})
    effects = action_effects(register, assignments, period=period, denominators=denominators,
                             denominator_unit=options["unit"],
                             improvement_direction=options["direction"],
                             setting_column=setting_column, setting_map=setting_map)
    if "description" in register and "description" not in effects:
        effects = effects.merge(register[["action_id", "description"]], on="action_id", how="left")
    _write(effects, path, key)
    write_csv(effects, out / "action_effects.csv")
    return effects


def _stored_key(path: Path) -> str | None:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    value = meta.get(b"sgreview_key")
    return value.decode() if value else None


def _write(effects: pd.DataFrame, path: Path, key: str) -> None:
    """Atomic Parquet write with the input digest in the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(effects, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"sgreview_key": key.encode()})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
