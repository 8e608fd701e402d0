"""The pose model of the frame path: frames and person boxes -> COCO-17 keypoints and scores.

The persons of every frame of a call go through the network together, as one batch of crops.
Two backends give the same keypoints (the parity test holds them to 0.5 px):

* "onnx": the top-down crop in NumPy/OpenCV with MMPose's own geometry (``bbox_xyxy2cs``,
  ``TopdownAffine``'s aspect-ratio fix and ``get_warp_matrix``), the network in ONNX Runtime,
  the head's codec (``head.decode``: SimCC or heatmaps) and the crop-to-frame transform of
  ``TopdownPoseEstimator``. Without flip testing only (as the shipped model runs).
* "torch": MMPose's test pipeline and ``test_step`` (any top-down model), on the GPU when
  there is one.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from model.datasets.coco_keypoints import NUM_KEYPOINTS
from model.device import local_device
from model.frame_path.models import ModelChoice, load_pose_model
from model.frame_path.networks import export_image_network, resolve_backend

Poses = tuple[np.ndarray, np.ndarray]   # keypoints (P, 17, 2) in frame pixels, scores (P, 17)


class TopdownCrop:
    """``GetBBoxCenterScale`` + ``TopdownAffine`` of a test pipeline for many boxes at once:
    each box's crop warped straight into one batch buffer."""

    HANDLED = {"LoadImage", "GetBBoxCenterScale", "TopdownAffine", "PackPoseInputs"}

    def __init__(self, pipeline: Sequence[dict]):
        types = [str(step["type"]).split(".")[-1] for step in pipeline]
        others = [t for t in types if t not in self.HANDLED]
        if others or "TopdownAffine" not in types:
            raise ValueError(f"the test pipeline has {others or 'no TopdownAffine'}; the NumPy "
                             "path crops with GetBBoxCenterScale and TopdownAffine only")
        steps = {str(step["type"]).split(".")[-1]: step for step in pipeline}
        affine = steps["TopdownAffine"]
        self.padding = float(steps.get("GetBBoxCenterScale", {}).get("padding", 1.25))
        self.input_size = tuple(int(v) for v in affine["input_size"])    # (w, h)
        self.use_udp = bool(affine.get("use_udp", False))

    def centre_scale(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(centres (N, 2), scales (N, 2)) of boxes (N, 4), as the pipeline sets them."""
        from mmpose.datasets.transforms import TopdownAffine
        from mmpose.structures.bbox import bbox_xyxy2cs

        centre, scale = bbox_xyxy2cs(boxes.astype(np.float32), padding=self.padding)
        w, h = self.input_size
        return centre, TopdownAffine._fix_aspect_ratio(scale, aspect_ratio=w / h)

    def __call__(self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(crops (N, h, w, 3) uint8, centres (N, 2), scales (N, 2)) of every box of every
        frame, frame by frame (``boxes[i]`` (P_i, 4) belong to ``frames[i]``)."""
        from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix

        warp = get_udp_warp_matrix if self.use_udp else get_warp_matrix
        flat = np.concatenate([np.asarray(b, np.float32).reshape(-1, 4) for b in boxes])
        centres, scales = self.centre_scale(flat)
        w, h = self.input_size
        crops = np.empty((len(flat), h, w, 3), np.uint8)
        i = 0
        for frame, frame_boxes in zip(frames, boxes, strict=True):
            for _ in range(len(frame_boxes)):
                matrix = warp(centres[i], scales[i], 0.0, output_size=(w, h))
                cv2.warpAffine(frame, matrix, (w, h), dst=crops[i], flags=cv2.INTER_LINEAR)
                i += 1
        return crops, centres, scales


class PoseEstimator:
    """An MMPose top-down model (``ModelChoice``) on the persons of batches of BGR frames; see
    the module doc. ``threads``: intra-op threads of its backend."""

    def __init__(self, choice: ModelChoice, backend: str = "auto", threads: int = 1):
        device = local_device()
        cpu_model, pipeline = load_pose_model(choice, torch.device("cpu"))
        try:
            crop = TopdownCrop(cpu_model.cfg.test_dataloader.dataset.pipeline)
            support = None
            if cpu_model.cfg.model.get("test_cfg", {}).get("flip_test", False):
                support = "flip testing is on (set model.test_cfg.flip_test=False)"
        except ValueError as exc:
            support = str(exc)
        self.backend = resolve_backend(backend, support, "pose")
        if self.backend == "torch":
            self.model, self.pipeline = (cpu_model, pipeline) if device.type == "cpu" \
                else load_pose_model(choice, device)
            return
        self.model, self.crop = cpu_model, crop
        w, h = crop.input_size
        example = np.random.default_rng(0).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
        self.network = export_image_network(cpu_model, "head", "mmpose", example,
                                            dynamic_size=False, threads=threads)

    def __call__(self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
                 ) -> list[Poses]:
        """Per frame, the keypoints (P, 17, 2) in frame pixels and their scores (P, 17) of its
        person boxes ``boxes[i]`` (P_i, 4)."""
        counts = [len(b) for b in boxes]
        if not sum(counts):
            return [(np.zeros((0, NUM_KEYPOINTS, 2), np.float32),
                     np.zeros((0, NUM_KEYPOINTS), np.float32)) for _ in counts]
        keypoints, scores = (self._toolbox if self.backend == "torch" else self._onnx)(
            frames, boxes)
        bounds = np.cumsum([0] + counts)
        return [(keypoints[a:b], scores[a:b]) for a, b in zip(bounds[:-1], bounds[1:],
                                                              strict=True)]

    def _onnx(self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray]:
        crops, centres, scales = self.crop(frames, boxes)
        outputs = self.network.run(crops)
        decoded = self.model.head.decode(tuple(torch.from_numpy(o) for o in outputs)
                                         if len(outputs) > 1 else torch.from_numpy(outputs[0]))
        keypoints = np.stack([d.keypoints[0] for d in decoded]).astype(np.float32)
        scores = np.stack([d.keypoint_scores[0] for d in decoded]).astype(np.float32)
        # TopdownPoseEstimator.add_pred_to_datasample: crop pixels -> frame pixels.
        size = np.asarray(self.crop.input_size, np.float32)
        keypoints = keypoints / size * scales[:, None] + centres[:, None] - 0.5 * scales[:, None]
        return keypoints, scores

    def _toolbox(self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
        samples = []
        for frame, frame_boxes in zip(frames, boxes, strict=True):
            for box in np.asarray(frame_boxes, np.float32).reshape(-1, 4):
                info = dict(img=frame, bbox=box[None], bbox_score=np.ones(1, np.float32))
                info.update(self.model.dataset_meta)
                samples.append(self.pipeline(info))
        with DefaultScope.overwrite_default_scope("mmpose"), torch.no_grad():
            results = self.model.test_step(pseudo_collate(samples))
        return (np.stack([r.pred_instances.keypoints[0] for r in results]).astype(np.float32),
                np.stack([r.pred_instances.keypoint_scores[0]
                          for r in results]).astype(np.float32))
