"""Funnel limits, over-dispersion and flags: FunnelPlotR reference outputs and hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sgreview.errors import InputError, ParameterError
from sgreview.funnel import (
    MIN_EXPECTED_TO_JUDGE,
    Z95,
    Z998,
    dispersion,
    funnel_limits,
    funnel_table,
    funnel_units,
    funnelplotr,
    prepare_denominators,
    r_round,
)

FLAGS_ALL = {"alarm_high", "alert_high", "within", "alert_low", "alarm_low"}
REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "funnel"


def _cases() -> list[dict]:
    if not (REFERENCE / "cases.json").is_file():
        return []
    return json.loads((REFERENCE / "cases.json").read_text())["cases"]


CASES = _cases()
needs_reference = pytest.mark.skipif(not CASES, reason="reference outputs in ../shared/reference absent")


def _run(case):
    args = case["arguments"]
    files = case["files"]
    data = pd.read_csv(REFERENCE / files["input"])
    out = funnelplotr(
        data,
        data_type=args["data_type"],
        sr_method=args["sr_method"] if args["sr_method"] in ("SHMI", "CQC") else "SHMI",
        limit=args["limit"],
        draw_unadjusted=args["draw_unadjusted"],
        draw_adjusted=args["draw_adjusted"],
        multiplier=args["multiplier"],
        trim_by=args["trim_by"],
    )
    units = pd.read_csv(REFERENCE / files["units"])
    limits = pd.read_csv(REFERENCE / files["limits_lookup"])
    return out, units, limits


@needs_reference
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_funnelplotr_units_limits_and_dispersion_match_reference(case):
    out, units, limits = _run(case)
    res = case["results"]
    assert out["phi"] == pytest.approx(res["phi"], rel=1e-9, abs=1e-15)
    assert out["tau2"] == pytest.approx(res["tau2"], rel=1e-9, abs=1e-15)
    assert out["target"] == pytest.approx(res["target"], rel=1e-12)
    assert out["n_units_used"] == res["n_units_used_for_phi"]
    assert out["draw_adjusted"] == res["draw_adjusted_returned"]
    assert out["draw_unadjusted"] == res["draw_unadjusted_returned"]
    assert out["outliers"] == res["outlier_groups"]
    assert out["units"]["group"].tolist() == units["group"].tolist()
    for col in units.columns.drop("group"):
        np.testing.assert_allclose(out["units"][col].to_numpy(float), units[col].to_numpy(float),
                                   rtol=1e-9, atol=1e-12, err_msg=col)
    assert len(out["limits"]) == res["limits_lookup_grid"]["n_rows"]
    for col in limits.columns:
        np.testing.assert_allclose(out["limits"][col].to_numpy(float), limits[col].to_numpy(float),
                                   rtol=1e-9, atol=1e-12, err_msg=col)


@needs_reference
@pytest.mark.parametrize("case", [c for c in CASES if c["arguments"]["data_type"] == "SR"],
                         ids=lambda c: c["id"])
def test_own_closed_form_poisson_limits_equal_reference_unadjusted_limits(case):
    _, units, _ = _run(case)
    m = case["arguments"]["multiplier"]
    ours = funnel_limits(units["denominator"].to_numpy(), 1.0, kind="rate", method="closed_form")
    np.testing.assert_allclose(ours["lower998"] * m, units["LCL99"], rtol=1e-9)
    np.testing.assert_allclose(ours["upper998"] * m, units["UCL99"], rtol=1e-9)
    np.testing.assert_allclose(ours["lower95"] * m, units["LCL95"], rtol=1e-9)
    np.testing.assert_allclose(ours["upper95"] * m, units["UCL95"], rtol=1e-9)


@needs_reference
def test_own_sqrt_scale_limits_are_the_cqc_limits_squared_back():
    # README caveat 4: FunnelPlotR's CQC adjusted limits stay on the square-root scale,
    # 1 -/+ z sqrt(1/4E + tau2). The indicator on that scale is sqrt(O/E), so the limits for
    # O/E itself are their squares. sgreview's rate funnel squares back (correct formula).
    case = next(c for c in CASES if c["id"] == "funnel_03_sr_cqc_od_mult100")
    out, units, _ = _run(case)
    tau2 = case["results"]["tau2"]
    ours = funnel_limits(units["denominator"].to_numpy(), 1.0, kind="rate", tau2=tau2)
    np.testing.assert_allclose(ours["lower998"], (units["OD99LCL"] / 100) ** 2, rtol=1e-9)
    np.testing.assert_allclose(ours["upper998"], (units["OD99UCL"] / 100) ** 2, rtol=1e-9)
    # And our dispersion on the square-root scale is the package's CQC phi and tau2.
    disp = dispersion(units["numerator"], units["denominator"], 1.0, kind="rate")
    assert disp["phi"] == pytest.approx(case["results"]["phi"], rel=1e-9)
    assert disp["tau2"] == pytest.approx(tau2, rel=1e-9)


@needs_reference
@pytest.mark.parametrize("case", [c for c in CASES if c["arguments"]["data_type"] == "PR"],
                         ids=lambda c: c["id"])
def test_own_arcsine_limits_and_dispersion_match_reference_proportions(case):
    out, units, _ = _run(case)
    res = case["results"]
    m = case["arguments"]["multiplier"]
    disp = dispersion(units["numerator"], units["denominator"], res["target"])
    assert disp["phi"] == pytest.approx(res["phi"], rel=1e-9)
    assert disp["tau2"] == pytest.approx(res["tau2"], rel=1e-9)
    n = units["denominator"].to_numpy(float)
    adjusted = funnel_limits(n, res["target"], tau2=res["tau2"])
    exact = funnel_limits(n, res["target"])
    # README caveat 6: the package zeroes limits by comparing neighbouring grid rows. Where
    # the arcsine limit is inside (0, 1) both use the same formula; ours is truncated at 0.
    # Ours is also never narrower than the exact binomial limits (module docstring), so the
    # expected value is the wider of the package's limit and the exact one.
    inside = (np.arcsin(np.sqrt(res["target"])) - Z998 * np.sqrt(1 / (4 * n) + res["tau2"])) > 0
    expected = np.fmin(units["OD99LCL"] / m, exact["lower998"])
    np.testing.assert_allclose(adjusted["lower998"][inside], expected[inside], rtol=1e-9)
    np.testing.assert_allclose(adjusted["upper998"],
                               np.fmax(units["OD99UCL"] / m, exact["upper998"]), rtol=1e-9)
    np.testing.assert_allclose(adjusted["lower95"],
                               np.fmin(units["OD95LCL"] / m, exact["lower95"]), rtol=1e-9)
    assert (adjusted["lower998"][~inside] == 0).all()
    # Where the arcsine limit is the wider one (most units here), it is the package's number.
    arcsine_wider = units["OD99UCL"] / m >= exact["upper998"]
    assert arcsine_wider.mean() > 0.5


def test_exact_limits_interpolate_between_counts_by_hand():
    # Binomial n = 20, p0 = 0.1, upper 97.5%: r = 5 (F(4) = 0.9568 < 0.975 <= F(5) = 0.9887),
    # a = (F(5) - 0.975) / P(X = 5); limit = (5 - a) / 20.
    b = stats.binom(20, 0.1)
    a = (b.cdf(5) - 0.975) / b.pmf(5)
    lim = funnel_limits(np.array([20.0]), 0.1)
    assert lim["upper95"][0] == pytest.approx((5 - a) / 20)
    assert lim["method"][0] == "exact"
    # Poisson, exposure 50 at rate 0.1 (E = 5), lower 0.1%: r = 0 -> negative -> 0.
    rate = funnel_limits(np.array([50.0, 400.0]), 0.1, kind="rate")
    assert rate["lower998"][0] == 0.0
    p = stats.poisson(40)
    r = p.ppf(0.001)
    a = (p.cdf(r) - 0.001) / p.pmf(r)
    assert rate["lower998"][1] == pytest.approx((r - a) / 400)


def test_a_zero_count_in_a_tiny_group_is_not_flagged_low():
    # P(0 of 1 | p0 = 0.24) = 0.76: nothing unusual. The closed-form lower limit is above 0.
    closed = funnel_limits(np.array([1.0]), 0.24, method="closed_form")
    assert closed["lower998"][0] > 0
    rows, _ = funnel_units(np.array([0.0, 240.0, 240.0]), np.array([1.0, 1000.0, 1000.0]))
    assert rows["flag"][0] == "too_few"  # expected 0.24: cannot be judged either way


def test_flags_agree_with_exact_tail_probabilities():
    n, p0 = 60, 0.2
    lim = funnel_limits(np.full(n + 1, float(n)), p0)
    x = np.arange(n + 1)
    below = x / n < lim["lower998"].to_numpy()
    above = x / n > lim["upper998"].to_numpy()
    b = stats.binom(n, p0)
    np.testing.assert_array_equal(below, b.cdf(x) < 0.001)
    # Upper: flagged from the 99.9% quantile count up (interpolation, Spiegelhalter 2005).
    assert x[above].min() == b.ppf(0.999)


def test_closed_form_binomial_limits_by_hand():
    n, p0 = np.array([20.0, 200.0]), 0.1
    lim = funnel_limits(n, p0, method="closed_form")
    assert lim["lower95"][0] == pytest.approx(stats.beta.ppf(0.025, 2, 19))
    assert lim["upper95"][0] == pytest.approx(stats.beta.ppf(0.975, 3, 18))
    assert lim["upper998"][1] == pytest.approx(stats.beta.ppf(0.999, 21, 180))


def test_normal_approximation_only_where_valid():
    lim = funnel_limits(np.array([20.0, 1000.0]), 0.1, method="normal")
    assert lim["method"].tolist() == ["exact", "normal"]
    half = Z95 * np.sqrt(0.1 * 0.9 / 1000)
    assert lim["lower95"][1] == pytest.approx(0.1 - half)
    assert lim["upper95"][1] == pytest.approx(0.1 + half)
    assert lim["lower95"][0] == funnel_limits(np.array([20.0]), 0.1)["lower95"][0]


def test_adjusted_arcsine_limits_by_hand_and_truncated_at_zero():
    lim = funnel_limits(np.array([10.0, 400.0]), 0.05, tau2=0.002)
    y0 = np.arcsin(np.sqrt(0.05))
    sd = np.sqrt(1 / (4 * 400) + 0.002)
    assert lim["upper998"][1] == pytest.approx(np.sin(y0 + Z998 * sd) ** 2)
    assert lim["lower95"][1] == pytest.approx(np.sin(y0 - Z95 * sd) ** 2)
    assert lim["lower998"][0] == 0.0  # y0 - z sd < 0: truncated, not reflected upwards
    mult = funnel_limits(np.array([400.0]), 0.05, phi=2.0)
    assert mult["upper95"][0] == pytest.approx(np.sin(y0 + Z95 * np.sqrt(2 / 1600)) ** 2)


def test_dispersion_phi_and_dersimonian_laird_tau2_by_hand():
    events = np.array([5, 10, 20, 15, 30, 12, 8, 25, 18, 40], dtype=float)
    n = np.array([100, 100, 150, 120, 160, 140, 90, 130, 110, 200], dtype=float)
    p0 = events.sum() / n.sum()
    z = (np.arcsin(np.sqrt(events / n)) - np.arcsin(np.sqrt(p0))) * 2 * np.sqrt(n)
    lo, hi = np.quantile(z, [0.1, 0.9])
    zw = np.clip(z, lo, hi)
    phi = np.mean(zw**2)
    w = 4 * n
    tau2 = max(0.0, (10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum()))
    disp = dispersion(events, n, p0)
    assert disp["phi"] == pytest.approx(phi)
    assert disp["tau2"] == pytest.approx(tau2)
    assert disp["p_value"] == pytest.approx(stats.chi2.sf(10 * phi, 9))


def test_flags_alarm_and_alert_and_auto_adjustment_is_reported():
    rng = np.random.default_rng(7)
    n = rng.integers(200, 600, 40).astype(float)
    events = rng.binomial(n.astype(int), 0.1).astype(float)
    events[0] = n[0] * 0.3  # a planted high unit
    rows, disp = funnel_units(events, n)
    assert rows["flag"].iloc[0] == "alarm_high"
    assert disp["adjustment"] in ("none", "additive")
    assert set(rows["flag"]) <= {"alarm_high", "alert_high", "within", "alert_low", "alarm_low"}
    none_rows, none_disp = funnel_units(events, n, adjustment="none")
    assert none_disp["adjustment"] == "none" and none_disp["tau2_used"] == 0.0
    with pytest.raises(ParameterError):
        funnel_units(events, n, adjustment="both")


def _assignments(rows):
    return pd.DataFrame(rows, columns=["incident_id", "locality", "incident_date", "theme_id",
                                       "theme_label"])


def _grid(counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows, i = [], 0
    for (loc, theme), k in counts.items():
        for _ in range(k):
            rows.append((str(i), loc, f"2024-{1 + i % 12:02d}-05", theme, theme.lower()))
            i += 1
    return _assignments(rows)


def test_funnel_table_shares_per_group_and_unthemed_is_not_flagged():
    a = _grid({("North", "T01"): 10, ("North", "T00"): 30, ("South", "T01"): 2,
               ("South", "T00"): 38, ("East", "T00"): 40})
    table = funnel_table(a)
    t01 = table[table.theme_id == "T01"].set_index("locality")
    assert t01.loc["East", "events"] == 0  # theme absent in a group: a real zero
    assert t01.loc["North", "proportion"] == pytest.approx(0.25)
    assert t01["target_pooled"].iloc[0] == pytest.approx(12 / 120)
    # Leave-one-out: North (10 of 40) is judged against South and East (2 of 80).
    assert t01.loc["North", "target"] == pytest.approx(2 / 80)
    assert t01.loc["North", "target_method"] == "leave_one_out"
    assert (table.loc[table.theme_id == "T00", "flag"] == "").all()
    assert set(table.columns) >= {"theme_id", "locality", "events", "n", "proportion", "target",
                                  "lower95", "upper95", "lower998", "upper998", "flag", "phi",
                                  "tau2", "adjustment"}


def test_single_group_and_theme_absent_everywhere_do_not_fail():
    a = _grid({("North", "T01"): 5, ("North", "T02"): 0, ("North", "T00"): 5})
    table = funnel_table(a)
    assert (table["flag"].isin(["too_few", ""])).all()  # no other group to compare with
    rows, disp = funnel_units(np.array([0.0, 0.0]), np.array([10.0, 20.0]))
    assert disp["phi"] == 1.0 and (rows["flag"] == "too_few").all()  # nothing expected


def test_leave_one_out_target_is_the_rate_of_all_other_groups():
    # One large locality at 10% beside four small ones at 5%.
    events = np.array([200.0, 5.0, 5.0, 5.0, 5.0])
    n = np.array([2000.0, 100.0, 100.0, 100.0, 100.0])
    rows, disp = funnel_units(events, n)
    np.testing.assert_allclose(rows["target"], [20 / 400, 215 / 2300, 215 / 2300, 215 / 2300,
                                                215 / 2300])
    assert disp["target_method"] == "leave_one_out"
    # The pooled target (220 / 2400) is mostly the large locality itself, which hides it;
    # against the others combined it stands out.
    pooled, _ = funnel_units(events, n, target="pooled")
    assert pooled["flag"][0] == "within"
    assert rows["flag"][0] == "alarm_high"
    with pytest.raises(ParameterError):
        funnel_units(events, n, target="median")


def test_leave_one_out_flags_are_one_sided_fisher_exact_tests():
    events = np.array([9.0, 20.0, 15.0, 40.0])
    n = np.array([30.0, 300.0, 250.0, 500.0])
    rows, _ = funnel_units(events, n)
    for i in range(4):
        table = [[events[i], n[i] - events[i]],
                 [events.sum() - events[i], (n.sum() - n[i]) - (events.sum() - events[i])]]
        assert rows["p_high"][i] == pytest.approx(stats.fisher_exact(table, "greater").pvalue)
        assert rows["p_low"][i] == pytest.approx(stats.fisher_exact(table, "less").pvalue)


def test_one_of_one_is_too_few_to_judge_not_an_alarm():
    # PFD-like: an area with 1 incident, in a theme that is 25% of incidents elsewhere.
    events = np.array([1.0, 25.0, 25.0, 25.0, 25.0])
    n = np.array([1.0, 100.0, 100.0, 100.0, 100.0])
    rows, _ = funnel_units(events, n)
    assert rows["expected"][0] == pytest.approx(0.25)
    assert rows["flag"][0] == "too_few"
    assert rows["p_high"][0] == pytest.approx(0.25, abs=0.01)


def test_too_few_when_no_count_could_reach_the_limit_even_with_expected_above_minimum():
    # Expected 2 of 4 (p0 = 0.5): even 4 of 4 has tail P 1/16, far above 0.1%.
    events = np.array([2.0, 500.0, 500.0])
    n = np.array([4.0, 1000.0, 1000.0])
    rows, _ = funnel_units(events, n)
    assert rows["expected"][0] >= MIN_EXPECTED_TO_JUDGE
    assert rows["flag"][0] == "too_few"
    assert set(rows["flag"][1:]) <= {"within", "alert_high", "alert_low"}


def test_no_alarm_below_the_minimum_expected_count_on_null_data():
    rng = np.random.default_rng(3)
    sizes = np.concatenate([np.arange(1, 11), rng.integers(20, 2000, 60)]).astype(float)
    flags, expected = [], []
    for _ in range(100):
        events = rng.binomial(sizes.astype(int), 0.05).astype(float)
        rows, _ = funnel_units(events, sizes, adjustment="none")
        flags.append(rows["flag"])
        expected.append(rows["expected"])
    flags, expected = pd.concat(flags), pd.concat(expected)
    assert not (flags.str.startswith("alarm") & (expected < MIN_EXPECTED_TO_JUDGE)).any()
    assert (flags[expected < MIN_EXPECTED_TO_JUDGE] == "too_few").all()
    judged = flags[flags != "too_few"]
    assert judged.str.startswith("alarm").mean() <= 0.0025  # 0.2% nominal, exact tests


def test_funnel_table_compares_the_most_recent_window_and_gives_q_values():
    rows, i = [], 0
    for year, loc_counts in ((2023, {"North": 30, "South": 30}), (2024, {"North": 30, "South": 30})):
        for loc, k in loc_counts.items():
            for j in range(k):
                theme = "T01" if (year == 2023 and loc == "North") or j % 3 == 0 else "T02"
                rows.append((str(i), loc, f"{year}-{1 + j % 12:02d}-05", theme, theme))
                i += 1
    a = _assignments(rows)
    recent = funnel_table(a)  # default 12 months: 2024 only
    assert recent.attrs["window"] == {"window_start": "2024-01", "window_end": "2024-12",
                                      "window_months": 12}
    assert recent["n"].max() == 30
    everything = funnel_table(a, window_months=None)
    assert everything["n"].max() == 60
    judged = everything["flag"].isin(["alarm_high", "alert_high", "within", "alert_low",
                                      "alarm_low"])
    assert everything.loc[judged, "q_value"].notna().all()
    assert everything.loc[~judged, "q_value"].isna().all()
    summary = everything.attrs["summary"]
    assert summary["judged"] == int(judged.sum())
    assert summary["alarms_expected_by_chance"] == pytest.approx(0.002 * summary["judged"])


def _denominators(rows):
    return pd.DataFrame(rows, columns=["locality", "period", "denominator", "unit"])


def test_rate_funnel_uses_exposure_and_names_localities_without_denominators():
    a = _grid({("North", "T01"): 12, ("South", "T01"): 12, ("East", "T01"): 12,
               ("West", "T01"): 12})
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    den = _denominators([(loc, m, size, "occupied bed days") for loc, size in
                         (("North", 100), ("South", 200), ("East", 400)) for m in months])
    table = funnel_table(a, denominators=den)
    assert table.attrs["warnings"] == ["missing_denominator: no denominator for West "
                                       "(reported as 'no denominator', not judged)"]
    west = table.set_index("locality").loc["West"]
    assert west["flag"] == "no_denominator" and west["events"] == 12 and np.isnan(west["n"])
    assert table.attrs["summary"]["no_denominator"] == 1
    north = table.set_index("locality").loc["North"]
    assert north["n"] == 1200 and north["kind"] == "rate"
    assert north["target_pooled"] == pytest.approx(36 / 8400)
    assert north["target"] == pytest.approx(24 / 7200)  # South and East: 24 per 7,200
    assert north["unit"] == "occupied bed days"


def test_a_locality_with_exposure_but_no_incidents_is_a_real_zero():
    a = _grid({("North", "T01"): 12, ("South", "T01"): 12})
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    den = _denominators([(loc, m, 100, "obd") for loc in ("North", "South", "Quiet")
                         for m in months])
    table = funnel_table(a, denominators=den).set_index("locality")
    assert table.loc["Quiet", "events"] == 0 and table.loc["Quiet", "n"] == 1200
    assert table.loc["Quiet", "proportion"] == 0
    assert table.loc["Quiet", "flag"] in FLAGS_ALL


def test_denominators_reject_bad_values_and_misaligned_periods():
    ok = [("North", "2024-01", 100, "obd"), ("South", "2024-01", 80, "obd")]
    exposure, unit, warnings = prepare_denominators(_denominators(ok), ["North", "South"], ["2024-01"])
    assert exposure.to_dict() == {"North": 100, "South": 80} and unit == "obd" and not warnings
    with pytest.raises(InputError, match="positive number"):
        prepare_denominators(_denominators([("North", "2024-01", 0, "obd")]), ["North"], ["2024-01"])
    with pytest.raises(InputError, match="positive number"):
        prepare_denominators(_denominators([("North", "2024-01", -3, "obd")]), ["North"], ["2024-01"])
    with pytest.raises(InputError, match="line up"):
        prepare_denominators(_denominators(ok), ["North"], ["2023-06"])
    gap = [("North", "2024-01", 100, "obd"), ("North", "2024-03", 100, "obd"),
           ("South", "2024-01", 80, "obd"), ("South", "2024-02", 80, "obd"),
           ("South", "2024-03", 80, "obd")]
    with pytest.raises(InputError, match="no row for locality 'North', month 2024-02"):
        prepare_denominators(_denominators(gap), ["North", "South"],
                             ["2024-01", "2024-02", "2024-03"])
    with pytest.raises(InputError, match="no column"):
        prepare_denominators(pd.DataFrame({"locality": ["North"]}), ["North"], ["2024-01"])
    two_units = ok + [("North", "2024-01", 9, "caseload")]
    with pytest.raises(InputError, match="--unit"):
        prepare_denominators(_denominators(two_units), ["North"], ["2024-01"])
    exposure, unit, _ = prepare_denominators(_denominators(two_units), ["North"], ["2024-01"],
                                             unit="caseload")
    assert exposure.to_dict() == {"North": 9}


def test_funnelplotr_shmi_sums_records_exactly_before_rounding_expected_to_2dp():
    """Record-level input (several rows per unit): E is the exactly rounded sum, as R's
    long-double sum() gives, then rounded to 2 dp; a naive double sum can land on the other
    side of an x.xx5 boundary and move phi (generated input, issue 9's SHMI case)."""
    import math

    rng = np.random.default_rng(20)
    rows = []
    for u in range(30):
        e = rng.uniform(5, 40, 7).round(3)
        o = rng.poisson(e.sum() * rng.uniform(0.7, 1.4))
        rows += [(f"U{u:02d}", o if i == 0 else 0, v) for i, v in enumerate(e)]
    df = pd.DataFrame(rows, columns=["group", "numerator", "denominator"])
    res = funnelplotr(df, data_type="SR", sr_method="SHMI", limit=95, draw_adjusted=True,
                      multiplier=100)
    exact = df.groupby("group")["denominator"].agg(lambda v: float(r_round(math.fsum(v), 2)))
    np.testing.assert_array_equal(res["units"].set_index("group")["denominator"], exact)
    e, o = exact.to_numpy(), df.groupby("group")["numerator"].sum().to_numpy()
    uz = np.sqrt(e) * np.log(o / e)
    sp = np.floor(stats.rankdata(uz) * 10 / 31)
    kept = uz[(sp > 0) & (sp < 9)]
    assert res["phi"] == pytest.approx(np.mean(kept**2), rel=1e-12)
    assert res["n_units_used"] == kept.size


def test_r_round_matches_r4_on_ties_and_differs_from_numpy_where_r_does():
    # The package's own rounded expected counts: ties by representation go to even.
    assert r_round(np.array([374.225, 259.075, 0.15]), 2).tolist() == [374.22, 259.08, 0.15]
    assert float(r_round(0.15, 1)) == 0.1  # R >= 4.0: round(0.15, 1) is 0.1
    # 199.515 is stored just below .515: R keeps 199.51, numpy's x * 100 makes it a tie.
    assert float(r_round(199.515, 2)) == 199.51 and float(np.round(199.515, 2)) == 199.52
    assert float(r_round(-199.515, 2)) == -199.51


def _with_service(a: pd.DataFrame, service: str) -> pd.DataFrame:
    return a.assign(service=service)


def _setting_denominators(rows):
    return pd.DataFrame(rows, columns=["locality", "period", "denominator", "unit", "setting"])


def test_each_setting_is_judged_over_its_own_denominator():
    # Inpatient: North 24 incidents over 1,200 bed days a month; community: North 12 over a
    # caseload of 50 a month. Each rate must use its own setting's exposure.
    inpatient = _with_service(_grid({("North", "T01"): 24, ("South", "T01"): 12}), "Ward")
    community = _with_service(_grid({("North", "T01"): 12, ("South", "T01"): 12}), "Community")
    community = community.assign(incident_id="c" + community["incident_id"])
    a = pd.concat([inpatient, community], ignore_index=True)
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    den = _setting_denominators(
        [(loc, m, 100, "occupied_bed_days", "inpatient") for loc in ("North", "South") for m in months]
        + [(loc, m, size, "caseload", "community") for loc, size in (("North", 50), ("South", 25))
           for m in months])
    table = funnel_table(a, denominators=den, setting_column="service",
                         setting_map={"Ward": "inpatient"})
    cell = table.set_index(["setting", "locality"])
    assert cell.loc[("inpatient", "North"), "events"] == 24
    assert cell.loc[("inpatient", "North"), "n"] == 1200
    assert cell.loc[("inpatient", "North"), "unit"] == "occupied_bed_days"
    assert cell.loc[("inpatient", "North"), "target"] == pytest.approx(12 / 1200)
    assert cell.loc[("community", "North"), "events"] == 12
    assert cell.loc[("community", "North"), "n"] == 600
    assert cell.loc[("community", "North"), "unit"] == "caseload"
    assert cell.loc[("community", "North"), "target"] == pytest.approx(12 / 300)
    assert not table.attrs["warnings"]


def test_incidents_of_a_setting_without_denominator_are_no_denominator_rows():
    inpatient = _with_service(_grid({("North", "T01"): 12, ("South", "T01"): 12}), "inpatient")
    crisis = _with_service(_grid({("North", "T01"): 5}), "Crisis")
    crisis = crisis.assign(incident_id="c" + crisis["incident_id"])
    a = pd.concat([inpatient, crisis], ignore_index=True)
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    den = _setting_denominators([(loc, m, 100, "occupied_bed_days", "Inpatient")
                                 for loc in ("North", "South") for m in months])
    table = funnel_table(a, denominators=den, setting_column="service")
    crisis_row = table[table["setting"] == "crisis"].set_index("locality").loc["North"]
    assert crisis_row["flag"] == "no_denominator" and crisis_row["events"] == 5
    assert np.isnan(crisis_row["n"])
    assert table.attrs["summary"]["no_denominator"] == 1
    assert any("setting 'crisis'" in w for w in table.attrs["warnings"])
    judged = table[table["setting"] == "inpatient"]
    assert set(judged["locality"]) == {"North", "South"} and (judged["n"] == 1200).all()


def test_an_unknown_setting_column_is_a_parameter_error_listing_the_columns():
    a = _grid({("North", "T01"): 3})
    den = _setting_denominators([("North", "2024-01", 100, "obd", "inpatient")])
    with pytest.raises(ParameterError, match=r"no column 'ward_type'.*columns: .*locality"):
        funnel_table(a, denominators=den, setting_column="ward_type")
