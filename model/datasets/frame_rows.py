"""Turn one validated video (annotation document or MMAction2 skeleton record) into table rows.

Both importers fill a ``FrameArrays`` of dense per-frame arrays (every frame of the video gets a
row, frames without detections get empty slots) and ``to_table`` converts it with the feature
table's schema, so the two formats cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from model.datasets.annotation import DatasetSpec
from model.datasets.coco_keypoints import KEYPOINT_LAYOUT, NUM_KEYPOINTS
from model.datasets.feature_table import feature_schema, tensor_column
from model.runs import runs

# The per-frame fields of ``FrameArrays`` (all but the video's constants).
PER_FRAME_FIELDS = ("num_persons", "person_track_ids", "person_boxes", "keypoints",
                    "keypoint_scores", "num_objects", "object_track_ids", "object_classes",
                    "object_boxes", "object_scores", "subject_track_id", "label",
                    "segment_index")
# What an empty slot or an unlabelled frame holds (0 where not named).
_EMPTY = {"person_track_ids": -1, "object_track_ids": -1, "object_classes": -1,
          "subject_track_id": -1, "label": -1, "segment_index": -1}
_TENSOR_FIELDS = ("person_track_ids", "person_boxes", "keypoints", "keypoint_scores",
                  "object_track_ids", "object_classes", "object_boxes", "object_scores")


@dataclass
class FrameArrays:
    """Dense arrays of one video, T frames, M person slots, N object slots."""

    video_id: str
    fps: float
    width: int
    height: int
    num_persons: np.ndarray        # (T,) int16
    person_track_ids: np.ndarray   # (T, M) int32, -1 = empty slot
    person_boxes: np.ndarray       # (T, M, 4) float32
    keypoints: np.ndarray          # (T, M, V, 2) float32
    keypoint_scores: np.ndarray    # (T, M, V) float32
    num_objects: np.ndarray        # (T,) int16
    object_track_ids: np.ndarray   # (T, N) int32, -1 = empty slot or untracked
    object_classes: np.ndarray     # (T, N) int16, -1 = empty slot
    object_boxes: np.ndarray       # (T, N, 4) float32
    object_scores: np.ndarray      # (T, N) float32
    subject_track_id: np.ndarray   # (T,) int32, -1 = no labelled person
    label: np.ndarray              # (T,) int16, -1 = unlabelled
    segment_index: np.ndarray      # (T,) int32, -1 = outside every segment

    @classmethod
    def empty(cls, video_id: str, fps: float, width: int, height: int, num_frames: int,
              max_persons: int, max_objects: int) -> FrameArrays:
        t, m, n, v = num_frames, max_persons, max_objects, NUM_KEYPOINTS
        return cls(
            video_id=video_id, fps=float(fps), width=int(width), height=int(height),
            num_persons=np.zeros(t, np.int16),
            person_track_ids=np.full((t, m), -1, np.int32),
            person_boxes=np.zeros((t, m, 4), np.float32),
            keypoints=np.zeros((t, m, v, 2), np.float32),
            keypoint_scores=np.zeros((t, m, v), np.float32),
            num_objects=np.zeros(t, np.int16),
            object_track_ids=np.full((t, n), -1, np.int32),
            object_classes=np.full((t, n), -1, np.int16),
            object_boxes=np.zeros((t, n, 4), np.float32),
            object_scores=np.zeros((t, n), np.float32),
            subject_track_id=np.full(t, -1, np.int32),
            label=np.full(t, -1, np.int16),
            segment_index=np.full(t, -1, np.int32),
        )

    def clear(self) -> None:
        """Every row back to empty slots, unlabelled, no subject (buffers reused frame after
        frame)."""
        for name in PER_FRAME_FIELDS:
            getattr(self, name).fill(_EMPTY.get(name, 0))

    @classmethod
    def from_table(cls, table: pa.Table) -> FrameArrays:
        """The arrays of a feature table's rows of one video (in frame order)."""
        fields = {name: tensor_column(table, name) if name in _TENSOR_FIELDS
                  else table.column(name).to_numpy() for name in PER_FRAME_FIELDS}
        return cls(video_id=table.column("video_id")[0].as_py(),
                   fps=float(table.column("fps")[0].as_py()),
                   width=int(table.column("width")[0].as_py()),
                   height=int(table.column("height")[0].as_py()), **fields)

    def rows(self, index) -> FrameArrays:
        """The rows ``index`` (a slice or index array) as arrays of their own (copies)."""
        fields = {name: np.array(getattr(self, name)[index]) for name in PER_FRAME_FIELDS}
        return FrameArrays(self.video_id, self.fps, self.width, self.height, **fields)

    @property
    def num_frames(self) -> int:
        return len(self.label)

    def to_table(self, action_classes: list[str], object_classes: list[str],
                 source: dict | None = None) -> pa.Table:
        t, m = self.person_track_ids.shape
        schema = feature_schema(m, self.object_classes.shape[1], action_classes, object_classes,
                                source)
        columns = {
            "video_id": pa.array([self.video_id] * t, pa.string()),
            "frame_index": pa.array(np.arange(t, dtype=np.int32)),
            "fps": pa.array(np.full(t, self.fps, np.float32)),
            "width": pa.array(np.full(t, self.width, np.int32)),
            "height": pa.array(np.full(t, self.height, np.int32)),
        }
        for name in ("num_persons", "num_objects", "subject_track_id", "label", "segment_index"):
            columns[name] = pa.array(getattr(self, name))
        for name in _TENSOR_FIELDS:
            columns[name] = pa.FixedShapeTensorArray.from_numpy_ndarray(
                np.ascontiguousarray(getattr(self, name)))
        return pa.table([columns[f.name] for f in schema], schema=schema)


