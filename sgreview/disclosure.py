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

Analysts can use :data:`UNSUPPRESSED` in their own notebooks; reviewer HTML always uses a
suppressing policy (:data:`REVIEWER`). Secondary suppression is hand-written because the
statistical disclosure packages (sdcMicro, tau-Argus) are not Python libraries; the rule
used is the standard "no line with a single suppressed cell" heuristic, choosing the
smallest non-zero cell as the complement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

TOTAL = "Total"


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

    def suppress_rate(self, num, den, rate=None, *, digits: int = 1, scale: float = 1.0) -> pd.Series:
        """Rates as display text, computed from unrounded values and then rounded.

        A rate is hidden when its numerator or denominator is hidden (the count could be
        recovered from the rate and the other). ``scale`` turns a proportion into a
        percentage (100) or a rate per 1,000 (1000).
        """
        num_a = np.asarray(num, dtype=float)
        den_a = np.asarray(den, dtype=float)
        if rate is None:
            with np.errstate(divide="ignore", invalid="ignore"):
                rate_a = num_a / den_a
        else:
            rate_a = np.asarray(rate, dtype=float)
        value = rate_a * scale
        text = np.array([f"{v:,.{digits}f}" if np.isfinite(v) else "" for v in value],
                        dtype=object)
        hide = self.is_hidden(num_a) | self.is_hidden(den_a)
        index = num.index if isinstance(num, pd.Series) else None
        return pd.Series(np.where(hide, self.symbol, text), index=index, dtype=object)

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


#: Reviewer-facing default: counts 1-7 hidden, others rounded to 5.
REVIEWER = DisclosurePolicy()
#: Analysts' own view: every count shown as is.
UNSUPPRESSED = DisclosurePolicy(threshold=0, base=1)
