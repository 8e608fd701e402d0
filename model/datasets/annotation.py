"""Read and validate workcell annotation documents (format: docs/data-format.md).

Validation has two layers. The published JSON Schema (model/schemas/annotation.schema.json)
checks structure: required fields, types, array shapes; it reports the first structural
problem of a file. The checks below it need context a
schema cannot express: NaN/inf values, boxes against the frame size, class names against the
dataset's class lists, segments against the frame count, unique frame indices and track ids.
Every problem is reported with the file, the frame (when there is one) and the JSON field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import numpy as np

from model.datasets.coco_keypoints import KEYPOINT_LAYOUT

ANNOTATION_FORMAT = "workcell-annotation"
ANNOTATION_VERSION = 1
DATASET_FORMAT = "workcell-dataset"
MAX_REPORTED_ISSUES = 20
# Annotation files larger than this are refused before they are read (``--max-annotation-mb``):
# a long video of many detections is tens of MB, and one enormous file must not exhaust a
# worker's memory.
DEFAULT_MAX_ANNOTATION_BYTES = 256 * 2**20


@dataclass(frozen=True)
class AnnotationIssue:
    """One problem in one annotation file."""

    file: str
    field: str
    message: str
    frame: int | None = None

    def __str__(self) -> str:
        where = f"frame {self.frame}: " if self.frame is not None else ""
        return f"{self.file}: {where}{self.field}: {self.message}"


class AnnotationError(ValueError):
    """An annotation file failed validation; ``issues`` lists every problem found."""

    def __init__(self, issues: list[AnnotationIssue]):
        self.issues = issues
        shown = "\n  ".join(str(i) for i in issues[:MAX_REPORTED_ISSUES])
        more = len(issues) - MAX_REPORTED_ISSUES
        suffix = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(issues)} problem(s):\n  {shown}{suffix}")


@dataclass(frozen=True)
class DatasetSpec:
    """Class lists every annotation of a dataset is checked against (``dataset.json``)."""

    name: str
    action_classes: tuple[str, ...]
    object_classes: tuple[str, ...]

    @classmethod
    def load(cls, path: str | Path) -> DatasetSpec:
        path = Path(path)
        doc = _read_json(path)
        issues = [AnnotationIssue(str(path), e.field, e.message)
                  for e in _schema_issues(doc, "dataset.schema.json")]
        if issues:
            raise AnnotationError(issues)
        for key in ("action_classes", "object_classes"):
            if len(set(doc[key])) != len(doc[key]):
                raise AnnotationError([AnnotationIssue(str(path), key, "duplicate class names")])
        return cls(doc["name"], tuple(doc["action_classes"]), tuple(doc["object_classes"]))

    def to_json(self) -> dict[str, Any]:
        return {"format": DATASET_FORMAT, "version": 1, "name": self.name,
                "action_classes": list(self.action_classes),
                "object_classes": list(self.object_classes), "keypoint_layout": KEYPOINT_LAYOUT}


@dataclass(frozen=True)
class _SchemaIssue:
    field: str
    message: str
    path: tuple


@cache
def _validator(schema_name: str):
    # fastjsonschema compiles the schema to Python code: about 15x faster than a generic
    # validator on keypoint-heavy documents, which matters when ingesting thousands of videos.
    schema = json.loads(resources.files("model.schemas").joinpath(schema_name).read_text())
    return fastjsonschema.compile(schema)


def _json_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _schema_issues(doc: Any, schema_name: str) -> list[_SchemaIssue]:
    """The first structural problem of ``doc`` (fastjsonschema stops at the first one)."""
    try:
        _validator(schema_name)(doc)
    except fastjsonschema.JsonSchemaValueException as exc:
        path = tuple(int(p) if p.isdigit() else p for p in exc.path[1:])  # drop "data"
        field = _json_path(path)
        message = exc.message.removeprefix(exc.name).strip()
        if exc.rule == "oneOf" and not path:
            message = "needs exactly one of 'clip_label' or 'segments'"
        elif exc.rule in ("minItems", "maxItems") and isinstance(exc.value, list):
            bound = exc.rule_definition
            word = "at least" if exc.rule == "minItems" else "at most"
            message = f"expected {word} {bound} items, got {len(exc.value)}"
        elif exc.rule == "type":
            message = f"expected {exc.rule_definition}, got {type(exc.value).__name__} " \
                      f"{_short(exc.value)}"
        return [_SchemaIssue(field, message, path)]
    return []


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_json(path: Path, max_bytes: int | None = None) -> Any:
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise AnnotationError([AnnotationIssue(
                str(path), "(file)", f"{size / 2**20:.1f} MB is over the "
                                     f"{max_bytes / 2**20:.1f} MB limit for annotation files "
                                     "(--max-annotation-mb)")])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(
            [AnnotationIssue(str(path), "(file)", f"cannot read: {exc}")]) from exc
    try:
        # NaN/Infinity literals are not JSON but Python writers emit them; keep them as floats so
        # the semantic checks can report them with their frame and field.
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError([AnnotationIssue(
            str(path), "(document)", f"malformed JSON at line {exc.lineno} column {exc.colno}: "
                                     f"{exc.msg}")]) from exc
    except RecursionError as exc:
        raise AnnotationError([AnnotationIssue(
            str(path), "(document)", "JSON nested too deeply to parse")]) from exc


def load_annotation(path: str | Path, spec: DatasetSpec, box_tolerance_px: float = 2.0,
                    max_bytes: int | None = DEFAULT_MAX_ANNOTATION_BYTES) -> dict:
    """Parse and validate one annotation file; raise AnnotationError listing every problem."""
    path = Path(path)
    doc = _read_json(path, max_bytes)
    issues = validate_annotation(doc, str(path), spec, box_tolerance_px)
    if issues:
        raise AnnotationError(issues)
    return doc


def validate_annotation(doc: Any, file: str, spec: DatasetSpec,
                        box_tolerance_px: float = 2.0) -> list[AnnotationIssue]:
    """All problems of a parsed document; an empty list means it is valid."""
    schema_issues = _schema_issues(doc, "annotation.schema.json")
    if schema_issues:
        return [AnnotationIssue(file, i.field, i.message, _frame_of(doc, i.path))
                for i in schema_issues]
    return _SemanticChecker(doc, file, spec, box_tolerance_px).run()


def _frame_of(doc: Any, path: tuple) -> int | None:
    if len(path) >= 2 and path[0] == "frames" and isinstance(path[1], int):
        frame = doc["frames"][path[1]]
        index = frame.get("index") if isinstance(frame, dict) else None
        return index if isinstance(index, int) else None
    return None


class _SemanticChecker:
    def __init__(self, doc: dict, file: str, spec: DatasetSpec, box_tolerance_px: float):
        self.doc, self.file, self.spec, self.tol = doc, file, spec, box_tolerance_px
        video = doc["video"]
        self.width, self.height = video["width"], video["height"]
        self.frame_count = video["frame_count"]
        self.object_classes = set(spec.object_classes)
        self.action_classes = set(spec.action_classes)
        self.issues: list[AnnotationIssue] = []

    def add(self, field: str, message: str, frame: int | None = None) -> None:
        self.issues.append(AnnotationIssue(self.file, field, message, frame))

    def run(self) -> list[AnnotationIssue]:
        if not math.isfinite(self.doc["video"]["fps"]):
            self.add("video.fps", "not a finite number")
        tracks = self._check_frames()
        self._check_labels(tracks)
        return self.issues

    def _check_frames(self) -> set[int]:
        seen_frames: set[int] = set()
        tracks: set[int] = set()
        for i, frame in enumerate(self.doc["frames"]):
            index = frame["index"]
            where = f"frames[{i}]"
            if index >= self.frame_count:
                self.add(f"{where}.index", f"frame index {index} is past the end of the video "
                                           f"(frame_count {self.frame_count})", index)
            if index in seen_frames:
                self.add(f"{where}.index", f"frame index {index} appears twice", index)
            seen_frames.add(index)
            frame_tracks: set[int] = set()
            for j, person in enumerate(frame["persons"]):
                pwhere = f"{where}.persons[{j}]"
                if person["track_id"] in frame_tracks:
                    self.add(f"{pwhere}.track_id", f"track {person['track_id']} appears twice "
                                                   "in one frame", index)
                frame_tracks.add(person["track_id"])
                keypoints = np.asarray(person["keypoints"], dtype=np.float64)
                bad = ~np.isfinite(keypoints)
                if bad.any():
                    joint, coord = np.argwhere(bad)[0]
                    self.add(f"{pwhere}.keypoints[{joint}][{coord}]",
                             f"{int(bad.any(axis=1).sum())} keypoint(s) with NaN or infinite "
                             "values", index)
                self._check_box(person["box"], f"{pwhere}.box", index)
                self._check_score(person.get("score", 1.0), f"{pwhere}.score", index)
            tracks |= frame_tracks
            object_tracks: set[int] = set()
            for j, obj in enumerate(frame["objects"]):
                owhere = f"{where}.objects[{j}]"
                if "track_id" in obj:
                    if obj["track_id"] in object_tracks:
                        self.add(f"{owhere}.track_id", f"object track {obj['track_id']} appears "
                                                       "twice in one frame", index)
                    object_tracks.add(obj["track_id"])
                if obj["class"] not in self.object_classes:
                    self.add(f"{owhere}.class", f"unknown object class {obj['class']!r}", index)
                self._check_box(obj["box"], f"{owhere}.box", index)
                self._check_score(obj["score"], f"{owhere}.score", index)
        return tracks

    def _check_score(self, score: float, field: str, frame: int) -> None:
        if not math.isfinite(score):  # NaN passes the schema's minimum/maximum
            self.add(field, f"score {score} is not a finite number", frame)

    def _check_box(self, box: list[float], field: str, frame: int) -> None:
        x1, y1, x2, y2 = box
        if not all(math.isfinite(v) for v in box):
            self.add(field, f"NaN or infinite coordinate in {box}", frame)
        elif not (x1 < x2 and y1 < y2):
            self.add(field, f"box {box} is not [x1, y1, x2, y2] with x1 < x2 and y1 < y2", frame)
        elif (x1 < -self.tol or y1 < -self.tol or x2 > self.width + self.tol
              or y2 > self.height + self.tol):
            self.add(field, f"box {box} lies outside the {self.width}x{self.height} frame", frame)

    def _check_labels(self, tracks: set[int]) -> None:
        clip = self.doc.get("clip_label")
        if clip is not None:
            self._check_action(clip["label"], "clip_label.label")
            if "person_track_id" in clip and clip["person_track_id"] not in tracks:
                self.add("clip_label.person_track_id",
                         f"track {clip['person_track_id']} appears in no frame")
            return
        spans: list[tuple[int, int, int]] = []
        for i, seg in enumerate(self.doc["segments"]):
            where = f"segments[{i}]"
            start, end = seg["start_frame"], seg["end_frame"]
            self._check_action(seg["label"], f"{where}.label")
            if end > self.frame_count:
                self.add(f"{where}.end_frame", f"segment ends at frame {end}, past the end of "
                                               f"the video (frame_count {self.frame_count})")
            if start >= end:
                self.add(f"{where}", f"empty segment: start_frame {start} >= end_frame {end}")
            if seg["person_track_id"] not in tracks:
                self.add(f"{where}.person_track_id",
                         f"track {seg['person_track_id']} appears in no frame")
            spans.append((start, end, i))
        # One action per frame: the feature table holds one label and one subject per frame.
        spans.sort()
        for (_, end_a, a), (start_b, _, b) in zip(spans, spans[1:], strict=False):
            if start_b < end_a:
                self.add(f"segments[{b}]", f"overlaps segments[{a}]")

    def _check_action(self, label: str, field: str) -> None:
        if label not in self.action_classes:
            self.add(field, f"unknown action class {label!r}")
