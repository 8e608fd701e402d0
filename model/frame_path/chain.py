"""The frame path assembled from an extraction config (model/configs/extraction/): detection,
pose and tracking settings, the two model stages, and a whole video in one process.

``DetectionStage`` and ``PoseStage`` are stateless (batches of frames in, arrays out), so they
can run anywhere: in Ray Data actors (actors/frame_stages.py), in Serve replicas
(serve/deployments.py) or here. Tracking and the feature rows carry state from frame to frame
and run where the frames come together in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mmengine.config import Config

from model.datasets.annotation import DatasetSpec
from model.datasets.coco_keypoints import NUM_KEYPOINTS
from model.frame_path.detections import DetectionSelector, stack_detections
from model.frame_path.detector import Detector
from model.frame_path.keypoint_scores import KeypointScores, keypoint_scores
from model.frame_path.models import ModelChoice, choose_model, set_inference_threads
from model.frame_path.pose import PoseEstimator
from model.frame_path.rows import PERCEPTION, VideoRows, video_rows
from model.frame_path.tracking import Tracker
from model.frame_path.video import VideoError, VideoInfo, read_frames

logger = logging.getLogger(__name__)

# The extraction config of the shipped detector, pose model and tracker (trained_models/): what
# jobs.extract and jobs.infer run unless told otherwise, and the service's frame path.
SHIPPED_EXTRACTION = "model/configs/extraction/workcell.py"


@dataclass(frozen=True)
class FramePathSettings:
    """What the stages of the frame path need from an extraction config (picklable: it is
    handed to Ray actors and Serve replicas)."""

    detector: ModelChoice
    pose: ModelChoice
    detector_backend: str
    pose_backend: str
    object_classes: tuple[str, ...]
    class_map: dict
    unmapped_classes: str
    score_thr: float
    min_box_px: float
    min_visible_fraction: float
    max_persons: int
    max_objects: int
    batch_frames: int
    tracker: dict
    keypoint_scores: KeypointScores

    @classmethod
    def from_config(cls, config: Config, object_classes: tuple[str, ...],
                    random_weights: bool = False) -> FramePathSettings:
        det = config.detector
        pose = choose_model(config, "pose", random_weights)
        return cls(detector=choose_model(config, "detector", random_weights), pose=pose,
                   detector_backend=str(det.get("backend", "auto")),
                   pose_backend=str(config.pose.get("backend", "auto")),
                   object_classes=tuple(object_classes), class_map=dict(det.class_map),
                   unmapped_classes=str(det.unmapped_classes),
                   score_thr=float(det.score_thr), min_box_px=float(det.min_box_px),
                   min_visible_fraction=float(det.min_visible_fraction),
                   max_persons=int(config.table.max_persons),
                   max_objects=int(config.table.max_objects),
                   batch_frames=int(det.batch_frames), tracker=config.tracker.to_dict(),
                   keypoint_scores=keypoint_scores(config.pose.get("calibration"),
                                                   pose.checkpoint,
                                                   config.pose.get("missing_below")))

    def models(self) -> dict:
        """The two models as reports and table metadata describe them."""
        return {"detector": self.detector.describe(),
                "pose": {**self.pose.describe(), **self.keypoint_scores.describe()}}


class DetectionStage:
    """Frames -> their persons and objects (``select_detections``' padded arrays, stacked
    over the frames)."""

    def __init__(self, settings: FramePathSettings, threads: int = 1):
        threads = set_inference_threads(threads)
        self.detector = Detector(settings.detector, settings.detector_backend, threads)
        self.selector = DetectionSelector(self.detector.classes, settings.object_classes,
                                          settings.class_map, settings.score_thr,
                                          settings.min_box_px,
                                          settings.min_visible_fraction, settings.max_persons,
                                          settings.max_objects, settings.unmapped_classes)
        for note in self.selector.notes:
            logger.warning("%s", note)

    def __call__(self, frames: list[np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        per_frame = [self.selector(boxes, scores, labels, frame.shape[1], frame.shape[0])
                     for frame, (boxes, scores, labels) in zip(frames, self.detector(frames),
                                                               strict=True)]
        return stack_detections(per_frame, self.selector.max_persons,
                                self.selector.max_objects)


class PoseStage:
    """Frames and their detected persons -> ``keypoints`` (B, M, 17, 2) and
    ``keypoint_scores`` (B, M, 17) of the filled person slots (zeros in the empty ones), the
    scores calibrated and missing joints marked (``KeypointScores``)."""

    def __init__(self, settings: FramePathSettings, threads: int = 1):
        threads = set_inference_threads(threads)
        self.estimator = PoseEstimator(settings.pose, settings.pose_backend, threads)
        self.scoring = settings.keypoint_scores

    def __call__(self, frames: list[np.ndarray] | np.ndarray, person_boxes: np.ndarray,
                 num_persons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b, m = person_boxes.shape[:2]
        keypoints = np.zeros((b, m, NUM_KEYPOINTS, 2), np.float32)
        scores = np.zeros((b, m, NUM_KEYPOINTS), np.float32)
        poses = self.per_frame(frames, [person_boxes[t, :int(num_persons[t])]
                                        for t in range(b)])
        for t, (kp, sc) in enumerate(poses):
            keypoints[t, :len(kp)], scores[t, :len(kp)] = kp, sc
        return keypoints, scores

    def per_frame(self, frames: list[np.ndarray] | np.ndarray, boxes: list[np.ndarray]
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per frame, the keypoints (P, 17, 2) and calibrated scores (P, 17) of its person
        boxes (P, 4); the persons of every frame go through the network together."""
        return [self.scoring(kp, sc) for kp, sc in self.estimator(frames, boxes)]


