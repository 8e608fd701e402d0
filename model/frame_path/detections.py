"""From a detector's raw boxes to the frame path's persons and objects.

The detector's classes are mapped onto "person" and the dataset's object classes
(``class_targets``); each frame keeps its top-scoring persons and objects, padded to fixed slot
counts (``select_detections``): the fixed shapes that Ray Data rows and the feature table need.
"""

from __future__ import annotations

import numpy as np

# The padded per-frame arrays of ``select_detections``.
DETECTIONS = ("person_boxes", "person_scores", "num_persons", "object_boxes", "object_scores",
              "object_classes", "num_objects")
PERSON = -2   # class target of detector classes mapped onto "person"
DROPPED = -1  # class target of detector classes the dataset has no class for


def _key(name: str) -> str:
    # MMDetection spells COCO classes both ways ("cell phone" in checkpoints' metadata,
    # "cell_phone" in mmdet.evaluation.get_classes, which init_detector falls back to).
    return name.replace("_", " ").strip().lower()


def class_targets(detector_classes: tuple[str, ...], object_classes: tuple[str, ...],
                  class_map: dict[str, str], unmapped: str = "drop"
                  ) -> tuple[np.ndarray, list[str]]:
    """For each detector class: ``PERSON``, an object class index, or ``DROPPED``.

    ``class_map`` maps detector class names to "person" or a dataset object class; an
    unmapped detector class keeps its own name when the dataset knows it, and is otherwise
    dropped, or taken for a person with ``unmapped="person"`` (random weights only: their
    labels mean nothing, and this gives the pose stage its work). Names match regardless of
    case and of "_" against " ". Returns the targets and notes on map entries that name no
    detector class or no dataset class."""
    if unmapped not in ("drop", "person"):
        raise ValueError(f"detector.unmapped_classes must be 'drop' or 'person', got "
                         f"{unmapped!r}")
    index = {_key(name): i for i, name in enumerate(object_classes)}
    mapping = {_key(src): _key(dst) for src, dst in class_map.items()}
    known = {_key(name) for name in detector_classes}
    notes = [f"class_map: {src!r} is not a class of the detector; ignored"
             for src in class_map if _key(src) not in known]
    notes += [f"class_map: {src!r} -> {dst!r}: {dst!r} is neither 'person' nor an object "
              f"class of the dataset; {src!r} is dropped"
              for src, dst in class_map.items() if _key(dst) != "person" and _key(dst) not in index]
    targets = []
    for name in detector_classes:
        dst = mapping.get(_key(name), _key(name))
        fallback = PERSON if unmapped == "person" else DROPPED
        targets.append(PERSON if dst == "person" else index.get(dst, fallback))
    return np.asarray(targets, np.int64), notes


def select_detections(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                      targets: np.ndarray, width: int, height: int, score_thr: float,
                      min_box_px: float, min_visible_fraction: float, max_persons: int,
                      max_objects: int) -> dict:
    """The top-scoring persons and objects of one frame, padded to fixed slot counts.

    Boxes are clipped to the frame; non-finite boxes, boxes smaller than ``min_box_px``,
    boxes with less than ``min_visible_fraction`` of their area inside the frame and classes
    the dataset does not have are dropped."""
    finite = np.isfinite(scores) & np.isfinite(boxes).all(1)
    raw = np.where(np.isfinite(boxes), boxes, 0)
    boxes = np.clip(raw, 0, [width, height, width, height])
    size_ok = ((boxes[:, 2] - boxes[:, 0]) >= min_box_px) & \
        ((boxes[:, 3] - boxes[:, 1]) >= min_box_px)
    # A detector's boxes may reach into the padding of its input (they are clamped to the
    # padded size, not the frame); one mostly there sits on the edge the padding made.
    visible_ok = _area(boxes) >= min_visible_fraction * _area(raw)
    target = targets[labels]
    keep = finite & size_ok & visible_ok & (scores >= score_thr) & (target != DROPPED)
    out = {}
    for kind, slots, chosen in (("person", max_persons, keep & (target == PERSON)),
                                ("object", max_objects, keep & (target >= 0))):
        idx = np.flatnonzero(chosen)
        idx = idx[np.argsort(-scores[idx], kind="stable")][:slots]
        padded_boxes = np.zeros((slots, 4), np.float32)
        padded_scores = np.zeros(slots, np.float32)
        padded_boxes[: len(idx)] = boxes[idx]
        padded_scores[: len(idx)] = scores[idx]
        out[f"{kind}_boxes"], out[f"{kind}_scores"] = padded_boxes, padded_scores
        out[f"num_{kind}s"] = len(idx)
        if kind == "object":
            classes = np.full(slots, -1, np.int16)
            classes[: len(idx)] = target[idx]
            out["object_classes"] = classes
    return out


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)


def stack_detections(per_frame: list[dict], max_persons: int, max_objects: int) -> dict:
    """Stack ``select_detections`` results over frames (B may be 0, for error rows)."""
    b, m, n = len(per_frame), max_persons, max_objects
    empty = {"person_boxes": np.zeros((b, m, 4), np.float32),
             "person_scores": np.zeros((b, m), np.float32),
             "num_persons": np.zeros(b, np.int16),
             "object_boxes": np.zeros((b, n, 4), np.float32),
             "object_scores": np.zeros((b, n), np.float32),
             "object_classes": np.full((b, n), -1, np.int16),
             "num_objects": np.zeros(b, np.int16)}
    for t, frame in enumerate(per_frame):
        for key, value in frame.items():
            empty[key][t] = value
    return empty


class DetectionSelector:
    """``class_targets`` and ``select_detections`` with one config's settings: a detector's
    (boxes, scores, labels) of a frame -> its padded persons and objects."""

    def __init__(self, detector_classes: tuple[str, ...], object_classes: tuple[str, ...],
                 class_map: dict[str, str], score_thr: float, min_box_px: float,
                 min_visible_fraction: float, max_persons: int, max_objects: int,
                 unmapped_classes: str = "drop"):
        self.targets, self.notes = class_targets(detector_classes, object_classes, class_map,
                                                 unmapped_classes)
        self.score_thr, self.min_box_px = float(score_thr), float(min_box_px)
        self.min_visible_fraction = float(min_visible_fraction)
        self.max_persons, self.max_objects = int(max_persons), int(max_objects)

    def __call__(self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, width: int,
                 height: int) -> dict:
        return select_detections(boxes, scores, labels, self.targets, width, height,
                                 self.score_thr, self.min_box_px,
                                 self.min_visible_fraction, self.max_persons, self.max_objects)
