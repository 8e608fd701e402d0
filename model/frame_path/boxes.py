"""Box geometry of the frame path, vectorised over arrays of boxes (x1, y1, x2, y2)."""

from __future__ import annotations

import numpy as np


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Area of each box (..., 4); an inverted box has area 0."""
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * \
        np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of every box of ``a`` (N, 4) with every box of ``b``
    (M, 4); 0 where the union is empty."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    return paired_iou(a[:, None], b[None])


def keypoint_boxes(keypoints: np.ndarray, scores: np.ndarray, previous: np.ndarray,
                   thr: float, padding: float, width: int, height: int) -> np.ndarray:
    """(P, 4) boxes around each person's keypoints scoring at least ``thr``, scaled by
    ``padding`` about their centre and clipped to the frame; a person with fewer than two such
    keypoints keeps its ``previous`` box."""
    seen = scores >= thr
    enough = seen.sum(1) >= 2
    # Persons without keypoints get (inf, -inf) extremes, replaced by their previous box.
    with np.errstate(invalid="ignore"):
        low = np.where(seen[..., None], keypoints, np.inf).min(1)
        high = np.where(seen[..., None], keypoints, -np.inf).max(1)
        centre, half = (low + high) / 2, (high - low) / 2 * padding
        boxes = np.clip(np.concatenate([centre - half, centre + half], 1), 0,
                        [width, height, width, height])
    return np.where(enough[:, None], boxes, previous).astype(np.float32)


def paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise intersection over union of boxes ``a`` (..., 4) and ``b`` (..., 4)
    (broadcast); 0 where the union is empty."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    low = np.maximum(a[..., :2], b[..., :2])
    high = np.minimum(a[..., 2:], b[..., 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    union = box_area(a) + box_area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
