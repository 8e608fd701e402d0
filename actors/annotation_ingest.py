"""Ray Data callables of the ingest job: validate annotation files, then turn them into rows.

Validation and conversion are two passes because the split of a video (and the rejection of
duplicate video ids) can only be decided once every file has been read; the second pass then
parses each accepted file again, which is cheap next to the training it feeds.

Both passes handle one file at a time and confine any failure to that file: a pathological
document (nested deeper than the parser's recursion limit, say) or a file changed between the
passes rejects that file, never the job.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pyarrow as pa

from model.datasets.annotation import AnnotationError, DatasetSpec, load_annotation
from model.datasets.feature_table import feature_schema
from model.datasets.frame_rows import annotation_to_arrays

logger = logging.getLogger(__name__)


class _AnnotationReader:
    """What both passes need: the class lists and the ingest options."""

    def __init__(self, spec_json: dict, box_tolerance_px: float, max_persons: int,
                 max_objects: int, max_bytes: int | None, group_by: str | None = None):
        self.spec = DatasetSpec(spec_json["name"], tuple(spec_json["action_classes"]),
                                tuple(spec_json["object_classes"]))
        self.box_tolerance_px = box_tolerance_px
        self.max_persons = max_persons
        self.max_objects = max_objects
        self.max_bytes = max_bytes
        self.group_by = group_by

    def load(self, path: str) -> dict:
        return load_annotation(path, self.spec, self.box_tolerance_px, self.max_bytes)


def _rejected(path: str, issues: list[str]) -> dict:
    return {"path": path, "video_id": "", "main_label": "", "group": "", "num_frames": 0,
            "dropped_persons": 0, "dropped_objects": 0, "issues": issues}


class ValidateAnnotation(_AnnotationReader):
    """Row ``{"path"}`` -> the file's video id, main label, group and problems (empty when
    valid).

    Also counts the detections that will not fit the table's person / object slots, so that
    the job can report what the chosen ``max_persons`` / ``max_objects`` leave out.
    """

    def __call__(self, row: dict) -> dict:
        path = row["path"]
        try:
            doc = self.load(path)
        except AnnotationError as exc:
            return _rejected(path, [str(issue) for issue in exc.issues])
        except Exception as exc:  # noqa: BLE001 - any failure of one file rejects that file
            # only, with its type and message in the report; the other files go on.
            return _rejected(path, [f"{path}: (file): could not be checked: "
                                    f"{type(exc).__name__}: {exc}"])
        group = ""
        if self.group_by is not None:
            group = doc["video"].get("groups", {}).get(self.group_by, "")
            if not group:
                return _rejected(path, [f"{path}: video.groups.{self.group_by}: missing, and "
                                        f"--group-by {self.group_by} needs it in every file"])
        frames = doc["frames"]
        return {"path": path, "video_id": doc["video"]["id"], "main_label": _main_label(doc),
                "group": group, "num_frames": doc["video"]["frame_count"],
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
    """Batch of ``{"path", "split"}`` -> feature-table rows of those videos (one per frame).

    A file that fails here (it passed validation, so it changed since, or a conversion bug) is
    left out and logged; the job finds it missing from the table and rejects it.
    """

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        tables = []
        for path, split in zip(batch["path"], batch["split"], strict=True):
            try:
                arrays = annotation_to_arrays(self.load(str(path)), self.spec,
                                              self.max_persons, self.max_objects)
            except Exception:  # noqa: BLE001 - confined to this file, see the class docstring
                logger.exception("%s: conversion to feature-table rows failed", path)
                continue
            table = arrays.to_table(list(self.spec.action_classes),
                                    list(self.spec.object_classes))
            tables.append(with_split(table, str(split)))
        if not tables:
            return feature_schema(self.max_persons, self.max_objects,
                                  list(self.spec.action_classes),
                                  list(self.spec.object_classes)
                                  ).append(pa.field("split", pa.string())).empty_table()
        return pa.concat_tables(tables)


def with_split(table: pa.Table, split: str) -> pa.Table:
    """Add the Hive partition column ``split``."""
    return table.append_column("split", pa.array([split] * table.num_rows, pa.string()))
