"""Import MMAction2's 2D skeleton annotation format (the .pkl used by its skeleton configs).

The file holds ``{"split": {name: [frame_dir, ...]}, "annotations": [record, ...]}`` where each
record has ``frame_dir``, ``label``, ``img_shape`` (h, w), ``total_frames``, ``keypoint``
(M, T, V, 2) and ``keypoint_score`` (M, T, V). There are no objects. Person m of a record
becomes track m in every frame; joints with score 0 are missing, and their coordinates (which
may lie anywhere, even outside the frame) are kept as they are.

Unpickling runs code from the file, so ``load_skeleton_pkl`` refuses unless the caller passes
``allow_pickle=True`` (the ``--allow-pickle`` flag of the jobs): only load files you trust.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from model.datasets.annotation import AnnotationError, AnnotationIssue
from model.datasets.coco_keypoints import NUM_KEYPOINTS
from model.datasets.frame_rows import FrameArrays


class PickleNotAllowedError(PermissionError):
    """Raised when a .pkl is about to be loaded without the explicit opt-in."""


def load_skeleton_pkl(path: str | Path, allow_pickle: bool) -> dict[str, Any]:
    """Unpickle an MMAction2 skeleton annotation file (.pkl or .pkl.gz) and check its layout."""
    path = Path(path)
    if not allow_pickle:
        raise PickleNotAllowedError(
            f"{path}: loading a pickle executes code stored in it; pass --allow-pickle "
            "(allow_pickle=True) only for files you trust")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            doc = pickle.load(f)  # noqa: S301 - guarded by the explicit allow_pickle opt-in
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise AnnotationError(
            [AnnotationIssue(str(path), "(file)", f"cannot unpickle: {exc}")]) from exc
    if isinstance(doc, list):  # MMAction2 also accepts a bare list of records, without splits
        doc = {"split": {}, "annotations": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        raise AnnotationError([AnnotationIssue(
            str(path), "annotations", "expected a dict with an 'annotations' list")])
    if not isinstance(doc.get("split", {}), dict):
        raise AnnotationError([AnnotationIssue(str(path), "split", "expected a dict")])
    return doc


def validate_record(record: Any, index: int, file: str,
                    num_classes: int) -> list[AnnotationIssue]:
    """Problems of one skeleton record; fields are named ``annotations[i].<key>``."""
    where = f"annotations[{index}]"
    if not isinstance(record, dict):
        return [AnnotationIssue(file, where, f"expected a dict, got {type(record).__name__}")]
    required = ("frame_dir", "label", "img_shape", "total_frames", "keypoint", "keypoint_score")
    missing = [k for k in required if k not in record]
    if missing:
        return [AnnotationIssue(file, where, f"missing key(s) {missing}")]
    where = f"{where}({record['frame_dir']})"
    issues = []

    def add(key: str, message: str) -> None:
        issues.append(AnnotationIssue(file, f"{where}.{key}", message))

    kp = np.asarray(record["keypoint"])
    score = np.asarray(record["keypoint_score"])
    total = record["total_frames"]
    if not isinstance(total, (int, np.integer)) or total < 1:
        add("total_frames", f"expected a positive integer, got {total!r}")
    elif kp.ndim != 4 or kp.shape[1:] != (total, NUM_KEYPOINTS, 2):
        add("keypoint", f"expected shape (M, {total}, {NUM_KEYPOINTS}, 2), got {kp.shape}")
    elif score.shape != kp.shape[:3]:
        add("keypoint_score", f"expected shape {kp.shape[:3]}, got {score.shape}")
    else:
        bad = ~np.isfinite(kp).all(axis=-1) & (score > 0)
        if bad.any():
            person, frame, joint = np.argwhere(bad)[0]
            add(f"keypoint[{person}][{frame}][{joint}]",
                f"{int(bad.sum())} visible joint(s) with NaN or infinite coordinates")
        if not np.isfinite(score).all() or (score < 0).any() or (score > 1).any():
            add("keypoint_score", "scores must be finite and in [0, 1]")
    label = record["label"]
    if not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        add("label", f"expected a class index in [0, {num_classes}), got {label!r}")
    shape = record["img_shape"]
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape)):
        add("img_shape", f"expected (height, width), got {shape!r}")
    return issues


def record_to_arrays(record: dict, max_persons: int, max_objects: int,
                     fps: float) -> FrameArrays:
    """Dense arrays of one validated record (persons beyond ``max_persons`` are dropped)."""
    kp = np.asarray(record["keypoint"], np.float32)
    score = np.asarray(record["keypoint_score"], np.float32)
    num_people, total = kp.shape[0], kp.shape[1]
    height, width = (int(s) for s in record["img_shape"])
    arrays = FrameArrays.empty(str(record["frame_dir"]), fps, width, height, total,
                               max_persons, max_objects)
    kept = min(num_people, max_persons)
    # Missing joints may hold NaN in some exports: they carry no information, so zero them.
    visible = score > 0
    kp = np.where(visible[..., None], kp, np.nan_to_num(kp, nan=0.0, posinf=0.0, neginf=0.0))
    arrays.keypoints[:, :kept] = kp[:kept].transpose(1, 0, 2, 3)
    arrays.keypoint_scores[:, :kept] = score[:kept].transpose(1, 0, 2)
    arrays.person_track_ids[:, :kept] = np.arange(kept, dtype=np.int32)
    arrays.num_persons[:] = kept
    arrays.person_boxes[:, :kept] = _boxes_from_visible_joints(kp[:kept], visible[:kept])
    arrays.label[:] = int(record["label"])
    arrays.subject_track_id[:] = 0
    arrays.segment_index[:] = 0
    return arrays


def _boxes_from_visible_joints(kp: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(M, T, V, 2) joints -> (T, M, 4) boxes around the visible ones; zeros where none is."""
    inf = np.float32(np.inf)
    x, y = kp[..., 0], kp[..., 1]
    x1 = np.where(visible, x, inf).min(-1)
    y1 = np.where(visible, y, inf).min(-1)
    x2 = np.where(visible, x, -inf).max(-1)
    y2 = np.where(visible, y, -inf).max(-1)
    boxes = np.stack([x1, y1, x2, y2], -1)
    boxes[~visible.any(-1)] = 0.0
    return boxes.transpose(1, 0, 2)


def pkl_split_of(doc: dict, split_map: dict[str, str]) -> dict[str, str]:
    """frame_dir -> our split name, from the .pkl's own split dict.

    Without ``split_map`` the .pkl's split names are used as they are; with one, only the
    mapped splits are (NTU's .pkl holds both xsub_* and xview_* splits of the same clips).
    A clip that lands in two different splits is an error: it would leak between them.
    """
    out: dict[str, str] = {}
    for pkl_name, ids in doc.get("split", {}).items():
        if split_map and pkl_name not in split_map:
            continue
        ours = split_map.get(pkl_name, pkl_name)
        for video_id in map(str, ids):
            if out.get(video_id, ours) != ours:
                raise ValueError(f"clip {video_id!r} is in split {out[video_id]!r} and in "
                                 f"{ours!r} (from {pkl_name!r}); map only one split family")
            out[video_id] = ours
    return out
