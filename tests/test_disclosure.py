"""Disclosure control: small counts hidden, others rounded, hidden cells not recoverable."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sgreview.disclosure import (
    BANNER,
    REVIEWER,
    UNSUPPRESSED,
    DisclosurePolicy,
    banner_for,
    policy_from_parameters,
)
from sgreview.errors import ParameterError


def test_counts_one_to_seven_are_hidden_and_others_rounded_to_five():
    out = REVIEWER.suppress_counts(pd.DataFrame({"n": [0, 1, 7, 8, 12, 13, 1234]}), ["n"])
    assert out["n"].tolist() == ["0", "*", "*", "10", "10", "15", "1,235"]


def test_unsuppressed_policy_shows_counts_as_they_are():
    out = UNSUPPRESSED.suppress_counts(pd.DataFrame({"n": [0, 1, 7, 12]}), ["n"])
    assert out["n"].tolist() == ["0", "1", "7", "12"]
    assert UNSUPPRESSED.can_show_examples(1) and not UNSUPPRESSED.active


def test_percentages_follow_the_rounded_counts_and_hide_when_a_part_is_hidden():
    # The cases: 12 of 30 shows as "10 | 33%" (not 40%, which gives 12 back);
    # 8 of 30 as "10 | 33%" (not 27%); 8 of an exact organisation total 392 as 2.6%.
    assert REVIEWER.percent([12, 8], [30, 30]) == ["33%", "33%"]
    assert REVIEWER.percent([8], [392], digits=1, exact_denominator=True) == ["2.6%"]
    rate = REVIEWER.suppress_rate(pd.Series([12, 3, 40]), pd.Series([1000, 1000, 5]), scale=1000)
    # 3 hidden -> rate hidden; denominator 5 hidden -> rate hidden.
    assert rate.tolist() == ["10.0", "*", "*"]


def test_a_shown_percentage_never_gives_back_more_than_the_rounded_count():
    for n, total in itertools.product(range(8, 60), range(20, 80)):
        if n > total:
            continue
        shown = float(REVIEWER.format_counts([n])[0])
        pct = float(REVIEWER.percent([n], [total])[0].rstrip("%"))
        rounded_total = float(REVIEWER.round_counts([total])[0])
        assert pct == pytest.approx(round(100 * shown / rounded_total), abs=0.5)


def test_whole_organisation_totals_are_exact_and_sentences_follow_the_gate():
    assert REVIEWER.org_count(13) == "13"
    assert REVIEWER.about(8) == "about 10"
    assert REVIEWER.about(10) == "10"
    assert REVIEWER.about(3) == "fewer than 8"
    assert REVIEWER.about(0) == "no"


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


@pytest.mark.parametrize("threshold, base", [(-1, 5), (7.5, 5), (7, 0), (7, 2.5), ("7", 5), (True, 5)])
def test_threshold_and_base_must_be_non_negative_whole_numbers(threshold, base):
    with pytest.raises(ParameterError, match="whole number|at least"):
        policy_from_parameters(threshold, base, "analyst_only")


def test_weakening_the_policy_needs_the_named_analyst_only_parameter():
    with pytest.raises(ParameterError, match="analyst_only"):
        policy_from_parameters(0, 1)
    with pytest.raises(ParameterError, match="analyst_only"):
        policy_from_parameters(7, 1, "reviewer")
    weak = policy_from_parameters(0, 1, "analyst_only")
    assert weak.weakened and weak.banner == BANNER
    assert policy_from_parameters(10, 10) == DisclosurePolicy(10, 10)  # stricter is fine
    assert not policy_from_parameters(10, 10).weakened


def test_banner_follows_the_recorded_parameters():
    assert banner_for({"suppression_threshold": 0, "rounding_base": 1}) == BANNER
    assert banner_for({"suppression_threshold": 7, "rounding_base": 5}) is None
    assert banner_for({}) is None


def test_complementary_suppression_on_a_one_way_table_with_its_total_shown():
    texts, hidden = REVIEWER.suppress_partition([3, 40, 12, 0])
    # 3 alone would be total - 40 - 12; the smallest non-zero visible cell (12) is hidden too.
    assert texts == ["*", "40", "*", "0"]
    assert hidden.tolist() == [True, False, True, False]


def test_masked_counts_are_never_plotted_at_their_true_value():
    values, hidden = REVIEWER.mask_counts([0, 1, 7, 8, 20])
    assert hidden.tolist() == [False, True, True, False, False]
    assert np.isnan(values[1]) and np.isnan(values[2])
    assert values[[0, 3, 4]].tolist() == [0, 8, 20]
