"""The decomposition of the pixel chain's loss (model/evaluation/decomposition.py) on hand-made
rows whose answers are known."""

import numpy as np
import pytest

from model.datasets.annotation import validate_annotation
from model.datasets.frame_rows import FrameArrays, annotation_to_arrays, arrays_to_annotation
from model.evaluation.decomposition import (
    KeypointErrors,
    MisalignedError,
    ObjectCounts,
    SubjectMatch,
    check_aligned,
    mix_streams,
)
from tests.factories import SPEC, annotation

CLASSES = ("part", "wrench")


def _rows(num_frames=3, persons=2, objects=4) -> FrameArrays:
    arrays = FrameArrays.empty("v", 15.0, 480, 360, num_frames, persons, objects)
    arrays.label[:] = 1
    arrays.segment_index[:] = 0
    return arrays


def _person(arrays, t, slot, track, box):
    arrays.num_persons[t] = max(arrays.num_persons[t], slot + 1)
    arrays.person_track_ids[t, slot] = track
    arrays.person_boxes[t, slot] = box


def _object(arrays, t, slot, track, cls, box):
    arrays.num_objects[t] = max(arrays.num_objects[t], slot + 1)
    arrays.object_track_ids[t, slot] = track
    arrays.object_classes[t, slot] = cls
    arrays.object_boxes[t, slot] = box
    arrays.object_scores[t, slot] = 0.9


OPERATOR, PASSER_BY = [100, 50, 200, 300], [300, 50, 400, 300]


def test_mixed_rows_take_each_stream_from_its_table():
    pose, objects = _rows(), _rows()
    _person(pose, 0, 0, 7, OPERATOR)
    pose.subject_track_id[:] = 7
    _object(objects, 0, 0, 3, 1, [10, 10, 20, 20])
    mixed = mix_streams(pose, objects)
    assert mixed.person_track_ids[0, 0] == 7 and mixed.subject_track_id[0] == 7
    assert mixed.object_classes[0, 0] == 1 and mixed.num_objects[0] == 1
    mixed.object_boxes[0, 0] = 0            # a copy: the sources are untouched
    assert objects.object_boxes[0, 0, 2] == 20 and pose.num_objects[0] == 0


def test_rows_of_other_frames_or_labels_are_refused():
    a, b = _rows(), _rows(num_frames=4)
    with pytest.raises(MisalignedError, match="3 annotated rows, 4 extracted"):
        check_aligned(a, b)
    b = _rows()
    b.label[2] = 0
    with pytest.raises(MisalignedError, match="label differs from frame 2"):
        check_aligned(a, b)


def test_the_subject_is_matched_to_the_annotated_person_it_overlaps_most():
    annotated, extracted = _rows(num_frames=4), _rows(num_frames=4)
    for t in range(4):
        _person(annotated, t, 0, 1, OPERATOR)
        _person(annotated, t, 1, 2, PASSER_BY)
    annotated.subject_track_id[:] = 1
    annotated.label[3] = -1                 # unlabelled: not counted
    # Frame 0: the operator (a looser box); 1: the passer-by taken as subject; 2: none.
    _person(extracted, 0, 0, 5, [95, 40, 210, 310])
    _person(extracted, 1, 0, 6, PASSER_BY)
    extracted.subject_track_id[:] = [5, 6, -1, 5]
    match = SubjectMatch()
    match.add(annotated, extracted)
    assert match.summary() == {"frames": 3, "matched": 1, "no_subject": 1,
                               "fraction": pytest.approx(1 / 3)}
    assert match.matched_frames["v"].tolist() == [True, False, False, False]


def test_objects_are_counted_per_class_one_to_one_and_untracked_ones_are_no_truth():
    truth, found = _rows(num_frames=1), _rows(num_frames=1)
    _object(truth, 0, 0, 1, 0, [0, 0, 10, 10])
    _object(truth, 0, 1, 2, 0, [50, 50, 60, 60])
    _object(truth, 0, 2, -1, 1, [100, 100, 110, 110])    # an annotated false detection
    _object(found, 0, 0, 4, 0, [0, 0, 10, 11])             # matches the first part
    _object(found, 0, 1, 5, 0, [1, 0, 11, 10])             # a duplicate: no second match
    _object(found, 0, 2, 6, 1, [100, 100, 110, 110])       # a wrench where none is true
    _object(found, 0, 3, -1, 1, [0, 0, 5, 5])              # untracked: never reaches features
    counts = ObjectCounts(CLASSES)
    counts.add(truth, found)
    s = counts.summary()
    assert s["object_recall"] == {"part": 0.5, "wrench": None}
    assert s["object_precision"] == {"part": 0.5, "wrench": 0.0}
    assert s["annotated"] == {"part": 2, "wrench": 0} and s["extracted"] == {"part": 2,
                                                                             "wrench": 1}
    assert s["object_tracks_per_video"] == {"annotated": 2, "extracted": 3}


