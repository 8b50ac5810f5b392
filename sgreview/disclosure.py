"""Disclosure control for small numbers in reviewer-facing output.

Safeguarding incidents below whole-organisation level are small numbers about identifiable
people: "two sexual-safety incidents on Ward 3 in March" can name a patient. UK health
statistics protect such cells by suppressing small counts and rounding the rest (NHS
England mental health statistics, the HES method, OpenSAFELY). The default here is the HES /
OpenSAFELY rule: counts 1-7 show as ``*``, other counts are rounded to the nearest 5.

Rules the policy applies everywhere a reviewer can see a number:

* totals and rates are computed from the unrounded values, then rounded or suppressed;
* a rate whose numerator or denominator is suppressed is suppressed;
* a hidden cell must not be recoverable from a table's margins: :meth:`suppress_table`
  adds secondary suppression until no row or column (margins included) has exactly one
  hidden entry, on top of rounding;
* no example narratives for a theme or cell at or below the threshold.

* percentages shown beside counts are computed from the *rounded* counts (and rounded
  denominators below organisation level), so "10 | 40%" can never give back an exact 12;
* whole-organisation totals are shown exactly (DOMAIN.md): :meth:`org_count`;
* charts: a point or series whose count is 1..threshold is never plotted at its true value
  (:meth:`mask_counts`, :func:`figure_record`), and each figure carries a record of what it
  was drawn from, which the run folder keeps for ``sgreview audit``.

Safe by default: a reviewer-facing policy weaker than :data:`REVIEWER` (a lower threshold or
rounding base) is refused unless the run names ``disclosure: analyst_only``
(:func:`policy_from_parameters`); such reports carry :data:`BANNER` on every page and the
manifest says so. Analysts can use :data:`UNSUPPRESSED` in their own notebooks.
Secondary suppression is hand-written because the
statistical disclosure packages (sdcMicro, tau-Argus) are not Python libraries; the rule
used is the standard "no line with a single suppressed cell" heuristic, choosing the
smallest non-zero cell as the complement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from sgreview.errors import ParameterError

TOTAL = "Total"
#: The reviewer defaults (HES / OpenSAFELY): hide 1..7, round the rest to 5.
DEFAULT_THRESHOLD = 7
DEFAULT_BASE = 5
#: ``disclosure`` parameter values: the safe default, and the explicit opt-out.
REVIEWER_MODE = "reviewer"
ANALYST_ONLY = "analyst_only"
DISCLOSURE_MODES = (REVIEWER_MODE, ANALYST_ONLY)
#: Shown in red on every page of a report made with a weakened policy.
BANNER = "NOT FOR CIRCULATION: small numbers shown"


@dataclass(frozen=True)
class DisclosurePolicy:
    """How counts are shown to reviewers: hide ``1..threshold``, round the rest to ``base``."""

    threshold: int = 7
    base: int = 5
    symbol: str = "*"

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.base < 1:
            raise ValueError("threshold must be >= 0 and base >= 1")

    @property
    def weakened(self) -> bool:
        """True when this policy shows more than the reviewer default does."""
        return self.threshold < DEFAULT_THRESHOLD or self.base < DEFAULT_BASE

    @property
    def banner(self) -> str | None:
        """:data:`BANNER` for a weakened policy, else None."""
        return BANNER if self.weakened else None

    def describe(self) -> dict[str, Any]:
        """The policy as JSON for the manifest and the audit."""
        return {"threshold": self.threshold, "rounding_base": self.base,
                "weakened": self.weakened, "banner": self.banner}

    @property
    def active(self) -> bool:
        """False for a policy that changes nothing (the analysts' unsuppressed view)."""
        return self.threshold > 0 or self.base > 1

    def is_hidden(self, counts) -> np.ndarray:
        """True where a count is small enough to hide (1..threshold; zero is shown)."""
        c = np.asarray(counts, dtype=float)
        return (c >= 1) & (c <= self.threshold)

    def round_counts(self, counts) -> np.ndarray:
        """Counts rounded to the nearest ``base`` (halves up); NaN stays NaN."""
        c = np.asarray(counts, dtype=float)
        return np.floor(c / self.base + 0.5) * self.base

    def format_counts(self, counts, hidden=None) -> np.ndarray:
        """Counts as display text: the symbol where hidden, else the rounded whole number."""
        c = np.asarray(counts, dtype=float)
        hide = self.is_hidden(c) if hidden is None else np.asarray(hidden, dtype=bool)
        rounded = self.round_counts(c)
        text = np.array([f"{v:,.0f}" if np.isfinite(v) else "" for v in rounded], dtype=object)
        return np.where(hide, self.symbol, text).astype(object)

    def suppress_counts(self, df: pd.DataFrame, count_cols: Sequence[str]) -> pd.DataFrame:
        """A copy of ``df`` with ``count_cols`` as display strings under this policy."""
        out = df.copy()
        for col in count_cols:
            out[col] = pd.Series(self.format_counts(out[col].to_numpy()), index=out.index,
                                 dtype=object)
        return out

    def suppress_rate(self, num, den, rate=None, *, digits: int = 1, scale: float = 1.0,
                      exact_denominator: bool = False) -> pd.Series:
        """Rates as display text; hidden when the numerator or denominator is hidden.

        A rate is hidden when its numerator or denominator is hidden (the count could be
        recovered from the rate and the other). Without an explicit ``rate`` it is computed
        from the *rounded* numerator over the rounded denominator (the exact one when
        ``exact_denominator``, for whole-organisation totals): a percentage beside a rounded
        count must not give the exact count back ("10 | 40%" of 30 would reveal 12).
        ``scale`` turns a proportion into a percentage (100) or a rate per 1,000 (1000).
        """
        num_a = np.asarray(num, dtype=float)
        den_a = np.asarray(den, dtype=float)
        if rate is None:
            rate_a = self.shown_share(num_a, den_a, exact_denominator=exact_denominator)
        else:
            rate_a = np.asarray(rate, dtype=float)
        value = rate_a * scale
        text = np.array([f"{v:,.{digits}f}" if np.isfinite(v) else "" for v in value],
                        dtype=object)
        hide = self.is_hidden(num_a) | self.is_hidden(den_a)
        index = num.index if isinstance(num, pd.Series) else None
        return pd.Series(np.where(hide, self.symbol, text), index=index, dtype=object)

    def shown_share(self, num, den, *, exact_denominator: bool = False) -> np.ndarray:
        """Shares as numbers, from the rounded counts a reader sees (NaN where hidden).

        A chart bar or a ratio drawn from exact counts gives back what the rounded table
        hides (14 of 46 is 30.4%; the table shows 15 | 33.3%), so anything plotted or
        derived beside a rounded count uses these.
        """
        num_a = np.asarray(num, dtype=float)
        den_a = np.asarray(den, dtype=float)
        shown_den = den_a if exact_denominator else self.round_counts(den_a)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = self.round_counts(num_a) / shown_den
        hide = self.is_hidden(num_a) | self.is_hidden(den_a) | ~np.isfinite(share)
        return np.where(hide, np.nan, share)

    def percent(self, num, den, *, digits: int = 0, exact_denominator: bool = False) -> list[str]:
        """Percentages as text ("40%"), from rounded counts, hidden as the symbol."""
        text = self.suppress_rate(np.atleast_1d(np.asarray(num, dtype=float)),
                                  np.atleast_1d(np.asarray(den, dtype=float)), scale=100,
                                  digits=digits, exact_denominator=exact_denominator)
        return [t if t in (self.symbol, "") else f"{t}%" for t in text]

    def org_count(self, value) -> str:
        """A whole-organisation total, shown exactly (DOMAIN.md exempts them)."""
        v = float(value)
        return f"{v:,.0f}" if np.isfinite(v) else ""

    def about(self, count) -> str:
        """A count for a sentence: "about 10" (rounded), "fewer than 8" (hidden) or "no"."""
        c = float(count)
        if not self.active:
            return f"{c:,.0f}"
        if c == 0:
            return "no"
        if self.is_hidden([c])[0]:
            return f"fewer than {self.threshold + 1}"
        shown = self.round_counts([c])[0]
        return f"{shown:,.0f}" if shown == c or self.base == 1 else f"about {shown:,.0f}"

    def mask_counts(self, counts) -> tuple[np.ndarray, np.ndarray]:
        """Counts ready to plot: (values with hidden ones as NaN, hidden mask).

        A plotted point is a published count, so a count of 1..threshold is never drawn at
        its true value; callers draw the hidden ones in a band marked "1-threshold".
        """
        c = np.asarray(counts, dtype=float)
        hidden = self.is_hidden(c)
        return np.where(hidden, np.nan, c), hidden

    def suppress_partition(self, counts) -> tuple[list[str], np.ndarray]:
        """Display text for counts whose (shown) total is also on the page.

        A single hidden cell could be recovered by subtraction from the total, so the
        secondary suppression of :meth:`hidden_cells` hides a complement too. Returns
        (texts, hidden) for the cells (the total is not included).
        """
        values = pd.Series(counts, dtype="float").fillna(0).to_numpy()
        if not len(values):
            return [], np.zeros(0, dtype=bool)
        table = pd.DataFrame({"n": values}, index=[f"r{i}" for i in range(len(values))])
        hidden = self.hidden_cells(table)["n"].to_numpy()[:-1].astype(bool)
        return [str(t) for t in self.format_counts(values, hidden)], hidden

    def can_show_examples(self, count) -> bool:
        """Whether example narratives may be shown for a theme or cell of ``count`` incidents."""
        return bool(float(count) > self.threshold)

    def label(self, name: str, count) -> str:
        """A figure or table label such as ``"North (n=25)"`` with the count under policy."""
        return f"{name} (n={self.format_counts([count])[0]})"

    def hidden_cells(self, counts: pd.DataFrame, *, secondary: bool = True) -> pd.DataFrame:
        """Which cells of a two-way table (with margins) must be hidden.

        Returns a boolean frame shaped like the table plus a ``Total`` row and column.
        Primary: counts 1..threshold. Secondary (when ``secondary``): while any row or
        column, margins included, has exactly one hidden entry, also hide its smallest
        non-zero visible cell (or its total when the rest are zeros), so no hidden cell
        equals a visible total minus visible cells.
        """
        table = _with_margins(counts)
        values = table.to_numpy(dtype=float)
        hidden = self.is_hidden(values)
        if secondary and hidden.any():
            hidden = _secondary(values, hidden)
        return pd.DataFrame(hidden, index=table.index, columns=table.columns)

    def suppress_table(self, counts: pd.DataFrame, *, secondary: bool = True) -> pd.DataFrame:
        """A two-way count table as display text, with margins, safe against differencing.

        Margins are summed from the unrounded cells and then rounded; hidden cells (primary
        and secondary) show the symbol; every other count is rounded to ``base``.
        """
        table = _with_margins(counts)
        if not self.active:
            return table.astype(object).map(lambda v: f"{v:,.0f}")
        hidden = self.hidden_cells(counts, secondary=secondary).to_numpy()
        text = self.format_counts(table.to_numpy(dtype=float).ravel(), hidden.ravel())
        return pd.DataFrame(text.reshape(table.shape), index=table.index, columns=table.columns)


def _with_margins(counts: pd.DataFrame) -> pd.DataFrame:
    table = counts.astype(float).copy()
    table[TOTAL] = table.sum(axis=1)
    table.loc[TOTAL] = table.sum(axis=0)
    return table


def _secondary(values: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Add complementary suppressions until no line has exactly one hidden entry.

    ``values`` includes the margins as the last row and column. Each row (and column) of the
    extended table is one additive constraint: its cells sum to its total.
    """
    hidden = hidden.copy()
    r_last, c_last = values.shape[0] - 1, values.shape[1] - 1
    for _ in range(values.size):
        changed = False
        for axis in (1, 0):
            counts = hidden.sum(axis=axis)
            for line in np.flatnonzero(counts == 1):
                cells = values[line, :] if axis == 1 else values[:, line]
                mask = hidden[line, :] if axis == 1 else hidden[:, line]
                last = c_last if axis == 1 else r_last
                inner = np.arange(cells.size) != last
                candidates = np.flatnonzero(~mask & inner & (cells > 0))
                if candidates.size:
                    pick = candidates[np.argmin(cells[candidates])]
                else:
                    pick = last if not mask[last] else None
                if pick is None:
                    continue
                if axis == 1:
                    hidden[line, pick] = True
                else:
                    hidden[pick, line] = True
                changed = True
        if not changed:
            break
    return hidden


#: Column names that hold counts in a table (underscores read as spaces).
COUNT_COLUMN = re.compile(r"^(?:n|count|counts|events|incidents|size|value|.* incidents|incidents .*|"
                          r"events .*|.* events|.* count)$", re.IGNORECASE)
#: Columns derived from exact counts (shares, ratios, rates, flags of what was hidden): a
#: reviewer table leaves them out rather than risk giving a count back.
DERIVED_COLUMN = re.compile(r"share|ratio|rate|exposure|ci |ci$|p value|shown|examples allowed|"
                            r"proportion|centre|upper|lower", re.IGNORECASE)


def reviewer_table(frame: pd.DataFrame, policy: DisclosurePolicy,
                   exact_rows: Sequence[str] = ("organisation_incidents",)) -> pd.DataFrame:
    """The reviewer version of an analyst table, for files a briefing or report cites.

    Count columns (``incidents``, ``case_incidents``, ``events_before``, ``value`` ...) are
    shown under ``policy`` with complementary suppression (the column's total is usually
    on the page); columns derived from exact counts (shares, ratios, rates) are left out.
    In a long ``measure``/``value`` table, rows named in ``exact_rows`` are
    whole-organisation totals and stay exact; text values are kept.
    """
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        words = str(col).replace("_", " ").strip()
        if DERIVED_COLUMN.search(words):
            continue
        if COUNT_COLUMN.match(words):
            numeric = pd.to_numeric(frame[col], errors="coerce")
            if numeric.notna().sum() == 0:
                out[col] = frame[col]
                continue
            exact = (frame["measure"].isin(list(exact_rows)) if "measure" in frame
                     else pd.Series(False, index=frame.index)).to_numpy()
            texts, _ = policy.suppress_partition(numeric.where(~exact & numeric.notna(), 0))
            shown = np.where(numeric.isna(), frame[col].astype(object), texts)
            out[col] = np.where(exact & numeric.notna(),
                                [policy.org_count(v) if pd.notna(v) else "" for v in numeric], shown)
        else:
            out[col] = frame[col]
    return out


def _whole_number(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value).is_integer():
        raise ParameterError(f"parameter '{name}': must be a whole number, got {value!r}")
    if value < minimum:
        raise ParameterError(f"parameter '{name}': must be at least {minimum}, got {value!r}")
    return int(value)


def policy_from_parameters(threshold: Any = DEFAULT_THRESHOLD, base: Any = DEFAULT_BASE,
                           disclosure: str = REVIEWER_MODE) -> DisclosurePolicy:
    """The policy a report uses, refusing to weaken the reviewer default silently.

    ``threshold`` and ``base`` must be whole numbers (threshold >= 0, base >= 1). A policy
    below the defaults (e.g. ``suppression_threshold 0``) needs ``disclosure:
    analyst_only``; its reports then carry :data:`BANNER`. Raises :class:`ParameterError`.
    """
    t = _whole_number("suppression_threshold", threshold, 0)
    b = _whole_number("rounding_base", base, 1)
    if disclosure not in DISCLOSURE_MODES:
        raise ParameterError(f"parameter 'disclosure': must be one of {', '.join(DISCLOSURE_MODES)},"
                             f" got {disclosure!r}")
    policy = DisclosurePolicy(threshold=t, base=b)
    if policy.weakened and disclosure != ANALYST_ONLY:
        raise ParameterError(
            f"parameter 'suppression_threshold'/'rounding_base': {t}/{b} is weaker than the "
            f"reviewer default {DEFAULT_THRESHOLD}/{DEFAULT_BASE}; set 'disclosure: {ANALYST_ONLY}'"
            " to make reports that show small numbers (they are marked NOT FOR CIRCULATION)")
    return policy


def banner_for(parameters: Any) -> str | None:
    """:data:`BANNER` when ``parameters`` (a run's or report's) weaken the reviewer policy."""
    params = dict(parameters or {})
    t = params.get("suppression_threshold", DEFAULT_THRESHOLD)
    b = params.get("rounding_base", DEFAULT_BASE)
    try:
        weak = float(t) < DEFAULT_THRESHOLD or float(b) < DEFAULT_BASE
    except (TypeError, ValueError):
        weak = True
    return BANNER if weak else None


def disclosure_summary(parameters: Any) -> dict[str, Any]:
    """What the manifest says about disclosure: the policy, whether it was weakened, the banner."""
    params = dict(parameters or {})
    banner = banner_for(params)
    return {
        "mode": params.get("disclosure", REVIEWER_MODE),
        "suppression_threshold": params.get("suppression_threshold", DEFAULT_THRESHOLD),
        "rounding_base": params.get("rounding_base", DEFAULT_BASE),
        "weakened": banner is not None,
        "banner": banner,
        "note": ("reviewer reports show small numbers and are marked NOT FOR CIRCULATION"
                 if banner else "reviewer reports hide counts 1 to the threshold and round the rest"),
    }


@dataclass(frozen=True)
class FigureRecord:
    """What one reviewer figure was drawn from, kept in the run folder for the audit."""

    title: str
    kind: str
    drawn_from: str
    points: int
    masked_points: int
    series_hidden: int
    smallest_plotted_count: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "kind": self.kind, "drawn_from": self.drawn_from,
                "points": self.points, "masked_points": self.masked_points,
                "series_hidden": self.series_hidden,
                "smallest_plotted_count": self.smallest_plotted_count}


def figure_record(fig: Any, *, title: str, kind: str, drawn_from: str, plotted_counts=(),
                  masked_points: int = 0, series_hidden: int = 0) -> Any:
    """Attach a :class:`FigureRecord` to ``fig`` (as ``fig.sgreview_record``) and return it.

    ``plotted_counts`` are the counts drawn at their true value (points, bars, cells); the
    smallest non-zero one is recorded, so the audit can tell a chart drawn from small counts.
    """
    counts = np.asarray(plotted_counts, dtype=float).ravel()
    counts = counts[np.isfinite(counts) & (counts > 0)]
    fig.sgreview_record = FigureRecord(
        title=str(title), kind=kind, drawn_from=drawn_from, points=int(counts.size),
        masked_points=int(masked_points), series_hidden=int(series_hidden),
        smallest_plotted_count=float(counts.min()) if counts.size else None)
    return fig


def figure_records(figures: Sequence[Any]) -> list[dict[str, Any]]:
    """The records of the figures that have one (see :func:`figure_record`)."""
    return [f.sgreview_record.as_dict() for f in figures if getattr(f, "sgreview_record", None)]


#: Reviewer-facing default: counts 1-7 hidden, others rounded to 5.
REVIEWER = DisclosurePolicy(DEFAULT_THRESHOLD, DEFAULT_BASE)
#: Analysts' own view: every count shown as is.
UNSUPPRESSED = DisclosurePolicy(threshold=0, base=1)
