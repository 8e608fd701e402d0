"""Fit the keypoint score calibration of a pose package (model/frame_path/keypoint_scores.py).

The pose model runs through the frame path's own ``PoseEstimator`` (the backend extraction
uses) on the persons of a COCO keypoint file it was not trained on, with their annotated boxes;
a joint counts as right when it is annotated (v > 0) and within PCK@``pck_thr`` of the box size
of its truth, as MMPose's PCKAccuracy counts it. The isotonic fit of that outcome on the raw
score is written beside the package's weights, with the threshold below which a joint is marked
missing: the calibrated score that marks as many joints missing as the annotations of a
feature table's training split leave out (their missing joints are what the recognizer learnt
to read as missing).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from model.datasets.feature_table import read_feature_table, tensor_column
from model.frame_path.keypoint_scores import CALIBRATION_FILE, KeypointScores
from model.frame_path.models import ModelChoice
from model.frame_path.pose import PoseEstimator


def package_choice(package: Path) -> ModelChoice:
    """A pose package (jobs.train_pose) as the frame path's model choice."""
    return ModelChoice("pose", package.name, str(package / "config.py"),
                       str(package / "weights.pth"), str(package / "weights.pth"), {})


def _persons_by_image(doc: dict) -> dict[int, list[dict]]:
    persons: dict[int, list[dict]] = {}
    for a in doc["annotations"]:
        if a.get("num_keypoints", 0) > 0:
            persons.setdefault(a["image_id"], []).append(a)
    return persons


def raw_outcomes(package: Path, data: Path, ann_file: str, pck_thr: float,
                 batch_images: int = 16, progress: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw scores (N, 17), right (N, 17) bool, annotated (N, 17) bool) of every person of
    ``data / ann_file`` (COCO keypoints, image paths relative to its folder)."""
    doc = json.loads((data / ann_file).read_text())
    images = {i["id"]: i for i in doc["images"]}
    persons = _persons_by_image(doc)
    estimator = PoseEstimator(package_choice(package))
    scores, right, annotated = [], [], []
    ids = sorted(persons)
    root = (data / ann_file).parent
    for start in tqdm(range(0, len(ids), batch_images), desc="pose", unit="batch",
                      disable=not progress):
        batch = ids[start:start + batch_images]
        frames, boxes, truths = [], [], []
        for image_id in batch:
            path = root / images[image_id]["file_name"]
            frame = cv2.imread(str(path))
            if frame is None:
                raise FileNotFoundError(f"{path}: image of {ann_file} cannot be read")
            anns = persons[image_id]
            xywh = np.array([a["bbox"] for a in anns], np.float32)
            frames.append(frame)
            boxes.append(np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1))
            truths.append((xywh, np.array([a["keypoints"] for a in anns],
                                          np.float32).reshape(len(anns), -1, 3)))
        for (keypoints, raw), (xywh, truth) in zip(estimator(frames, boxes), truths,
                                                   strict=True):
            size = xywh[:, 2:].max(1)
            error = np.linalg.norm(keypoints - truth[..., :2], axis=-1)
            seen = truth[..., 2] > 0
            scores.append(raw)
            annotated.append(seen)
            right.append(seen & (error <= pck_thr * size[:, None]))
    return np.concatenate(scores), np.concatenate(right), np.concatenate(annotated)


def missing_fraction(table: Path, split: str = "train") -> float:
    """The fraction of the joints of a feature table's filled person slots with score 0."""
    rows, _ = read_feature_table(table, [split], ["num_persons", "keypoint_scores"])
    scores = tensor_column(rows, "keypoint_scores")
    filled = np.arange(scores.shape[1])[None] < rows.column("num_persons").to_numpy()[:, None]
    if not filled.any():
        raise ValueError(f"{table}: no person in the {split} split")
    return float((scores[filled] == 0).mean())


def threshold_for(calibrated: np.ndarray, fraction: float) -> float:
    """The threshold ``m`` for which the fraction of joints with ``calibrated < m`` comes
    closest to ``fraction`` (scores are steps of the isotonic fit: ties move together)."""
    values = np.unique(calibrated)
    candidates = np.append(values, np.nextafter(values[-1], np.float32(np.inf)))
    marked = np.searchsorted(np.sort(np.ravel(calibrated)), candidates) / calibrated.size
    return float(candidates[np.argmin(np.abs(marked - fraction))])


def calibrate_package(package: Path, data: Path, ann_file: str, pck_thr: float,
                      table: Path, progress: bool = True) -> dict:
    """Fit, write ``package / keypoint_calibration.json`` and return its facts; ``table``: the
    annotation feature table whose train split sets the missing-joint rate."""
    raw, right, annotated = raw_outcomes(package, data, ann_file, pck_thr, progress=progress)
    out = package / CALIBRATION_FILE
    fitted = KeypointScores.fit(raw, right, 0.0, str(out))
    _, calibrated = fitted(np.zeros((*raw.shape, 2), np.float32), raw)
    target = missing_fraction(table)
    missing_below = threshold_for(calibrated, target)
    scoring = KeypointScores(fitted.raw, fitted.calibrated, missing_below, str(out))
    missing = calibrated < missing_below
    facts = {"data": str(data), "ann_file": ann_file, "pck_thr": pck_thr,
             "persons": int(len(raw)), "joints": int(raw.size),
             "raw_score_mean": float(raw.mean()), "raw_score_max": float(raw.max()),
             "right_fraction": float(right.mean()),
             "annotated_missing_fraction": float(1 - annotated.mean()),
             "missing_below": missing_below,
             "annotation_table": str(table), "annotation_missing_fraction": target,
             "marked_missing_fraction": float(missing.mean()),
             # Of the joints marked missing, how many the annotation leaves out or misplaces.
             "marked_missing_wrong_fraction": float((~right[missing]).mean())
             if missing.any() else 0.0,
             "brier_raw_clipped": float(np.mean((np.clip(raw, 0, 1) - right) ** 2)),
             "brier_calibrated": float(np.mean((calibrated - right) ** 2))}
    scoring.save(out, facts)
    return facts
