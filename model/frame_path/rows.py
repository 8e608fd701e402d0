"""A frame's persons and objects as rows of the feature table, and a whole video's rows.

The perception of a frame (``PERCEPTION`` keys: ``select_detections``' padded persons and
objects, and the persons' keypoints) and its track ids fill one row of a ``FrameArrays`` the
way jobs.ingest fills the rows of annotated videos: the labelled subject first, the other
persons by decreasing box size, objects by decreasing score; only tracked detections.

The subject of a labelled segment is named by a track id of the annotation, which the tracker
knows nothing of: it is the tracked person whose boxes overlap the annotated subject's boxes
most over the segment (mean IoU), when that overlap reaches ``min_iou``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.datasets.annotation import DatasetSpec
from model.datasets.frame_rows import FrameArrays, frame_labels
from model.frame_path.boxes import box_area, paired_iou
from model.frame_path.detections import DETECTIONS
from model.frame_path.tracking import Tracker

# What the detector and the pose model give per frame (padded to the slot counts).
PERCEPTION = DETECTIONS + ("keypoints", "keypoint_scores")


def fill_frame(arrays: FrameArrays, t: int, frame: dict[str, np.ndarray],
               person_ids: np.ndarray, object_ids: np.ndarray) -> None:
    """Row ``t`` of ``arrays`` from one frame's perception and track ids (``person_ids`` of
    its filled person slots, ``object_ids`` of its object slots): tracked persons only, the
    subject (``arrays.subject_track_id[t]``) first, then by decreasing box size; tracked
    objects by decreasing score."""
    slots = np.flatnonzero(person_ids >= 0)
    boxes = frame["person_boxes"][slots]
    order = slots[np.lexsort((-box_area(boxes),
                              person_ids[slots] != arrays.subject_track_id[t]))]
    k = len(order)
    arrays.num_persons[t] = k
    arrays.person_track_ids[t, :k] = person_ids[order]
    arrays.person_boxes[t, :k] = frame["person_boxes"][order]
    arrays.keypoints[t, :k] = frame["keypoints"][order]
    arrays.keypoint_scores[t, :k] = frame["keypoint_scores"][order]
    kept = np.flatnonzero(object_ids >= 0)
    kept = kept[np.argsort(-frame["object_scores"][kept], kind="stable")]
    k = len(kept)
    arrays.num_objects[t] = k
    arrays.object_track_ids[t, :k] = object_ids[kept]
    arrays.object_classes[t, :k] = frame["object_classes"][kept]
    arrays.object_boxes[t, :k] = frame["object_boxes"][kept]
    arrays.object_scores[t, :k] = frame["object_scores"][kept]


def track_video(frames: dict[str, np.ndarray], tracker: Tracker
                ) -> tuple[np.ndarray, np.ndarray]:
    """Track ids (T, M) of the person slots and (T, N) of the object slots of a video's
    perception (``PERCEPTION`` arrays with a leading frame axis, frames in order); -1 where a
    slot is empty or the tracker dropped the detection."""
    num_frames, m = frames["person_scores"].shape
    n = frames["object_scores"].shape[1]
    person_ids = np.full((num_frames, m), -1, np.int32)
    object_ids = np.full((num_frames, n), -1, np.int32)
    for t in range(num_frames):
        np_, no = int(frames["num_persons"][t]), int(frames["num_objects"][t])
        person_ids[t, :np_], object_ids[t, :no] = tracker.update(
            t, {k: frames[k][t] for k in DETECTIONS})
    return person_ids, object_ids


def _annotated_boxes(doc: dict) -> dict[tuple[int, int], np.ndarray]:
    return {(f["index"], p["track_id"]): np.asarray(p["box"], np.float32)
            for f in doc["frames"] for p in f["persons"]}


def choose_subjects(person_ids: np.ndarray, person_boxes: np.ndarray, source_index: np.ndarray,
                    annotated_subject: np.ndarray, segment: np.ndarray, doc: dict,
                    min_iou: float) -> tuple[np.ndarray, int, int]:
    """(subject track id per frame, segments with a subject, segments naming one)."""
    subject = np.full(len(person_ids), -1, np.int32)
    boxes_of = _annotated_boxes(doc)
    named = found = 0
    for seg in np.unique(segment[segment >= 0]):
        frames = np.flatnonzero(segment == seg)
        wanted = int(annotated_subject[frames[0]])
        if wanted < 0:
            continue
        named += 1
        truth = [boxes_of.get((int(source_index[t]), wanted)) for t in frames]
        counted = np.array([b is not None for b in truth])
        if not counted.any():
            continue
        rows = frames[counted]
        truth = np.stack([b for b in truth if b is not None])
        # Mean IoU over the segment's annotated frames of each track id seen in them.
        ious = paired_iou(person_boxes[rows], truth[:, None])
        ids = person_ids[rows]
        tracked = ids >= 0
        if not tracked.any():
            continue
        candidates, index = np.unique(ids[tracked], return_inverse=True)
        overlap = np.bincount(index, weights=ious[tracked], minlength=len(candidates))
        best = int(np.argmax(overlap))
        if overlap[best] / counted.sum() >= min_iou:
            subject[frames] = candidates[best]
            found += 1
    return subject, found, named


@dataclass
class VideoRows:
    """A video's feature rows and what making them found."""

    arrays: FrameArrays
    segments: int = 0
    segments_with_subject: int = 0
    notes: list[str] = field(default_factory=list)


def video_rows(frames: dict[str, np.ndarray], source_index: np.ndarray, video_id: str,
               fps: float, width: int, height: int, tracker: Tracker, *,
               doc: dict | None = None, spec: DatasetSpec | None = None,
               min_iou: float = 0.0) -> VideoRows:
    """The feature rows of a whole video from its perception (``PERCEPTION`` arrays, frames in
    order; ``source_index``: each row's frame number in the file), tracked with ``tracker``;
    labelled from ``doc``, the video's validated annotation, when given (with its ``spec``)."""
    person_ids, object_ids = track_video(frames, tracker)
    num_frames, m = person_ids.shape
    arrays = FrameArrays.empty(video_id, fps, width, height, num_frames, m,
                               object_ids.shape[1])
    rows = VideoRows(arrays)
    if doc is not None:
        label, annotated_subject, segment = (a[source_index] for a in frame_labels(doc, spec))
        arrays.label[:], arrays.segment_index[:] = label, segment
        arrays.subject_track_id[:], rows.segments_with_subject, rows.segments = \
            choose_subjects(person_ids, frames["person_boxes"], source_index,
                            annotated_subject, segment, doc, min_iou)
        if rows.segments_with_subject < rows.segments:
            rows.notes.append(f"{rows.segments - rows.segments_with_subject} of "
                              f"{rows.segments} labelled segment(s): no tracked person "
                              f"overlaps the annotated subject (mean IoU < {min_iou}); the "
                              "largest person stands in")
    for t in range(num_frames):
        fill_frame(arrays, t, {k: frames[k][t] for k in PERCEPTION}, person_ids[t],
                   object_ids[t])
    return rows


def merge_batches(batches: list[dict]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One video's ``PERCEPTION`` arrays from its frame batches (rows with ``frame_indices``
    and those arrays, in any order), sorted by source frame; and the source frame numbers."""
    batches = [b for b in batches if len(b["frame_indices"])]
    if not batches:
        raise ValueError("no frame was decoded")
    index = np.concatenate([b["frame_indices"] for b in batches])
    order = np.argsort(index, kind="stable")
    return {k: np.concatenate([b[k] for b in batches])[order] for k in PERCEPTION}, index[order]
