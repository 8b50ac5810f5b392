"""Theme robustness: pointer-only narratives are unthemed; auto k does not split a theme."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sgreview.redact import redact_incidents
from sgreview.synth import generate
from sgreview.themes import UNTHEMED_ID, apply_themes, best_match_f1, fit_themes, load_taxonomy
from sgreview.themes.labels import nearest_taxonomy_key, taxonomy_name
from sgreview.themes.text import clean_texts, tokenise_terms

POINTERS = [
    "See RiO notes.",
    "Please refer to the progress notes for full details of this incident.",
    "Information as recorded on SystmOne by the nurse in charge.",
    "As per handover.",
    "Details on EPR.",
    "as above, see clinical record",
    "Refer to Datix entry.",
    "Full details documented in the electronic record, not repeated here.",
]


@pytest.fixture(scope="module")
def planted():
    """Generator seed 13, 3,000 incidents: before the merge rule auto k cut self-harm in two
    (best-match F1 0.73)."""
    data = generate(3000, seed=13)
    incidents, _ = redact_incidents(data.incidents)
    truth = data.truth.set_index("incident_id").loc[incidents["incident_id"], "theme"]
    model = fit_themes(incidents, k="auto", seed=0)
    return incidents, truth.reset_index(drop=True), model, apply_themes(model, incidents)


def test_pointer_phrases_leave_too_few_words_to_theme():
    words = [tokenise_terms([t]) for t in clean_texts(POINTERS)]
    assert all(len(w) < 3 for w in words), words


def test_pointer_removal_keeps_words_that_describe_the_incident():
    text = (
        "Pt found with a ligature, see RiO for details. Discharged without a handover; "
        "records not shared with the GP. Duplicate dose of lithium given."
    )
    words = set(tokenise_terms(clean_texts([text])))
    assert {"ligature", "discharged", "handover", "records", "duplicate", "lithium"} <= words
    assert not {"rio", "details"} & words


def test_pointer_only_narratives_are_unthemed():
    data = generate(400, seed=3)
    incidents, _ = redact_incidents(data.incidents)
    informative = data.truth.set_index("incident_id").loc[incidents["incident_id"], "theme"]
    incidents = incidents.loc[(informative != "uninformative").to_numpy()].reset_index(drop=True)
    extra = incidents.head(len(POINTERS) * 5).copy()
    extra["incident_id"] = [f"PTR{i:03d}" for i in range(len(extra))]
    extra["narrative"] = POINTERS * 5
    frame = pd.concat([incidents, extra], ignore_index=True)
    a = apply_themes(fit_themes(frame, k="auto", seed=0), frame)
    pointer = a["incident_id"].str.startswith("PTR")
    assert (a.loc[pointer, "theme_id"] == UNTHEMED_ID).all()
    assert (a.loc[~pointer, "theme_id"] == UNTHEMED_ID).mean() < 0.05


def test_generator_pointer_narratives_are_unthemed(planted):
    _, truth, _, a = planted
    pointer = (truth == "uninformative").to_numpy()
    assert pointer.sum() > 50
    assert (a["theme_id"].to_numpy()[pointer] == UNTHEMED_ID).all()


def test_planted_theme_is_not_split_under_auto_k(planted):
    _, truth, model, a = planted
    f1 = best_match_f1(truth, a["theme_id"]).set_index("label").drop("uninformative")
    assert f1.loc["self_harm", "f1"] >= 0.9
    assert f1["f1"].min() >= 0.8, f1.sort_values("f1").head(3)
    # Each planted theme has a theme of its own: no two share their best match.
    assert f1["theme_id"].is_unique
    assert any("merged" in note for note in model.notes_)


def test_neighbouring_domain_themes_stay_apart_under_auto_k(planted):
    _, truth, _, a = planted
    f1 = best_match_f1(truth, a["theme_id"]).set_index("label")
    assert f1.loc["violence_to_staff", "theme_id"] != f1.loc["patient_assault", "theme_id"]


def test_explicit_k_is_never_merged(planted):
    incidents, _, _, _ = planted
    model = fit_themes(incidents, k=18, seed=0)
    assert model.n_themes_ == 18
    assert not any("merged" in note for note in model.notes_)


def test_nearest_taxonomy_key_needs_only_one_matching_term():
    entries = load_taxonomy()["incident_themes"]
    terms = ["ligature", "neck", "en", "suite", "marks", "observations"]
    weights = list(np.linspace(1.0, 0.5, len(terms)))
    assert taxonomy_name(terms, weights, entries) is None
    assert nearest_taxonomy_key(terms, weights, entries) == "self_harm"
    assert nearest_taxonomy_key(["zebra", "quartz"], [1.0, 0.9], entries) is None
