"""The run-length encoding segments, windows and timelines are cut with."""

import numpy as np

from model.runs import runs


def test_runs_of_one_column():
    assert runs(np.array([3, 3, -1, -1, -1, 3])) == [(0, 2), (2, 5), (5, 6)]
    assert runs(np.array(["a", "a", "b"])) == [(0, 2), (2, 3)]
    assert runs([7]) == [(0, 1)]
    assert runs(np.array([], np.int64)) == []


def test_a_run_ends_where_any_column_changes():
    segment = np.array([0, 0, 0, 1, 1])
    label = np.array([2, 2, 4, 4, 4])
    assert runs(segment, label) == [(0, 2), (2, 3), (3, 5)]
