"""Put one video's detections and poses back in order, track them, and make its table rows.

Detection and pose run on shards in parallel; tracking cannot, since a track id carries from
one frame to the next. Once every shard of a video is in, ``video_table`` sorts the frames,
runs MMDetection's tracker over them (persons and objects together: it matches by category)
and fills the feature table's arrays the way the annotation path does: slot 0 holds the
labelled subject, the other persons follow by decreasing box size, objects by score.

The subject of a labelled segment is named by a track id of the annotation, which the tracker
knows nothing of: it is the tracked person whose boxes overlap the annotated subject's boxes
most over the segment (mean IoU), when that overlap reaches ``min_iou``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from model.datasets.annotation import DatasetSpec
from model.datasets.frame_rows import FrameArrays, frame_labels

_PER_FRAME = ("frame_indices", "person_boxes", "person_scores", "num_persons", "keypoints",
              "keypoint_scores", "object_boxes", "object_scores", "object_classes",
              "num_objects")


@dataclass
class VideoResult:
    """What ``video_table`` made of one video."""

    table: pa.Table
    frames: int
    persons_per_frame: float
    objects_per_frame: float
    segments: int = 0
    segments_with_subject: int = 0
    notes: list[str] = field(default_factory=list)


def concat_rows(rows: list[dict]) -> dict[str, np.ndarray]:
    """The per-frame arrays of a video's rows, in source frame order."""
    rows = [r for r in rows if len(r["frame_indices"])]
    if not rows:
        raise ValueError("no frame was decoded")
    merged = {k: np.concatenate([r[k] for r in rows]) for k in _PER_FRAME}
    order = np.argsort(merged["frame_indices"], kind="stable")
    merged = {k: v[order] for k, v in merged.items()}
    # Frame pixels back to source pixels (x, y) for a resized decode.
    scale = np.asarray(rows[0]["scale"], np.float32)
    box_scale = np.tile(scale, 2)
    for key in ("person_boxes", "object_boxes"):
        merged[key] = merged[key] / box_scale
    merged["keypoints"] = merged["keypoints"] / scale
    return merged


def build_tracker(tracker_cfg: dict):
    from mmdet.registry import MODELS

    with DefaultScope.overwrite_default_scope("mmdet"):
        return MODELS.build(dict(tracker_cfg))


