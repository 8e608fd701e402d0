"""Encode each detected object and format the object stream.

Two encodings: ``EncodeObjects`` (fused models) places every object relative to the subject's
body and wrists; ``EncodeObjectTracks`` (the object-only model) uses nothing but the detector's
output, boxes and tracks in image coordinates.
"""

from __future__ import annotations

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from model.transforms.keys import COORD_FRAME, WRISTS, require

# Per-object features written by EncodeObjects, in this order.
OBJECT_FEATURES = (
    "center_x", "center_y", "width", "height",           # box relative to the body
    "left_wrist_dx", "left_wrist_dy",                    # box centre minus left wrist
    "right_wrist_dx", "right_wrist_dy",                  # box centre minus right wrist
    "left_wrist_in_box_x", "left_wrist_in_box_y",        # wrist minus box centre, in box sizes
    "right_wrist_in_box_x", "right_wrist_in_box_y",
    "score", "left_wrist_seen", "right_wrist_seen",
    "velocity_x", "velocity_y",                          # since the previous sampled frame
    "velocity_minus_left_wrist_x", "velocity_minus_left_wrist_y",
    "velocity_minus_right_wrist_x", "velocity_minus_right_wrist_y",
    "tracked",                                           # same track in the previous frame
    "displacement_x", "displacement_y",                  # since the track's first frame here
)
# Per-object features written by EncodeObjectTracks, in this order: detector output only.
TRACK_FEATURES = (
    "center_x", "center_y", "width", "height",           # box in image coordinates
    "score",
    "velocity_x", "velocity_y",                          # since the previous sampled frame
    "tracked",                                           # same track in the previous frame
    "displacement_x", "displacement_y",                  # since the track's first frame here
)
# Wrist offsets in box sizes are clipped: beyond a few sizes only "far away" matters.
_IN_BOX_LIMIT = 4.0
NUM_OBJECT_FEATURES = len(OBJECT_FEATURES)
NUM_TRACK_FEATURES = len(TRACK_FEATURES)


def _check_frame(transform: object, results: dict, frame: str) -> None:
    require(transform, results, (COORD_FRAME,))
    if results[COORD_FRAME] != frame:
        raise ValueError(f"{type(transform).__name__}: expects {frame} coordinates, the sample "
                         f"of video {results.get('video_id', '?')!r} is in "
                         f"{results[COORD_FRAME]} coordinates; check the pipeline's normalizer")


