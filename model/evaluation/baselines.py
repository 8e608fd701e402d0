"""Baselines that show what is easy: the majority class, and a bag of object classes.

Both are scikit-learn classifiers fitted on the training windows and scored on exactly the
windows the recognizers are scored on (``FeatureTableDataset`` with the recognizer config's
window settings), with the same metrics, so they sit next to the headline figures:

* ``majority``: scikit-learn's ``DummyClassifier`` (class priors: it predicts the most frequent
  training class, and ranks the others by frequency for top-5);
* ``bag_of_classes``: which object classes are visible in the window, and how much: per class,
  the fraction of frames with a detection of it and its mean number of detections per frame. No
  geometry, no motion, no pose. A ``LogisticRegression`` on the standardized features, scikit-
  learn's default regularization (nothing is tuned).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from mmengine.config import Config
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model.datasets.feature_table import read_info
from model.datasets.window_dataset import FeatureTableDataset
from model.evaluation.metrics import classification_metrics
from model.evaluation.timeline import background_classes, frame_timelines, untrimmed_videos

BASELINES = ("majority", "bag_of_classes")
# Detections below this score are not counted as visible (the recognizers' min_score).
MIN_SCORE = 0.05


def bag_of_classes(sample: dict, num_object_classes: int) -> np.ndarray:
    """(2 K,) features of one window: per object class, the fraction of frames where it is
    detected, then its mean number of detections per frame."""
    classes = np.where(sample["object_scores"] >= MIN_SCORE, sample["object_classes"], -1)
    counts = (classes[..., None] == np.arange(num_object_classes)).sum(1)   # (T, K)
    return np.concatenate([(counts > 0).mean(0), counts.mean(0)]).astype(np.float32)


def _estimator(name: str):
    if name == "majority":
        return DummyClassifier(strategy="prior")
    if name == "bag_of_classes":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    raise ValueError(f"unknown baseline {name!r}; choose from {BASELINES}")


def _windows(table: str | Path, split: str, dataset_cfg: dict,
             **overrides) -> FeatureTableDataset:
    settings = {k: v for k, v in dataset_cfg.items() if k not in ("type", "streams")}
    settings.update(overrides)
    return FeatureTableDataset(str(table), pipeline=[], split=split, streams=("objects",),
                               test_mode=True, **settings)


def _features(dataset: FeatureTableDataset, num_object_classes: int) -> tuple[np.ndarray, ...]:
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    features = np.stack([bag_of_classes(info, num_object_classes) for info in infos])
    return features, np.array([info["label"] for info in infos]), infos


def _probabilities(estimator, features: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, K) class probabilities; classes never seen in training get 0."""
    out = np.zeros((len(features), num_classes))
    out[:, estimator.classes_] = estimator.predict_proba(features)
    return out


def run_baseline(name: str, table: str | Path, config: str | Path, split: str = "test",
                 timeline_window_s: float = 1.5, timeline_stride_s: float = 0.25) -> dict:
    """Fit baseline ``name`` on the training windows of ``table`` and score ``split``.

    Windows follow the ``dataset`` section of the recognizer config ``config``. Returns a result
    shaped like ``jobs.evaluate``'s (``clips``, ``predictions``, ``timeline``, ...) plus ``val``
    (the validation metrics) and ``fit_seconds``."""
    info = read_info(table)
    classes, num_objects = list(info.action_classes), len(info.object_classes)
    dataset_cfg = Config.fromfile(str(config)).dataset.to_dict()
    x_train, y_train, _ = _features(_windows(table, "train", dataset_cfg), num_objects)
    estimator = _estimator(name)
    started = time.perf_counter()
    estimator.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started
    x_val, y_val, _ = _features(_windows(table, "val", dataset_cfg), num_objects)
    x_test, y_test, infos = _features(_windows(table, split, dataset_cfg), num_objects)
    scores = _probabilities(estimator, x_test, len(classes))
    result = {
        "package": f"baseline: {name}", "data": str(table), "split": split,
        "test_set_check": "not requested", "window_s": dataset_cfg.get("window_s"),
        "clip_len": None, "num_clips_per_window": None,
        "train_windows": len(y_train), "fit_seconds": fit_seconds,
        "val": classification_metrics(y_val, _probabilities(estimator, x_val, len(classes)),
                                      classes),
        "clips": classification_metrics(y_test, scores, classes),
        "predictions": [{"video_id": i["video_id"], "frame_range": list(i["frame_range"]),
                         "label": int(y), "predicted": int(s.argmax())}
                        for i, y, s in zip(infos, y_test, scores, strict=True)],
    }
    videos = untrimmed_videos(table, split)
    if videos:
        sliding = _windows(table, split, dataset_cfg, mode="sliding",
                           window_s=timeline_window_s, stride_s=timeline_stride_s,
                           video_ids=videos)
        x, _, metas = _features(sliding, num_objects)
        result["timeline"], result["timeline_videos"] = frame_timelines(
            table, split, videos, _probabilities(estimator, x, len(classes)), metas,
            timeline_window_s, timeline_stride_s, background_classes(classes))
    return result
