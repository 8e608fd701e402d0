"""Runs of equal consecutive values in frame sequences (labels, segments, video ids): the
one run-length encoding that segments, windows and timelines are cut with."""

from __future__ import annotations

import numpy as np


def runs(*columns) -> list[tuple[int, int]]:
    """[start, end) of the runs of frames over which every column keeps its value (columns of
    equal length; none when they are empty)."""
    columns = [np.asarray(c) for c in columns]
    n = len(columns[0])
    if n == 0:
        return []
    change = np.zeros(n - 1, bool)
    for column in columns:
        change |= column[1:] != column[:-1]
    bounds = [0, *(np.flatnonzero(change) + 1).tolist(), n]
    return list(zip(bounds[:-1], bounds[1:], strict=True))
