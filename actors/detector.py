"""Detector stage of the extraction pipeline: an MMDetection model on batches of frames.

Ray Data calls ``DetectorStage`` once per frame-batch row (see ``actors.video_decode``); the
model is loaded once per actor. ``mmdet.apis.inference_detector`` runs one image per forward,
so the stage applies the model's own test pipeline to every frame and runs one batched
``test_step``, which is what that function does for one image.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from actors.openmmlab_models import (
    ModelChoice,
    example_frame,
    load_detector,
    run_network_with_onnx,
    set_inference_threads,
)
from model.device import local_device

logger = logging.getLogger(__name__)

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
                      min_box_px: float, max_persons: int, max_objects: int) -> dict:
    """The top-scoring persons and objects of one frame, padded to fixed slot counts.

    Boxes are clipped to the frame; non-finite boxes, boxes smaller than ``min_box_px`` and
    classes the dataset does not have are dropped."""
    finite = np.isfinite(scores) & np.isfinite(boxes).all(1)
    boxes = np.clip(np.where(np.isfinite(boxes), boxes, 0), 0, [width, height, width, height])
    size_ok = ((boxes[:, 2] - boxes[:, 0]) >= min_box_px) & \
        ((boxes[:, 3] - boxes[:, 1]) >= min_box_px)
    target = targets[labels]
    keep = finite & size_ok & (scores >= score_thr) & (target != DROPPED)
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


class DetectorStage:
    """Frame-batch row -> the same row plus the frame's persons and objects (see
    ``select_detections``; boxes in the row's frame pixels), stacked over the batch."""

    def __init__(self, choice: ModelChoice, object_classes: tuple[str, ...],
                 class_map: dict[str, str], score_thr: float, min_box_px: float,
                 max_persons: int, max_objects: int, unmapped_classes: str = "drop",
                 num_cpus: float = 1.0, backend: str = "torch"):
        set_inference_threads(num_cpus)
        self.model, self.pipeline, detector_classes = load_detector(choice, local_device())
        if backend == "onnx":
            # An example frame of the rendered videos' size; other sizes run too (dynamic
            # axes), the export is checked on this one.
            with DefaultScope.overwrite_default_scope("mmdet"):
                data = self.model.data_preprocessor(pseudo_collate(
                    [self.pipeline(dict(img=example_frame(), img_id=0))]))
            run_network_with_onnx(self.model, "detector", data["inputs"], int(num_cpus))
        elif backend != "torch":
            raise ValueError(f"detector.backend must be 'torch' or 'onnx', got {backend!r}")
        self.targets, notes = class_targets(detector_classes, object_classes, class_map,
                                            unmapped_classes)
        for note in notes:
            logger.warning("%s", note)
        self.score_thr, self.min_box_px = score_thr, min_box_px
        self.max_persons, self.max_objects = max_persons, max_objects

    def detect(self, frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(boxes (K, 4), scores (K,), labels (K,)) of every frame, as the model gives them."""
        with DefaultScope.overwrite_default_scope("mmdet"), torch.no_grad():
            data = pseudo_collate([self.pipeline(dict(img=f, img_id=i))
                                   for i, f in enumerate(frames)])
            results = self.model.test_step(data)
        return [(r.pred_instances.bboxes.cpu().numpy(), r.pred_instances.scores.cpu().numpy(),
                 r.pred_instances.labels.cpu().numpy()) for r in results]

    def __call__(self, row: dict) -> dict:
        frames = row["frames"]
        per_frame = [] if row["error"] or not len(frames) else [
            select_detections(boxes, scores, labels, self.targets, frames.shape[2],
                              frames.shape[1], self.score_thr, self.min_box_px,
                              self.max_persons, self.max_objects)
            for boxes, scores, labels in self.detect(frames)]
        row.update(stack_detections(per_frame, self.max_persons, self.max_objects))
        return row


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
