"""Reviewer-facing views: tables and small figures with small counts suppressed.

Every count a reviewer sees goes through :class:`sgreview.disclosure.DisclosurePolicy` here,
so the rule "counts 1-7 show as *, the rest round to 5" is applied in one place. The
machine-readable CSVs beside the reports stay unsuppressed for analysts (DESIGN.md).
The few figures drawn here are the stage-specific ones no general plotting function covers
(data completeness, theme sizes, a locality against the rest); funnel plots, SPC charts and
the theme heatmap come from :mod:`sgreview.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from sgreview.disclosure import DisclosurePolicy, figure_record, policy_from_parameters
from sgreview.schema import UNTHEMED_ID

#: Figures are embedded in HTML reports: modest size and resolution keep reports small.
DPI = 90

_REASONS = {
    "ragged_row": "wrong number of fields",
    "missing_incident_id": "missing incident id",
    "duplicate_incident_id": "duplicate incident id",
    "empty_narrative": "empty description",
    "missing_locality": "missing locality",
    "missing_date": "missing incident date",
    "unparseable_date": "incident date not a date",
    "future_date": "incident date in the future",
}
_TAGS = {
    "NHS_NUMBER": "NHS numbers", "NAME": "names", "POSTCODE": "postcodes", "PHONE": "phone numbers",
    "EMAIL": "email addresses", "DOB": "dates of birth", "NI_NUMBER": "National Insurance numbers",
    "ADDRESS": "street addresses", "HOSPITAL_NUMBER": "hospital numbers", "AGE": "ages",
}
_FIELDS = {
    "reported_date": "reported date", "team": "team", "service": "service", "category": "category",
    "harm": "harm level", "safeguarding_referral": "safeguarding referral",
    "age_band": "age band", "sex": "sex", "ethnicity": "ethnicity",
    "narrative_informative": "an informative description",
}


#: Longest table a report prints whole; longer ones are summarised by the view that builds
#: them (:func:`limit_rows`), never cut by pandas with "..." and "N rows x M columns".
MAX_TABLE_ROWS = 60


def configure_display() -> None:
    """Show reviewer tables whole and give every figure a description (alt text).

    Tables: no truncated excerpts or action descriptions, no elided rows (views keep tables
    short on purpose; pandas never cuts one). Figures: PNG with ``alt`` metadata from
    :func:`describe_figure`, which the report template writes into ``<img alt=...>``, so a
    screen-reader user hears what the chart shows rather than nothing. Figure text is never
    parsed as maths: a locality or label holding ``$`` must draw as typed, not fail the
    report with a mathtext error.
    """
    import matplotlib

    matplotlib.rcParams["text.parse_math"] = False
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.show_dimensions", False)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the kernel
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, _png_with_alt)


def _png_with_alt(fig: Figure) -> tuple[bytes, dict[str, str]]:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue(), {"alt": describe_figure(fig)}


def describe_figure(fig: Figure) -> str:
    """What a chart shows, in one or two sentences, from its own titles and axis labels.

    A figure can carry its own description (``fig.sgreview_alt``); otherwise the chart
    type, title(s) and axes are read from the figure, which is what a sighted reader takes
    in first. Small multiples list their panel titles.
    """
    own = getattr(fig, "sgreview_alt", None)
    if own:
        return str(own)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_visible()
            and (ax.get_title() or ax.get_xlabel() or ax.get_ylabel() or ax.has_data())]
    record = getattr(fig, "sgreview_record", None)
    kind = {"funnel": "Funnel plot", "heatmap": "Heatmap", "spc": "Trend chart (SPC)"}.get(
        getattr(record, "kind", ""), "Chart")
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    titles = [ax.get_title() for ax in axes if ax.get_title()]
    if len(axes) > 1:
        head = suptitle or (getattr(record, "title", "") if record else "")
        shown = "; ".join(titles[:12]) + ("; ..." if len(titles) > 12 else "")
        return (f"{kind}s, {len(axes)} panels" + (f": {head}" if head else "")
                + (f". Panels: {shown}." if shown else "."))
    if not axes:
        return f"{kind}: {suptitle or 'no data to show'}."
    ax = axes[0]
    title = suptitle or ax.get_title() or (getattr(record, "title", "") if record else "")
    parts = [f"{kind}: {title}." if title else f"{kind}."]
    if ax.get_xlabel() or ax.get_ylabel():
        parts.append(f"Across: {ax.get_xlabel() or 'categories'}; up: {ax.get_ylabel() or 'values'}.")
    legend = ax.get_legend()
    if legend is not None:
        names = [t.get_text() for t in legend.get_texts() if t.get_text()]
        if names:
            parts.append("Key: " + ", ".join(names) + ".")
    return " ".join(parts)


def limit_rows(table: pd.DataFrame, n: int = MAX_TABLE_ROWS, *, where: str) -> pd.DataFrame:
    """The first ``n`` rows, with a last row saying how many more there are and where.

    Reports stay readable at 70 groups: a table of every series would run to hundreds of
    rows, so the report shows the first ``n`` (already in order of importance) and points
    to the full table (``where``) instead of letting pandas cut it silently.
    """
    if len(table) <= n:
        return table
    more = len(table) - n
    note_row = pd.DataFrame([[""] * table.shape[1]], columns=table.columns,
                            index=pd.Index([f"... and {more} more (all rows: {where})"],
                                           name=table.index.name))
    return pd.concat([table.head(n), note_row])


def policy(threshold: int = 7, base: int = 5, disclosure: str = "reviewer") -> DisclosurePolicy:
    """The disclosure policy for reviewer-facing output (a weakened one needs ``analyst_only``)."""
    return policy_from_parameters(threshold, base, disclosure)


def count_text(values, pol: DisclosurePolicy) -> pd.Series:
    """Counts as display strings under ``pol`` (``*`` for small counts, others rounded)."""
    series = pd.Series(values)
    return pd.Series(pol.format_counts(series.to_numpy()), index=series.index, dtype=object)


def one_count(value: float, pol: DisclosurePolicy) -> str:
    """A single count as display text under ``pol``."""
    return str(pol.format_counts([value])[0])


def is_suppressed(values, pol: DisclosurePolicy) -> pd.Series:
    """True where a count is hidden (1..threshold) under ``pol``."""
    series = pd.Series(values)
    return pd.Series(pol.is_hidden(series.to_numpy()), index=series.index)


def pct(part: float, whole: float, digits: int = 1) -> str:
    """``part / whole`` as a percentage string; an empty whole gives a dash."""
    return "-" if not whole else f"{100 * part / whole:.{digits}f}%"


def reason_text(code: str) -> str:
    return _REASONS.get(code, code.replace("_", " "))


def tag_text(code: str) -> str:
    return _TAGS.get(code, code.replace("_", " ").lower())


def field_text(code: str) -> str:
    return _FIELDS.get(code, code.replace("_", " "))


def redact_series(texts: pd.Series, services: Sequence[str] = ()) -> pd.Series:
    """Redact free text that may reach an output (reject values, evidence), keeping the
    trust's listed ``services`` as they are (:mod:`sgreview.services`)."""
    from sgreview.redact import redact_texts

    return redact_texts(texts, services=list(services)).text


