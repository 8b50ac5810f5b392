"""Disclosure control: small counts hidden, others rounded, hidden cells not recoverable."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sgreview.disclosure import REVIEWER, UNSUPPRESSED, DisclosurePolicy


def test_counts_one_to_seven_are_hidden_and_others_rounded_to_five():
    out = REVIEWER.suppress_counts(pd.DataFrame({"n": [0, 1, 7, 8, 12, 13, 1234]}), ["n"])
    assert out["n"].tolist() == ["0", "*", "*", "10", "10", "15", "1,235"]


def test_unsuppressed_policy_shows_counts_as_they_are():
    out = UNSUPPRESSED.suppress_counts(pd.DataFrame({"n": [0, 1, 7, 12]}), ["n"])
    assert out["n"].tolist() == ["0", "1", "7", "12"]
    assert UNSUPPRESSED.can_show_examples(1) and not UNSUPPRESSED.active


def test_rates_use_unrounded_values_and_hide_when_a_part_is_hidden():
    rate = REVIEWER.suppress_rate(pd.Series([12, 3, 40]), pd.Series([1000, 1000, 5]), scale=1000)
    # 12 / 1000 from unrounded values (not 10 / 1000); 3 hidden -> rate hidden;
    # denominator 5 hidden -> rate hidden.
    assert rate.tolist() == ["12.0", "*", "*"]


def test_no_example_narratives_at_or_below_the_threshold():
    assert not REVIEWER.can_show_examples(7)
    assert REVIEWER.can_show_examples(8)
    assert not REVIEWER.can_show_examples(0)


def _recoverable(hidden: np.ndarray) -> bool:
    """True if some hidden entry is the only hidden entry of a line (row or column,
    margins included), so it equals the visible total minus the visible cells."""
    return bool((hidden.sum(axis=0) == 1).any() or (hidden.sum(axis=1) == 1).any())


def test_secondary_suppression_leaves_no_line_with_a_single_hidden_cell():
    counts = pd.DataFrame([[3, 20, 30], [15, 40, 25], [12, 9, 50]],
                          index=["a", "b", "c"], columns=["X", "Y", "Z"])
    hidden = REVIEWER.hidden_cells(counts)
    assert hidden.loc["a", "X"]  # primary
    assert hidden.to_numpy().sum() >= 4
    assert not _recoverable(hidden.to_numpy())
    shown = REVIEWER.suppress_table(counts)
    assert shown.loc["Total", "Total"] == "205"  # 204 unrounded, rounded after summing
    assert shown.loc["a", "X"] == "*"


def test_a_hidden_cell_alone_in_its_row_hides_the_row_total():
    counts = pd.DataFrame([[4, 0], [30, 40], [25, 35]], index=["a", "b", "c"], columns=["X", "Y"])
    hidden = REVIEWER.hidden_cells(counts)
    assert hidden.loc["a", "Total"]  # otherwise the total 4 gives the cell away
    assert not _recoverable(hidden.to_numpy())


def test_secondary_suppression_holds_on_random_tables():
    rng = np.random.default_rng(0)
    for _ in range(200):
        shape = rng.integers(2, 6, size=2)
        counts = pd.DataFrame(rng.poisson(rng.uniform(1, 30), size=shape))
        hidden = REVIEWER.hidden_cells(counts).to_numpy()
        assert not _recoverable(hidden)
        primary = REVIEWER.is_hidden(counts.to_numpy())
        assert hidden[:-1, :-1][primary].all()


def test_secondary_suppression_prevents_recovery_by_search_on_a_small_table():
    # Brute force: with the visible cells and margins fixed, every hidden cell of the table
    # must admit more than one non-negative value consistent with them.
    counts = pd.DataFrame([[2, 11, 9], [10, 14, 3]])
    table = counts.to_numpy()
    hidden = REVIEWER.hidden_cells(counts).to_numpy()[:-1, :-1]
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    cells = list(zip(*np.nonzero(hidden), strict=True))
    solutions = []
    for values in itertools.product(range(0, 26), repeat=len(cells)):
        trial = table.copy()
        for (i, j), v in zip(cells, values, strict=True):
            trial[i, j] = v
        if (trial.sum(axis=1) == rows).all() and (trial.sum(axis=0) == cols).all():
            solutions.append(values)
    assert len(solutions) > 1
    for k in range(len(cells)):
        assert len({s[k] for s in solutions}) > 1


def test_policy_rejects_nonsense_settings():
    with pytest.raises(ValueError):
        DisclosurePolicy(threshold=-1)
    with pytest.raises(ValueError):
        DisclosurePolicy(base=0)
    assert REVIEWER.label("North", 5) == "North (n=*)"
    assert REVIEWER.label("North", 23) == "North (n=25)"
