"""What a pose estimator and an object detector would make of the true geometry."""

from __future__ import annotations

import numpy as np


def noisy_keypoints(rng: np.random.Generator, uv: np.ndarray, occluded: np.ndarray,
                    person_px: np.ndarray, fps: float, width: int, height: int,
                    cfg: dict) -> np.ndarray:
    """(T, V, 3) keypoints [x, y, score] from true pixels ``uv`` (T, V, 2).

    Jitter scales with the person's pixel height ``person_px`` (T,). Joints hidden by the bench
    (``occluded``, (T, V)) are missing or low-score and far off; short episodes make a few joints
    missing or wrong; joints that end outside the frame are missing. Missing = [0, 0, 0].
    """
    n, v = occluded.shape
    scale = person_px[:, None, None]
    xy = uv + rng.normal(0.0, 1.0, uv.shape) * scale * rng.uniform(*cfg["jitter_frac"])
    score = rng.uniform(*cfg["visible_score"], (n, v))
    missing = occluded & (rng.uniform(size=(n, v)) < cfg["occluded_missing_prob"])
    guessed = occluded & ~missing
    xy += guessed[..., None] * rng.normal(0.0, 1.0, uv.shape) * scale * cfg["occluded_sigma_frac"]
    score = np.where(guessed, rng.uniform(*cfg["occluded_score"], (n, v)), score)
    for _ in range(rng.poisson(rng.uniform(*cfg["episodes_per_s"]) * n / fps)):
        start = rng.integers(n)
        frames = slice(start, start + max(1, round(rng.uniform(*cfg["episode_s"]) * fps)))
        lo, hi = cfg["episode_joints"]
        joints = rng.choice(v, rng.integers(lo, hi + 1), replace=False)
        if rng.uniform() < cfg["episode_missing_prob"]:
            missing[frames, joints] = True
        else:
            offset = rng.normal(0.0, 1.0, (len(joints), 2)) * cfg["wrong_offset_frac"]
            xy[frames, joints] += offset * scale[frames]
            score[frames, joints] = rng.uniform(*cfg["wrong_score"])
    outside = (xy[..., 0] < 0) | (xy[..., 0] > width) | (xy[..., 1] < 0) | (xy[..., 1] > height)
    missing |= outside | ~np.isfinite(xy).all(-1)
    out = np.concatenate([xy, score[..., None]], -1)
    out[missing] = 0.0
    return out


def jitter_boxes(rng: np.random.Generator, boxes: np.ndarray, frac: float, px: float,
                 width: int, height: int, min_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (..., 4) moved by Gaussian noise (sigma: ``frac`` of the box size plus ``px``) and
    clipped to the frame, and whether each is still at least ``min_px`` wide and high."""
    size = np.concatenate([boxes[..., 2:] - boxes[..., :2]] * 2, -1)
    noisy = boxes + rng.normal(0.0, 1.0, boxes.shape) * (np.abs(size) * frac + px)
    noisy = np.clip(noisy, 0.0, [width, height, width, height])
    valid = np.isfinite(noisy).all(-1) & (noisy[..., 2] - noisy[..., 0] >= min_px) \
        & (noisy[..., 3] - noisy[..., 1] >= min_px)
    return noisy, valid


def hidden_runs(rng: np.random.Generator, n_frames: int, fraction: float,
                mean_run: float) -> np.ndarray:
    """(n,) bool: hidden in runs (a two-state Markov chain) that cover ``fraction`` of the
    frames on average, each ``mean_run`` frames long on average.

    A hand closing on an object hides it for a while, not in isolated frames.
    """
    if fraction <= 0:
        return np.zeros(n_frames, bool)
    leave = 1.0 / max(mean_run, 1.0)                       # hidden -> visible
    enter = min(leave * fraction / max(1.0 - fraction, 1e-6), 1.0)   # visible -> hidden
    hidden = np.empty(n_frames, bool)
    state = rng.uniform() < fraction
    for t, u in enumerate(rng.uniform(size=n_frames)):
        hidden[t] = state
        state = u >= leave if state else u < enter
    return hidden


def blur_misses(rng: np.random.Generator, boxes: np.ndarray, start: float, full: float,
                miss: float) -> np.ndarray:
    """(T,) bool: detections lost to motion blur. An object whose box centre moves more than
    ``start`` box sizes per frame begins to be missed, up to probability ``miss`` from ``full``
    box sizes per frame: a small part swung across the bench smears out, a tool lying on it
    does not."""
    center = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = np.maximum(np.max(boxes[:, 2:] - boxes[:, :2], axis=1), 1.0)
    step = np.linalg.norm(np.diff(center, axis=0, prepend=center[:1]), axis=1) / size
    return rng.uniform(size=len(boxes)) < miss * np.clip((step - start) / (full - start), 0, 1)


def false_detections(rng: np.random.Generator, n_frames: int, n_classes: int, width: int,
                     height: int, cfg: dict) -> tuple[np.ndarray, ...]:
    """Spurious boxes: frame index (K,), boxes (K, 4), class ids (K,), scores (K,)."""
    counts = rng.poisson(rng.uniform(*cfg["false_per_frame"]), n_frames)
    k = int(counts.sum())
    size = np.minimum(rng.uniform(*cfg["false_size_px"], (k, 2)), [width, height])
    corner = rng.uniform(0.0, 1.0, (k, 2)) * ([width, height] - size)
    boxes = np.concatenate([corner, corner + size], -1)
    return (np.repeat(np.arange(n_frames), counts), boxes, rng.integers(0, n_classes, k),
            rng.uniform(*cfg["false_score"], k))