class FrameTracker:
    """MMDetection's tracker fed one frame at a time: the state a track id carries from one
    frame to the next (a video's frames in order, or a live stream's)."""

    def __init__(self, tracker_cfg: dict):
        self.tracker = build_tracker(tracker_cfg)

    def update(self, frame_id: int, person_boxes: np.ndarray, person_scores: np.ndarray,
               object_boxes: np.ndarray, object_scores: np.ndarray,
               object_classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Track ids of the frame's persons (P,) and objects (O,) (the filled slots only);
        -1 where the tracker dropped the detection (low score and matching no track)."""
        from mmdet.structures import DetDataSample

        np_ = len(person_boxes)
        boxes = np.concatenate([person_boxes, object_boxes]).astype(np.float32)
        scores = np.concatenate([person_scores, object_scores]).astype(np.float32)
        # Category 0 is "person", 1 + c object class c.
        labels = np.concatenate([np.zeros(np_, np.int64),
                                 1 + np.asarray(object_classes, np.int64)])
        sample = DetDataSample(metainfo=dict(frame_id=frame_id))
        sample.pred_instances = InstanceData(bboxes=torch.from_numpy(boxes),
                                             scores=torch.from_numpy(scores),
                                             labels=torch.from_numpy(labels))
        with DefaultScope.overwrite_default_scope("mmdet"):
            out = self.tracker.track(sample)
        ids = _ids_of_inputs(boxes, labels, out)
        return ids[:np_], ids[np_:]


def track(frames: dict[str, np.ndarray], tracker_cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Track ids (T, M) of the person slots and (T, N) of the object slots; -1 where a slot
    is empty or the tracker dropped the detection (low score and matching no track)."""
    tracker = FrameTracker(tracker_cfg)
    num_frames, m = frames["person_scores"].shape
    n = frames["object_scores"].shape[1]
    person_ids = np.full((num_frames, m), -1, np.int32)
    object_ids = np.full((num_frames, n), -1, np.int32)
    for t in range(num_frames):
        np_, no = int(frames["num_persons"][t]), int(frames["num_objects"][t])
        person_ids[t, :np_], object_ids[t, :no] = tracker.update(
            t, frames["person_boxes"][t, :np_], frames["person_scores"][t, :np_],
            frames["object_boxes"][t, :no], frames["object_scores"][t, :no],
            frames["object_classes"][t, :no])
    return person_ids, object_ids


def _ids_of_inputs(boxes: np.ndarray, labels: np.ndarray, out: InstanceData) -> np.ndarray:
    """Track id of each input detection (-1: not kept). The tracker returns the input boxes
    themselves, reordered, so equal box and label identify the input."""
    ids = np.full(len(boxes), -1, np.int32)
    out_boxes = out.bboxes.numpy()
    out_labels = out.labels.numpy()
    for box, label, track_id in zip(out_boxes, out_labels, out.instances_id.numpy(),
                                    strict=True):
        same = np.flatnonzero((boxes == box).all(1) & (labels == label) & (ids < 0))
        if len(same):
            ids[same[0]] = track_id
    return ids


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from mmdet.structures.bbox import bbox_overlaps

    return bbox_overlaps(torch.from_numpy(a[None]), torch.from_numpy(b[None]))[0, 0].item()


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
        overlap: dict[int, float] = {}
        counted = 0
        for t in frames:
            truth = boxes_of.get((int(source_index[t]), wanted))
            if truth is None:
                continue
            counted += 1
            for s, track_id in enumerate(person_ids[t]):
                if track_id >= 0:
                    overlap[track_id] = overlap.get(track_id, 0.0) + _iou(person_boxes[t, s],
                                                                          truth)
        if not overlap or not counted:
            continue
        best = max(overlap, key=overlap.get)
        if overlap[best] / counted >= min_iou:
            subject[frames] = best
            found += 1
    return subject, found, named


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * \
        np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def fill_frame(arrays: FrameArrays, t: int, frame: dict[str, np.ndarray],
               person_ids: np.ndarray, object_ids: np.ndarray) -> None:
    """Frame ``t`` of ``arrays`` from one frame's detections, poses and track ids (slots as
    the detector filled them): tracked persons only, the subject (``arrays.subject_track_id``
    at ``t``) first, then by decreasing box size, as jobs.ingest orders annotated persons;
    tracked objects by decreasing score."""
    tracked = np.flatnonzero(person_ids >= 0)
    order = sorted(tracked, key=lambda s: (person_ids[s] != arrays.subject_track_id[t],
                                           -_area(frame["person_boxes"][s])))
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


def video_table(rows: list[dict], video_id: str, fps: float, width: int, height: int,
                stride: int, spec: DatasetSpec, tracker_cfg: dict, min_iou: float,
                doc: dict | None, source: dict) -> VideoResult:
    """Feature-table rows of one video from all its pipeline rows (labelled when ``doc``,
    its validated annotation, is given)."""
    frames = concat_rows(rows)
    person_ids, object_ids = track(frames, tracker_cfg)
    num_frames, m = person_ids.shape
    n = object_ids.shape[1]
    arrays = FrameArrays.empty(video_id, fps / stride, width, height, num_frames, m, n)
    source_index = frames["frame_indices"]
    result_notes: list[str] = []
    segments = found = 0
    if doc is not None:
        label, annotated_subject, segment = (a[source_index] for a in frame_labels(doc, spec))
        arrays.label[:], arrays.segment_index[:] = label, segment
        arrays.subject_track_id[:], found, segments = choose_subjects(
            person_ids, frames["person_boxes"], source_index, annotated_subject, segment, doc,
            min_iou)
        if found < segments:
            result_notes.append(f"{segments - found} of {segments} labelled segment(s): no "
                                f"tracked person overlaps the annotated subject (mean IoU "
                                f"< {min_iou}); the largest person stands in")
    for t in range(num_frames):
        fill_frame(arrays, t, {k: frames[k][t] for k in _PER_FRAME[1:]}, person_ids[t],
                   object_ids[t])
    table = arrays.to_table(list(spec.action_classes), list(spec.object_classes), source)
    return VideoResult(table, num_frames, float(arrays.num_persons.mean()),
                       float(arrays.num_objects.mean()), segments, found, result_notes)
