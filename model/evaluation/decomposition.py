"""Where the perception chain loses what the recognizer needs: the annotation and extracted
feature rows of the same video compared stream by stream.

* ``mix_streams``: a video's rows with the pose stream (persons, keypoints, the subject) of one
  table and the object stream of another, so that the recognizer can be scored with each
  stream extracted alone;
* ``subject_match``: how often the person the extracted rows put first as the labelled subject
  is the annotated subject (the annotated person its box overlaps most);
* ``ObjectCounts``: per object class, frame-level recall and precision of the extracted objects
  that reach the features (tracked) against the annotated tracked objects (false detections
  of an annotation are untracked and are no truth), matched one-to-one by IoU;
* ``KeypointErrors``: on frames where the subject is matched, the extracted subject's joints
  against the annotated ones, in units of the annotated box's longer side (PCK's unit), over
  joints present in both.

The rows of both tables are one per frame of the same video (stride 1), labelled from the same
annotation; ``check_aligned`` refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from model.datasets.frame_rows import FrameArrays
from model.frame_path.boxes import box_iou

POSE_FIELDS = ("num_persons", "person_track_ids", "person_boxes", "keypoints",
               "keypoint_scores", "subject_track_id")
OBJECT_FIELDS = ("num_objects", "object_track_ids", "object_classes", "object_boxes",
                 "object_scores")


class MisalignedError(ValueError):
    """Two tables' rows of a video are not the same frames with the same labels."""


def check_aligned(annotated: FrameArrays, extracted: FrameArrays) -> None:
    if annotated.video_id != extracted.video_id:
        raise MisalignedError(f"videos differ: {annotated.video_id} vs {extracted.video_id}")
    where = annotated.video_id
    if annotated.num_frames != extracted.num_frames:
        raise MisalignedError(f"{where}: {annotated.num_frames} annotated rows, "
                              f"{extracted.num_frames} extracted")
    if (annotated.width, annotated.height) != (extracted.width, extracted.height):
        raise MisalignedError(f"{where}: frame size {annotated.width}x{annotated.height} vs "
                              f"{extracted.width}x{extracted.height}")
    for name in ("label", "segment_index"):
        bad = np.flatnonzero(getattr(annotated, name) != getattr(extracted, name))
        if len(bad):
            raise MisalignedError(f"{where}: {name} differs from frame {bad[0]} on")


def mix_streams(pose_from: FrameArrays, objects_from: FrameArrays) -> FrameArrays:
    """A copy of ``pose_from`` whose object stream is ``objects_from``'s."""
    mixed = pose_from.rows(slice(None))
    for name in OBJECT_FIELDS:
        setattr(mixed, name, np.array(getattr(objects_from, name)))
    return mixed


def _subject_slot(arrays: FrameArrays, t: int) -> int | None:
    subject = arrays.subject_track_id[t]
    slots = np.flatnonzero(arrays.person_track_ids[t, :arrays.num_persons[t]] == subject)
    return int(slots[0]) if subject >= 0 and len(slots) else None


@dataclass
class SubjectMatch:
    """Labelled frames with an annotated subject: how many the extraction got right, and how
    many it gave no subject at all."""

    frames: int = 0
    matched: int = 0
    missing: int = 0
    matched_frames: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, annotated: FrameArrays, extracted: FrameArrays) -> None:
        ok = np.zeros(annotated.num_frames, bool)
        for t in np.flatnonzero(annotated.label >= 0):
            truth = _subject_slot(annotated, t)
            if truth is None:
                continue
            self.frames += 1
            slot = _subject_slot(extracted, t)
            if slot is None:
                self.missing += 1
                continue
            persons = annotated.person_boxes[t, :annotated.num_persons[t]]
            ious = box_iou(extracted.person_boxes[t, slot], persons)[0]
            if ious.max() > 0 and int(ious.argmax()) == truth:
                self.matched += 1
                ok[t] = True
        self.matched_frames[annotated.video_id] = ok

    def summary(self) -> dict:
        return {"frames": self.frames, "matched": self.matched, "no_subject": self.missing,
                "fraction": self.matched / self.frames if self.frames else None}


