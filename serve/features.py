"""The features endpoint's input: one window of the feature table's per-frame arrays, sent as
JSON by a client that runs its own detector and pose model (docs/data-format.md names the
arrays). Types are checked by pydantic; shapes, finiteness and ranges here, each refusal naming
the field."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from model.datasets.coco_keypoints import NUM_KEYPOINTS
from model.datasets.frame_rows import FrameArrays
from serve.settings import ServingSettings
from serve.stream import RequestError


class FeatureWindow(BaseModel):
    """T frames, M person slots, N object slots; empty slots are -1 in the track ids."""

    fps: float = Field(gt=0, le=240)
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)
    person_track_ids: list[list[int]] = Field(description="(T, M); -1 = empty slot")
    person_boxes: list[list[list[float]]] = Field(description="(T, M, 4) x1 y1 x2 y2 pixels")
    keypoints: list[list[list[list[float]]]] = Field(description="(T, M, 17, 2) COCO-17 x, y")
    keypoint_scores: list[list[list[float]]] = Field(description="(T, M, 17)")
    object_track_ids: list[list[int]] = Field(description="(T, N); -1 = empty or untracked")
    object_classes: list[list[int]] = Field(description="(T, N) object class index; -1 = empty")
    object_boxes: list[list[list[float]]] = Field(description="(T, N, 4)")
    object_scores: list[list[float]] = Field(description="(T, N)")
    subject_track_id: int = Field(-1, description="the person the scores are about; -1 = the "
                                                  "largest person of each frame")



def _array(window: FeatureWindow, name: str, dtype, shape: tuple) -> np.ndarray:
    try:
        value = np.asarray(getattr(window, name), dtype)
    except ValueError as exc:   # ragged nested lists
        raise RequestError(422, f"features: {name} is ragged (every frame and slot needs the "
                                f"same shape {shape})") from exc
    if value.shape != shape:
        raise RequestError(422, f"features: {name} has shape {list(value.shape)}, expected "
                                f"{list(shape)} (frames, slots, ...)")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise RequestError(422, f"features: {name} holds NaN or infinite values")
    return value


def example_window(settings: ServingSettings, frames: int = 48, seed: int = 0) -> FrameArrays:
    """A seeded random window (one person, some objects, moving): the example an export is
    checked on and what /ready runs the recognizer on."""
    rng = np.random.default_rng(seed)
    m, n = settings.max_persons, settings.max_objects
    arrays = FrameArrays.empty("example", 15.0, 480, 360, frames, m, n)
    centre = np.array([240.0, 180.0]) + np.cumsum(rng.normal(0, 2, (frames, 2)), 0)
    arrays.num_persons[:] = 1
    arrays.person_track_ids[:, 0] = 0
    arrays.keypoints[:, 0] = centre[:, None] + rng.normal(0, 40, (frames, NUM_KEYPOINTS, 2))
    arrays.keypoint_scores[:, 0] = rng.uniform(0.3, 1.0, (frames, NUM_KEYPOINTS))
    low, high = arrays.keypoints[:, 0].min(1), arrays.keypoints[:, 0].max(1)
    arrays.person_boxes[:, 0] = np.concatenate([low, high], 1)
    k = min(3, n)
    arrays.num_objects[:] = k
    arrays.object_track_ids[:, :k] = np.arange(k)
    arrays.object_classes[:, :k] = rng.integers(0, len(settings.object_classes), k)
    corner = centre[:, None] + rng.normal(0, 60, (frames, k, 2))
    arrays.object_boxes[:, :k] = np.concatenate([corner, corner + 30], 2)
    arrays.object_scores[:, :k] = rng.uniform(0.4, 0.9, (frames, k))
    return arrays


def window_arrays(window: FeatureWindow, settings: ServingSettings) -> FrameArrays:
    """The window as the feature rows of one video (what the recognizer's pipeline reads)."""
    t = len(window.person_track_ids)
    limit = int(settings.limits["max_window_frames"])
    if not 1 <= t <= limit:
        raise RequestError(422, f"features: {t} frames; a window has 1 to {limit}")
    m = len(window.person_track_ids[0])
    n = len(window.object_track_ids[0]) if window.object_track_ids else 0
    if m != settings.max_persons or n != settings.max_objects:
        raise RequestError(422, f"features: {m} person and {n} object slots; the model takes "
                                f"{settings.max_persons} and {settings.max_objects} (pad with "
                                "-1 track ids)")
    arrays = FrameArrays.empty("window", window.fps, window.width, window.height, t, m, n)
    v = NUM_KEYPOINTS
    arrays.person_track_ids[:] = _array(window, "person_track_ids", np.int32, (t, m))
    arrays.person_boxes[:] = _array(window, "person_boxes", np.float32, (t, m, 4))
    arrays.keypoints[:] = _array(window, "keypoints", np.float32, (t, m, v, 2))
    arrays.keypoint_scores[:] = _array(window, "keypoint_scores", np.float32, (t, m, v))
    arrays.object_track_ids[:] = _array(window, "object_track_ids", np.int32, (t, n))
    classes = _array(window, "object_classes", np.int16, (t, n))
    if ((classes < -1) | (classes >= len(settings.object_classes))).any():
        raise RequestError(422, f"features: object_classes outside -1 .. "
                                f"{len(settings.object_classes) - 1}")
    arrays.object_classes[:] = classes
    arrays.object_boxes[:] = _array(window, "object_boxes", np.float32, (t, n, 4))
    arrays.object_scores[:] = _array(window, "object_scores", np.float32, (t, n))
    arrays.num_persons[:] = (arrays.person_track_ids >= 0).sum(1)
    arrays.num_objects[:] = (arrays.object_classes >= 0).sum(1)
    arrays.subject_track_id[:] = window.subject_track_id
    return arrays
