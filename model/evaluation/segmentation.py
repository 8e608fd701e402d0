"""Temporal action segmentation metrics: frame accuracy, segmental edit score, F1@IoU, and the
detection delay of an online timeline.

No library we depend on provides these; they follow the MS-TCN / ASFormer evaluation
(``eval.py`` of github.com/yabufarha/ms-tcn): segments are runs of one label with the
background classes left out, the edit score is the normalised Levenshtein distance between
the segment label sequences (averaged over videos), and F1@k matches each predicted segment
to the unmatched true segment of its label with the highest IoU, counting a hit when the IoU
is at least k; true/false positives and misses are summed over videos before F1 is taken.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.runs import runs

IOU_THRESHOLDS = (0.10, 0.25, 0.50)


def segments(labels: Sequence[int], background: Sequence[int] = ()) -> list[tuple[int, int, int]]:
    """(label, start, end exclusive) of the runs of ``labels``, background runs and
    unlabelled (negative) runs left out."""
    labels = np.asarray(labels)
    return [(int(labels[s]), s, e) for s, e in runs(labels)
            if int(labels[s]) not in background and labels[s] >= 0]


def _levenshtein(a: list[int], b: list[int]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def edit_score(truth: Sequence[int], prediction: Sequence[int],
               background: Sequence[int] = ()) -> float:
    """100 (1 - Levenshtein / longer length) of the segment label sequences; two empty
    sequences agree (100)."""
    a = [s[0] for s in segments(prediction, background)]
    b = [s[0] for s in segments(truth, background)]
    longest = max(len(a), len(b))
    return 100.0 if longest == 0 else 100.0 * (1 - _levenshtein(a, b) / longest)


def segment_hits(truth: Sequence[int], prediction: Sequence[int], iou: float,
                 background: Sequence[int] = ()) -> tuple[int, int, int]:
    """(true positives, false positives, misses) of the predicted segments at ``iou``."""
    true_segs = segments(truth, background)
    hit = np.zeros(len(true_segs), bool)
    tp = fp = 0
    for label, start, end in segments(prediction, background):
        best, best_iou = -1, 0.0
        for i, (t_label, t_start, t_end) in enumerate(true_segs):
            if t_label != label:
                continue
            inter = min(end, t_end) - max(start, t_start)
            union = max(end, t_end) - min(start, t_start)
            if inter > 0 and inter / union > best_iou:
                best, best_iou = i, inter / union
        if best >= 0 and best_iou >= iou and not hit[best]:
            tp += 1
            hit[best] = True
        else:
            fp += 1
    return tp, fp, int(len(true_segs) - hit.sum())


def f1_from_hits(tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 0.0 if precision + recall == 0 else 100.0 * 2 * precision * recall / (precision + recall)


def segmentation_metrics(truths: Sequence[Sequence[int]], predictions: Sequence[Sequence[int]],
                         background: Sequence[int] = (),
                         ious: Sequence[float] = IOU_THRESHOLDS) -> dict:
    """Frame accuracy (0-1, over every labelled frame of every video: a negative true label
    is unlabelled), edit (0-100, mean over videos) and ``f1_<10 x iou>`` (0-100, hits summed
    over videos), e.g. ``f1_50``."""
    if len(truths) != len(predictions):
        raise ValueError(f"{len(truths)} true timelines but {len(predictions)} predictions")
    frames = correct = 0
    for t, p in zip(truths, predictions, strict=True):
        if len(t) != len(p):
            raise ValueError(f"a timeline of {len(t)} frames got {len(p)} predictions")
        labelled = np.asarray(t) >= 0
        frames += int(labelled.sum())
        correct += int((np.asarray(t) == np.asarray(p))[labelled].sum())
    result = {"videos": len(truths), "frames": frames,
              "frame_accuracy": correct / frames if frames else float("nan"),
              "edit": float(np.mean([edit_score(t, p, background)
                                     for t, p in zip(truths, predictions, strict=True)]))
              if truths else float("nan")}
    for iou in ious:
        hits = np.array([segment_hits(t, p, iou, background)
                         for t, p in zip(truths, predictions, strict=True)]).reshape(-1, 3)
        result[f"f1_{round(iou * 100):d}"] = f1_from_hits(*hits.sum(0).tolist())
    return result


def detection_delays(truth: Sequence[int], prediction: Sequence[int],
                     background: Sequence[int] = (),
                     report_times: Sequence[int] | None = None) -> list[int | None]:
    """Per true (non-background) segment: frames from its start until the online timeline
    ``prediction`` first names its label for a frame inside it; None when it never does
    (missed). ``report_times``: the frame at which each frame's label was reported (default:
    at the frame itself, an online timeline without lag)."""
    prediction = np.asarray(prediction)
    times = np.arange(len(prediction)) if report_times is None else np.asarray(report_times)
    delays = []
    for label, start, end in segments(truth, background):
        right = np.flatnonzero(prediction[start:end] == label)
        delays.append(int(times[start + right[0]]) - start if len(right) else None)
    return delays


def delay_summary(delays: Sequence[int | None], fps: float) -> dict:
    """Median and 90th percentile of the detection delays in frames and seconds; a missed
    segment counts as never detected (an infinite delay), so it can only raise the figures."""
    values = np.array([np.inf if d is None else d for d in delays], float)
    if len(values) == 0:
        return {"segments": 0, "missed": 0}
    result = {"segments": len(values), "missed": int(np.isinf(values).sum())}
    for name, q in (("median", 50), ("p90", 90)):
        # No interpolation: between a delay and a miss there is no meaningful midpoint.
        frames = float(np.percentile(values, q, method="inverted_cdf"))
        # JSON has no infinity: a percentile that falls on a missed segment is null.
        result[f"{name}_delay_frames"] = frames if np.isfinite(frames) else None
        result[f"{name}_delay_s"] = frames / fps if np.isfinite(frames) else None
    return result