class FramePath:
    """decode -> detect -> pose -> track -> feature rows of whole videos, in this process
    (jobs.infer, the extraction job's plain loop, tests)."""

    def __init__(self, settings: FramePathSettings, threads: int = 1):
        self.settings = settings
        self.detection = DetectionStage(settings, threads)
        self.poses = PoseStage(settings, threads)

    def perceive(self, frames: list[np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        """The ``PERCEPTION`` arrays of a batch of frames (leading axis: the frames)."""
        out = self.detection(frames)
        out["keypoints"], out["keypoint_scores"] = self.poses(frames, out["person_boxes"],
                                                              out["num_persons"])
        return out

    def batches(self, path: str | Path, info: VideoInfo, stride: int = 1
                ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """(source frame indices, ``PERCEPTION`` arrays) of a video's kept frames, a batch of
        ``batch_frames`` at a time; ``VideoError`` where the file breaks off."""
        indices, frames = [], []
        for index, frame in read_frames(path, 0, info.num_frames, stride):
            indices.append(index)
            frames.append(frame)
            if len(frames) == self.settings.batch_frames:
                yield np.asarray(indices), self.perceive(frames)
                indices, frames = [], []
        if frames:
            yield np.asarray(indices), self.perceive(frames)

    def video(self, path: str | Path, video_id: str, info: VideoInfo, stride: int = 1, *,
              doc: dict | None = None, spec: DatasetSpec | None = None, min_iou: float = 0.0,
              progress: Callable[[int], object] | None = None) -> VideoRows:
        """The feature rows of one video file (labelled from ``doc`` when given);
        ``progress`` is called with the frames done after each batch."""
        parts, indices = [], []
        for index, perception in self.batches(path, info, stride):
            parts.append(perception)
            indices.append(index)
            if progress is not None:
                progress(len(index))
        if not parts:
            raise VideoError(path, "no frame was decoded")
        frames = {k: np.concatenate([p[k] for p in parts]) for k in PERCEPTION}
        return video_rows(frames, np.concatenate(indices), video_id, info.fps / stride,
                          info.width, info.height, Tracker(self.settings.tracker), doc=doc,
                          spec=spec, min_iou=min_iou)