#: Header of whole-organisation row counts: exempt from suppression (DOMAIN.md), and the
#: audit recognises the exemption by the word "organisation".
ORG_ROWS = "rows (whole organisation)"


def reconciliation_table(rec: dict) -> pd.DataFrame:
    """Rows read, accepted and rejected. Whole-organisation counts: shown exactly, so they add up."""
    rows = [
        ("Rows read", rec["rows_read"]),
        ("Accepted for the review", rec["rows_accepted"]),
        ("Rejected (see reasons below)", rec["rows_rejected"]),
    ]
    table = pd.DataFrame(rows, columns=["", ORG_ROWS])
    table["share"] = [pct(n, rec["rows_read"]) for _, n in rows]
    table[ORG_ROWS] = table[ORG_ROWS].map("{:,}".format)
    return table.set_index("")


def rejects_table(rec: dict) -> pd.DataFrame:
    """Rejected rows by reason (whole organisation, exact)."""
    items = sorted(rec.get("by_reason", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return pd.DataFrame({ORG_ROWS: ["0"]}, index=pd.Index(["No rows rejected"], name="reason"))
    table = pd.DataFrame(
        {"reason": [reason_text(k) for k, _ in items], ORG_ROWS: [f"{v:,}" for _, v in items]}
    )
    return table.set_index("reason")


def redaction_table(counts: dict[str, int]) -> pd.DataFrame:
    """Identifiers removed by type (counts only, never values)."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return pd.DataFrame(
        {"identifiers removed": [f"{v:,}" for _, v in items]},
        index=pd.Index([tag_text(k) for k, _ in items], name="type"),
    )


def completeness_table(completeness: pd.DataFrame, pol: DisclosurePolicy) -> pd.DataFrame:
    """Completeness by locality as percentages; a locality with a suppressed count shows ``*``."""
    shown = pd.DataFrame(index=completeness.index)
    shown["incidents"] = count_text(completeness["incidents"], pol).to_numpy()
    hidden = is_suppressed(completeness["incidents"], pol).to_numpy()
    for col in completeness.columns.drop("incidents"):
        values = completeness[col]
        if col == "median_days_to_report":
            text = values.map(lambda v: "-" if pd.isna(v) else f"{v:.0f}")
            name = "median days to report"
        else:
            text = values.map(lambda v: "-" if pd.isna(v) else f"{v:.0%}")
            name = field_text(col)
        shown[name] = np.where(hidden, pol.symbol, text)
    shown.index.name = "locality"
    return shown


def completeness_figure(completeness: pd.DataFrame, pol: DisclosurePolicy) -> Figure:
    """Heatmap of field completeness by locality (percentages, no counts)."""
    rates = completeness.drop(columns=["incidents", "median_days_to_report"], errors="ignore")
    hidden = is_suppressed(completeness["incidents"], pol).to_numpy()
    data = rates.to_numpy(dtype=float).copy()
    data[hidden] = np.nan
    fig = Figure(figsize=(8, 0.45 * len(rates) + 1.8), dpi=DPI)
    ax = fig.subplots()
    image = ax.imshow(data, cmap="RdYlGn", vmin=0.5, vmax=1.0, aspect="auto")
    ax.set_xticks(range(rates.shape[1]), [field_text(c) for c in rates.columns], rotation=35, ha="right")
    ax.set_yticks(range(rates.shape[0]), list(rates.index))
    for (i, j), value in np.ndenumerate(data):
        ax.text(j, i, pol.symbol if np.isnan(value) else f"{value:.0%}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.03, format=PercentFormatter(1.0))
    ax.set_title("Share of incidents with each field recorded, by locality")
    fig.tight_layout()
    return figure_record(fig, title="completeness by locality", kind="heatmap",
                         drawn_from="data_quality/completeness.csv", plotted_counts=[],
                         masked_points=int(hidden.sum()))


def _short(label: str, width: int = 48) -> str:
    label = str(label)
    return label if len(label) <= width else label[: width - 1] + "…"


def short_labels(frame: pd.DataFrame, width: int = 34) -> pd.DataFrame:
    """A copy with ``theme_label`` shortened, for small-multiple panel titles."""
    return frame.assign(theme_label=frame["theme_label"].map(lambda s: _short(s, width)))


def themes_overview(table: pd.DataFrame, n: int, pol: DisclosurePolicy) -> pd.DataFrame:
    """The themes table for reviewers: label, suppressed size, share, stability, top terms."""
    order = table.sort_values(["size", "theme_id"], ascending=[False, True])
    shown = pd.DataFrame(
        {
            "theme": order["theme_label"].astype(str).to_numpy(),
            "incidents": count_text(order["size"], pol).to_numpy(),
            "share": pol.suppress_rate(order["size"].to_numpy(), np.full(len(order), n), scale=100).to_numpy(),
            "stability": order["stability"].map(lambda v: "-" if pd.isna(v) else f"{float(v):.2f}").to_numpy(),
        },
        index=pd.Index(order["theme_id"].astype(str).to_numpy(), name="id"),
    )
    shown["share"] = [s if s == pol.symbol or s == "" else f"{s}%" for s in shown["share"]]
    if "status" in order:
        shown["status"] = order["status"].fillna("").astype(str).to_numpy()
    if "note" in order and order["note"].fillna("").astype(bool).any():
        shown["note"] = order["note"].fillna("").astype(str).to_numpy()
    if "top_terms" in order:
        shown["top terms"] = order["top_terms"].fillna("").astype(str).str.replace(r"\s*;\s*", ", ", regex=True).to_numpy()
    return shown


def evidence_table(evidence: pd.DataFrame, sizes: pd.DataFrame, pol: DisclosurePolicy, per_theme: int = 3,
                   services: Sequence[str] = ()) -> pd.DataFrame:
    """Redacted evidence sentences per theme, only for themes above the disclosure threshold.

    Sentences are redacted again here: evidence is the one place free text reaches a
    reviewer, so it gets a second pass whatever the theme engine already did.
    """
    if evidence is None or evidence.empty:
        return note("No evidence sentences: no theme is above the disclosure threshold.")
    size = sizes.set_index(sizes["theme_id"].astype(str))["size"]
    label = sizes.set_index(sizes["theme_id"].astype(str))["theme_label"]
    ev = evidence.assign(theme_id=evidence["theme_id"].astype(str))
    ev = ev.loc[ev["theme_id"].map(lambda t: pol.can_show_examples(size.get(t, 0)))]
    ev = ev.loc[ev["theme_id"] != UNTHEMED_ID]
    sort_cols = ["theme_id", "score", "incident_id"] if "score" in ev else ["theme_id", "incident_id"]
    ascending = [True, False, True][: len(sort_cols)]
    ev = ev.sort_values(sort_cols, ascending=ascending).groupby("theme_id", sort=True).head(per_theme)
    if ev.empty:
        return note("No evidence sentences: no theme is above the disclosure threshold.")
    return pd.DataFrame(
        {
            "theme": ev["theme_id"].map(label).astype(str).to_numpy(),
            "incident": ev["incident_id"].astype(str).to_numpy(),
            "excerpt": redact_series(ev["sentence"].astype(str), services).map(lambda s: f"“{s.strip()}”").to_numpy(),
        }
    ).set_index("theme")


def theme_size_figure(table: pd.DataFrame, n: int, pol: DisclosurePolicy) -> Figure:
    """Horizontal bars: each theme's share of all incidents; hidden sizes drawn as ``*``."""
    order = table.sort_values(["size", "theme_id"], ascending=[True, False])
    hidden = pol.is_hidden(order["size"].to_numpy())
    share = np.where(hidden, 0.0, order["size"].to_numpy(dtype=float) / max(n, 1))
    fig = Figure(figsize=(8, 0.32 * len(order) + 1.2), dpi=DPI)
    ax = fig.subplots()
    colours = np.where(order["theme_id"].astype(str).to_numpy() == UNTHEMED_ID, "#a6a6a6", "#005eb8")
    ax.barh(range(len(order)), share, color=colours)
    ax.set_yticks(range(len(order)), [_short(x) for x in order["theme_label"]], fontsize=8)
    for i, (value, hide) in enumerate(zip(share, hidden, strict=True)):
        ax.text(value, i, f" {pol.symbol}" if hide else f" {value:.0%}", va="center", fontsize=7)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of all incidents")
    ax.set_title("Themes by share of incidents (grey: unthemed)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return figure_record(fig, title="themes by share", kind="bar", drawn_from="themes/themes.csv",
                         plotted_counts=order["size"].to_numpy(dtype=float)[~hidden],
                         masked_points=int(hidden.sum()))


_RULES = {
    "outside_limits": "a point outside the control limits",
    "trend": "a run of rising or falling points",
    "two_in_three": "two of three points close to a limit",
    "shift": "a run of points on one side of the average",
    "": "no special cause",
}
_CHARTS = {"xmr": "XmR", "c": "c-chart (Poisson)", "u": "u-chart (Poisson, rate)",
           "c_quarterly": "c-chart by quarter", "u_quarterly": "u-chart by quarter", "none": "none"}
_FLAGS = {
    "alarm_high": "alarm: higher (outside 99.8%)",
    "alert_high": "alert: higher (outside 95%)",
    "within": "within limits",
    "alert_low": "alert: lower (outside 95%)",
    "alarm_low": "alarm: lower (outside 99.8%)",
    "too_few": "too few to judge",
    "no_denominator": "no denominator",
}


def note(text: str) -> pd.DataFrame:
    """A one-line table for a section with nothing to tabulate (it still says why)."""
    return pd.DataFrame({"note": [text]}, index=pd.Index([""]))


def rule_text(rule: str) -> str:
    """A Making Data Count rule name in words."""
    parts = [p for p in str(rule or "").replace(",", ";").split(";") if p.strip()]
    return "; ".join(_RULES.get(p.strip(), p.strip().replace("_", " ")) for p in parts) or _RULES[""]


def flag_text(flag: str) -> str:
    return _FLAGS.get(str(flag), "" if pd.isna(flag) else str(flag))


def percent_text(num, den, pol: DisclosurePolicy) -> list[str]:
    """Percentages as the reviewer tables print them (one place, so a summary sentence
    quoting a share says exactly what the table beside it says)."""
    text = pol.suppress_rate(np.asarray(num, dtype=float), np.asarray(den, dtype=float), scale=100, digits=1)
    return [t if t in (pol.symbol, "") else f"{t}%" for t in text]


_percent = percent_text


def profile_table(profile: pd.DataFrame, pol: DisclosurePolicy, *, others: str, flag_basis: str = "share of incidents") -> pd.DataFrame:
    """A locality's theme profile for reviewers: suppressed counts, shares, funnel flag.

    ``flag_basis`` says what the funnel compared (the share of incidents, or a rate per
    occupied bed day when denominators were given), since it can differ from the shares shown.
    """
    hidden = pol.is_hidden(profile["events"].to_numpy())
    # The ratio of the two shares as shown (from rounded counts): the exact ratio would give
    # the exact count back beside a rounded one.
    with np.errstate(divide="ignore", invalid="ignore"):
        shown_ratio = pol.shown_share(profile["events"], profile["n"]) / pol.shown_share(
            profile["others_events"], profile["others_n"])
    ratio = np.array(["" if not np.isfinite(v) else f"{v:.2f}" for v in shown_ratio], dtype=object)
    table = pd.DataFrame(
        {
            "incidents": count_text(profile["events"], pol).to_numpy(),
            "share here": _percent(profile["events"], profile["n"], pol),
            f"share in {others.lower()} combined": _percent(profile["others_events"], profile["others_n"], pol),
            "ratio": np.where(hidden, pol.symbol, ratio),
            f"funnel flag ({flag_basis})": _with_note(profile) if "flag" in profile else "",
        },
        index=pd.Index(profile["theme_label"].astype(str).to_numpy(), name="theme"),
    )
    return table


def _with_note(profile: pd.DataFrame) -> np.ndarray:
    """Flag text, followed by the "possibly local wording" note where the theme has one."""
    flags = profile["flag"].map(flag_text).fillna("").astype(str)
    if "note" not in profile:
        return flags.to_numpy()
    note = profile["note"].fillna("").astype(str)
    return np.where(note != "", flags + "; " + note, flags)


def signals_table(signals: pd.DataFrame, pol: DisclosurePolicy, *, with_group: bool = False,
                  where: str = "spc.csv") -> pd.DataFrame:
    """Series with special-cause variation recently, in words, with counts suppressed.

    Only series with a signal are listed, the latest period's first; with many groups the
    list is cut at ``MAX_TABLE_ROWS`` with a last row saying how many more and where.
    """
    if signals is not None and not signals.empty and "chart" in signals \
            and (signals["chart"].fillna("xmr").astype(str) == "none").all():
        return note("Too few incidents to chart any trend here, so no judgement on change is made.")
    if signals is not None and not signals.empty and "recent_rules" in signals:
        latest = signals["latest_special_cause"].astype(bool)
        recent = signals["recent_rules"].fillna("").astype(str).str.strip() != ""
        signals = signals.loc[latest | recent]
        # Most telling first: a signal in the latest period, the organisation-wide series,
        # then the series with the most incidents (a "run" in a series of zeros says little).
        signals = signals.assign(
            _latest=~latest.loc[signals.index],
            _all=(signals["locality"].astype(str) != "All") if "locality" in signals else False,
            _size=-signals["centre"].astype(float).fillna(0),
        ).sort_values(["_latest", "_all", "_size", "theme_id"]
                      + (["locality"] if "locality" in signals else []),
                      kind="stable").drop(columns=["_latest", "_all", "_size"])
    if signals is None or signals.empty:
        return note("Every theme shows only common-cause variation in the last three periods.")
    events = signals["latest_events"] if "latest_events" in signals else signals["latest_value"]
    chart = signals["chart"].fillna("xmr").astype(str) if "chart" in signals else pd.Series(
        "xmr", index=signals.index)
    rate = chart.str.startswith("u").to_numpy() | (
        (chart == "xmr").to_numpy() & ~np.isclose(events.to_numpy(float), signals["latest_value"].to_numpy(float)))
    typical = np.where(rate, signals["centre"].map(lambda v: "" if pd.isna(v) else f"{v:.2f} per 1,000"),
                       count_text(signals["centre"].round(), pol).to_numpy())
    table = pd.DataFrame(
        {
            "theme": signals["theme_label"].astype(str).to_numpy(),
            "latest period": signals["latest_period"].astype(str).to_numpy(),
            "latest count": count_text(events, pol).to_numpy(),
            "typical (centre line)": typical,
            "chart": chart.map(lambda c: _CHARTS.get(c, c)).to_numpy(),
            "signal in the latest period": [
                rule_text(r) if s else "none" for r, s in zip(signals["latest_rule"], signals["latest_special_cause"].astype(bool), strict=True)
            ],
            "signals in recent periods": signals["recent_rules"].fillna("").map(rule_text).to_numpy(),
        }
    )
    if "step_period" in signals:
        table["process change"] = [
            f"sustained shift {side} from {p}; limits recalculated from it" if p else ""
            for p, side in zip(signals["step_period"].fillna(""), signals["step_side"].fillna(""), strict=True)
        ]
    if with_group:
        table.insert(1, "group", signals["locality"].astype(str).to_numpy())
    return limit_rows(table.set_index("theme"), where=where)


def practice_table(practice: pd.DataFrame, pol: DisclosurePolicy, top: int = 8) -> pd.DataFrame:
    """Practice themes described in a set of incidents, with suppressed counts."""
    shown = practice.loc[practice["incidents"] > 0].head(top)
    if shown.empty:
        return note("No practice theme that sgreview can detect reliably (precision at least 0.8 on its labelled sample) is described in these incidents.")
    return pd.DataFrame(
        {
            **({"SAR analysis domain": shown["sar_domain"].astype(str).to_numpy()} if "sar_domain" in shown else {}),
            "work-system factor": shown["seips"].astype(str).str.replace("_", " ").to_numpy(),
            "incidents describing it": count_text(shown["incidents"], pol).to_numpy(),
            "share of incidents": _percent(shown["incidents"], shown["n"], pol),
        },
        index=pd.Index(shown["name"].astype(str).to_numpy(), name="practice theme"),
    )


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.strftime("%d %b %Y").fillna("")


def actions_table(actions: pd.DataFrame | None, pol: DisclosurePolicy, *, message: str | None = None,
                  services: Sequence[str] = ()) -> pd.DataFrame:
    """Actions with owner, due date, status and effect; free text redacted, counts suppressed."""
    if message:
        return note(message)
    if actions is None:
        return note("No actions register was given for this review.")
    if actions.empty:
        return note("No actions are recorded for this locality.")
    table = pd.DataFrame(index=pd.Index(actions["action_id"].astype(str).to_numpy(), name="action"))
    if "theme_label" in actions:
        table["theme"] = actions["theme_label"].astype(str).to_numpy()
    if "description" in actions:
        table["action"] = redact_series(actions["description"].fillna("").astype(str), services).to_numpy()
    for col, name in (("owner", "owner"), ("status", "status")):
        if col in actions:
            table[name] = actions[col].fillna("").astype(str).to_numpy()
    if "due_date" in actions:
        table["due"] = _dates(actions["due_date"]).to_numpy()
    if "overdue" in actions:
        table["overdue"] = np.where(actions["overdue"].fillna(False).astype(bool), "OVERDUE", "")
    if "effect" in actions:
        table["effect"] = actions["effect"].fillna("").astype(str).str.replace("_", " ").to_numpy()
    if "reason" in actions:
        table["why"] = actions["reason"].fillna("").astype(str).map(plain_reason).to_numpy()
    return table


_PLAIN = (
    (r";?\s*p\s*=\s*[-+0-9.eE]+", ""),
    (r",?\s*Bonferroni-adjusted for (\d+) actions", r", widened because \1 actions are judged together"),
    (r"rate ratio after/before ([0-9.]+) \(([0-9.]+%) CI ([0-9.]+) to ([0-9.]+)",
     r"the rate after completion was \1 times the rate before (\2 likely range \3 to \4"),
    (r"SPC against the baseline limits", "trend chart against the limits set before completion"),
    (r"special[- ]cause", "a real change"),
    (r"common[- ]cause", "normal variation"),
)


def plain_reason(text: str) -> str:
    """An action's "why" in plain words: no p-values, no test names, ranges described.

    The exact statistics stay in ``actions.csv`` for analysts; a board reader gets the rate
    ratio and its likely range, and whether the trend chart moved.
    """
    import re

    out = str(text)
    for pattern, replacement in _PLAIN:
        out = re.sub(pattern, replacement, out)
    return out


#: Short glossary printed at the end of reports: the few technical words they still use.
GLOSSARY = {
    "alert / alarm": "A group outside the 95% (alert) or 99.8% (alarm) funnel limits: further "
                     "from the rest than chance usually explains. Alerts happen by chance "
                     "across many comparisons; alarms rarely do.",
    "funnel plot": "Each group's share against its size, with limits that are wider for "
                   "small groups, so small groups are not flagged for ordinary chance swings.",
    "trend chart (SPC)": "Monthly counts with limits from the data's own variation (Making "
                         "Data Count): points outside, or long runs, signal a real change.",
    "*": "A count from 1 to 7, hidden so that no one can be identified; other counts are "
         "rounded to the nearest 5.",
    "rate ratio": "The rate after an action divided by the rate before: below 1 is fewer "
                  "incidents, above 1 more. The likely range shows how sure that is.",
    "possibly local wording or local practice": "Most of a theme's incidents come from one "
                                                "locality: it may be how that team writes, "
                                                "not a local problem. Read before acting.",
}


def glossary() -> pd.DataFrame:
    """The glossary as a two-column table (word, meaning)."""
    return pd.DataFrame({"meaning": list(GLOSSARY.values())},
                        index=pd.Index(list(GLOSSARY), name="word"))


def effects_table(effects: pd.DataFrame | None, pol: DisclosurePolicy,
                  services: Sequence[str] = ()) -> pd.DataFrame:
    """Each action's before/after rate and effect; rates hidden when their counts are."""
    base = actions_table(effects, pol, services=services)
    if effects is None or effects.empty:
        return base
    hide_before = pol.is_hidden(effects.get("events_before", pd.Series(np.nan, index=effects.index)).to_numpy(dtype=float))
    hide_after = pol.is_hidden(effects.get("events_after", pd.Series(np.nan, index=effects.index)).to_numpy(dtype=float))

    def rate(col: str, hide: np.ndarray) -> np.ndarray:
        values = effects[col].map(lambda v: "" if pd.isna(v) else f"{float(v):.2f}") if col in effects else ""
        return np.where(hide, pol.symbol, values)

    base["rate before"] = rate("rate_before", hide_before)
    base["rate after"] = rate("rate_after", hide_after)
    if {"rate_ratio", "ci_low", "ci_high"} <= set(effects.columns):
        ratio = [
            "" if pd.isna(r) else f"{r:.2f} ({lo:.2f} to {hi:.2f})"
            for r, lo, hi in zip(effects["rate_ratio"], effects["ci_low"], effects["ci_high"], strict=True)
        ]
        level = effects["ci_level"].dropna() if "ci_level" in effects else pd.Series(dtype=float)
        label = f"{float(level.iloc[0]):.1%}".replace(".0%", "%") if len(level) and level.nunique() == 1 else "95%"
        base[f"rate ratio ({label} CI)"] = np.where(hide_before | hide_after, pol.symbol, ratio)
    return base


def profile_figure(profile: pd.DataFrame, pol: DisclosurePolicy, *, locality: str, others: str, top: int = 10) -> Figure:
    """Paired bars: a locality's share in each theme beside all other localities combined.

    Themes whose count here is suppressed are left out of the chart (their share could give
    the count away); the table marks them with the suppression symbol.
    """
    shown = profile.loc[(profile["theme_id"] != UNTHEMED_ID) & (profile["events"] > 0)
                        & ~pol.is_hidden(profile["events"].to_numpy())].head(top)
    shown = shown.iloc[::-1]
    fig = Figure(figsize=(8, 0.42 * max(len(shown), 1) + 1.4), dpi=DPI)
    ax = fig.subplots()
    if shown.empty:  # only the locality's own themes are charted, and none can be shown
        ax.text(0.5, 0.5, f"Every theme in {locality} has 1 to {pol.threshold} incidents: too few "
                "to chart without revealing them (see the table).", ha="center", va="center",
                transform=ax.transAxes, wrap=True)
        ax.set_axis_off()
        fig.set_size_inches(8, 1.4)
        fig.sgreview_alt = (f"No chart: every theme in {locality} has 1 to {pol.threshold} "
                            "incidents, too few to show.")
        return fig
    y = np.arange(len(shown))
    # Bars at the shares the table prints (rounded counts), never the exact ones.
    here = pol.shown_share(shown["events"], shown["n"])
    there = pol.shown_share(shown["others_events"], shown["others_n"])
    ax.barh(y + 0.2, np.nan_to_num(here), height=0.4, color="#005eb8", label=locality)
    ax.barh(y - 0.2, np.nan_to_num(there), height=0.4, color="#a6a6a6", label=f"{others} combined")
    ax.set_yticks(y, [_short(x) for x in shown["theme_label"]], fontsize=8)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of incidents")
    ax.set_title(f"{locality}: theme mix against {others.lower()} combined")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return figure_record(fig, title=f"{locality} theme mix", kind="bar",
                         drawn_from=f"localities/{locality}/profile.csv",
                         plotted_counts=shown["events"].to_numpy(dtype=float),
                         masked_points=int(len(profile) - len(shown)))


def chi_square_table(crosstab) -> pd.DataFrame:
    """The chi-square test of the theme x group table, in words."""
    p = crosstab.p_value
    rows = {
        "chi-square statistic": "-" if pd.isna(crosstab.chi2) else f"{crosstab.chi2:,.1f}",
        "degrees of freedom": f"{crosstab.dof}",
        "p-value": "-" if pd.isna(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}"),
        "p-value method": getattr(crosstab, "p_method", "asymptotic") or "-",
        "cells with expected count under 5": f"{crosstab.small_expected_share:.0%}",
        "cells that stand out (beyond ±3.09)": f"{int((crosstab.table['stands_out'] != '').sum())}",
    }
    return pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name="test"))


