"""Keypoint scores as the feature table's contract defines them: a confidence in [0, 1] per
joint, and 0 (with x = y = 0) for a joint that is missing.

A pose network's raw score is not that: RTMPose's SimCC maxima run above 1 (about 1.5 on the
workcell frames) and a heatmap peak is no probability; no joint is ever reported missing, while
annotations mark the joints they cannot see. ``KeypointScores`` maps raw scores through a
monotone calibration (scikit-learn's isotonic regression of "the joint is visible and within
PCK@thr of the truth" on raw scores of persons the pose model was not trained on; fitted by
``python -m jobs.calibrate_pose`` and kept in the pose package beside the weights), then marks
joints whose calibrated score is below ``missing_below`` missing, as annotations do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_FILE = "keypoint_calibration.json"


class CalibrationError(ValueError):
    """A calibration file that is missing where one is required, or malformed."""


@dataclass(frozen=True)
class KeypointScores:
    """Raw scores -> calibrated scores (piecewise linear through ``raw``/``calibrated``,
    constant beyond the ends; no points: raw scores clipped to [0, 1]), then missing joints."""

    raw: tuple[float, ...] = ()
    calibrated: tuple[float, ...] = ()
    missing_below: float = 0.0
    source: str = "raw scores clipped to [0, 1]"

    def __post_init__(self):
        if len(self.raw) != len(self.calibrated):
            raise CalibrationError(f"{self.source}: {len(self.raw)} raw points but "
                                   f"{len(self.calibrated)} calibrated ones")
        if np.any(np.diff(self.raw) < 0) or np.any(np.diff(self.calibrated) < 0):
            raise CalibrationError(f"{self.source}: the calibration is not monotone")
        if self.calibrated and not (0 <= min(self.calibrated) <= max(self.calibrated) <= 1):
            raise CalibrationError(f"{self.source}: calibrated scores outside [0, 1]")
        if not 0 <= self.missing_below < 1:
            raise CalibrationError(f"missing_below must be in [0, 1), got {self.missing_below}")

    def __call__(self, keypoints: np.ndarray, scores: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(keypoints (..., 17, 2), scores (..., 17)) in the table's terms, as new arrays."""
        scores = np.asarray(scores, np.float32)
        if self.raw:
            scores = np.interp(scores, self.raw, self.calibrated).astype(np.float32)
        else:
            scores = np.clip(scores, 0.0, 1.0)
        missing = scores < self.missing_below
        scores = np.where(missing, 0.0, scores).astype(np.float32)
        keypoints = np.where(missing[..., None], 0.0, keypoints).astype(np.float32)
        return keypoints, scores

    def describe(self) -> dict:
        return {"calibration": self.source, "missing_below": self.missing_below,
                "points": len(self.raw)}

    @classmethod
    def fit(cls, raw: np.ndarray, correct: np.ndarray, missing_below: float,
            source: str) -> KeypointScores:
        """Isotonic regression of ``correct`` (0/1 per joint) on ``raw`` scores."""
        from sklearn.isotonic import IsotonicRegression

        raw, correct = np.ravel(raw).astype(np.float64), np.ravel(correct).astype(np.float64)
        if len(raw) == 0 or len(raw) != len(correct):
            raise CalibrationError(f"{source}: {len(raw)} raw scores and {len(correct)} "
                                   "outcomes to fit")
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, correct)
        return cls(tuple(float(v) for v in iso.X_thresholds_),
                   tuple(float(v) for v in iso.y_thresholds_), missing_below, source)

    def save(self, path: str | Path, facts: dict) -> None:
        Path(path).write_text(json.dumps({"raw": list(self.raw),
                                          "calibrated": list(self.calibrated),
                                          "missing_below": self.missing_below,
                                          "facts": facts}, indent=1))

    @classmethod
    def load(cls, path: str | Path, missing_below: float | None) -> KeypointScores:
        """The calibration in ``path``; its own ``missing_below`` unless one is given."""
        path = Path(path)
        if not path.is_file():
            raise CalibrationError(
                f"{path}: no keypoint calibration; fit one with `python -m jobs.calibrate_pose "
                f"--package {path.parent}` or set pose.calibration=None (raw scores clipped)")
        try:
            doc = json.loads(path.read_text())
            below = doc["missing_below"] if missing_below is None else missing_below
            return cls(tuple(doc["raw"]), tuple(doc["calibrated"]), float(below), str(path))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CalibrationError(f"{path}: not a keypoint calibration ({exc})") from exc


def keypoint_scores(calibration: str | None, checkpoint: str | None,
                    missing_below: float | None) -> KeypointScores:
    """The scoring an extraction config's ``pose`` section asks for: ``calibration`` "package"
    (the file beside a local ``checkpoint``), a file path, or None (raw scores clipped);
    ``missing_below`` None: the calibration's own threshold (0 without one)."""
    if calibration is None:
        return KeypointScores(missing_below=missing_below or 0.0)
    if calibration == "package":
        if checkpoint is None or "://" in checkpoint:
            raise CalibrationError(f"pose.calibration='package' needs a local checkpoint, got "
                                   f"{checkpoint or 'random weights'}")
        return KeypointScores.load(Path(checkpoint).with_name(CALIBRATION_FILE), missing_below)
    return KeypointScores.load(calibration, missing_below)
