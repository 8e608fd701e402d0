"""Training augmentations of pose and objects, in centred coordinates.

They run after a normalizer (``PersonCentricNormalize``: the body centre is the origin, so a flip
or a rotation is about the body; ``ImageFrameNormalize`` for the object-only model: about the
image centre) and before the object encoders. MMAction2's own ``Flip`` flips keypoints in pixels
but not our object boxes; one transform must flip both with the same random draw, hence
``RandomFlipLR``. Each stream is optional: an ablation's samples hold only its own.
"""

from __future__ import annotations

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from model.transforms.keys import COORD_FRAME, LEFT_JOINTS, RIGHT_JOINTS, require
from model.transforms.temporal import OBJECT_KEYS


def _check_prob(prob: float) -> float:
    if not 0 <= prob <= 1:
        raise ValueError(f"probability must be in [0, 1], got {prob}")
    return prob


def _valid_objects(results: dict) -> np.ndarray:
    return results["object_classes"] >= 0


@TRANSFORMS.register_module()
class RandomFlipLR(BaseTransform):
    """Mirror the scene left-right: negate x, swap left/right joints, mirror the boxes.

    Required keys: ``coord_frame``. Optional keys: ``keypoint`` with ``keypoint_score``,
    ``object_boxes`` with ``object_classes``. Modified keys: those.
    """

    def __init__(self, prob: float = 0.5):
        self.prob = _check_prob(prob)
        self.order = np.arange(17)
        self.order[list(LEFT_JOINTS)] = RIGHT_JOINTS
        self.order[list(RIGHT_JOINTS)] = LEFT_JOINTS

    def transform(self, results: dict) -> dict:
        require(self, results, (COORD_FRAME,))
        if np.random.rand() >= self.prob:
            return results
        if "keypoint" in results:
            require(self, results, ("keypoint_score",))
            kp = results["keypoint"][..., self.order, :].copy()
            kp[..., 0] = -kp[..., 0]
            results["keypoint"] = kp
            results["keypoint_score"] = results["keypoint_score"][..., self.order]
        if "object_boxes" not in results:
            return results
        require(self, results, ("object_classes",))
        boxes = results["object_boxes"]
        mirrored = np.stack([-boxes[..., 2], boxes[..., 1], -boxes[..., 0], boxes[..., 3]], -1)
        results["object_boxes"] = np.where(_valid_objects(results)[..., None], mirrored, 0.0
                                           ).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(prob={self.prob})"


@TRANSFORMS.register_module()
class RandomAffine2D(BaseTransform):
    """Random scale, rotation and shift of keypoints and boxes (boxes re-fitted to corners).

    Required keys: ``coord_frame``. Optional keys: ``keypoint``, ``object_boxes`` with
    ``object_classes``. Modified keys: those.

    Args:
        scale: range of the isotropic scale factor.
        rotate_deg: maximum absolute rotation in degrees.
        shift: maximum absolute shift, in units of the coordinate frame (body scale or image
            height).
    """

    def __init__(self, scale: tuple[float, float] = (0.9, 1.1), rotate_deg: float = 10.0,
                 shift: float = 0.1):
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must satisfy 0 < low <= high, got {scale}")
        self.scale = tuple(scale)
        self.rotate_deg = rotate_deg
        self.shift = shift

    def transform(self, results: dict) -> dict:
        require(self, results, (COORD_FRAME,))
        s = np.random.uniform(*self.scale)
        a = np.deg2rad(np.random.uniform(-self.rotate_deg, self.rotate_deg))
        matrix = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
        offset = np.random.uniform(-self.shift, self.shift, size=2).astype(np.float32)
        if "keypoint" in results:
            results["keypoint"] = (results["keypoint"] @ matrix.T + offset).astype(np.float32)
        if "object_boxes" not in results:
            return results
        require(self, results, ("object_classes",))
        boxes = results["object_boxes"]
        corners = np.stack([boxes[..., [0, 1]], boxes[..., [2, 1]], boxes[..., [0, 3]],
                            boxes[..., [2, 3]]], axis=-2) @ matrix.T + offset
        refit = np.concatenate([corners.min(-2), corners.max(-2)], -1)
        results["object_boxes"] = np.where(_valid_objects(results)[..., None], refit, 0.0
                                           ).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(scale={self.scale}, rotate_deg={self.rotate_deg}, "
                f"shift={self.shift})")


