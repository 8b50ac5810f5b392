"""Making Data Count XmR charts: reference outputs of NHSRplotthedots and hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sgreview.errors import InputError, ParameterError
from sgreview.spc import (
    assurance,
    change_after,
    counts_by_period,
    spc_table,
    special_cause_summary,
    variation_icon,
    xmr,
)

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "spc"


def _cases() -> list[dict]:
    if not (REFERENCE / "cases.json").is_file():
        return []
    return json.loads((REFERENCE / "cases.json").read_text())["cases"]


CASES = _cases()


def _series(values, start="2021-04-01", freq="MS") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=freq), dtype=float)


@pytest.mark.skipif(not CASES, reason="reference outputs in ../shared/reference absent")
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_xmr_matches_nhsrplotthedots_reference(case):
    args = case["arguments"]
    ref = pd.read_csv(REFERENCE / case["file"])
    values = pd.Series(case["input"]["y"], index=pd.to_datetime(case["input"]["x"]), dtype=float)
    chart = xmr(
        values,
        improvement_direction=args["improvement_direction"],
        screen_outliers=args["screen_outliers"],
        fix_after_n_points=args["fix_after_n_points"],
        target=args["target"],
    )
    assert len(chart) == len(ref)
    np.testing.assert_array_equal(chart["value"], ref["y"])
    np.testing.assert_array_equal(chart["rebase_group"], ref["rebase_group"])
    np.testing.assert_array_equal(chart["provisional"], ref["short_group_warning"])
    np.testing.assert_allclose(chart["centre"], ref["mean_col"], rtol=1e-12)
    if case["id"] == "spc_09_all_values_equal_screened":
        # Deliberate difference (README caveat 2): with every moving range 0 the package
        # screens them all away and returns NaN limits. There is nothing to screen, so the
        # correct limits collapse onto the mean, as in the unscreened spc_10.
        assert ref["lpl"].isna().all() and ref["upl"].isna().all()
        np.testing.assert_allclose(chart["lower"], 10.0)
        np.testing.assert_allclose(chart["upper"], 10.0)
    else:
        np.testing.assert_allclose(chart["lower"], ref["lpl"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(chart["upper"], ref["upl"], rtol=1e-12, atol=1e-12)
    # The package leaves NA flags where limits are NaN; here those are plainly False.
    for ours, theirs in (("outside_limits", "outside_limits"), ("close_to_limits", "close_to_limits")):
        expected = ref[theirs].astype("boolean").fillna(False).astype(bool)
        np.testing.assert_array_equal(chart[ours], expected)
    np.testing.assert_array_equal(chart["relative_to_mean"], ref["relative_to_mean"])
    assert chart["special_cause_type"].tolist() == ref["special_cause_type"].tolist()
    np.testing.assert_array_equal(chart["special_cause"], ref["special_cause_flag"])
    assert chart["point_type"].tolist() == ref["point_type"].tolist()

    for summary in case["summary_by_rebase_group"]:
        grp = chart[chart["rebase_group"] == summary["rebase_group"]]
        assert len(grp) == summary["n"]
        assert (grp["point_type"] == "common_cause").sum() == summary["common_cause"]
        assert (grp["point_type"] == "special_cause_improvement").sum() == summary["special_cause_improvement"]
        assert (grp["point_type"] == "special_cause_concern").sum() == summary["special_cause_concern"]
        assert grp["point_type"].iloc[-1] == summary["variation_type_last_point"]
    if "assurance_type" in case:
        assert assurance(chart, args["target"], args["improvement_direction"]) == case["assurance_type"]


def test_limits_are_mean_plus_minus_2_66_mean_moving_range():
    chart = xmr(_series([10, 12, 11, 15, 12]))
    # mean 12; moving ranges 2, 1, 4, 3 -> mean 2.5
    assert chart["centre"].iloc[0] == pytest.approx(12.0)
    assert chart["upper"].iloc[0] == pytest.approx(12 + 2.66 * 2.5)
    assert chart["lower"].iloc[0] == pytest.approx(12 - 2.66 * 2.5)
    assert chart["upper_2sigma"].iloc[0] == pytest.approx(12 + 2 * 2.66 / 3 * 2.5)


def test_default_does_not_screen_moving_range_outliers_like_the_mdc_excel_tool():
    values = _series([1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 30, 2, 1, 2, 1, 2])
    mdc = xmr(values)
    screened = xmr(values, screen_outliers=True)
    assert mdc["upper"].iloc[0] > screened["upper"].iloc[0]
    # Unscreened mean moving range, by hand: (15 x 1 + 28 + 28) / 17.
    mr = (15 * 1 + 28 + 28) / 17
    assert mdc["upper"].iloc[0] == pytest.approx(values.mean() + 2.66 * mr)


def test_default_direction_is_neutral_and_run_length_six_fires_a_six_point_shift():
    base = [50, 52, 48, 51, 49, 53, 47, 50, 52, 49, 51, 48]
    shifted = base + [54, 54, 55, 54, 55, 54] + base[:6]
    seven = xmr(_series(shifted))
    six = xmr(_series(shifted), run_length=6)
    assert not seven["special_cause"].iloc[12:18].all()
    assert six["rule"].iloc[12:18].eq("shift").all()
    assert six["special_cause_type"].iloc[12] == "6 Points Above CL"
    assert six["point_type"].iloc[12] == "special_cause_neutral_high"


def test_rules_take_precedence_and_a_peak_takes_the_later_trend():
    values = [10, 10, 10, 10, 10, 1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1, 10, 10]
    chart = xmr(_series(values))
    # The two 1s are below the lower limit: outside limits wins over the trends.
    assert chart["rule"].iloc[[5, 17]].eq("outside_limits").all()
    assert chart["special_cause_type"].iloc[5] == "Below LCL"
    # The rest of both trends (also 7+ points below the mean) are labelled trend, not shift.
    assert chart["rule"].iloc[6:17].eq("trend").all()
    assert chart["special_cause_type"].iloc[6] == "7 Point Trend (Increasing)"
    # Point 11 (value 7) ends the rising trend and starts the falling one.
    assert chart["special_cause_type"].iloc[11] == "7 Point Trend (Decreasing)"
    assert chart["special_cause_type"].iloc[12] == "7 Point Trend (Decreasing)"


def test_rebase_starts_a_new_process_after_the_change_point():
    before = [20, 22, 19, 21, 23, 20, 22, 21, 19, 20, 22, 21]
    after = [10, 11, 9, 10, 12, 10, 11, 9, 10, 11, 10, 12]
    values = _series(before + after, start="2023-01-01")
    plain = xmr(values)
    rebased = xmr(values, rebase=["2023-12-15"])  # completed mid-December: January starts anew
    assert plain["special_cause"].any()
    assert rebased["rebase_group"].tolist() == [0] * 12 + [1] * 12
    assert rebased["centre"].iloc[0] == pytest.approx(np.mean(before))
    assert rebased["centre"].iloc[-1] == pytest.approx(np.mean(after))
    assert not rebased["special_cause"].any()
    assert rebased["provisional"].all()


def test_short_series_are_provisional_and_all_equal_values_give_flat_limits():
    chart = xmr(_series([3.0] * 8))
    assert chart["provisional"].all()
    assert (chart["lower"] == 3).all() and (chart["upper"] == 3).all()
    assert not chart["special_cause"].any()
    single = xmr(_series([4.0]))
    assert single["centre"].iloc[0] == 4 and np.isnan(single["upper"].iloc[0])
    assert not single["special_cause"].iloc[0]


def test_variation_icon_reads_latest_point_with_direction():
    values = _series([50, 52, 48, 51, 49, 53, 47, 50, 52, 49, 51, 48, 50, 80])
    chart = xmr(values)
    assert variation_icon(chart)["kind"] == "neutral"
    assert variation_icon(chart)["colour"] == "#490092"
    concern = variation_icon(chart, "decrease")
    assert (concern["kind"], concern["side"], concern["colour"]) == ("concern", "high", "#e46c0a")
    assert variation_icon(chart, "increase")["colour"] == "#00b0f0"
    assert variation_icon(xmr(values.iloc[:-1]))["kind"] == "common_cause"


def test_rejects_missing_values_unsorted_periods_and_bad_options():
    with pytest.raises(InputError, match="not be missing"):
        xmr(_series([1, np.nan, 3]))
    with pytest.raises(InputError, match="sorted"):
        xmr(_series([1, 2, 3]).iloc[::-1])
    with pytest.raises(ParameterError, match="run_length"):
        xmr(_series([1, 2, 3]), run_length=5)
    with pytest.raises(ParameterError, match="improvement_direction"):
        xmr(_series([1, 2, 3]), improvement_direction="up")


def _assignments(rows):
    return pd.DataFrame(rows, columns=["incident_id", "locality", "incident_date", "theme_id", "theme_label"])


def test_empty_months_count_as_zero_and_all_series_share_the_period_axis():
    a = _assignments([
        ("1", "North", "2024-01-10", "T01", "Self-harm"),
        ("2", "North", "2024-03-02", "T01", "Self-harm"),
        ("3", "South", "2024-03-20", "T02", "Absconding"),
        ("4", "South", "2024-04-01", "T01", "Self-harm"),
    ])
    counts = counts_by_period(a)
    north = counts[(counts.theme_id == "T01") & (counts.locality == "North")]
    assert north["value"].tolist() == [1, 0, 1, 0]
    overall = counts[(counts.theme_id == "T01") & (counts.locality == "All")]
    assert overall["value"].tolist() == [1, 0, 1, 1]
    assert len(counts) == 2 * 3 * 4


def test_spc_table_matches_single_series_xmr_for_every_series():
    rng = np.random.default_rng(3)
    n = 600
    dates = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    a = pd.DataFrame({
        "incident_id": np.arange(n).astype(str),
        "locality": rng.choice(["A", "B", "C"], n),
        "incident_date": dates,
        "theme_id": rng.choice(["T01", "T02"], n),
        "theme_label": "x",
    })
    table = spc_table(a, rebase={("T01", "A"): ["2023-01-01"]})
    for (theme, loc), grp in table.groupby(["theme_id", "locality"]):
        rebase = ["2023-01-01"] if (theme, loc) == ("T01", "A") else None
        one = xmr(pd.Series(grp["value"].to_numpy(), index=pd.DatetimeIndex(grp["period_start"])),
                  rebase=rebase)
        np.testing.assert_allclose(grp["upper"], one["upper"])
        assert grp["rule"].tolist() == one["rule"].tolist()
        assert grp["rebase_group"].tolist() == one["rebase_group"].tolist()
    assert set(table["locality"]) == {"A", "B", "C", "All"}
    assert table["period"].iloc[0] == "2022-01"


def test_special_cause_summary_lists_series_with_recent_signals_only():
    base = [5, 6, 5, 4, 6, 5, 5, 6, 4, 5, 6, 5]
    spc = []
    for loc, tail in (("North", [30]), ("South", [5])):
        chart = xmr(_series(base + tail))
        spc.append(chart.assign(theme_id="T01", theme_label="Self-harm", locality=loc,
                                period=chart["period"].dt.strftime("%Y-%m")))
    summary = special_cause_summary(pd.concat(spc))
    assert summary["locality"].tolist() == ["North"]
    assert summary["latest_rule"].iloc[0] == "outside_limits"


def test_change_after_reads_points_after_an_action_against_the_baseline_limits():
    before = [8, 9, 7, 8, 10, 9, 8, 7, 9, 8, 10, 8]
    after = [4, 5, 3, 4, 5, 4, 3, 4]
    values = _series(before + after, start="2023-01-01")
    res = change_after(values, "2023-12-20", improvement_direction="decrease")
    assert (res["n_before"], res["n_after"]) == (12, 8)
    assert res["baseline"]["centre"] == pytest.approx(np.mean(before))
    assert res["after"]["centre"] == pytest.approx(np.mean(after))
    assert res["effect"] == "improved" and res["side"] == "low"
    assert res["rebased"]["rebase_group"].tolist() == [0] * 12 + [1] * 8
    assert change_after(values, "2023-12-20")["effect"] == "changed"
    assert change_after(values, "2023-12-20", improvement_direction="increase")["effect"] == "worse"
    short = _series(before + [8, 9], start="2023-01-01")
    assert change_after(short, "2023-12-20")["effect"] == "too_early"
    steady = _series(before + before[:8], start="2023-01-01")
    assert change_after(steady, "2023-12-20")["effect"] == "no_change"
