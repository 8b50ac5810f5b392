"""Figures for the comparison: funnel plots, Making Data Count XmR charts, theme heatmaps.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so no
global figure state builds up in a long notebook or a batch of reports (nothing to close,
no backend to choose). Every count written on a figure (labels, annotations) passes through
a :class:`~sgreview.disclosure.DisclosurePolicy`; the default is the reviewer policy.

A plotted point is a published count, so the gate covers the marks too: an SPC point of 1 to
the threshold is drawn as a hollow marker in a grey band labelled "1-7", never at its true
value; a series whose total is hidden, or with more hidden points than shown ones, is not
drawn at all ("too few to chart"); a funnel point whose events or group size is hidden is
left off (the caption says how many). Each figure carries a record of what it was drawn from
and the smallest count drawn at its true value (:func:`sgreview.disclosure.figure_record`),
which the stages save as ``figures.json`` for ``sgreview audit``.
"""

from __future__ import annotations

import contextlib

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from sgreview.disclosure import REVIEWER, DisclosurePolicy, figure_record
from sgreview.funnel import funnel_limits
from sgreview.spc import COLOURS, variation_icon

# Labels come from data: "$" in a locality or theme name is text, never mathtext.
matplotlib.rcParams["text.parse_math"] = False

DPI = 90
FLAG_COLOURS = {
    "alarm_high": "#d5281b",
    "alert_high": "#ed8b00",
    "within": "#4c6272",
    "alert_low": "#0072c6",
    "alarm_low": "#003087",
    "too_few": "#f0f4f5",
    "": "#aeb7bd",
}
POINT_COLOURS = {
    "common_cause": COLOURS["common_cause"],
    "special_cause_improvement": COLOURS["improvement"],
    "special_cause_concern": COLOURS["concern"],
    "special_cause_neutral_high": COLOURS["neutral"],
    "special_cause_neutral_low": COLOURS["neutral"],
}


#: Dark outline drawn round every data point (see WCAG note in :func:`_draw_spc`).
OUTLINE = "#231f20"
#: At most this many groups are named on a funnel plot; the flags table lists them all.
MAX_FUNNEL_LABELS = 12


