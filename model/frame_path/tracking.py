"""Track ids for the frame path: MMDetection's multi-object tracker (ByteTrack in the shipped
configs) fed one frame at a time, persons and objects together (it matches by category)."""

from __future__ import annotations

import numpy as np
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData


class Tracker:
    """The state a track id carries from one frame to the next, for a video's frames in order
    or a live stream's. ``tracker_cfg``: an MMDetection tracker config (``type``: ByteTracker,
    OCSORTTracker, ...)."""

    def __init__(self, tracker_cfg: dict):
        from mmdet.registry import MODELS

        with DefaultScope.overwrite_default_scope("mmdet"):
            self.tracker = MODELS.build(dict(tracker_cfg))

    def update(self, frame_id: int, detections: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
        """Track ids of the frame's persons (num_persons,) and objects (num_objects,), from
        one frame's ``select_detections`` arrays; -1 where the tracker dropped a detection
        (low score and matching no track). Frame 0 starts the tracker afresh."""
        from mmdet.structures import DetDataSample

        np_, no = int(detections["num_persons"]), int(detections["num_objects"])
        boxes = np.concatenate([detections["person_boxes"][:np_],
                                detections["object_boxes"][:no]]).astype(np.float32)
        scores = np.concatenate([detections["person_scores"][:np_],
                                 detections["object_scores"][:no]]).astype(np.float32)
        # Category 0 is "person", 1 + c object class c.
        labels = np.concatenate([np.zeros(np_, np.int64),
                                 1 + np.asarray(detections["object_classes"][:no], np.int64)])
        sample = DetDataSample(metainfo=dict(frame_id=frame_id))
        sample.pred_instances = InstanceData(bboxes=torch.from_numpy(boxes),
                                             scores=torch.from_numpy(scores),
                                             labels=torch.from_numpy(labels))
        with DefaultScope.overwrite_default_scope("mmdet"):
            out = self.tracker.track(sample)
        ids = input_ids(boxes, labels, out.bboxes.numpy(), out.labels.numpy(),
                        out.instances_id.numpy())
        return ids[:np_], ids[np_:]

    def confirmed(self, ids: np.ndarray) -> np.ndarray:
        """Whether each of the last update's track ids (``update``'s output) is confirmed:
        MMDetection's trackers report a new track from its first detection, as tentative
        until ``num_tentatives`` updates in a row matched it (the original ByteTrack reports
        only the confirmed ones); tracks started at frame 0 are confirmed at once. -1: no."""
        tracks = self.tracker.tracks
        return np.array([int(i) >= 0 and not tracks[int(i)].get("tentative", False)
                         for i in ids], bool)


def input_ids(boxes: np.ndarray, labels: np.ndarray, out_boxes: np.ndarray,
              out_labels: np.ndarray, out_ids: np.ndarray) -> np.ndarray:
    """Track id of each input detection (-1: not kept). A tracker returns the kept input boxes
    themselves, reordered, so equal box and label identify the input; inputs that are exact
    duplicates take the equal outputs in turn."""
    same = (out_boxes[:, None] == boxes[None]).all(2) & (out_labels[:, None] == labels[None])
    ids = np.full(len(boxes), -1, np.int32)
    for o in np.flatnonzero(same.any(1)):   # at most the frame's person and object slots
        free = np.flatnonzero(same[o] & (ids < 0))
        if len(free):
            ids[free[0]] = out_ids[o]
    return ids
