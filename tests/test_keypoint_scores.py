"""Keypoint scores in the table's terms (model/frame_path/keypoint_scores.py) and the choice of
the missing-joint threshold (model/perception/calibration.py)."""

import json

import numpy as np
import pytest

from model.frame_path.keypoint_scores import (
    CalibrationError,
    KeypointScores,
    keypoint_scores,
)
from model.perception.calibration import threshold_for


def test_the_fit_maps_raw_scores_to_the_rate_of_right_joints():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 2.5, 20000)
    right = rng.uniform(size=raw.size) < np.clip(raw / 2, 0, 1)   # P(right) = raw / 2
    scoring = KeypointScores.fit(raw, right, 0.0, "test")
    _, calibrated = scoring(np.zeros((raw.size, 2)), raw)
    assert 0 <= calibrated.min() and calibrated.max() <= 1
    for x in (0.5, 1.0, 1.5):
        near = np.abs(raw - x) < 0.05
        assert calibrated[near].mean() == pytest.approx(x / 2, abs=0.06)


def test_joints_below_the_threshold_are_missing_as_annotations_mark_them():
    scoring = KeypointScores((0.0, 2.0), (0.0, 1.0), missing_below=0.3, source="test")
    keypoints = np.array([[[5.0, 6.0], [7.0, 8.0]]])
    out, scores = scoring(keypoints, np.array([[0.4, 1.6]]))
    assert scores.tolist() == [[0.0, pytest.approx(0.8)]]
    assert out.tolist() == [[[0.0, 0.0], [7.0, 8.0]]]
    assert keypoints[0, 0, 0] == 5.0                     # the input is untouched


def test_without_a_calibration_raw_scores_are_clipped():
    _, scores = KeypointScores()(np.zeros((1, 3, 2)), np.array([[-0.2, 0.5, 1.7]]))
    assert scores.tolist() == [[0.0, 0.5, 1.0]]


def test_the_threshold_marks_the_fraction_of_joints_closest_to_the_target():
    calibrated = np.array([0.1, 0.1, 0.2, 0.2, 0.2, 0.6, 0.7, 0.8, 0.9, 0.95])
    below = threshold_for(calibrated, 0.25)             # 0.2 marks 2 of 10, 0.6 marks 5
    assert (calibrated < below).mean() == 0.2
    assert threshold_for(calibrated, 1.0) > 0.95 and threshold_for(calibrated, 0.0) == 0.1


def test_a_package_without_its_calibration_is_refused_by_path(tmp_path):
    with pytest.raises(CalibrationError, match="jobs.calibrate_pose"):
        keypoint_scores("package", str(tmp_path / "weights.pth"), None)
    with pytest.raises(CalibrationError, match="local checkpoint"):
        keypoint_scores("package", None, None)
    (tmp_path / "bad.json").write_text(json.dumps({"raw": [0, 1], "calibrated": [0.9, 0.1]}))
    with pytest.raises(CalibrationError, match="not monotone"):
        keypoint_scores(str(tmp_path / "bad.json"), None, 0.2)


def test_the_shipped_calibration_loads_with_its_own_threshold():
    scoring = keypoint_scores("package", "trained_models/pose/weights.pth", None)
    assert 0 < scoring.missing_below < 1 and len(scoring.raw) > 10