def test_keypoint_errors_are_in_box_units_over_joints_present_in_both():
    annotated, extracted = _rows(num_frames=1), _rows(num_frames=1)
    _person(annotated, 0, 0, 1, [0, 0, 100, 200])            # longer side 200 px
    _person(extracted, 0, 0, 9, [0, 0, 100, 200])
    annotated.subject_track_id[:], extracted.subject_track_id[:] = 1, 9
    annotated.keypoint_scores[0, 0, :3] = 1.0
    extracted.keypoint_scores[0, 0, [0, 1, 5]] = 0.8
    extracted.keypoints[0, 0, 0] = [10, 0]                   # 0.05 of 200 px: right
    extracted.keypoints[0, 0, 1] = [0, 40]                   # 0.2: wrong
    errors = KeypointErrors(pck_thr=0.1)
    errors.add(annotated, extracted, np.array([True]))
    s = errors.summary(tuple(f"j{i}" for i in range(17)))
    assert s["joints_compared"] == 2 and s["pck"] == 0.5
    assert s["median_error"] == pytest.approx(0.125)
    assert s["missing_in_extracted"] == pytest.approx(1 / 3)  # joint 2 annotated, not extracted
    assert s["pck_per_joint"]["j0"] == 1.0 and s["pck_per_joint"]["j1"] == 0.0
    assert s["pck_per_joint"]["j5"] is None


@pytest.mark.parametrize("segments", [None, [
    {"start_frame": 0, "end_frame": 5, "label": "reach", "person_track_id": 1},
    {"start_frame": 7, "end_frame": 12, "label": "pick_part", "person_track_id": 1}]])
def test_rows_turn_back_into_the_annotation_they_came_from(segments):
    """``arrays_to_annotation`` inverts ``annotation_to_arrays``: a valid document, the same
    rows again (and an untracked object stays untracked)."""
    doc = annotation("v1", segments=segments)
    doc["frames"][3]["objects"].append({"box": [10, 10, 30, 30], "class": "screwdriver",
                                        "score": 0.4})
    rows = annotation_to_arrays(doc, SPEC, 2, 4)
    back = arrays_to_annotation(rows, SPEC, doc["video"]["file"])
    assert validate_annotation(back, "round trip", SPEC) == []
    assert ("clip_label" in back) == (segments is None)
    again = annotation_to_arrays(back, SPEC, 2, 4)
    for name in ("num_persons", "person_track_ids", "keypoint_scores", "object_track_ids",
                 "object_classes", "label", "subject_track_id", "segment_index"):
        np.testing.assert_array_equal(getattr(again, name), getattr(rows, name), err_msg=name)
    np.testing.assert_allclose(again.keypoints, rows.keypoints, atol=1e-4)


def test_rows_without_a_subject_for_a_segment_break_the_contract():
    rows = annotation_to_arrays(annotation("v1", segments=[
        {"start_frame": 0, "end_frame": 6, "label": "reach", "person_track_id": 1}]), SPEC, 2, 4)
    rows.subject_track_id[:] = -1
    issues = validate_annotation(arrays_to_annotation(rows, SPEC, "v1.mp4"), "x", SPEC)
    assert issues and "person_track_id" in issues[0].message


def test_systematic_mismatches_show_offset_swap_and_box_extent():
    """Extracted rows that are the annotated ones one frame late, with the wrists swapped and
    the box 20 % wider: the offset, the swap and the box ratio are found."""
    from model.evaluation.decomposition import Mismatches

    annotated, extracted = _rows(num_frames=8, persons=1), _rows(num_frames=8, persons=1)
    # Left joints (odd COCO indices) at x = 150, right ones at x = 250; the body moves 3 px
    # to the right every frame.
    base = np.array([[150.0 if j % 2 else 250.0, 50.0 + 10 * j] for j in range(17)])
    path = base[None] + np.arange(8)[:, None, None] * np.array([3.0, 0.0])
    for t in range(8):
        _person(annotated, t, 0, 1, [100, 50, 200, 250])
        _person(extracted, t, 0, 1, [90, 50, 210, 250])
        annotated.keypoints[t, 0] = path[t]
        extracted.keypoints[t, 0] = path[max(t - 1, 0)]
        extracted.keypoints[t, 0, [9, 10]] = path[max(t - 1, 0), [10, 9]]
    annotated.subject_track_id[:] = extracted.subject_track_id[:] = 1
    annotated.keypoint_scores[:] = 1.0
    extracted.keypoint_scores[:] = 0.5
    found = Mismatches()
    found.add(annotated, extracted, np.ones(8, bool))
    s = found.summary()
    assert s["closest_frame_offset"] == -1
    assert s["left_right_swapped_fraction"] == pytest.approx(1 / 8)   # one pair of eight
    assert s["subject_box_size_ratio_wh"] == pytest.approx([1.2, 1.0])
    assert s["subject_box_centre_shift_wh"] == pytest.approx([0.0, 0.0])
    assert s["mean_joint_score"] == {"annotated": 1.0, "extracted": 0.5}
