"""One video's ground truth -> an annotation document (model/schemas/annotation.schema.json)."""

from __future__ import annotations

import numpy as np

from model.datasets.annotation import ANNOTATION_FORMAT, ANNOTATION_VERSION
from model.datasets.coco_keypoints import KEYPOINT_LAYOUT
from workcell_synth.body import NUM_COCO_JOINTS
from workcell_synth.camera import occluded_by_box
from workcell_synth.classes import OBJECT_CLASSES
from workcell_synth.noise import (
    blur_misses,
    false_detections,
    hidden_runs,
    jitter_boxes,
    noisy_keypoints,
)
from workcell_synth.objects import ABSENT, HELD
from workcell_synth.scene import OPERATOR_TRACK_ID, VideoTruth

COORD_DECIMALS = 2
SCORE_DECIMALS = 3


def _boxes(uv: np.ndarray) -> np.ndarray:
    """(T, 4) bounds of (T, K, 2) points."""
    return np.concatenate([uv.min(1), uv.max(1)], -1)


def _persons(rng, truth: VideoTruth, cfg: dict, fps: float, width: int,
             height: int) -> list[list[dict]]:
    pc, near = cfg["pose_noise"], cfg["camera"]["near_m"]
    occluder = truth.bench.occluder()
    out: list[list[dict]] = [[] for _ in range(truth.frame_count)]
    for person in truth.persons:
        uv, depth = truth.camera.project(person.joints)
        box = _boxes(uv)
        person_px = box[:, 3] - box[:, 1]
        box += np.stack([-person_px, -person_px, person_px, person_px], -1) \
            * pc["box_margin_frac"]
        box, valid = jitter_boxes(rng, box, pc["box_jitter_frac"], 0.0, width, height,
                                  cfg["detector_noise"]["min_box_px"])
        valid &= person.present & (depth > near).all(-1)
        occluded = occluded_by_box(truth.camera.center, person.joints[:, :NUM_COCO_JOINTS],
                                   *occluder)
        keypoints = noisy_keypoints(rng, uv[:, :NUM_COCO_JOINTS], occluded, person_px, fps,
                                    width, height, pc)
        keypoints[..., :2] = np.round(keypoints[..., :2], COORD_DECIMALS)
        keypoints[..., 2] = np.round(keypoints[..., 2], SCORE_DECIMALS)
        scores = np.round(rng.uniform(*pc["person_score"], truth.frame_count), SCORE_DECIMALS)
        box, keypoints, scores = np.round(box, COORD_DECIMALS).tolist(), keypoints.tolist(), \
            scores.tolist()
        for t in np.flatnonzero(valid).tolist():
            out[t].append({"track_id": person.track_id, "box": box[t], "score": scores[t],
                           "keypoints": keypoints[t]})
    return out


def _objects(rng, truth: VideoTruth, cfg: dict, fps: float, width: int,
             height: int) -> list[list[dict]]:
    dc, near, n = cfg["detector_noise"], cfg["camera"]["near_m"], truth.frame_count
    out: list[list[dict]] = [[] for _ in range(n)]
    for obj in truth.objects:
        uv, depth = truth.camera.project(obj.corners())
        true_box = _boxes(uv)
        box, valid = jitter_boxes(rng, true_box, dc["box_jitter_frac"], dc["box_jitter_px"],
                                  width, height, dc["min_box_px"])
        held = obj.state == HELD
        by_hand = hidden_runs(rng, n, dc["hand_hides_held"][obj.cls],
                              dc["hand_hide_run_s"] * fps) & held if held.any() else held
        blurred = blur_misses(rng, true_box, **dc["motion_blur"])
        valid &= (obj.state != ABSENT) & (depth > near).all(-1) & ~by_hand & ~blurred \
            & (rng.uniform(size=n) >= dc["miss_prob"])
        scores = np.round(rng.uniform(*dc["score"], n), SCORE_DECIMALS).tolist()
        box = np.round(box, COORD_DECIMALS).tolist()
        for t in np.flatnonzero(valid).tolist():
            out[t].append({"track_id": obj.track_id, "box": box[t], "class": obj.cls,
                           "score": scores[t]})
    frames, boxes, classes, scores = false_detections(rng, n, len(OBJECT_CLASSES), width, height,
                                                      dc)
    boxes = np.round(boxes, COORD_DECIMALS).tolist()
    scores = np.round(scores, SCORE_DECIMALS).tolist()
    for t, box, cls, score in zip(frames.tolist(), boxes, classes.tolist(), scores, strict=True):
        out[t].append({"box": box, "class": OBJECT_CLASSES[cls], "score": score})
    return out


def annotate(rng: np.random.Generator, truth: VideoTruth, cfg: dict, video_id: str,
             video_file: str, fps: float, width: int, height: int, trimmed: bool) -> dict:
    """The annotation document of one video, with detector and pose-estimator noise."""
    persons = _persons(rng, truth, cfg, fps, width, height)
    objects = _objects(rng, truth, cfg, fps, width, height)
    doc = {
        "format": ANNOTATION_FORMAT, "version": ANNOTATION_VERSION,
        "video": {"id": video_id, "file": video_file, "fps": fps, "width": width,
                  "height": height, "frame_count": truth.frame_count},
        "keypoint_layout": KEYPOINT_LAYOUT,
        # Detector output order: highest score first, so list order says nothing else.
        "frames": [{"index": t, "persons": sorted(persons[t], key=lambda d: -d["score"]),
                    "objects": sorted(objects[t], key=lambda d: -d["score"])}
                   for t in range(truth.frame_count)],
    }
    if trimmed:
        doc["clip_label"] = {"label": truth.segments[0][0], "person_track_id": OPERATOR_TRACK_ID}
    else:
        doc["segments"] = [{"start_frame": start, "end_frame": end, "label": label,
                            "person_track_id": OPERATOR_TRACK_ID}
                           for label, start, end in truth.segments]
    return doc
