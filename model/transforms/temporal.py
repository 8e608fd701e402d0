"""Temporal transforms that keep the pose and object streams of a sample in sync.

Frame sampling itself is MMAction2's ``UniformSampleFrames`` + ``PoseDecode`` (and
``CausalSampleFrames`` for the timeline head's per-step windows); ``ObjectDecode`` applies the
same ``frame_inds`` to the object arrays, so both streams see the same frames.
"""

from __future__ import annotations

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from model.transforms.keys import require

OBJECT_KEYS = ("object_boxes", "object_classes", "object_scores", "object_track_ids")
TIME_MAJOR_POSE_KEYS = ("keypoint", "keypoint_score")  # (M, T, ...): time is axis 1


@TRANSFORMS.register_module()
class ObjectDecode(BaseTransform):
    """Index the object arrays with the frame indices chosen for the pose.

    Required keys: ``frame_inds``, ``object_boxes`` (T, N, 4), ``object_classes`` (T, N),
    ``object_scores`` (T, N), ``object_track_ids`` (T, N). Modified keys: the object arrays,
    now (len(frame_inds), N, ...).
    Place it right after ``PoseDecode``.
    """

    def transform(self, results: dict) -> dict:
        require(self, results, ("frame_inds",) + OBJECT_KEYS)
        inds = results["frame_inds"] + results.get("offset", 0)
        for key in OBJECT_KEYS:
            results[key] = results[key][inds]
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


@TRANSFORMS.register_module()
class TemporalSpeedJitter(BaseTransform):
    """Keep a random contiguous part of the sample, as a speed change of the motion.

    ``UniformSampleFrames`` then stretches the part to ``clip_len`` frames, so keeping a
    fraction r of the frames plays the motion 1/r times slower. Applied to pose and objects
    alike, before sampling.

    Required keys: ``total_frames``. Optional keys: ``keypoint``, ``keypoint_score``, the object
    arrays (whichever streams the sample holds). Modified keys: those and ``total_frames``.

    Args:
        ratio: range of the kept fraction of the frames.
        prob: probability of applying the jitter to a sample.
    """

    def __init__(self, ratio: tuple[float, float] = (0.75, 1.0), prob: float = 1.0):
        if not 0 < ratio[0] <= ratio[1] <= 1:
            raise ValueError(f"ratio must satisfy 0 < low <= high <= 1, got {ratio}")
        if not 0 <= prob <= 1:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        self.ratio = tuple(ratio)
        self.prob = prob

    def transform(self, results: dict) -> dict:
        require(self, results, ("total_frames",))
        total = results["total_frames"]
        if np.random.rand() >= self.prob:
            return results
        keep = max(1, int(round(total * np.random.uniform(*self.ratio))))
        start = np.random.randint(0, total - keep + 1)
        span = slice(start, start + keep)
        for key in TIME_MAJOR_POSE_KEYS:
            if key in results:
                results[key] = results[key][:, span]
        for key in OBJECT_KEYS:
            if key in results:
                results[key] = results[key][span]
        results["total_frames"] = keep
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(ratio={self.ratio}, prob={self.prob})"


@TRANSFORMS.register_module()
class CausalSampleFrames(BaseTransform):
    """Sample ``clip_len`` frames of a window in time order, its newest frame last: the
    sampler of the per-step features of the timeline head, whose windows end at the step.

    ``UniformSampleFrames`` loops a window shorter than ``clip_len`` (frames 0..n-1, 0, 1,
    ...), so its last sampled frame is not the newest and the recognizer's last temporal
    features would describe the past. Here a short window is padded at its start with its
    first frame (a stream that begins with the operator still), and a long one is sampled
    evenly from its first to its newest frame.

    Required keys: ``total_frames``. Added keys: ``frame_inds``, ``clip_len``,
    ``frame_interval``, ``num_clips`` (1), as ``UniformSampleFrames`` sets them.
    """

    def __init__(self, clip_len: int):
        if clip_len < 1:
            raise ValueError(f"clip_len must be >= 1, got {clip_len}")
        self.clip_len = clip_len

    def transform(self, results: dict) -> dict:
        require(self, results, ("total_frames",))
        total = results["total_frames"]
        if total >= self.clip_len:
            inds = np.round(np.linspace(0, total - 1, self.clip_len)).astype(np.int64)
        else:
            inds = np.concatenate([np.zeros(self.clip_len - total, np.int64),
                                   np.arange(total)])
        results["frame_inds"] = (inds + results.get("start_index", 0)).astype(np.int32)
        results["clip_len"] = self.clip_len
        results["frame_interval"] = None
        results["num_clips"] = 1
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(clip_len={self.clip_len})"