@TRANSFORMS.register_module()
class EncodeObjects(BaseTransform):
    """Per frame and object slot, the features of ``OBJECT_FEATURES``.

    Geometry is in body-scale units, except the wrist offsets measured in the box's own width
    and height, for which |offset| < 0.5 means "the wrist is inside the box": for a large
    object (a box to pack into) that is what matters, not the distance to its centre.

    Velocities need the detector's track ids: an object whose track was in the previous
    sampled frame of the same clip gets its box centre's displacement, and that displacement
    minus each wrist's; an object carried in a hand moves with that wrist (relative velocity
    near 0 while the wrist moves), an object lying on the bench does not. Untracked objects
    (track -1), first frames and hidden wrists get zeros and ``tracked`` 0. The displacement
    since the track's first frame in the clip tells which object left its spot and where it
    went, even when the hand hid it on the way.

    The object's class stays separate (``object_classes``, -1 = empty slot) for the model's
    class embedding. Wrist offsets use the subject (person 0); where a wrist is missing its
    offsets are 0 and its ``*_seen`` flag is 0. Empty slots are all zeros.

    Required keys: ``keypoint`` (M, T, V, 2), ``keypoint_score`` (M, T, V), ``object_boxes``
    (T, N, 4), ``object_classes`` (T, N), ``object_scores`` (T, N), ``object_track_ids``
    (T, N), ``coord_frame`` ("body"). Optional keys: ``num_clips`` (clips are T / num_clips
    frames each).
    Added keys: ``objects`` (T, N, F) float32. Modified keys: ``object_classes`` (int64).
    Removed keys: ``object_boxes``, ``object_scores``, ``object_track_ids``.
    """

    def __init__(self, min_score: float = 0.05):
        self.min_score = min_score

    def transform(self, results: dict) -> dict:
        require(self, results, ("keypoint", "keypoint_score", "object_boxes", "object_classes",
                                "object_scores", "object_track_ids"))
        _check_frame(self, results, "body")
        boxes = results.pop("object_boxes")
        scores = results.pop("object_scores")
        tracks = results.pop("object_track_ids")
        classes = results["object_classes"].astype(np.int64)
        valid = (classes >= 0)[..., None]
        center = (boxes[..., :2] + boxes[..., 2:]) / 2
        size = boxes[..., 2:] - boxes[..., :2]
        wrists = results["keypoint"][0][:, list(WRISTS)]                 # (T, 2, 2)
        seen = (results["keypoint_score"][0][:, list(WRISTS)] > self.min_score)  # (T, 2)
        offsets = center[:, :, None, :] - wrists[:, None, :, :]           # (T, N, 2, 2)
        with np.errstate(divide="ignore", invalid="ignore"):            # empty slots: size 0
            in_box = np.clip(-offsets / size[:, :, None, :], -_IN_BOX_LIMIT, _IN_BOX_LIMIT)
        hidden = ~seen[:, None, :, None]
        shape = (*center.shape[:2], 4)
        offsets = np.where(hidden, 0.0, offsets).reshape(shape)
        in_box = np.where(hidden | ~np.isfinite(in_box), 0.0, in_box).reshape(shape)
        seen_flags = np.broadcast_to(seen[:, None, :], (*center.shape[:2], 2))
        num_clips = results.get("num_clips", 1)
        motion = _motion_with_wrists(center, tracks, wrists, seen, num_clips)
        feats = np.concatenate([center, size, offsets, in_box, scores[..., None], seen_flags,
                                motion, _displacement_since_first_seen(center, tracks, num_clips)],
                               -1)
        results["objects"] = np.where(valid, feats, 0.0).astype(np.float32)
        results["object_classes"] = classes
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(min_score={self.min_score})"