def flags_table(flagged: pd.DataFrame, pol: DisclosurePolicy, *, kind: str = "proportion", unit: str | None = None) -> pd.DataFrame:
    """Funnel flags outside the 95% limits, with counts and rates under the policy."""
    if flagged.empty:
        return note("Every group is within its funnel limits for every theme.")
    rate = kind == "rate"
    per_setting = "setting" in flagged
    if per_setting:  # each row over its own setting's denominator (bed days, caseload...)
        unit = "per 1,000 of the setting's denominator"
    scale, unit = (1000, unit if per_setting else f"per 1,000 {(unit or 'units').replace('_', ' ')}") if rate else (100, "%")
    # The value beside a rounded count is taken from that count (and, for proportions, the
    # rounded denominator): 9 of 50 shown as "10 | 18.00%" gives back the 9. Rates keep
    # their exposure (bed days, caseload) exact: it counts no one.
    den = flagged["n"] if "n" in flagged else flagged["events"] / flagged["proportion"]
    shown = pol.suppress_rate(flagged["events"], den, digits=2, scale=scale, exact_denominator=rate)

    table = pd.DataFrame(
        {
            "theme": flagged["theme_label"].astype(str).to_numpy(),
            "group": flagged["locality"].astype(str).to_numpy(),
            "incidents": count_text(flagged["events"], pol).to_numpy(),
            f"value ({unit})": shown.to_numpy(),
            f"organisation ({unit})": flagged["target"].map(lambda v: f"{float(v) * scale:.2f}").to_numpy(),
            "95% limits": [f"{lo * scale:.2f} to {hi * scale:.2f}" for lo, hi in zip(flagged["lower95"], flagged["upper95"], strict=True)],
            "99.8% limits": [f"{lo * scale:.2f} to {hi * scale:.2f}" for lo, hi in zip(flagged["lower998"], flagged["upper998"], strict=True)],
            "flag": flagged["flag"].map(flag_text).to_numpy(),
        }
    )
    if per_setting:
        table["group"] = (flagged["locality"].astype(str) + " ("
                          + flagged["setting"].astype(str) + ")").to_numpy()
        table.insert(3, "denominator", flagged["unit"].fillna("").astype(str)
                     .str.replace("_", " ").to_numpy())
    if "q_value" in flagged:
        table["false discovery rate (q)"] = flagged["q_value"].map(
            lambda v: "" if pd.isna(v) else ("< 0.001" if v < 0.001 else f"{v:.3f}")).to_numpy()
    if "note" in flagged and flagged["note"].astype(bool).any():
        table["note"] = flagged["note"].fillna("").astype(str).to_numpy()
    if "target_method" in flagged and (flagged["target_method"] == "leave_one_out").all():
        table = table.rename(columns={f"organisation ({unit})": f"all other groups ({unit})"})
    return table.set_index("theme")
