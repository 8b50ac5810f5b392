"""Making Data Count XmR charts: reference outputs of NHSRplotthedots and hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

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
    table = spc_table(a, rebase={("T01", "A"): ["2023-01-01"]}, chart="xmr")
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


def _events(monthly: dict[tuple[str, str], list[int]], start: str = "2023-01-01") -> pd.DataFrame:
    """Assignments with exactly the given monthly counts per (locality, theme)."""
    rows, i = [], 0
    for (loc, theme), counts in monthly.items():
        for m, k in enumerate(counts):
            day = pd.Timestamp(start) + pd.DateOffset(months=m) + pd.Timedelta(days=9)
            for _ in range(int(k)):
                rows.append((f"I{i}", loc, day, theme, theme))
                i += 1
    return pd.DataFrame(rows, columns=["incident_id", "locality", "incident_date", "theme_id",
                                       "theme_label"])


def _one(table: pd.DataFrame, loc: str, theme: str = "T01") -> pd.DataFrame:
    return table[(table["locality"] == loc) & (table["theme_id"] == theme)].reset_index(drop=True)


def test_chart_choice_rules_each_fire_at_their_documented_threshold():
    from sgreview.spc import MIN_POINTS, POISSON_MIN_MEAN, XMR_MIN_MEAN, choose_chart

    cases = {
        # n_points, total, mean, zero share, complete quarters -> chart
        "xmr": (30, 30 * XMR_MIN_MEAN, XMR_MIN_MEAN, 0.0, 10),
        "c": (30, 30 * 4.9, 4.9, 0.0, 10),
        "c_zeros": (30, 30 * 6, 6.0, 0.2, 10),  # many empty months: not XmR
        "c_quarterly": (30, 24, 0.8, 0.4, 10),
        "none_rare": (30, 6, 0.2, 0.8, 7),
        "none_short": (MIN_POINTS - 1, 70, 10.0, 0.0, 2),
        "none_few": (30, 4, 0.13, 0.9, 10),
    }
    chart, reason = choose_chart(*(np.array([c[i] for c in cases.values()]) for i in range(5)))
    assert chart.tolist() == ["xmr", "c", "c", "c_quarterly", "none", "none", "none"]
    assert "at least 8" in reason[5] and "incidents in the whole series" in reason[6]
    assert POISSON_MIN_MEAN == 1.0
    rated, _ = choose_chart(np.array([30]), np.array([60]), np.array([2.0]), np.array([0.1]),
                            np.array([10]), rates=True)
    assert rated.tolist() == ["u"]


def test_reviewer_charts_go_to_quarters_when_monthly_counts_would_be_hidden():
    from sgreview.spc import choose_chart

    # XmR for analysts; for reviewers a series with more hidden months (1-7) than shown ones
    # goes to quarters, unless there are too few complete quarters.
    args = (np.array([30, 30, 30]), np.array([180, 360, 180]), np.array([6.0, 12.0, 6.0]),
            np.array([0.0, 0.0, 0.0]), np.array([10, 10, 7]))
    assert choose_chart(*args)[0].tolist() == ["xmr", "xmr", "xmr"]
    chart, reason = choose_chart(*args, mostly_hidden=np.array([True, False, True]))
    assert chart.tolist() == ["c_quarterly", "xmr", "xmr"]
    assert "hidden from reviewers" in reason[0]


def test_spc_table_with_a_disclosure_threshold_charts_mostly_hidden_series_by_quarter():
    months = pd.date_range("2023-01-01", periods=30, freq="MS")
    small = np.tile([5, 6, 9], 10)   # 20 of 30 months would be hidden at threshold 7
    large = np.tile([9, 12, 6], 10)  # 10 of 30 hidden: stays monthly
    rows = [(f"{g}{m:%Y%m}{i}", g, m + pd.Timedelta(days=3), "T01", "Self-harm")
            for g, series in (("A", small), ("B", large)) for m, k in zip(months, series, strict=True)
            for i in range(k)]
    a = pd.DataFrame(rows, columns=["incident_id", "locality", "incident_date", "theme_id",
                                    "theme_label"])
    plain = spc_table(a, group_by="locality")
    gated = spc_table(a, group_by="locality", min_shown=7)
    kinds = gated.groupby("locality")["chart"].first()
    assert plain.groupby("locality")["chart"].first()["A"] == "xmr"
    assert kinds["A"] == "c_quarterly" and kinds["B"] == "xmr"


def test_spc_table_picks_the_chart_from_the_counts_and_says_why():
    rng = np.random.default_rng(5)
    monthly = {
        ("Big", "T01"): rng.poisson(12, 30).tolist(),
        ("Mid", "T01"): rng.poisson(2, 30).tolist(),
        ("Rare", "T01"): [1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0,
                          1, 0, 0, 1, 0, 0],
        ("Tiny", "T01"): [1] + [0] * 28 + [1],
    }
    table = spc_table(_events(monthly))
    assert _one(table, "Big")["chart"].iloc[0] == "xmr"
    assert _one(table, "Mid")["chart"].iloc[0] == "c"
    rare = _one(table, "Rare")
    assert rare["chart"].iloc[0] == "c_quarterly" and len(rare) == 10
    assert rare["period"].iloc[0] == "2023Q1" and rare["value"].iloc[0] == 1
    tiny = _one(table, "Tiny")
    assert tiny["chart"].iloc[0] == "none" and tiny["upper"].isna().all()
    assert not tiny["special_cause"].any() and "2 incidents" in tiny["chart_reason"].iloc[0]


def test_poisson_chart_limits_are_exact_probability_limits():
    from sgreview.spc import POISSON_TAIL, poisson_limits

    events = np.array([1, 2, 0, 3, 1, 2, 9, 1, 2, 1, 0, 2], dtype=float)
    centre, lower, upper, side = poisson_limits(events, np.ones(12), np.zeros(12, dtype=int))
    mu = events.mean()
    assert centre[0] == pytest.approx(mu)
    assert upper[0] == stats.poisson.isf(POISSON_TAIL, mu)
    assert stats.poisson.sf(upper[0], mu) <= POISSON_TAIL < stats.poisson.sf(upper[0] - 1, mu)
    assert side.tolist() == [0] * 6 + [1] + [0] * 5
    # u-chart: the same with a denominator, limits on the rate scale.
    t = np.linspace(500, 1500, 12)
    rate, lo, hi, _ = poisson_limits(events, t, np.zeros(12, dtype=int))
    assert rate[0] == pytest.approx(events.sum() / t.sum())
    assert hi[3] == pytest.approx(stats.poisson.isf(POISSON_TAIL, rate[0] * t[3]) / t[3])


def test_poisson_chart_does_not_call_a_run_of_empty_months_a_shift():
    months = [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 1, 2, 0, 1, 2, 1, 3, 2, 1, 0, 2, 1]
    table = spc_table(_events({("A", "T01"): months, ("B", "T01"): [5] * 24}))
    a = _one(table, "A")
    assert a["chart"].iloc[0] == "c"
    assert not (a["rule"] == "shift").any()


def test_xmr_limits_are_recalculated_from_a_sustained_shift_and_the_step_is_shown():
    rng = np.random.default_rng(11)
    before = rng.poisson(10, 16).tolist()
    after = rng.poisson(22, 14).tolist()
    table = spc_table(_events({("K", "T01"): before + after}))
    k = _one(table, "K")
    assert k["chart"].iloc[0] == "xmr"
    step = k.index[k["step"]].tolist()
    assert step == [16]
    assert k["rebase_group"].tolist() == [0] * 16 + [1] * 14
    assert k["centre"].iloc[-1] == pytest.approx(np.mean(after))
    assert k["centre"].iloc[0] == pytest.approx(np.mean(before))
    summary = special_cause_summary(table)
    row = summary[summary["locality"] == "K"].iloc[0]
    assert row["step_period"] == "2024-05" and row["step_side"] == "up"
    fixed = spc_table(_events({("K", "T01"): before + after}), recalculate=False)
    assert not _one(fixed, "K")["step"].any()


def test_no_recalculation_without_enough_points_either_side():
    from sgreview.spc import MIN_POINTS_TO_RECALCULATE

    rng = np.random.default_rng(2)
    n_before = MIN_POINTS_TO_RECALCULATE + 6
    values = [12, 8] * (n_before // 2) + rng.poisson(25, MIN_POINTS_TO_RECALCULATE - 1).tolist()
    k = _one(spc_table(_events({("K", "T01"): values})), "K")
    assert not k["step"].any()  # the new level has too few points to set limits from


def test_spc_charts_rates_when_denominators_are_given():
    monthly = {("A", "T01"): [10, 12, 9, 11, 10, 13, 8, 12, 11, 10, 9, 12],
               ("B", "T01"): [3, 2, 4, 3, 2, 3, 4, 2, 3, 3, 2, 4]}
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    den = pd.DataFrame([(loc, m, size, "obd") for loc, size in (("A", 2000.0), ("B", 500.0))
                        for m in months], columns=["locality", "period", "denominator", "unit"])
    table = spc_table(_events(monthly), denominators=den, denominator_unit="obd")
    a = _one(table, "A")
    assert a["value"].iloc[0] == pytest.approx(10 / 2000 * 1000)
    assert a["exposure"].iloc[0] == 2000 and a["events"].iloc[0] == 10
    b = _one(table, "B")
    assert b["chart"].iloc[0] == "u"
    total = _one(table, "All")
    assert total["value"].iloc[0] == pytest.approx(13 / 2500 * 1000)
    partial = den[~((den["locality"] == "B") & (den["period"] == "2023-06"))]
    table = spc_table(_events(monthly), denominators=partial, denominator_unit="obd")
    b = _one(table, "B")
    assert b["value"].iloc[0] == 3 and "no denominator" in b["chart_reason"].iloc[0]
