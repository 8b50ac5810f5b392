"""Smoke test of the whole pipeline without kernels: planted signals survive every stage.

The synthetic generator plants a raised share, a rise from a known month and a fall after an
action; this pins that the real chain (load -> redact -> themes -> compare -> learning) finds
all three, and that the control action is not reported as a change.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sgreview import pipeline
from sgreview.synth import generate, write_synth


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = generate(6000, seed=42)
    paths = write_synth(data, root / "data" / "incidents.csv")
    out = root / "run"
    pipeline.data_quality(paths["incidents"], out)
    pipeline.theme_discovery(paths["incidents"], out, k="auto", seed=42)
    model_dir = out / "themes" / "model"
    common = dict(model_dir=str(model_dir), denominators_path=str(paths["denominators"]),
                  denominator_unit="occupied_bed_days")
    pipeline.locality_comparison(paths["incidents"], out, **common)
    case_ref = data.incidents.loc[data.incidents["case_ref"].str.startswith("SAR"), "case_ref"].iloc[0]
    pipeline.learning_summary(paths["incidents"], out, case_set=case_ref, case_ref=case_ref,
                              actions_path=str(paths["actions"]), **common)
    pipeline.locality_review(paths["incidents"], out, data.signals["falling"]["locality"],
                             actions_path=str(paths["actions"]), **common)
    themes = pd.read_csv(out / "themes" / "themes.csv")
    key_to_id = themes.dropna(subset=["taxonomy"]).set_index("taxonomy")["theme_id"].to_dict()
    return {"out": out, "signals": data.signals, "key_to_id": key_to_id, "case_ref": case_ref}


def test_reconciliation_accounts_for_every_row(run):
    rec = json.loads((run["out"] / "data_quality" / "reconciliation.json").read_text())
    assert rec["rows_read"] == rec["rows_accepted"] + rec["rows_rejected"] == 6000


def test_planted_raised_share_is_an_alarm_on_the_funnel(run):
    raised = run["signals"]["raised_share"]
    funnel = pd.read_csv(run["out"] / "comparison" / "funnel.csv")
    theme_id = run["key_to_id"][raised["theme"]]
    row = funnel[(funnel["theme_id"] == theme_id) & (funnel["locality"] == raised["locality"])]
    assert row["flag"].tolist() == ["alarm_high"]


def test_planted_rise_shows_special_cause_after_its_start(run):
    rise = run["signals"]["rising"]
    spc = pd.read_csv(run["out"] / "comparison" / "spc.csv")
    theme_id = run["key_to_id"][rise["theme"]]
    series = spc[(spc["theme_id"] == theme_id) & (spc["locality"] == rise["locality"])]
    # Making Data Count: a sustained shift starts a new process; its limits are recalculated
    # from the step, which is shown within a month or two of the planted start.
    steps = pd.to_datetime(series.loc[series["step"].astype(bool), "period"])
    assert len(steps) and abs((steps.iloc[0] - pd.Timestamp(rise["start_month"])).days) <= 62
    assert series["centre"].iloc[-1] > 1.5 * series["centre"].iloc[0]


def test_action_behind_the_planted_fall_is_improved_and_the_control_is_not(run):
    actions = pd.read_csv(run["out"] / "learning" / run["case_ref"] / "actions.csv")
    effect = actions.set_index("action_id")["effect"]
    assert effect[run["signals"]["falling"]["action_id"]] == "improved"
    assert effect["ACT-002"] in {"no_change", "inconclusive", "too_early"}


def test_one_action_shows_identical_numbers_in_its_locality_report_and_its_briefing(run):
    """Computed once per run: the locality report and the briefing read the same table."""
    fall = run["signals"]["falling"]
    from sgreview.pipeline.common import slug

    local = pd.read_csv(run["out"] / "localities" / slug(fall["locality"]) / "actions.csv")
    brief = pd.read_csv(run["out"] / "learning" / run["case_ref"] / "actions.csv")
    cols = ["effect", "months_before", "months_after", "events_before", "events_after",
            "exposure_before", "exposure_after", "rate_unit", "rate_before", "rate_after",
            "rate_ratio", "ci_level", "ci_low", "ci_high", "p_value", "method"]
    a = local.set_index("action_id").loc[fall["action_id"], cols]
    b = brief.set_index("action_id").loc[fall["action_id"], cols]
    pd.testing.assert_series_equal(a, b, check_names=False)
    assert a["effect"] == "improved"