def _clip_pairs(num_frames: int, num_clips: int) -> np.ndarray:
    """Frames t whose predecessor t - 1 is in the same clip (a clip's first frame has none)."""
    t = np.arange(1, num_frames)
    return t[t % (num_frames // num_clips) != 0]


def _track_velocity(center: np.ndarray, tracks: np.ndarray,
                    t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box-centre displacement since frame t - 1 of the same track (P, N, 2), and whether the
    track was there (P, N); untracked objects (-1) never are."""
    same = (tracks[t][:, :, None] == tracks[t - 1][:, None, :]) & (tracks[t][:, :, None] >= 0)
    found = same.any(-1)
    previous = center[t - 1][np.arange(len(t))[:, None], same.argmax(-1)]
    return np.where(found[..., None], center[t] - previous, 0.0), found


def _motion_with_wrists(center: np.ndarray, tracks: np.ndarray, wrists: np.ndarray,
                        seen: np.ndarray, num_clips: int) -> np.ndarray:
    """(T, N, 7): velocity, velocity minus each wrist's, tracked flag (see EncodeObjects)."""
    num_frames, num_slots = tracks.shape
    out = np.zeros((num_frames, num_slots, 7), np.float32)
    t = _clip_pairs(num_frames, num_clips)
    velocity, found = _track_velocity(center, tracks, t)
    wrist_velocity = wrists[t] - wrists[t - 1]                         # (P, 2, 2)
    wrist_ok = seen[t] & seen[t - 1]                                   # (P, 2)
    relative = velocity[:, :, None, :] - wrist_velocity[:, None, :, :]  # (P, N, 2, 2)
    relative = np.where(found[..., None, None] & wrist_ok[:, None, :, None], relative, 0.0)
    out[t, :, 0:2] = velocity
    out[t, :, 2:6] = relative.reshape(len(t), num_slots, 4)
    out[t, :, 6] = found
    return out


def _displacement_since_first_seen(center: np.ndarray, tracks: np.ndarray,
                                   num_clips: int) -> np.ndarray:
    """(T, N, 2): each tracked box centre minus where its track was first seen in the clip."""
    out = np.zeros(center.shape, np.float32)
    clip_len = len(tracks) // num_clips
    for start in range(0, len(tracks), clip_len):
        clip_tracks = tracks[start:start + clip_len].ravel()   # time-major: first = earliest
        clip_center = center[start:start + clip_len].reshape(-1, 2)
        valid = np.flatnonzero(clip_tracks >= 0)
        if valid.size == 0:
            continue
        _, first, inverse = np.unique(clip_tracks[valid], return_index=True,
                                        return_inverse=True)
        origin = clip_center[valid][first]
        out[start:start + clip_len].reshape(-1, 2)[valid] = clip_center[valid] - origin[inverse]
    return out


@TRANSFORMS.register_module()
class EncodeObjectTracks(BaseTransform):
    """Per frame and object slot, the features of ``TRACK_FEATURES``, from the detector alone.

    Boxes are in image coordinates (after ``ImageFrameNormalize``); velocities and the
    displacement since the track's first frame in the clip follow the detector's track ids, so
    a tool taken from the bench shows as a track that leaves its spot. Untracked objects (track
    -1) get zero motion and ``tracked`` 0. Nothing here is computed from the skeleton: this is
    the input of the object-only model.

    Required keys: ``object_boxes`` (T, N, 4), ``object_classes`` (T, N), ``object_scores``
    (T, N), ``object_track_ids`` (T, N), ``coord_frame`` ("image"). Optional keys:
    ``num_clips``. Added keys: ``objects`` (T, N, F) float32. Modified keys: ``object_classes``
    (int64). Removed keys: ``object_boxes``, ``object_scores``, ``object_track_ids``.
    """

    def transform(self, results: dict) -> dict:
        require(self, results, ("object_boxes", "object_classes", "object_scores",
                                "object_track_ids"))
        _check_frame(self, results, "image")
        boxes = results.pop("object_boxes")
        scores = results.pop("object_scores")
        tracks = results.pop("object_track_ids")
        classes = results["object_classes"].astype(np.int64)
        num_clips = results.get("num_clips", 1)
        center = (boxes[..., :2] + boxes[..., 2:]) / 2
        size = boxes[..., 2:] - boxes[..., :2]
        motion = np.zeros((*tracks.shape, 3), np.float32)
        t = _clip_pairs(len(tracks), num_clips)
        velocity, found = _track_velocity(center, tracks, t)
        motion[t, :, 0:2] = velocity
        motion[t, :, 2] = found
        feats = np.concatenate([center, size, scores[..., None], motion,
                                _displacement_since_first_seen(center, tracks, num_clips)], -1)
        results["objects"] = np.where((classes >= 0)[..., None], feats, 0.0).astype(np.float32)
        results["object_classes"] = classes
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


@TRANSFORMS.register_module()
class FormatObjectInput(BaseTransform):
    """Split the sampled frames into clips, as ``FormatGCNInput`` does for the pose.

    Required keys: ``objects`` (nc * T, N, F), ``object_classes`` (nc * T, N),
    ``num_clips`` (optional, default 1). Modified keys: ``objects`` -> (nc, T, N, F),
    ``object_classes`` -> (nc, T, N).
    """

    def transform(self, results: dict) -> dict:
        require(self, results, ("objects", "object_classes"))
        num_clips = results.get("num_clips", 1)
        objects, classes = results["objects"], results["object_classes"]
        if objects.shape[0] % num_clips:
            raise ValueError(f"{type(self).__name__}: {objects.shape[0]} frames do not split "
                             f"into {num_clips} clips")
        results["objects"] = np.ascontiguousarray(
            objects.reshape(num_clips, -1, *objects.shape[1:]))
        results["object_classes"] = np.ascontiguousarray(
            classes.reshape(num_clips, -1, classes.shape[1]))
        return results

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"
