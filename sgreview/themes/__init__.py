"""Theme discovery for incident narratives: fit, apply, name, evidence, save, evaluate.

Public API::

    model = fit_themes(incidents, k="auto", seed=0, codebook=None, previous=None)
    assignments = apply_themes(model, incidents)        # incident_id, ..., theme_id, score
    table = themes_table(model, assignments)            # themes.csv (with T00 Unthemed)
    evidence = theme_evidence(model, incidents, assignments, n=5)
    save_model(model, "outputs/.../themes/model"); model = load_model(...)
    evaluate_themes(incidents, "category", k=15, seed=0)  # NMI, ARI, F1 per label

Narratives must be redacted by the caller (:func:`sgreview.redact.redact_incidents`).
"""

from sgreview.schema import UNTHEMED_ID, UNTHEMED_LABEL
from sgreview.themes.api import (
    ASSIGNMENT_COLUMNS,
    MATCH_MIN,
    apply_themes,
    fit_themes,
    match_themes,
    theme_names,
    themes_table,
    unthemed_share,
)
from sgreview.themes.carryover import default_codebook
from sgreview.themes.codebook import (
    Codebook,
    ThemeEntry,
    starter_codebook,
)
from sgreview.themes.evaluate import best_match_f1, evaluate_themes
from sgreview.themes.evidence import theme_evidence
from sgreview.themes.labels import load_taxonomy
from sgreview.themes.model import ThemeModel
from sgreview.themes.persist import FORMAT_VERSION, load_model, save_model

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "FORMAT_VERSION",
    "MATCH_MIN",
    "UNTHEMED_ID",
    "UNTHEMED_LABEL",
    "Codebook",
    "ThemeEntry",
    "ThemeModel",
    "apply_themes",
    "best_match_f1",
    "default_codebook",
    "evaluate_themes",
    "fit_themes",
    "load_model",
    "load_taxonomy",
    "match_themes",
    "save_model",
    "starter_codebook",
    "theme_evidence",
    "theme_names",
    "themes_table",
    "unthemed_share",
]
