"""Codebook edits honoured by apply, strict validation, and stable ids across refits."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from sgreview.errors import ParameterError
from sgreview.redact import redact_incidents
from sgreview.synth import generate
from sgreview.themes import (
    UNTHEMED_ID,
    Codebook,
    ThemeEntry,
    apply_themes,
    fit_themes,
    load_model,
    save_model,
    themes_table,
)


@pytest.fixture(scope="module")
def data():
    sd = generate(1500, seed=7)
    incidents, _ = redact_incidents(sd.incidents)
    truth = sd.truth.set_index("incident_id").loc[incidents["incident_id"], "theme"].to_numpy()
    return incidents, truth


@pytest.fixture(scope="module")
def model(data):
    return fit_themes(data[0], k="auto", seed=0)


def _edited(model, edit):
    """A copy of the fitted model whose codebook went through YAML and ``edit``."""
    raw = yaml.safe_load(model.codebook_.to_yaml())
    edit(raw)
    book = Codebook.from_yaml(yaml.safe_dump(raw), "codebook.yaml")
    copy = type(model)(**model.get_params())
    copy.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    copy.codebook_ = book
    return copy


def _theme_of(model, key: str) -> str:
    return model.theme_ids_[model.taxonomy_.index(key)]


def test_rename_is_honoured_on_apply(data, model):
    tid = model.theme_ids_[0]

    def edit(raw):
        raw["themes"][0]["label"] = "Renamed by the safeguarding lead"

    a = apply_themes(_edited(model, edit), data[0])
    base = apply_themes(model, data[0])
    assert (a["theme_id"] == base["theme_id"]).all()
    assert (a.loc[a["theme_id"] == tid, "theme_label"] == "Renamed by the safeguarding lead").all()


def test_merge_counts_incidents_under_the_target(data, model):
    src, dst = model.theme_ids_[1], model.theme_ids_[2]

    def edit(raw):
        next(t for t in raw["themes"] if t["id"] == src)["merge_into"] = dst

    edited = _edited(model, edit)
    a = apply_themes(edited, data[0])
    base = apply_themes(model, data[0])
    assert not (a["theme_id"] == src).any()
    assert (a["theme_id"] == dst).sum() == (
        (base["theme_id"] == src) | (base["theme_id"] == dst)
    ).sum()
    assert not a["secondary_themes"].str.contains(src).any()
    table = themes_table(edited, a).set_index("theme_id")
    assert table.loc[src, "status"] == "merged" and table.loc[src, "size"] == 0


def test_retired_theme_incidents_move_to_next_best_or_unthemed(data, model):
    tid = model.theme_ids_[0]

    def edit(raw):
        next(t for t in raw["themes"] if t["id"] == tid)["status"] = "retired"

    edited = _edited(model, edit)
    a = apply_themes(edited, data[0])
    base = apply_themes(model, data[0])
    assert not (a["theme_id"] == tid).any()
    moved = base["theme_id"] == tid
    assert moved.sum() > 0
    assert (a.loc[~moved, "theme_id"] == base.loc[~moved, "theme_id"]).all()
    assert themes_table(edited, a).set_index("theme_id").loc[tid, "status"] == "retired"


def test_split_by_seed_terms_moves_matching_incidents(data, model):
    parent = _theme_of(model, "self_harm")

    def edit(raw):
        raw["themes"].append(
            {
                "id": "T90",
                "label": "Ligatures",
                "split_from": parent,
                "seed_terms": ["ligature", "neck"],
            }
        )

    a = apply_themes(_edited(model, edit), data[0])
    base = apply_themes(model, data[0])
    text = data[0]["narrative"].str.lower()
    hit = text.str.contains(r"\bligature\b") & text.str.contains(r"\bneck\b")
    in_parent = base["theme_id"] == parent
    assert (in_parent & hit).sum() > 5
    assert (a.loc[in_parent & hit, "theme_id"] == "T90").all()
    assert (a.loc[~in_parent, "theme_id"] == base.loc[~in_parent, "theme_id"]).all()


def test_codebook_with_unknown_merge_target_is_rejected(model):
    def edit(raw):
        raw["themes"][0]["merge_into"] = "T77"

    with pytest.raises(ParameterError, match="unknown theme id T77"):
        _edited(model, edit)


def test_codebook_with_theme_unknown_to_model_is_rejected(data, model):
    def edit(raw):
        raw["themes"].append({"id": "T66", "label": "Mystery"})

    edited = _edited(model, edit)
    with pytest.raises(ParameterError, match="T66 is not in the model"):
        apply_themes(edited, data[0])


def test_codebook_yaml_syntax_error_names_the_line():
    text = "themes:\n  - id: T01\n    label: A\n  bad indent: [\n    - id: T02\n"
    with pytest.raises(
        ParameterError, match=r"^codebook.yaml: codebook YAML syntax error at line \d+"
    ):
        Codebook.from_yaml(text, "codebook.yaml")


def test_codebook_typo_key_is_rejected():
    with pytest.raises(ParameterError, match="merge_ino"):
        Codebook.from_yaml("themes:\n  - id: T01\n    label: A\n    merge_ino: T02\n")


def test_merge_cycle_is_rejected():
    text = "themes:\n  - {id: T01, label: A, merge_into: T02}\n  - {id: T02, label: B, merge_into: T01}\n"
    with pytest.raises(ParameterError, match="merge cycle"):
        Codebook.from_yaml(text)


def test_refit_keeps_theme_ids(data, model):
    incidents, _ = data
    half = incidents.iloc[::2]
    refit = fit_themes(half, k="auto", seed=5, previous=model)
    a_old = apply_themes(model, half)
    a_new = apply_themes(refit, half)
    themed = (a_old["theme_id"] != UNTHEMED_ID) & (a_new["theme_id"] != UNTHEMED_ID)
    same = (a_old.loc[themed, "theme_id"] == a_new.loc[themed, "theme_id"]).mean()
    assert same >= 0.85
    assert "new" not in refit.status_[: model.n_themes_ // 2]


def test_refit_marks_genuinely_new_themes_new(data):
    incidents, truth = data
    without = incidents.loc[truth != "sexual_safety"]
    old = fit_themes(without, k="auto", seed=0)
    assert "sexual_safety" not in old.taxonomy_
    new = fit_themes(incidents, k="auto", seed=0, previous=old)
    idx = new.taxonomy_.index("sexual_safety")
    assert new.status_[idx] == "new"
    assert int(new.theme_ids_[idx][1:]) > max(int(t[1:]) for t in old.theme_ids_)
    old_ids = {key: tid for key, tid in zip(old.taxonomy_, old.theme_ids_, strict=True) if key}
    both = [
        (key, tid) for key, tid in zip(new.taxonomy_, new.theme_ids_, strict=True) if key in old_ids
    ]
    assert len(both) >= 8
    assert sum(old_ids[key] == tid for key, tid in both) >= 0.8 * len(both)


def test_refit_carries_analyst_renames_and_retirements(tmp_path, data, model):
    incidents, _ = data
    save_model(model, tmp_path / "m")
    path = tmp_path / "m" / "codebook.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["themes"][0]["label"] = "Analyst name"
    raw["themes"][1]["status"] = "retired"
    path.write_text(yaml.safe_dump(raw))
    old = load_model(tmp_path / "m")
    refit = fit_themes(incidents, k="auto", seed=3, previous=tmp_path / "m")
    book = refit.codebook_
    assert book.get(old.theme_ids_[0]).label == "Analyst name"
    assert book.get(old.theme_ids_[1]).retired


def test_starter_codebook_entries_are_valid():
    from sgreview.themes import starter_codebook

    book = starter_codebook()
    assert all(isinstance(t, ThemeEntry) and t.seed_terms for t in book.themes)
    assert len({t.id for t in book.themes}) == len(book.themes)
    again = Codebook.from_yaml(book.to_yaml())
    assert [t.id for t in again.themes] == [t.id for t in book.themes]
    assert np.all([t.origin == "seeded" for t in again.themes])
