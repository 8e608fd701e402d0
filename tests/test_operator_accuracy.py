"""The operator's frame accuracy of per-person timelines (model/evaluation/operator.py)."""

import pytest

from model.datasets.frame_rows import FrameArrays
from model.evaluation.operator import operator_frame_accuracy

CLASSES = ("idle", "reach", "drill")


def _rows() -> FrameArrays:
    rows = FrameArrays.empty("v", 15.0, 480, 360, 6, 2, 1)
    rows.label[:] = [1, 1, 1, 2, 2, -1]       # the last frame is unlabelled: not counted
    rows.subject_track_id[:] = [4, 4, 4, 4, -1, 4]   # frame 4: the operator not tracked
    return rows


def test_frames_count_right_where_the_subjects_timeline_names_the_label():
    persons = [{"track_id": 4, "segments": [{"start_frame": 0, "end_frame": 2, "label": "reach"},
                                            {"start_frame": 2, "end_frame": 6, "label": "drill"}]},
               {"track_id": 9, "segments": [{"start_frame": 0, "end_frame": 6,
                                             "label": "drill"}]}]
    result = operator_frame_accuracy(_rows(), persons, CLASSES)
    # Frames 0, 1 and 3 right; 2 wrong (drill for reach); 4 wrong (no operator).
    assert result == {"labelled_frames": 5, "frames_with_operator_tracked": 4,
                      "frame_accuracy": pytest.approx(3 / 5)}


def test_an_operator_without_a_timeline_is_wrong_everywhere_and_no_labels_give_none():
    assert operator_frame_accuracy(_rows(), [], CLASSES)["frame_accuracy"] == 0.0
    rows = _rows()
    rows.label[:] = -1
    assert operator_frame_accuracy(rows, [], CLASSES)["frame_accuracy"] is None
