"""Ray Data callables of the ingest job: validate annotation files, then turn them into rows.

Validation and conversion are two passes because the split of a video (and the rejection of
duplicate video ids) can only be decided once every file has been read; the second pass then
parses each accepted file again, which is cheap next to the training it feeds.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from model.datasets.annotation import AnnotationError, DatasetSpec, load_annotation
from model.datasets.frame_rows import annotation_to_arrays


class _AnnotationReader:
    """What both passes need: the class lists and the ingest options."""

    def __init__(self, spec_json: dict, box_tolerance_px: float, max_persons: int,
                 max_objects: int):
        self.spec = DatasetSpec(spec_json["name"], tuple(spec_json["action_classes"]),
                                tuple(spec_json["object_classes"]))
        self.box_tolerance_px = box_tolerance_px
        self.max_persons = max_persons
        self.max_objects = max_objects


class ValidateAnnotation(_AnnotationReader):
    """Row ``{"path"}`` -> the file's video id, main label and problems (empty when valid).

    Also counts the detections that will not fit the table's person / object slots, so that
    the job can report what the chosen ``max_persons`` / ``max_objects`` leave out.
    """

    def __call__(self, row: dict) -> dict:
        path = row["path"]
        try:
            doc = load_annotation(path, self.spec, self.box_tolerance_px)
        except AnnotationError as exc:
            return {"path": path, "video_id": "", "main_label": "", "num_frames": 0,
                    "dropped_persons": 0, "dropped_objects": 0,
                    "issues": [str(issue) for issue in exc.issues]}
        frames = doc["frames"]
        return {"path": path, "video_id": doc["video"]["id"], "main_label": _main_label(doc),
                "num_frames": doc["video"]["frame_count"],
                "dropped_persons": sum(max(len(f["persons"]) - self.max_persons, 0)
                                       for f in frames),
                "dropped_objects": sum(max(len(f["objects"]) - self.max_objects, 0)
                                       for f in frames),
                "issues": []}


def _main_label(doc: dict) -> str:
    """The label covering most frames; used to stratify seeded splits."""
    if "clip_label" in doc:
        return doc["clip_label"]["label"]
    frames = Counter()
    for seg in doc["segments"]:
        frames[seg["label"]] += seg["end_frame"] - seg["start_frame"]
    return frames.most_common(1)[0][0]


class AnnotationToRows(_AnnotationReader):
    """Batch of ``{"path", "split"}`` -> feature-table rows of those videos (one per frame)."""

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        tables = []
        for path, split in zip(batch["path"], batch["split"], strict=True):
            doc = load_annotation(str(path), self.spec, self.box_tolerance_px)
            arrays = annotation_to_arrays(doc, self.spec, self.max_persons, self.max_objects)
            table = arrays.to_table(list(self.spec.action_classes),
                                    list(self.spec.object_classes))
            tables.append(with_split(table, str(split)))
        return pa.concat_tables(tables)


def with_split(table: pa.Table, split: str) -> pa.Table:
    """Add the Hive partition column ``split``."""
    return table.append_column("split", pa.array([split] * table.num_rows, pa.string()))
