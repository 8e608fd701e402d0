"""Action timelines of untrimmed videos: per-frame predictions from overlapping window scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from model.datasets.feature_table import read_feature_table
from model.evaluation.metrics import timeline_accuracy
from model.inference.timeline import summed_frame_scores


def untrimmed_videos(table: str | Path, split: str) -> list[str]:
    """Videos of ``split`` with more than one labelled segment."""
    rows, _ = read_feature_table(table, splits=[split], columns=["video_id", "segment_index"])
    grouped = rows.group_by("video_id").aggregate([("segment_index", "max")])
    mask = pc.greater(grouped.column("segment_index_max"), 0)
    return sorted(grouped.filter(mask).column("video_id").to_pylist())


def frame_timelines(table: str | Path, split: str, videos: list[str], scores: np.ndarray,
                    metas: list[dict], window_s: float, stride_s: float) -> tuple[dict, dict]:
    """Each frame takes the class with the highest summed probability over the sliding windows
    (``scores`` (W, K), ``metas`` with ``video_id`` and ``frame_range``) that cover it.

    Returns the frame accuracy over all labelled frames and, per video, the true and predicted
    label of every frame."""
    rows, _ = read_feature_table(table, splits=[split], columns=["video_id", "label"])
    timelines, all_labels, all_preds = {}, [], []
    for video in videos:
        labels = rows.filter(pc.equal(rows.column("video_id"), video)).column("label").to_numpy()
        predictions = summed_frame_scores(scores, metas, video, len(labels)).argmax(axis=1)
        timelines[video] = {"labels": labels.tolist(), "predictions": predictions.tolist(),
                            **timeline_accuracy(labels, predictions)}
        all_labels.append(labels)
        all_preds.append(predictions)
    summary = timeline_accuracy(np.concatenate(all_labels), np.concatenate(all_preds))
    summary.update(videos=len(videos), window_s=window_s, stride_s=stride_s)
    return summary, timelines
