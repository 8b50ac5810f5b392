"""Theme x group comparison, the written tables, the CLI, the figures and planted signals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sgreview.cli import main
from sgreview.compare import compare, prepare_assignments, theme_by_group, write_comparison
from sgreview.errors import InputError


def _assignments(counts: dict[tuple[str, str], int], months: int = 12) -> pd.DataFrame:
    rows, i = [], 0
    for (loc, theme), k in counts.items():
        for _ in range(k):
            rows.append((f"I{i}", loc, pd.Timestamp("2024-01-01") + pd.DateOffset(months=i % months),
                         theme, theme.lower(), 0.9))
            i += 1
    return pd.DataFrame(rows, columns=["incident_id", "locality", "incident_date", "theme_id",
                                       "theme_label", "score"])


TABLE = {("North", "T01"): 30, ("North", "T02"): 10, ("South", "T01"): 10, ("South", "T02"): 30,
         ("East", "T01"): 20, ("East", "T02"): 20}


def test_crosstab_expected_residuals_and_chi_square_by_hand():
    ct = theme_by_group(_assignments(TABLE))
    o = np.array([[20, 30, 10], [20, 10, 30]], dtype=float)  # themes x (East, North, South)
    e = o.sum(1, keepdims=True) @ o.sum(0, keepdims=True) / o.sum()
    assert ct.counts.columns.tolist() == ["East", "North", "South"]
    np.testing.assert_allclose(ct.expected.to_numpy(), e)
    chi2 = ((o - e) ** 2 / e).sum()
    assert ct.chi2 == pytest.approx(chi2) and ct.dof == 2
    assert ct.p_value == pytest.approx(stats.chi2.sf(chi2, 2))
    # Adjusted residual for North x T01: (30 - 20) / sqrt(20 (1 - 60/120) (1 - 40/120)).
    row = ct.table.set_index(["theme_id", "locality"]).loc[("T01", "North")]
    assert row["adj_residual"] == pytest.approx(10 / np.sqrt(20 * 0.5 * (2 / 3)))
    assert row["share"] == pytest.approx(0.75) and row["o_e"] == pytest.approx(1.5)
    assert row["stands_out"] == "high"


def test_chi_square_p_is_monte_carlo_when_most_expected_counts_are_small():
    big = theme_by_group(_assignments(TABLE))
    assert big.p_method == "asymptotic"
    sparse = {(f"L{g}", f"T0{t}"): (1 + (g + t) % 3) for g in range(8) for t in range(1, 5)}
    sparse[("L0", "T01")] = 6
    ct = theme_by_group(_assignments(sparse))
    assert ct.small_expected_share > 0.2
    assert ct.p_method.startswith("Monte Carlo")
    # Same statistic, p from simulated tables with the margins fixed: close to a large
    # independent simulation, and reproducible.
    from sgreview.compare import monte_carlo_chi2_p

    o = ct.counts.to_numpy()
    e = np.outer(o.sum(1), o.sum(0)) / o.sum()
    sims = stats.random_table(o.sum(1), o.sum(0), seed=1).rvs(20000)
    reference = ((sims - e) ** 2 / e).sum(axis=(1, 2))
    assert ct.p_value == pytest.approx((reference >= ct.chi2 - 1e-9).mean(), abs=0.03)
    assert monte_carlo_chi2_p(o, ct.chi2) == ct.p_value


def test_single_group_gives_no_chi_square_but_a_table():
    ct = theme_by_group(_assignments({("North", "T01"): 5, ("North", "T02"): 3}))
    assert np.isnan(ct.chi2) and ct.dof == 0
    assert ct.table["count"].tolist() == [5, 3]


def test_compare_writes_design_tables_atomically(tmp_path):
    result = compare(_assignments(TABLE))
    paths = write_comparison(result, tmp_path / "comparison")
    names = sorted(p.name for p in paths)
    assert names == ["dispersion.json", "funnel.csv", "spc.csv", "special_cause.csv",
                     "theme_by_group.csv"]
    funnel = pd.read_csv(tmp_path / "comparison" / "funnel.csv")
    assert {"theme_id", "locality", "events", "n", "proportion", "target", "lower95", "upper95",
            "lower998", "upper998", "flag"} <= set(funnel.columns)
    spc = pd.read_csv(tmp_path / "comparison" / "spc.csv")
    assert {"theme_id", "locality", "period", "value", "centre", "lower", "upper",
            "special_cause", "rule"} <= set(spc.columns)
    assert set(spc["locality"]) == {"East", "North", "South", "All"}
    info = json.loads((tmp_path / "comparison" / "dispersion.json").read_text())
    assert set(info["themes"]) == {"T01", "T02"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_any_column_can_be_the_group():
    a = _assignments(TABLE)
    a["harm"] = np.where(np.arange(len(a)) % 3 == 0, "moderate", "low")
    result = compare(a, group_by="harm")
    assert set(result.funnel["locality"]) == {"low", "moderate"}
    assert set(result.funnel["group_by"]) == {"harm"}
    assert set(result.spc["locality"]) == {"low", "moderate", "All"}
    assert result.crosstab.counts.to_numpy().sum() == len(a)


def test_blank_group_values_become_not_recorded_and_bad_rows_are_named():
    a = _assignments(TABLE)
    a["incident_date"] = a["incident_date"].dt.strftime("%d/%m/%Y")
    a.loc[0, "locality"] = " "
    assert prepare_assignments(a)["locality"].iloc[0] == "Not recorded"
    a.loc[3, "incident_date"] = "31/02/2024"
    with pytest.raises(InputError, match="row 5, column 'incident_date'.*not a date"):
        prepare_assignments(a)
    b = _assignments(TABLE)
    b.loc[4, "incident_id"] = b.loc[2, "incident_id"]
    with pytest.raises(InputError, match="duplicate incident_id"):
        prepare_assignments(b)


def _write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def test_cli_compare_writes_tables_and_rejects_bad_input_with_exit_2(tmp_path, capsys):
    a = _write(_assignments(TABLE), tmp_path / "a.csv")
    assert main(["compare", str(a), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "funnel.csv").is_file()

    assert main(["compare", str(a), "--out", str(tmp_path / "bad1"), "--group-by", "ward"]) == 2
    err = capsys.readouterr().err
    assert "ward" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1

    no_theme = _write(_assignments(TABLE).drop(columns="theme_id"), tmp_path / "b.csv")
    assert main(["compare", str(no_theme), "--out", str(tmp_path / "bad2")]) == 2
    assert "theme_id" in capsys.readouterr().err

    months = [f"2024-{m:02d}" for m in range(1, 13)]
    den = pd.DataFrame([(loc, m, 100, "obd") for loc in ("North", "South", "East") for m in months],
                       columns=["locality", "period", "denominator", "unit"])
    zero = den.copy()
    zero.loc[7, "denominator"] = 0
    assert main(["compare", str(a), "--out", str(tmp_path / "bad3"), "--denominators",
                 str(_write(zero, tmp_path / "d0.csv"))]) == 2
    err = capsys.readouterr().err
    assert "d0.csv" in err and "row 9" in err and "positive" in err
    shifted = den.assign(period=den["period"].str.replace("2024", "2021"))
    assert main(["compare", str(a), "--out", str(tmp_path / "bad4"), "--denominators",
                 str(_write(shifted, tmp_path / "d1.csv"))]) == 2
    assert "line up" in capsys.readouterr().err
    partial = den[den["locality"] != "East"]
    assert main(["compare", str(a), "--out", str(tmp_path / "ok2"), "--denominators",
                 str(_write(partial, tmp_path / "d2.csv"))]) == 0
    assert "missing_denominator: no denominator for East" in capsys.readouterr().err
    assert not any((tmp_path / f"bad{i}").exists() for i in range(1, 5))


def test_figures_render_with_suppressed_labels():
    from sgreview.disclosure import REVIEWER
    from sgreview.plots import funnel_plot, spc_chart, spc_small_multiples, theme_heatmap

    result = compare(_assignments({**TABLE, ("West", "T01"): 3, ("West", "T02"): 2}))
    f = result.funnel
    fig = funnel_plot(f[f["theme_id"] == "T01"], REVIEWER)
    assert "(all groups: 65 incidents)" in fig.axes[0].get_title()
    spc = result.spc
    west = spc[(spc["theme_id"] == "T01") & (spc["locality"] == "West")]
    assert spc_chart(west, title="T01 West").axes[0].get_title() == "T01 West (* incidents)"
    grid = spc_small_multiples(spc, theme_id="T01")
    assert "West (n=*)" in [ax.get_title() for ax in grid.axes]
    heat = theme_heatmap(result.crosstab, REVIEWER)
    texts = [t.get_text() for t in heat.axes[0].texts]
    assert "*" in texts and "3" not in texts and "2" not in texts


def _planted_assignments(truth: pd.DataFrame) -> pd.DataFrame:
    a = truth.rename(columns={"theme": "theme_id"}).assign(theme_label=lambda x: x["theme_id"])
    a.loc[a["theme_id"] == "uninformative", "theme_id"] = "T00"
    return a


def test_planted_signals_are_found_in_the_synthetic_demo_data():
    synth = pytest.importorskip("sgreview.synth")
    data = synth.generate(seed=42)
    sig = data.signals
    a = _planted_assignments(data.truth)
    result = compare(a)
    f = result.funnel.set_index(["theme_id", "locality"])
    raised = sig["raised_share"]
    assert f.loc[(raised["theme"], raised["locality"]), "flag"] == "alarm_high"

    spc = result.spc
    rising = sig["rising"]
    series = spc[(spc["theme_id"] == rising["theme"]) & (spc["locality"] == rising["locality"])]
    # Making Data Count: the sustained rise is a step, and the limits are recalculated from it.
    assert series["chart"].iloc[0] == "xmr"
    steps = series.loc[series["step"], "period_start"]
    start = pd.Timestamp(rising["start_month"])
    assert len(steps) >= 1 and abs((steps.iloc[0] - start).days) <= 62
    assert series["centre"].iloc[-1] > 1.5 * series["centre"].iloc[0]

    from sgreview.spc import change_after

    fall = sig["falling"]
    series = spc[(spc["theme_id"] == fall["theme"]) & (spc["locality"] == fall["locality"])]
    values = pd.Series(series["value"].to_numpy(), index=pd.DatetimeIndex(series["period_start"]))
    effect = change_after(values, fall["completion_date"], improvement_direction="decrease")
    assert effect["effect"] == "improved" and effect["side"] == "low"
    assert effect["after"]["centre"] < effect["baseline"]["centre"]


def test_null_synthetic_data_flags_about_what_the_limits_imply():
    synth = pytest.importorskip("sgreview.synth")
    flags = []
    for seed in range(3):
        a = _planted_assignments(synth.generate(seed=seed, signals=False).truth)
        f = compare(a).funnel
        flags.append(f.loc[f["theme_id"] != "T00", "flag"])
    flags = pd.concat(flags)
    alarms = flags.str.startswith("alarm").mean()
    alerts = (flags != "within").mean()
    assert alarms < 0.02
    assert alerts < 0.10


def test_a_theme_mostly_from_one_group_is_marked_as_possibly_local_wording():
    from sgreview.concentration import LOCAL_NOTE, local_concentration, local_pairs

    rows = ([("T01", "Avon")] * 40 + [("T01", "Kent")] * 5
            + [("T02", "Avon")] * 10 + [("T02", "Kent")] * 30 + [("T02", "Essex")] * 30
            + [("T00", "Essex")] * 20 + [("T03", "Kent")] * 5)  # fmt: skip
    a = pd.DataFrame(rows, columns=["theme_id", "locality"])
    table = local_concentration(a).set_index("theme_id")
    assert bool(table.loc["T01", "local"]) and table.loc["T01", "group"] == "Avon"
    assert round(table.loc["T01", "theme_share"], 3) == round(40 / 45, 3)
    assert not table.loc["T02", "local"]            # spread over groups
    assert not table.loc["T00", "local"]            # unthemed is never marked
    assert not table.loc["T03", "local"]            # too small to judge
    assert local_pairs(a) == {("T01", "Avon")}
    assert LOCAL_NOTE == "possibly local wording or local practice"


def test_a_group_that_is_most_of_the_data_does_not_make_its_themes_local():
    from sgreview.concentration import local_concentration

    a = pd.DataFrame([("T01", "Big")] * 70 + [("T01", "Small")] * 30
                     + [("T02", "Big")] * 80 + [("T02", "Small")] * 20, columns=["theme_id", "locality"])
    assert not local_concentration(a)["local"].any()  # 70% from a group holding 75% of all


def test_a_flag_on_a_locally_concentrated_theme_carries_the_local_note():
    from sgreview import views
    from sgreview.pipeline.comparison import mark_local

    a = pd.DataFrame([("T01", "Avon")] * 40 + [("T01", "Kent")] * 5 + [("T02", "Kent")] * 60
                     + [("T02", "Avon")] * 5, columns=["theme_id", "locality"])
    flagged = pd.DataFrame({"theme_id": ["T01", "T02"], "locality": ["Avon", "Kent"],
                            "theme_label": ["Stepping phrase", "Falls"], "events": [40, 60],
                            "proportion": [0.9, 0.9], "target": [0.1, 0.5], "lower95": [0.0, 0.0],
                            "upper95": [0.2, 0.6], "lower998": [0.0, 0.0], "upper998": [0.3, 0.7],
                            "flag": ["alarm_high", "alarm_high"]})
    marked = mark_local(flagged, a, "locality")
    assert marked["note"].tolist() == ["possibly local wording or local practice", ""]
    table = views.flags_table(marked, views.policy())
    assert table.loc["Stepping phrase", "note"] == "possibly local wording or local practice"


def test_heatmap_stays_readable_from_3_to_100_groups():
    from sgreview import plots, views

    rng = np.random.default_rng(3)
    for groups in (3, 20, 100):
        names = [f"Area {i:03d}" for i in range(groups)]
        n = 40 * groups
        a = pd.DataFrame({
            "incident_id": [f"I{i}" for i in range(n)], "locality": rng.choice(names, n),
            "incident_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D"),
            "theme_id": rng.choice([f"T{i:02d}" for i in range(1, 21)], n)})
        a["theme_label"] = "Label " + a["theme_id"]
        fig = plots.theme_heatmap(compare(a).crosstab, views.policy())
        heat_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_yticklabels()]
        drawn_themes = {t.get_text() for ax in heat_axes
                        for t in (ax.get_xticklabels() if groups > plots.WIDE_GROUPS else ax.get_yticklabels())}
        assert len(drawn_themes) <= plots.HEATMAP_THEMES  # top themes only
        rows = sum(len(ax.get_yticklabels()) for ax in heat_axes)
        assert rows == (groups if groups > plots.WIDE_GROUPS else len(drawn_themes))
        assert all(len(ax.get_yticklabels()) <= plots.PANEL_ROWS for ax in heat_axes)
        height = fig.get_figheight() * 72 / max(rows, 1)
        assert height >= 14, f"{groups} groups: {height:.0f} pt per row is too cramped to read"
        assert "groups" in views.describe_figure(fig)


def test_funnel_names_only_flagged_groups_without_overlapping_labels():
    from sgreview import plots, views

    rows = pd.DataFrame({
        "theme_id": "T01", "theme_label": "Falls", "locality": [f"Area {i}" for i in range(30)],
        "n": np.r_[np.full(15, 100), np.full(15, 101)], "events": np.r_[np.full(15, 40), np.full(15, 10)],
        "target": 0.25, "kind": "proportion", "adjustment": "none", "phi": 1.0, "tau2": 0.0,
        "flag": ["alarm_high"] * 15 + ["within"] * 15})
    rows["proportion"] = rows["events"] / rows["n"]
    fig = plots.funnel_plot(rows, policy=views.policy())
    ax = fig.axes[0]
    names = [t for t in ax.texts if t.get_text().startswith("Area")]
    assert 0 < len(names) <= plots.MAX_FUNNEL_LABELS
    assert {t.get_text() for t in names} <= {f"Area {i}" for i in range(15)}  # flagged only
    renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
    if renderer is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in names]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_long_signal_tables_are_summarised_not_cut():
    from sgreview import views

    signals = pd.DataFrame({
        "theme_id": "T01", "theme_label": "Falls", "locality": [f"Area {i}" for i in range(200)],
        "latest_period": "2024-12", "latest_value": 10, "centre": 9.0,
        "latest_special_cause": [True] * 80 + [False] * 120,
        "latest_rule": ["shift"] * 80 + [""] * 120, "recent_rules": [""] * 150 + ["trend"] * 50})
    table = views.signals_table(signals, views.policy(), with_group=True, where="comparison/special_cause.csv")
    assert len(table) == views.MAX_TABLE_ROWS + 1
    assert table.index[-1] == "... and 70 more (all rows: comparison/special_cause.csv)"


def test_trends_with_no_chartable_series_make_no_claim_about_change():
    from sgreview import views
    from sgreview.pipeline.locality import _any_chart

    signals = pd.DataFrame({
        "theme_id": ["T01", "T02"], "theme_label": ["Falls", "Sepsis"], "locality": "Small",
        "latest_period": "2019-02", "latest_value": 0, "centre": 0.1,
        "latest_special_cause": False, "latest_rule": "", "recent_rules": "",
        "chart": ["none", "none"]})
    table = views.signals_table(signals, views.policy())
    assert "no judgement on change" in table.iloc[0, 0]
    assert "common-cause" not in table.iloc[0, 0]
    assert not _any_chart(signals, {"T01", "T02"})
    assert _any_chart(signals.assign(chart=["none", "c"]), {"T01", "T02"})


def test_a_flagged_share_follows_the_rounded_count_so_the_exact_count_cannot_be_recovered():
    from sgreview import views
    from sgreview.disclosure import DisclosurePolicy

    # 9 of 50 would show as "10 | 18.00%": the 18% gives back the 9. It must read 10 of 50.
    flagged = pd.DataFrame({"theme_id": ["T01"], "locality": ["Avon"], "theme_label": ["Falls"],
                            "events": [9], "n": [50], "proportion": [0.18], "target": [0.08],
                            "lower95": [0.0], "upper95": [0.15], "lower998": [0.0], "upper998": [0.21],
                            "flag": ["alert_high"]})
    table = views.flags_table(flagged, DisclosurePolicy(threshold=7, base=5))
    assert table.loc["Falls", "incidents"] == "10"
    assert table.loc["Falls", "value (%)"] == "20.00"
    # a rate keeps its exposure exact (bed days count no one), the events still rounded
    rate = flagged.assign(n=[10_000.0], proportion=[0.0009])
    table = views.flags_table(rate, DisclosurePolicy(threshold=7, base=5), kind="rate", unit="bed_days")
    assert table.loc["Falls", "value (per 1,000 bed days)"] == "1.00"


def test_organisation_series_with_mostly_hidden_months_is_charted_by_quarter_for_reviewers():
    from sgreview.compare import compare

    # about 3 incidents a month for three years: every monthly count would be hidden (1-7),
    # so a reviewer's chart goes to quarters (about 9 a quarter) instead of a blank panel
    rng = np.random.default_rng(5)
    n = 108
    a = pd.DataFrame({
        "incident_id": [f"I{i}" for i in range(n)], "locality": rng.choice(["Avon", "Kent"], n),
        "incident_date": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, n), "D"),
        "theme_id": "T01"})
    reviewer = compare(a, min_shown=7).spc
    analyst = compare(a).spc
    org = reviewer.loc[reviewer["locality"] == "All"]
    assert set(org["chart"]) == {"c_quarterly"}
    assert org["period"].str.contains("Q").all()
    assert set(analyst.loc[analyst["locality"] == "All", "chart"]) == {"c"}


def test_funnel_points_sit_at_the_rounded_counts_the_flags_table_prints():
    from sgreview import plots
    from sgreview.disclosure import DisclosurePolicy

    # 9 of 52 (17.3%) is printed as 10 of 50 (20%); the point must not give back the 9 of 52
    rows = pd.DataFrame({
        "theme_id": "T01", "theme_label": "Falls", "locality": ["Avon", "Kent"], "n": [52, 300],
        "events": [9, 24], "target": 0.08, "kind": "proportion", "adjustment": "none", "phi": 1.0,
        "tau2": 0.0, "flag": ["alert_high", "within"]})
    rows["proportion"] = rows["events"] / rows["n"]
    fig = plots.funnel_plot(rows, policy=DisclosurePolicy(threshold=7, base=5))
    points = np.asarray(fig.axes[0].collections[0].get_offsets())
    assert np.allclose(points, [[50, 20.0], [300, 25 / 300 * 100]])