@TRANSFORMS.register_module()
class KeypointNoise(BaseTransform):
    """Gaussian jitter of every joint, in body-scale units (pose-estimator noise).

    Required keys: ``keypoint``, ``coord_frame``. Modified keys: ``keypoint``.
    """

    def __init__(self, std: float = 0.02):
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.std = std

    def transform(self, results: dict) -> dict:
        require(self, results, ("keypoint", COORD_FRAME))
        kp = results["keypoint"]
        results["keypoint"] = (kp + np.random.normal(0, self.std, kp.shape)).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(std={self.std})"


@TRANSFORMS.register_module()
class JointDropout(BaseTransform):
    """Occlusions: each joint of each person is lost (score 0) over a random time span.

    Required keys: ``keypoint_score``. Modified keys: ``keypoint_score``.

    Args:
        prob: probability that a given joint of a given person is occluded in the sample.
        max_span: longest occlusion, as a fraction of the sample's frames.
    """

    def __init__(self, prob: float = 0.05, max_span: float = 0.5):
        self.prob = _check_prob(prob)
        self.max_span = _check_prob(max_span)

    def transform(self, results: dict) -> dict:
        require(self, results, ("keypoint_score",))
        score = results["keypoint_score"].copy()
        num_person, total, num_joints = score.shape
        for m, v in np.argwhere(np.random.rand(num_person, num_joints) < self.prob):
            length = max(1, int(total * np.random.uniform(0, self.max_span)))
            start = np.random.randint(0, total - length + 1)
            score[m, start:start + length, v] = 0.0
        results["keypoint_score"] = score
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(prob={self.prob}, max_span={self.max_span})"


@TRANSFORMS.register_module()
class ObjectDropout(BaseTransform):
    """Missed detections: each object detection is removed with probability ``prob``.

    Required keys: ``object_boxes``, ``object_classes``, ``object_scores``,
    ``object_track_ids``. Modified keys: the four of them (removed slots: class and track -1,
    zero box and score).
    """

    def __init__(self, prob: float = 0.1):
        self.prob = _check_prob(prob)

    def transform(self, results: dict) -> dict:
        require(self, results, OBJECT_KEYS)
        drop = np.random.rand(*results["object_classes"].shape) < self.prob
        results["object_classes"] = np.where(drop, -1, results["object_classes"])
        results["object_track_ids"] = np.where(drop, -1, results["object_track_ids"])
        results["object_scores"] = np.where(drop, 0.0, results["object_scores"]
                                            ).astype(np.float32)
        results["object_boxes"] = np.where(drop[..., None], 0.0, results["object_boxes"]
                                           ).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(prob={self.prob})"


@TRANSFORMS.register_module()
class InjectFalseObjects(BaseTransform):
    """False detections: with probability ``prob`` per frame, a random object fills an empty
    slot somewhere around the centre (untracked: a detector's false positives rarely persist).

    Required keys: ``object_boxes``, ``object_classes``, ``object_scores``,
    ``object_track_ids``, ``coord_frame``. Modified keys: the object arrays.

    Args:
        num_classes: number of object classes to draw from.
        prob: probability per frame.
        extent: false boxes are centred within [-extent, extent] units of the coordinate frame
            (body scale or image height).
        size: range of their side lengths, in the same units.
        score: range of their detection scores.
    """

    def __init__(self, num_classes: int, prob: float = 0.05, extent: float = 3.0,
                 size: tuple[float, float] = (0.1, 1.0), score: tuple[float, float] = (0.3, 0.6)):
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.prob = _check_prob(prob)
        self.extent = extent
        self.size = tuple(size)
        self.score = tuple(score)

    def transform(self, results: dict) -> dict:
        require(self, results, OBJECT_KEYS + (COORD_FRAME,))
        classes = results["object_classes"].copy()
        boxes = results["object_boxes"].copy()
        scores = results["object_scores"].copy()
        for t in np.flatnonzero(np.random.rand(classes.shape[0]) < self.prob):
            empty = np.flatnonzero(classes[t] < 0)
            if empty.size == 0:
                continue
            slot = empty[0]  # its track id is already -1 (empty slot)
            center = np.random.uniform(-self.extent, self.extent, 2)
            half = np.random.uniform(*self.size, 2) / 2
            boxes[t, slot] = np.concatenate([center - half, center + half])
            classes[t, slot] = np.random.randint(self.num_classes)
            scores[t, slot] = np.random.uniform(*self.score)
        results.update(object_classes=classes, object_boxes=boxes, object_scores=scores)
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_classes={self.num_classes}, prob={self.prob}, "
                f"extent={self.extent}, size={self.size}, score={self.score})")