@dataclass
class ObjectCounts:
    """Frame-level true positives, annotated and extracted objects per class."""

    classes: tuple[str, ...]
    min_iou: float = 0.5
    true_positives: np.ndarray = field(init=False)
    annotated: np.ndarray = field(init=False)
    extracted: np.ndarray = field(init=False)

    def __post_init__(self):
        k = len(self.classes)
        self.true_positives, self.annotated, self.extracted = (np.zeros(k, np.int64)
                                                               for _ in range(3))
        self.tracks: dict[str, list[int]] = {"annotated": [], "extracted": []}

    def add(self, truth: FrameArrays, found: FrameArrays) -> None:
        for name, rows in (("annotated", truth), ("extracted", found)):
            ids = rows.object_track_ids
            self.tracks[name].append(len(np.unique(ids[ids >= 0])))
        for t in range(truth.num_frames):
            a_slots = np.arange(truth.num_objects[t])
            a_slots = a_slots[truth.object_track_ids[t, a_slots] >= 0]
            e_slots = np.arange(found.num_objects[t])
            e_slots = e_slots[found.object_track_ids[t, e_slots] >= 0]
            a_cls = truth.object_classes[t, a_slots]
            e_cls = found.object_classes[t, e_slots]
            np.add.at(self.annotated, a_cls, 1)
            np.add.at(self.extracted, e_cls, 1)
            for c in np.intersect1d(a_cls, e_cls):
                iou = box_iou(truth.object_boxes[t, a_slots[a_cls == c]],
                              found.object_boxes[t, e_slots[e_cls == c]])
                rows, cols = linear_sum_assignment(-iou)
                self.true_positives[c] += int((iou[rows, cols] >= self.min_iou).sum())

    def summary(self) -> dict:
        def ratio(a, b):
            return {name: (float(x) / y if y else None)
                    for name, x, y in zip(self.classes, a, b, strict=True)}
        return {"min_iou": self.min_iou,
                "object_recall": ratio(self.true_positives, self.annotated),
                "object_precision": ratio(self.true_positives, self.extracted),
                "annotated": dict(zip(self.classes, self.annotated.tolist(), strict=True)),
                "extracted": dict(zip(self.classes, self.extracted.tolist(), strict=True)),
                "object_tracks_per_video": {k: float(np.mean(v)) if v else None
                                            for k, v in self.tracks.items()}}


@dataclass
class KeypointErrors:
    """Errors of the matched subject's joints present in both tables, in units of the
    annotated box's longer side, per joint index."""

    pck_thr: float = 0.1
    errors: list[np.ndarray] = field(default_factory=list)
    joints: list[np.ndarray] = field(default_factory=list)
    missing_extracted: int = 0
    present_annotated: int = 0

    def add(self, annotated: FrameArrays, extracted: FrameArrays, matched: np.ndarray) -> None:
        for t in np.flatnonzero(matched):
            a, e = _subject_slot(annotated, t), _subject_slot(extracted, t)
            box = annotated.person_boxes[t, a]
            size = max(float(box[2] - box[0]), float(box[3] - box[1]), 1e-6)
            a_seen = annotated.keypoint_scores[t, a] > 0
            e_seen = extracted.keypoint_scores[t, e] > 0
            both = np.flatnonzero(a_seen & e_seen)
            self.present_annotated += int(a_seen.sum())
            self.missing_extracted += int((a_seen & ~e_seen).sum())
            diff = extracted.keypoints[t, e, both] - annotated.keypoints[t, a, both]
            self.errors.append(np.linalg.norm(diff, axis=-1) / size)
            self.joints.append(both)

    def summary(self, joint_names: tuple[str, ...]) -> dict:
        errors = np.concatenate(self.errors) if self.errors else np.zeros(0)
        joints = np.concatenate(self.joints) if self.joints else np.zeros(0, int)
        right = errors <= self.pck_thr
        per_joint = {name: float(right[joints == j].mean()) if (joints == j).any() else None
                     for j, name in enumerate(joint_names)}
        return {"pck_thr": self.pck_thr, "joints_compared": int(len(errors)),
                "pck": float(right.mean()) if len(errors) else None,
                "median_error": float(np.median(errors)) if len(errors) else None,
                "missing_in_extracted": (self.missing_extracted / self.present_annotated
                                         if self.present_annotated else None),
                "pck_per_joint": per_joint}


