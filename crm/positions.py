"""Sortable position keys: a card's place in a column is an integer between its neighbours' keys.

Keys start STEP apart, so about 24 moves can land in the same gap before the column must be renumbered
(`rebalance`), which is the only write that touches more than the moved row.
"""

STEP = 1 << 24


def between(before: int | None, after: int | None) -> int | None:
    """A key strictly between `before` (the card above) and `after` (below), or None when there is no room."""
    if before is None and after is None:
        return 0
    if before is None:
        return after - STEP
    if after is None:
        return before + STEP
    if after - before < 2:
        return None
    return before + (after - before) // 2


def spread(count: int) -> list[int]:
    """Evenly spaced keys for a renumbered column of `count` cards."""
    return [i * STEP for i in range(count)]