def _box_area(box: list[float]) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def frame_labels(doc: dict, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame label, annotated subject track id and segment index of a validated document
    (each (T,); -1 where no segment covers the frame or no subject is named)."""
    t = doc["video"]["frame_count"]
    label = np.full(t, -1, np.int16)
    subject = np.full(t, -1, np.int32)
    segment = np.full(t, -1, np.int32)
    action_index = {name: i for i, name in enumerate(spec.action_classes)}
    if "clip_label" in doc:
        label[:] = action_index[doc["clip_label"]["label"]]
        subject[:] = doc["clip_label"].get("person_track_id", -1)
        segment[:] = 0
    else:
        for i, seg in enumerate(doc["segments"]):
            span = slice(seg["start_frame"], seg["end_frame"])
            label[span] = action_index[seg["label"]]
            subject[span] = seg["person_track_id"]
            segment[span] = i
    return label, subject, segment


def annotation_to_arrays(doc: dict, spec: DatasetSpec, max_persons: int,
                         max_objects: int) -> FrameArrays:
    """Dense arrays of a validated annotation document (see model.datasets.annotation)."""
    video = doc["video"]
    arrays = FrameArrays.empty(video["id"], video["fps"], video["width"], video["height"],
                               video["frame_count"], max_persons, max_objects)
    object_index = {name: i for i, name in enumerate(spec.object_classes)}
    arrays.label[:], arrays.subject_track_id[:], arrays.segment_index[:] = \
        frame_labels(doc, spec)

    for frame in doc["frames"]:
        t = frame["index"]
        subject = arrays.subject_track_id[t]
        # Slot 0 is the labelled person when present; the others follow by decreasing size,
        # which is also how an unlabelled frame's main person is chosen.
        persons = sorted(frame["persons"],
                         key=lambda p: (p["track_id"] != subject, -_box_area(p["box"])))
        kept = persons[:max_persons]
        arrays.num_persons[t] = len(kept)
        for s, person in enumerate(kept):
            kps = np.asarray(person["keypoints"], np.float32)
            arrays.person_track_ids[t, s] = person["track_id"]
            arrays.person_boxes[t, s] = person["box"]
            arrays.keypoints[t, s] = kps[:, :2]
            arrays.keypoint_scores[t, s] = kps[:, 2]
        objects = sorted(frame["objects"], key=lambda o: -o["score"])
        kept_objects = objects[:max_objects]
        arrays.num_objects[t] = len(kept_objects)
        for s, obj in enumerate(kept_objects):
            arrays.object_track_ids[t, s] = obj.get("track_id", -1)
            arrays.object_classes[t, s] = object_index[obj["class"]]
            arrays.object_boxes[t, s] = obj["box"]
            arrays.object_scores[t, s] = obj["score"]
    return arrays


def arrays_to_annotation(arrays: FrameArrays, spec: DatasetSpec, file: str) -> dict:
    """The annotation document (model/schemas/annotation.schema.json) that the rows of one
    video stand for: the inverse of ``annotation_to_arrays``, so that rows from any source (an
    extraction's above all) can be held to the annotation contract by ``validate_annotation``.
    A video labelled as one segment from its first to its last frame becomes a clip label."""
    video = {"id": arrays.video_id, "file": file, "fps": arrays.fps, "width": arrays.width,
             "height": arrays.height, "frame_count": arrays.num_frames}
    frames = []
    for t in range(arrays.num_frames):
        persons = [{"track_id": int(arrays.person_track_ids[t, s]),
                    "box": arrays.person_boxes[t, s].tolist(),
                    "keypoints": np.concatenate([arrays.keypoints[t, s],
                                                 arrays.keypoint_scores[t, s, :, None]],
                                                1).tolist()}
                   for s in range(arrays.num_persons[t])]
        objects = [{**({"track_id": int(arrays.object_track_ids[t, s])}
                       if arrays.object_track_ids[t, s] >= 0 else {}),
                    "box": arrays.object_boxes[t, s].tolist(),
                    "class": spec.object_classes[arrays.object_classes[t, s]],
                    "score": float(arrays.object_scores[t, s])}
                   for s in range(arrays.num_objects[t])]
        if persons or objects:
            frames.append({"index": t, "persons": persons, "objects": objects})
    doc = {"format": "workcell-annotation", "version": 1, "video": video,
           "keypoint_layout": KEYPOINT_LAYOUT, "frames": frames}
    labelled_runs = [(start, end) for start, end in runs(arrays.segment_index, arrays.label)
                     if arrays.label[start] >= 0]
    labelled = [{"start_frame": start, "end_frame": end,
                 "label": spec.action_classes[arrays.label[start]],
                 **({"person_track_id": int(arrays.subject_track_id[start])}
                    if arrays.subject_track_id[start] >= 0 else {})}
                for start, end in labelled_runs]
    if len(labelled) == 1 and labelled_runs[0] == (0, arrays.num_frames):
        doc["clip_label"] = {k: v for k, v in labelled[0].items()
                             if k in ("label", "person_track_id")}
    else:
        doc["segments"] = labelled
    return doc


