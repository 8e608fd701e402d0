"""Pose stage of the extraction pipeline: an MMPose top-down model on the detected persons.

``mmpose.apis.inference_topdown`` batches the persons of one image; this stage batches the
persons of every frame of a row into one ``test_step``, through the model's own test pipeline.
"""

from __future__ import annotations

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from actors.openmmlab_models import (
    ModelChoice,
    example_frame,
    load_pose_model,
    run_network_with_onnx,
    set_inference_threads,
)
from model.datasets.feature_table import NUM_KEYPOINTS
from model.device import local_device


class PoseStage:
    """Row with ``frames`` and ``person_boxes`` / ``num_persons`` -> the row with
    ``keypoints`` (B, M, 17, 2) and ``keypoint_scores`` (B, M, 17) in frame pixels, and
    without ``frames`` (no later stage needs pixels)."""

    def __init__(self, choice: ModelChoice, num_cpus: float = 1.0, backend: str = "torch"):
        set_inference_threads(num_cpus)
        self.model, self.pipeline = load_pose_model(choice, local_device())
        if backend == "onnx":
            with DefaultScope.overwrite_default_scope("mmpose"):
                data = self.model.data_preprocessor(pseudo_collate(
                    [self._sample(example_frame(),
                                  np.array([100, 50, 200, 300], np.float32))]))
            run_network_with_onnx(self.model, "pose", data["inputs"], int(num_cpus))
        elif backend != "torch":
            raise ValueError(f"pose.backend must be 'torch' or 'onnx', got {backend!r}")

    def _sample(self, frame: np.ndarray, box: np.ndarray) -> dict:
        info = dict(img=frame, bbox=box[None].astype(np.float32),
                    bbox_score=np.ones(1, np.float32))
        info.update(self.model.dataset_meta)
        return self.pipeline(info)

    def estimate(self, frames: np.ndarray, boxes: np.ndarray,
                 counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b, m = boxes.shape[:2]
        keypoints = np.zeros((b, m, NUM_KEYPOINTS, 2), np.float32)
        scores = np.zeros((b, m, NUM_KEYPOINTS), np.float32)
        slots = [(t, s) for t in range(b) for s in range(int(counts[t]))]
        if not slots:
            return keypoints, scores
        with DefaultScope.overwrite_default_scope("mmpose"), torch.no_grad():
            samples = [self._sample(frames[t], boxes[t, s]) for t, s in slots]
            results = self.model.test_step(pseudo_collate(samples))
        for (t, s), result in zip(slots, results, strict=True):
            keypoints[t, s] = result.pred_instances.keypoints[0]
            scores[t, s] = result.pred_instances.keypoint_scores[0]
        return keypoints, scores

    def __call__(self, row: dict) -> dict:
        row["keypoints"], row["keypoint_scores"] = self.estimate(
            row.pop("frames"), row["person_boxes"], row["num_persons"])
        return row