def place_labels(ax, xs, ys, names, *, max_labels: int = MAX_FUNNEL_LABELS, fontsize: int = 8) -> int:
    """Name points without overlap: try eight positions round each point, skip when none is free.

    Labels are placed in the given order (most important first); a label that would overlap
    a placed one, or leave the axes, is tried at the next position, and left out (the table
    names every flagged group) when no position is free. Returns how many were placed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    canvas = fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    placed: list = []
    offsets = [(5, 5), (5, -11), (-5, 5), (-5, -11), (5, 14), (-5, 14), (5, -20), (-5, -20)]
    box = ax.get_window_extent(renderer)
    for x, y, name in list(zip(xs, ys, names, strict=True))[:max_labels]:
        for dx, dy in offsets:
            text = ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points",
                               fontsize=fontsize, ha="left" if dx > 0 else "right", zorder=4,
                               bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                                     "alpha": 0.8})
            extent = text.get_window_extent(renderer)
            inside = (extent.x0 >= box.x0 and extent.x1 <= box.x1 and extent.y0 >= box.y0
                      and extent.y1 <= box.y1)
            if inside and not any(extent.overlaps(other) for other in placed):
                placed.append(extent)
                break
            text.remove()
    return len(placed)


def funnel_plot(
    rows: pd.DataFrame,
    policy: DisclosurePolicy = REVIEWER,
    *,
    title: str | None = None,
    figsize: tuple[float, float] = (7.5, 4.8),
) -> Figure:
    """Funnel plot for one theme from its :func:`sgreview.funnel.funnel_table` rows.

    Limits are redrawn on a fine grid with the same target, kind and adjustment as the
    table, so the curves are the ones the flags were judged against. Flagged groups are
    labelled by name; the caption gives the target and the adjustment used (phi, tau^2).
    Groups are never ranked.
    """
    rows = rows[rows["n"] > 0]
    hidden = policy.is_hidden(rows["events"].to_numpy()) | policy.is_hidden(rows["n"].to_numpy())
    n_hidden = int(hidden.sum())
    all_rows, rows = rows, rows[~hidden]
    fig = Figure(figsize=figsize, dpi=DPI)
    ax = fig.add_subplot()
    name = str(all_rows["theme_label"].iloc[0]) if len(all_rows) and "theme_label" in all_rows else ""
    figure_record(fig, title=title or f"funnel: {name}", kind="funnel", drawn_from="comparison/funnel.csv",
                  plotted_counts=np.concatenate([rows["events"].to_numpy(float), rows["n"].to_numpy(float)]),
                  masked_points=n_hidden)
    if rows.empty:
        why = (f"Every group's count here is 1 to {policy.threshold}: too small to plot without "
               "revealing it.\nThe table below lists the flagged groups." if n_hidden
               else "No incidents to compare")
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, wrap=True)
        ax.set_title(title or f"funnel: {name}", fontsize=11)
        ax.set_axis_off()
        fig.set_size_inches(figsize[0], 1.6)
        return fig
    first = rows.iloc[0]
    kind = str(first.get("kind", "proportion"))
    # With leave-one-out flags each group has its own target; the curves are drawn at the
    # rate of all groups together, so a point near a curve may be judged either way.
    target = float(first.get("target_pooled", first["target"]))
    leave_one_out = str(first.get("target_method", "pooled")) == "leave_one_out"
    adjustment = str(first.get("adjustment", "none"))
    tau2 = float(first["tau2"]) if adjustment == "additive" else 0.0
    phi = float(first["phi"]) if adjustment == "multiplicative" and first["phi"] > 1 else 1.0
    n_max = float(rows["n"].max())
    grid = np.linspace(max(n_max / 400, 1e-9), n_max * 1.05, 400)
    if kind == "proportion":
        grid = np.unique(np.maximum(1.0, np.round(grid)))  # whole incidents
    lim = funnel_limits(grid, target, kind=kind, tau2=tau2, phi=phi)
    scale = 100.0 if kind == "proportion" else 1.0
    ax.plot(grid, lim["upper998"] * scale, color="#425563", lw=1.2, ls="--", label="99.8% limits")
    ax.plot(grid, lim["lower998"] * scale, color="#425563", lw=1.2, ls="--")
    ax.plot(grid, lim["upper95"] * scale, color="#768692", lw=1.0, ls=":", label="95% limits")
    ax.plot(grid, lim["lower95"] * scale, color="#768692", lw=1.0, ls=":")
    ax.axhline(target * scale, color="#231f20", lw=1.0, label="all groups")
    flags = rows["flag"].fillna("").astype(str)
    # Points sit where the rounded counts put them, as the flags table prints them: a point
    # at the exact share beside "10 | 20%" would give back the 9 of 50 the table hides.
    shown_n = rows["n"].to_numpy(float) if kind != "proportion" else policy.round_counts(rows["n"])
    shown_y = policy.shown_share(rows["events"], rows["n"], exact_denominator=kind != "proportion") * scale
    ax.scatter(shown_n, shown_y, s=36, zorder=3,
               c=[FLAG_COLOURS.get(f, FLAG_COLOURS["within"]) for f in flags],
               edgecolor=OUTLINE, linewidth=0.6)
    marked = flags.str.startswith(("alarm", "alert")).to_numpy()
    # Only flagged groups are named, alarms first, and never on top of each other.
    order = np.argsort(~flags.str.startswith("alarm").to_numpy(), kind="stable")
    order = order[marked[order]]
    ax.set_xlim(left=0, right=n_max * 1.08)
    if kind == "proportion":
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_ylabel("share of the group's incidents")
        ax.set_xlabel("incidents in the group")
    else:
        unit = str(first.get("unit", "exposure")).replace("_", " ")
        ax.set_ylabel(f"incidents per {unit}")
        ax.set_xlabel(unit)
    ax.set_ylim(bottom=0)
    label = str(first.get("theme_label", first.get("theme_id", "")))
    total = policy.format_counts([all_rows["events"].sum()])[0]
    ax.set_title(title or f"{label} (all groups: {total} incidents)", fontsize=11)
    note = "no over-dispersion adjustment"
    if adjustment == "additive":
        note = f"additive adjustment, tau\u00b2 = {tau2:.2g} (phi = {float(first['phi']):.2f})"
    elif adjustment == "multiplicative":
        note = f"multiplicative adjustment, phi = {phi:.2f}"
    if leave_one_out:
        note += "\nflags: each group against all others (exact test)"
    if n_hidden:
        note += f"\n{n_hidden} group(s) with 1 to {policy.threshold} incidents not plotted"
    # Under the chart, as a caption: in the corner it ran into the key once it had 3 lines.
    ax.text(0.0, -0.16, note.replace("\n", "; "), transform=ax.transAxes, ha="left", va="top",
            fontsize=8, color="#425563", wrap=True)
    handles = [Line2D([], [], marker="o", ls="", color=FLAG_COLOURS[f], label=f.replace("_", " "))
               for f in ("alarm_high", "alert_high", "within", "alert_low", "alarm_low", "too_few")
               if (flags == f).any()]
    ax.legend(handles=ax.get_legend_handles_labels()[0] + handles, fontsize=8, loc="upper right",
              frameon=False)
    fig.tight_layout()
    # Labels last, once the layout is fixed, so the overlap check sees the final positions.
    place_labels(ax, shown_n[order], shown_y[order],
                 rows["locality"].astype(str).to_numpy()[order], max_labels=MAX_FUNNEL_LABELS)
    return fig


def spc_mask(chart: pd.DataFrame, policy: DisclosurePolicy) -> tuple[np.ndarray, np.ndarray, bool]:
    """(values to plot with hidden ones as NaN, hidden mask, whether to draw the series).

    Points are counts (``events`` when the chart plots a rate). A series is not drawn when
    its total is hidden or when more of its non-zero points are hidden than shown: a chart
    of mostly masked points says nothing and its limits would say too much.
    """
    counts = chart["events"] if "events" in chart else chart["value"]
    counts = counts.to_numpy(dtype=float)
    hidden = policy.is_hidden(counts)
    values = np.where(hidden, np.nan, chart["value"].to_numpy(dtype=float))
    shown_points = int(((counts > 0) & ~hidden).sum())
    draw = not policy.is_hidden([np.nansum(counts)])[0] and shown_points >= int(hidden.sum()) \
        and shown_points > 0
    return values, hidden, bool(draw)


def _draw_spc(ax, chart: pd.DataFrame, *, improvement_direction: str, policy: DisclosurePolicy,
              compact: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
    values, hidden, draw = spc_mask(chart, policy)
    if not draw:
        # The series may be large ("n=190") with most of its points small: say which.
        ax.text(0.5, 0.5, f"most points are counts of 1 to {policy.threshold}:\nnot plotted, to protect small numbers",
                ha="center", va="center", transform=ax.transAxes, fontsize=7 if compact else 9,
                color="#4c6272")
        ax.set_xticks([])
        ax.set_yticks([])
        return values, hidden, draw
    x = chart["period_start"] if "period_start" in chart else chart["period"]
    with contextlib.suppress(TypeError, ValueError):  # periods read from CSV are text
        x = pd.to_datetime(x)
    x = pd.Series(np.asarray(x), index=chart.index)
    if hidden.any():
        band = (1, policy.threshold) if "events" not in chart else (0, float(np.nanmin(values)) / 2)
        ax.axhspan(*band, color="#e8edee", zorder=0, lw=0)
        ax.scatter(x[hidden], np.full(int(hidden.sum()), (band[0] + band[1]) / 2), s=14 if compact else 22,
                   facecolors="none", edgecolors="#768692", zorder=2,
                   label=f"1 to {policy.threshold}: not shown")
    chart = chart.assign(value=values)
    ax.plot(x, chart["value"], color=COLOURS["common_cause"], lw=1.2, zorder=1)
    groups = chart["rebase_group"] if "rebase_group" in chart else pd.Series(0, index=chart.index)
    for _, grp in chart.groupby(groups, sort=True):
        gx = x.loc[grp.index]
        ax.plot(gx, grp["centre"], color="#231f20", lw=1.0)
        ax.plot(gx, grp["upper"], color="#768692", lw=1.0, ls="--")
        ax.plot(gx, grp["lower"], color="#768692", lw=1.0, ls="--")
    colours = [POINT_COLOURS.get(p, COLOURS["common_cause"]) for p in chart["point_type"]]
    # Making Data Count fills, with a dark outline so every point passes WCAG 1.4.11 (3:1
    # against the white background) whatever its fill.
    ax.scatter(x[~hidden], chart["value"][~hidden], c=list(np.asarray(colours, dtype=object)[~hidden]),
               s=14 if compact else 22, zorder=2, edgecolors=OUTLINE, linewidths=0.5)
    icon = variation_icon(chart, improvement_direction)
    text = icon["label"]
    if compact:
        text = "common cause" if icon["kind"] == "common_cause" else f"{icon['kind']} ({icon['side']})"
    ax.text(0.01, 1.0, text, transform=ax.transAxes, ha="left", va="bottom",
            fontsize=7 if compact else 8, color=icon["colour"])
    provisional = bool(chart["provisional"].iloc[-1]) if "provisional" in chart else len(chart) < 13
    if provisional:
        ax.text(0.99, 0.02, "provisional limits (< 13 points)", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="#768692")
    # Counts cannot go below zero: a negative lower limit is not drawn below the axis.
    ax.set_ylim(bottom=min(0.0, float(np.nanmin(values)) if np.isfinite(values).any() else 0.0))
    if pd.api.types.is_datetime64_any_dtype(x):
        locator = mdates.AutoDateLocator(minticks=3, maxticks=6 if compact else 10)
        locator.intervald[mdates.MONTHLY] = [1, 2, 3, 4, 6, 12]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(labelsize=7 if compact else 8)
    return values, hidden, draw


def spc_chart(
    chart: pd.DataFrame,
    *,
    title: str = "",
    improvement_direction: str = "neutral",
    policy: DisclosurePolicy = REVIEWER,
    figsize: tuple[float, float] = (8.0, 3.6),
    drawn_from: str = "spc series",
) -> Figure:
    """One Making Data Count XmR chart (from :func:`sgreview.spc.xmr` or one series of
    :func:`sgreview.spc.spc_table`), with MDC colours and the latest-point variation icon."""
    fig = Figure(figsize=figsize, dpi=DPI)
    ax = fig.add_subplot()
    values, hidden, draw = _draw_spc(ax, chart, improvement_direction=improvement_direction, policy=policy)
    figure_record(fig, title=title or "SPC chart", kind="spc", drawn_from=drawn_from,
                  plotted_counts=_plotted_counts(chart, hidden) if draw else [],
                  masked_points=int(hidden.sum()), series_hidden=int(not draw))
    counts = chart["events"] if "events" in chart else chart["value"]
    total = policy.format_counts([counts.sum()])[0]
    ax.set_title(f"{title} ({total} incidents)" if title else f"{total} incidents", fontsize=11)
    rated = "exposure" in chart and not np.allclose(chart["exposure"].fillna(1.0), 1.0)
    ax.set_ylabel("incidents per 1,000 units of exposure" if rated else "incidents per period")
    fig.tight_layout()
    return fig


def spc_small_multiples(
    spc: pd.DataFrame,
    *,
    theme_id: str | None = None,
    locality: str | None = None,
    improvement_direction: str = "neutral",
    policy: DisclosurePolicy = REVIEWER,
    ncols: int = 4,
    drawn_from: str = "comparison/spc.csv",
) -> Figure:
    """A grid of XmR charts from :func:`sgreview.spc.spc_table`: one theme across groups
    (``theme_id``) or one group across themes (``locality``). Each panel keeps its own
    y-axis; titles carry the (disclosure-controlled) total."""
    data = spc
    if theme_id is not None:
        data = data[data["theme_id"] == theme_id]
        key = "locality"
    elif locality is not None:
        data = data[data["locality"] == locality]
        key = "theme_label" if "theme_label" in data else "theme_id"
    else:
        raise ValueError("give theme_id or locality")
    panels = list(dict.fromkeys(data[key].astype(str)))
    nrows = max(1, -(-len(panels) // ncols))
    fig = Figure(figsize=(3.2 * ncols, 2.3 * nrows), dpi=DPI)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    plotted, masked, not_drawn = [], 0, 0
    for ax, name in zip(axes.ravel(), panels, strict=False):
        chart = data[data[key].astype(str) == name]
        _, hidden, draw = _draw_spc(ax, chart, improvement_direction=improvement_direction,
                                    policy=policy, compact=True)
        plotted.extend(_plotted_counts(chart, hidden) if draw else [])
        masked += int(hidden.sum())
        not_drawn += int(not draw)
        counts = chart["events"] if "events" in chart else chart["value"]
        ax.set_title(policy.label(name, counts.sum()), fontsize=9, pad=12)
        if draw and "chart" in chart and len(chart) and chart["chart"].iloc[0] == "none":
            ax.text(0.5, 0.5, "no chart: " + str(chart["chart_reason"].iloc[0]), ha="center",
                    va="center", fontsize=6, wrap=True, transform=ax.transAxes, color="#425563")
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    fig.tight_layout()
    what = f"theme {theme_id} by {key}" if theme_id is not None else f"{locality} by theme"
    return figure_record(fig, title=f"SPC small multiples: {what}", kind="spc_small_multiples",
                         drawn_from=drawn_from, plotted_counts=plotted, masked_points=masked,
                         series_hidden=not_drawn)


def _plotted_counts(chart: pd.DataFrame, hidden: np.ndarray) -> list[float]:
    counts = (chart["events"] if "events" in chart else chart["value"]).to_numpy(dtype=float)
    return counts[~hidden].tolist()


def _wrap(text: str, width: int) -> str:
    """A long label on two lines (at a space), shortened with an ellipsis beyond that."""
    import textwrap

    lines = textwrap.wrap(str(text), width)
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 1] + "\u2026"]
    return "\n".join(lines) or str(text)


#: Heatmaps show at most this many themes (the largest); the table behind has them all.
HEATMAP_THEMES = 15
#: With more groups than this, groups become rows (sorted by size) in stacked panels
#: (at 19 groups as columns the cells were already too small to read).
WIDE_GROUPS = 12
#: Group rows per panel when stacked.
PANEL_ROWS = 40


def theme_heatmap(crosstab, policy: DisclosurePolicy = REVIEWER, *,
                  figsize: tuple[float, float] | None = None,
                  max_themes: int = HEATMAP_THEMES) -> Figure:
    """Heatmap of adjusted standardised residuals (theme x group), annotated with
    disclosure-controlled counts; cells that stand out (|residual| > 3.09) are marked
    with a triangle pointing up (more than expected) or down (fewer).

    Readable from 3 to 100 groups: only the ``max_themes`` largest themes are drawn; up to
    ``WIDE_GROUPS`` groups are columns, beyond that groups are rows sorted by their number
    of incidents, in stacked panels of ``PANEL_ROWS`` that each repeat the theme headings.
    """
    counts_all = crosstab.counts
    resid_all = crosstab.residuals.reindex_like(counts_all).astype(float)
    text_all = policy.suppress_table(counts_all).iloc[:-1, :-1]
    hidden_all = policy.hidden_cells(counts_all).iloc[:-1, :-1]
    table = crosstab.table.set_index(["theme_id", "locality"])["stands_out"]
    themes = counts_all.sum(axis=1).sort_values(ascending=False, kind="stable").index[:max_themes]
    counts = counts_all.loc[themes]
    wide = counts.shape[1] > WIDE_GROUPS
    if wide:  # groups as rows, largest first
        groups = counts_all.sum(axis=0).sort_values(ascending=False, kind="stable").index
        counts = counts[groups]
    labels = [_wrap(crosstab.labels.get(t, t), 28) for t in counts.index]
    text = text_all.loc[counts.index, counts.columns].to_numpy()
    hidden = hidden_all.loc[counts.index, counts.columns].to_numpy()
    resid = resid_all.loc[counts.index, counts.columns].to_numpy()
    marks = np.array([[table.get((t, g), "") for g in counts.columns] for t in counts.index])
    # A hidden cell must not be given away by its colour or mark either.
    shown = np.where(hidden, np.nan, resid)
    annot = np.where(marks == "high", text + " \u25b2", np.where(marks == "low", text + " \u25bc", text))
    annot = np.where(hidden, text, annot)
    limit = max(float(np.nanmax(np.abs(shown))) if np.isfinite(shown).any() else 0.0, 3.1)
    group_name = crosstab.group_by.replace("_", " ")
    if wide:
        shown, annot, row_labels, col_labels = shown.T, annot.T, [str(g) for g in counts.columns], labels
    else:
        row_labels, col_labels = labels, [str(g) for g in counts.columns]
    n_rows = len(row_labels)
    panels = [slice(i, min(i + PANEL_ROWS, n_rows)) for i in range(0, n_rows, PANEL_ROWS)] if wide else [slice(0, n_rows)]
    width = 3.0 + 0.75 * len(col_labels)
    heights = [(p.stop - p.start) * 0.3 + 2.2 for p in panels]
    fig = Figure(figsize=figsize or (max(width, 6.0), sum(heights)), dpi=DPI)
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, part in zip(axes, panels, strict=True):
        block = pd.DataFrame(shown[part], index=row_labels[part], columns=col_labels)
        # Symmetric vmin/vmax centre the diverging map at 0 (seaborn's ``center`` warns on mpl 3.11).
        sns.heatmap(block, ax=ax, cmap="RdBu_r", vmin=-limit, vmax=limit, linewidths=0.5,
                    linecolor="white", cbar=ax is axes[0],
                    cbar_kws={"label": "more (red) or fewer (blue) than expected", "shrink": 0.6})
        # Annotated by hand: seaborn skips masked cells, and hidden cells must still show "*".
        for (i, j), label in np.ndenumerate(annot[part]):
            value = abs(np.nan_to_num(shown[part][i, j]))
            ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 * limit else "#231f20")
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
        ax.set_xticks(np.arange(len(col_labels)) + 0.5, col_labels, rotation=40, ha="left", fontsize=7)
        ax.set_yticks(np.arange(part.stop - part.start) + 0.5, row_labels[part], rotation=0, fontsize=7)
        ax.set_xlabel("")
        ax.set_ylabel(f"{group_name} (largest first)" if wide else "", fontsize=8)
    dropped = counts_all.shape[0] - len(themes)
    fig.suptitle(f"Theme mix by {group_name}: {len(themes)} largest themes"
                 + (f" ({dropped} smaller not drawn)" if dropped > 0 else "")
                 + f", {counts_all.shape[1]} {group_name} groups", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    fig.sgreview_alt = (
        f"Heatmap of the {len(themes)} largest themes by {counts_all.shape[1]} {group_name} "
        f"groups{' (groups as rows, largest first)' if wide else ''}. Each cell shows the count "
        "(rounded; * for 1 to 7) and is coloured red where the group has more of the theme than "
        "its overall mix predicts, blue where fewer; a triangle marks cells beyond 3.09. "
        f"{int((marks == 'high').sum())} cells stand out higher, {int((marks == 'low').sum())} lower.")
    # Colours are residuals, not counts, and hidden cells are blank: the counts drawn are the
    # visible (rounded) annotations.
    return figure_record(fig, title="theme by group heatmap", kind="heatmap",
                         drawn_from="comparison/theme_by_group.csv",
                         plotted_counts=policy.round_counts(counts.to_numpy(dtype=float)[~hidden]),
                         masked_points=int(hidden.sum()))
