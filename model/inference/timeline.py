"""From sliding-window class probabilities to per-frame scores and action segments."""

from __future__ import annotations

import numpy as np

from model.runs import runs


def summed_frame_scores(scores: np.ndarray, metas: list[dict], video_id: str,
                        num_frames: int) -> np.ndarray:
    """(T, K): for each frame, the summed probabilities of the windows (``scores`` (W, K),
    ``metas`` with ``video_id`` and ``frame_range``) of ``video_id`` that cover it."""
    summed = np.zeros((num_frames, scores.shape[1]))
    for score, meta in zip(scores, metas, strict=True):
        if meta["video_id"] == video_id:
            start, end = meta["frame_range"]
            summed[start:end] += score
    return summed


def frame_segments(summed: np.ndarray, classes: list[str]) -> list[dict]:
    """Runs of the per-frame best class of ``summed`` (T, K) as segments (``label_segments``).
    Frames no window covers belong to no segment."""
    covered = summed.sum(1) > 0
    probs = np.where(covered[:, None], summed / np.maximum(summed.sum(1, keepdims=True), 1e-12),
                     0.0)
    return label_segments(np.where(covered, probs.argmax(1), -1), probs, classes)


def label_segments(best: np.ndarray, probs: np.ndarray, classes: list[str]) -> list[dict]:
    """Runs of the per-frame labels ``best`` (T,) as segments: start frame, end frame
    (exclusive), label and score (the label's mean probability in ``probs`` (T, K) over the
    run). Frames labelled -1 belong to no segment."""
    return [{"start_frame": start, "end_frame": end, "label": classes[best[start]],
             "score": round(float(probs[start:end, best[start]].mean()), 4)}
            for start, end in runs(best) if best[start] >= 0]
