"""The codebook: the analyst's editable record of what each theme id means.

The codebook (``codebook.yaml`` beside a saved model) is where a safeguarding lead takes
ownership of the themes. Edits that ``apply`` honours:

- **rename**: change ``label``;
- **merge**: set ``merge_into: T03`` (its incidents are counted under T03);
- **retire**: set ``status: retired`` (its incidents go to their next best theme, or to
  unthemed when none is close enough);
- **split**: add a theme with a new ``id``, a ``label``, ``split_from: T04`` and
  ``seed_terms``: incidents of T04 that use those terms move to the new theme. Without
  ``split_from``, a theme with ``seed_terms`` that the model does not know takes any
  incident using its terms (an analyst-defined theme); at the next fit it becomes a seeded
  theme.

Validation is strict (pydantic, unknown keys rejected) because a typo such as
``merge_ino`` silently ignored would misreport a theme to a board.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sgreview.errors import ParameterError
from sgreview.io import write_text
from sgreview.schema import UNTHEMED_ID

FORMAT = "sgreview-codebook/1"
_ID = re.compile(r"^T\d{2,}$")

HEADER = """\
# sgreview theme codebook: edit this file, then run `sgreview themes apply`.
#   rename: change `label`        merge: `merge_into: T03`        retire: `status: retired`
#   split:  add a theme with a new `id`, a `label`, `split_from: T04` and `seed_terms: [...]`
#   new:    add a theme with a new `id`, a `label` and `seed_terms` (seeded at the next fit)
# top_terms, size and stability are information from the fit; editing them changes nothing.
"""


class ThemeEntry(BaseModel):
    """One theme as the analyst sees and edits it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    label: str
    status: Literal["active", "new", "retired"] = "active"
    origin: Literal["discovered", "seeded", "analyst"] = "discovered"
    taxonomy: str | None = None
    merge_into: str | None = None
    split_from: str | None = None
    seed_terms: list[str] = Field(default_factory=list)
    top_terms: list[str] = Field(default_factory=list)
    size: int | None = None
    stability: float | None = None

    @field_validator("id", "merge_into", "split_from")
    @classmethod
    def _theme_id(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = str(value).strip()
        if not _ID.match(value) or value == UNTHEMED_ID:
            raise ValueError(f"'{value}' is not a theme id (T01, T02, ...; T00 is reserved)")
        return value

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        value = " ".join(str(value).split())
        if not value:
            raise ValueError("label is empty")
        return value

    @property
    def retired(self) -> bool:
        return self.status == "retired"


class Codebook(BaseModel):
    """All themes of a model, in id order, plus analyst additions."""

    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    themes: list[ThemeEntry] = Field(default_factory=list)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_yaml(cls, text: str, source: str = "<codebook>") -> Codebook:
        """Parse and validate codebook YAML; any problem is one clear ``ParameterError``."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or "invalid YAML"
            raise ParameterError(
                f"codebook YAML syntax error{where}: {problem}", path=source
            ) from err
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ParameterError("codebook must be a mapping with a 'themes' list", path=source)
        if data.get("format", FORMAT) != FORMAT:
            raise ParameterError(
                f"unsupported codebook format {data.get('format')!r} (expected {FORMAT})",
                path=source,
            )
        try:
            book = cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = _location(data, first["loc"])
            raise ParameterError(f"codebook {where}: {first['msg']}", path=source) from err
        book.check(source)
        return book

    @classmethod
    def load(cls, path: str | Path) -> Codebook:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise ParameterError("codebook file not found", path=path) from err
        except (OSError, UnicodeDecodeError) as err:
            raise ParameterError(f"cannot read codebook: {err}", path=path) from err
        return cls.from_yaml(text, str(path))

    def check(self, source: str = "<codebook>", known_ids: set[str] | None = None) -> None:
        """Ids unique; merges and splits point at existing, non-retired themes; no cycles.

        With ``known_ids`` (the model's theme ids), themes the model does not know must be
        analyst additions (with ``seed_terms``), so a mistyped id is caught.
        """
        ids = [t.id for t in self.themes]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ParameterError(f"codebook lists theme id {dupes[0]} more than once", path=source)
        by_id = {t.id: t for t in self.themes}
        for t in self.themes:
            for field, target in (("merge_into", t.merge_into), ("split_from", t.split_from)):
                if target is None:
                    continue
                if target not in by_id:
                    raise ParameterError(
                        f"theme {t.id}: {field} names unknown theme id {target}", path=source
                    )
                if target == t.id:
                    raise ParameterError(f"theme {t.id}: {field} names itself", path=source)
                if by_id[target].retired:
                    raise ParameterError(
                        f"theme {t.id}: {field} names retired theme {target}", path=source
                    )
            if t.split_from and not t.seed_terms:
                raise ParameterError(
                    f"theme {t.id}: a split needs seed_terms to say which incidents move",
                    path=source,
                )
            if known_ids is not None and t.id not in known_ids and not t.seed_terms:
                raise ParameterError(
                    f"theme {t.id} is not in the model: new themes need seed_terms",
                    path=source,
                )
        for t in self.themes:
            self.resolve_merge(t.id, source)

    def resolve_merge(self, theme_id: str, source: str = "<codebook>") -> str:
        """Follow ``merge_into`` links to the theme that finally receives the incidents."""
        by_id = {t.id: t for t in self.themes}
        seen = [theme_id]
        while by_id[seen[-1]].merge_into is not None:
            nxt = by_id[seen[-1]].merge_into
            if nxt in seen:
                raise ParameterError(f"merge cycle: {' -> '.join([*seen, nxt])}", path=source)
            seen.append(nxt)
        return seen[-1]

    # ------------------------------------------------------------------ writing
    def to_yaml(self) -> str:
        data = self.model_dump(mode="json")
        for entry in data["themes"]:
            for key in ("merge_into", "split_from", "taxonomy", "size", "stability"):
                if entry.get(key) is None:
                    entry.pop(key, None)
            if not entry.get("seed_terms"):
                entry.pop("seed_terms", None)
        return HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)

    def save(self, path: str | Path) -> Path:
        return write_text(self.to_yaml(), path)

    # ------------------------------------------------------------------ helpers
    def get(self, theme_id: str) -> ThemeEntry | None:
        return next((t for t in self.themes if t.id == theme_id), None)

    def seeded(self) -> list[ThemeEntry]:
        """Themes an analyst defined by seed terms (not splits), to seed the next fit."""
        return [t for t in self.themes if t.seed_terms and not t.split_from and not t.retired]

    def max_id(self) -> int:
        return max((int(t.id[1:]) for t in self.themes), default=0)


def _location(data: dict, loc: tuple) -> str:
    """'theme T03 field merge_into' rather than pydantic's ('themes', 2, 'merge_into')."""
    if len(loc) >= 2 and loc[0] == "themes" and isinstance(loc[1], int):
        try:
            tid = data["themes"][loc[1]].get("id", f"#{loc[1] + 1}")
        except (AttributeError, IndexError, KeyError, TypeError):
            tid = f"#{loc[1] + 1}"
        rest = ".".join(str(x) for x in loc[2:])
        return f"theme {tid}" + (f" field '{rest}'" if rest else "")
    return "field '" + ".".join(str(x) for x in loc) + "'"


def starter_codebook() -> Codebook:
    """Seeded themes from the package taxonomy's incident themes (DOMAIN.md), T01 onwards."""
    from sgreview.themes.labels import load_taxonomy

    entries = load_taxonomy()["incident_themes"]
    return Codebook(
        themes=[
            ThemeEntry(
                id=f"T{i + 1:02d}",
                label=e["name"],
                origin="seeded",
                taxonomy=e["key"],
                seed_terms=[str(t) for t in e["terms"]],
            )
            for i, e in enumerate(entries)
        ]
    )
