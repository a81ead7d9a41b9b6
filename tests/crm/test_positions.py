"""Position keys: a move writes one row because a key always fits strictly between its neighbours."""

from hypothesis import given
from hypothesis import strategies as st

from crm import positions

keys = st.integers(min_value=-(1 << 60), max_value=1 << 60)


def test_an_empty_column_starts_at_zero():
    assert positions.between(None, None) == 0


def test_the_top_of_a_column_is_a_step_above_the_first_card():
    assert positions.between(None, 100) == 100 - positions.STEP


def test_the_end_of_a_column_is_a_step_below_the_last_card():
    assert positions.between(100, None) == 100 + positions.STEP


@given(before=keys, gap=st.integers(min_value=2, max_value=1 << 40))
def test_a_key_falls_strictly_between_neighbours_with_room(before, gap):
    key = positions.between(before, before + gap)
    assert before < key < before + gap


@given(before=keys, gap=st.integers(min_value=0, max_value=1))
def test_no_key_when_the_gap_is_used_up(before, gap):
    """None, not a tie: the caller then rebalances the column instead of writing a duplicate key."""
    assert positions.between(before, before + gap) is None


def test_halving_one_gap_runs_out_after_about_log2_step_moves():
    """The docstring's promise: some 24 moves into one gap before a rebalance is needed."""
    before, after, moves = 0, positions.STEP, 0
    while (key := positions.between(before, after)) is not None:
        after, moves = key, moves + 1
    assert moves == 24


def test_spread_renumbers_evenly_a_step_apart():
    assert positions.spread(4) == [0, positions.STEP, 2 * positions.STEP, 3 * positions.STEP]
