"""Centred coordinates: relative to the operator's body (pose and fused models), or to the image
(the object-only model, which must not see anything computed from the skeleton)."""

from __future__ import annotations

import warnings

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from model.transforms.keys import COORD_FRAME, HIPS, SHOULDERS, require

TORSO = SHOULDERS + HIPS


def _median_or_none(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else None


@TRANSFORMS.register_module()
class PersonCentricNormalize(BaseTransform):
    """Express keypoints and object boxes relative to the subject's body.

    One centre and one scale per sample (not per frame), taken from person 0 (the subject),
    so that the body's own motion within the clip is kept:

    * centre: median over frames of the mean of the visible torso joints (shoulders, hips);
      else of all visible joints; else the image centre;
    * scale: median over frames of the torso length (mid-shoulder to mid-hip) where all four
      torso joints are visible; else ``extent_ratio`` x the median extent of the visible joints;
      else ``extent_ratio`` x the image height.

    Coordinates become ``(p - centre) / scale`` for every person and for the object boxes.

    Required keys: ``keypoint`` (M, T, V, 2), ``keypoint_score`` (M, T, V), ``img_shape``.
    Optional keys: ``object_boxes`` (T, N, 4) with ``object_classes`` (T, N), -1 = empty slot.
    Modified keys: ``keypoint``, ``object_boxes``. Added keys: ``body_center``, ``body_scale``,
    ``coord_frame`` ("body").

    Args:
        min_score: joints scoring at or below this count as missing.
        extent_ratio: torso length relative to the extent of the body, for the fallbacks.
    """

    def __init__(self, min_score: float = 0.05, extent_ratio: float = 0.3):
        if not 0 <= min_score < 1:
            raise ValueError(f"min_score must be in [0, 1), got {min_score}")
        if extent_ratio <= 0:
            raise ValueError(f"extent_ratio must be positive, got {extent_ratio}")
        self.min_score = min_score
        self.extent_ratio = extent_ratio

    def _center_scale(self, kp: np.ndarray, visible: np.ndarray,
                      img_shape: tuple[int, int]) -> tuple[np.ndarray, float]:
        height, width = img_shape
        with np.errstate(invalid="ignore"):  # frames without visible joints give NaN
            torso_vis = visible[:, TORSO]
            torso_mean = (kp[:, TORSO] * torso_vis[..., None]).sum(1) / torso_vis.sum(1)[:, None]
            all_mean = (kp * visible[..., None]).sum(1) / visible.sum(1)[:, None]
        center = None
        for candidate in (torso_mean, all_mean):
            cx, cy = _median_or_none(candidate[:, 0]), _median_or_none(candidate[:, 1])
            if cx is not None:
                center = np.array([cx, cy], np.float32)
                break
        if center is None:
            center = np.array([width / 2, height / 2], np.float32)

        full_torso = visible[:, TORSO].all(1)
        mid_shoulder = kp[:, SHOULDERS].mean(1)
        mid_hip = kp[:, HIPS].mean(1)
        torso = np.linalg.norm(mid_shoulder - mid_hip, axis=-1)
        scale = _median_or_none(np.where(full_torso, torso, np.nan))
        if not scale:
            masked = np.where(visible[..., None], kp, np.nan)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # frames with no visible joint
                extent = np.nanmax(masked, axis=1) - np.nanmin(masked, axis=1)
            extent = _median_or_none(np.max(extent, axis=-1))
            scale = self.extent_ratio * extent if extent else None
        if not scale:
            scale = self.extent_ratio * height
        return center, float(scale)

    def transform(self, results: dict) -> dict:
        require(self, results, ("keypoint", "keypoint_score", "img_shape"))
        kp = results["keypoint"].astype(np.float32)
        score = results["keypoint_score"]
        visible = score[0] > self.min_score
        center, scale = self._center_scale(kp[0], visible, results["img_shape"])
        results["keypoint"] = (kp - center) / scale
        if "object_boxes" in results:
            require(self, results, ("object_classes",))
            boxes = (results["object_boxes"].astype(np.float32) - np.tile(center, 2)) / scale
            results["object_boxes"] = np.where(results["object_classes"][..., None] >= 0,
                                               boxes, 0.0).astype(np.float32)
        results["body_center"] = center
        results["body_scale"] = scale
        results[COORD_FRAME] = "body"
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(min_score={self.min_score}, "
                f"extent_ratio={self.extent_ratio})")


@TRANSFORMS.register_module()
class ImageFrameNormalize(BaseTransform):
    """Object boxes relative to the image: ``(p - image centre) / image height``.

    The object-only model's normalizer: nothing in it comes from the skeleton, so the x range
    is +-width / (2 height) and y is +-0.5 whatever the frame size.

    Required keys: ``object_boxes`` (T, N, 4), ``object_classes`` (T, N), ``img_shape``.
    Modified keys: ``object_boxes``. Added keys: ``coord_frame`` ("image").
    """

    def transform(self, results: dict) -> dict:
        require(self, results, ("object_boxes", "object_classes", "img_shape"))
        height, width = results["img_shape"]
        center = np.array([width / 2, height / 2] * 2, np.float32)
        boxes = (results["object_boxes"].astype(np.float32) - center) / np.float32(height)
        results["object_boxes"] = np.where(results["object_classes"][..., None] >= 0, boxes,
                                           0.0).astype(np.float32)
        results[COORD_FRAME] = "image"
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


@TRANSFORMS.register_module()
class ZeroMissingJoints(BaseTransform):
    """Set the coordinates of missing joints (score <= ``min_score``) to 0, the body centre.

    Pose estimators put arbitrary coordinates on joints they cannot see; zeroing them keeps
    that noise out of the model, which still knows the joint is missing from its score.
    Leave it out for data whose hidden joints are annotated by hand (see the Penn configs).

    Required keys: ``keypoint``, ``keypoint_score``. Modified keys: ``keypoint``.
    """

    def __init__(self, min_score: float = 0.05):
        self.min_score = min_score

    def transform(self, results: dict) -> dict:
        require(self, results, ("keypoint", "keypoint_score"))
        missing = results["keypoint_score"] <= self.min_score
        results["keypoint"] = np.where(missing[..., None], 0.0,
                                       results["keypoint"]).astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(min_score={self.min_score})"