# COCO-17 left/right joint pairs (eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
LEFT_RIGHT = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))


@dataclass
class Mismatches:
    """Systematic differences between the tables on matched subject frames, as opposed to
    noise: the frame offset at which the extracted joints sit closest to the annotated ones
    (a decode or stride offset shows here), how often a joint sits closer to the annotated
    joint of the other side (a keypoint order mismatch), the extracted subject box's size
    and centre against the annotated one (box extent), and the mean score of present joints
    in each table (score scale)."""

    max_offset: int = 2
    offset_errors: dict[int, list[float]] = field(default_factory=dict)
    swapped: list[bool] = field(default_factory=list)
    box_ratio: list[np.ndarray] = field(default_factory=list)
    centre_shift: list[np.ndarray] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=lambda: {"annotated": [],
                                                                    "extracted": []})

    def add(self, annotated: FrameArrays, extracted: FrameArrays, matched: np.ndarray) -> None:
        frames = np.flatnonzero(matched)
        for t in frames:
            a, e = _subject_slot(annotated, t), _subject_slot(extracted, t)
            a_box, e_box = annotated.person_boxes[t, a], extracted.person_boxes[t, e]
            size = np.maximum(a_box[2:] - a_box[:2], 1e-6)
            self.box_ratio.append((e_box[2:] - e_box[:2]) / size)
            self.centre_shift.append(((e_box[:2] + e_box[2:]) - (a_box[:2] + a_box[2:]))
                                     / 2 / size)
            a_seen = annotated.keypoint_scores[t, a] > 0
            e_seen = extracted.keypoint_scores[t, e] > 0
            self.scores["annotated"] += annotated.keypoint_scores[t, a][a_seen].tolist()
            self.scores["extracted"] += extracted.keypoint_scores[t, e][e_seen].tolist()
            kp_e, kp_a = extracted.keypoints[t, e], annotated.keypoints[t, a]
            for left, right in LEFT_RIGHT:
                if a_seen[left] and a_seen[right] and e_seen[left] and e_seen[right]:
                    same = np.linalg.norm(kp_e[[left, right]] - kp_a[[left, right]], axis=1)
                    other = np.linalg.norm(kp_e[[left, right]] - kp_a[[right, left]], axis=1)
                    self.swapped.append(bool(other.sum() < same.sum()))
            for d in range(-self.max_offset, self.max_offset + 1):
                u = t + d
                if not 0 <= u < annotated.num_frames:
                    continue
                b = _subject_slot(annotated, u)
                if b is None:
                    continue
                both = e_seen & (annotated.keypoint_scores[u, b] > 0)
                if both.any():
                    error = np.linalg.norm(kp_e[both] - annotated.keypoints[u, b][both], axis=1)
                    self.offset_errors.setdefault(d, []).append(float(np.median(error)
                                                                      / size.max()))

    def summary(self) -> dict:
        def median(values):
            return np.median(np.stack(values), 0).tolist() if values else None

        by_offset = {d: float(np.median(v)) for d, v in sorted(self.offset_errors.items())}
        return {"keypoint_error_by_frame_offset": by_offset,
                "closest_frame_offset": min(by_offset, key=by_offset.get) if by_offset
                else None,
                "left_right_swapped_fraction": (float(np.mean(self.swapped))
                                                if self.swapped else None),
                "subject_box_size_ratio_wh": median(self.box_ratio),
                "subject_box_centre_shift_wh": median(self.centre_shift),
                "mean_joint_score": {k: float(np.mean(v)) if v else None
                                     for k, v in self.scores.items()}}
