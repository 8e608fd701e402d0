"""The videos of an extraction run: a folder, a dataset folder or a manifest (CSV or JSON).

Manifest rows have ``video`` (a path) and optionally ``annotation`` (the video's annotation
JSON, which makes its frames labelled) and ``split`` (train / val / test); relative paths are
relative to the manifest's folder. A CSV has a header row; a JSON file is a list of objects.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from model.datasets.feature_table import SPLITS
from model.datasets.splits import load_split_file

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


class ManifestError(ValueError):
    """A manifest or video folder that cannot be used; the message names file and field."""


@dataclass(frozen=True)
class VideoInput:
    video_id: str
    path: str
    annotation: str | None
    split: str | None


def videos_in_folder(folder: str | Path, annotations: str | Path | None = None,
                     split_file: str | Path | None = None) -> list[VideoInput]:
    """Every video of ``folder`` (by suffix), its id the file stem; ``annotations`` holds
    ``<id>.json`` for the labelled ones; ``split_file`` assigns splits by id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(f"{folder}: not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not paths:
        raise ManifestError(f"{folder}: no video file ({', '.join(VIDEO_SUFFIXES)})")
    splits = load_split_file(split_file) if split_file is not None else {}
    out, seen = [], {}
    for path in paths:
        if path.stem in seen:
            raise ManifestError(f"{path}: video id {path.stem!r} is also {seen[path.stem]} "
                                "(ids are file stems: rename one)")
        seen[path.stem] = path.name
        annotation = None
        if annotations is not None and (Path(annotations) / f"{path.stem}.json").is_file():
            annotation = str(Path(annotations) / f"{path.stem}.json")
        out.append(VideoInput(path.stem, str(path), annotation, splits.get(path.stem)))
    return out


def read_manifest(path: str | Path) -> list[VideoInput]:
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            rows = json.loads(path.read_text())
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ManifestError(f"{path}: expected a JSON list of objects")
        else:
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from exc
    if not rows:
        raise ManifestError(f"{path}: the manifest lists no video")
    out, seen = [], {}
    for i, row in enumerate(rows):
        where = f"{path}: row {i + 1}"
        video = row.get("video")
        if not isinstance(video, str) or not video.strip():
            raise ManifestError(f"{where}: video: missing (every row needs a video path)")
        split = row.get("split") or None
        if split is not None and split not in SPLITS:
            raise ManifestError(f"{where}: split: {split!r} is not one of {SPLITS}")
        annotation = row.get("annotation") or None
        video_path = path.parent / video.strip()
        video_id = str(row.get("video_id") or video_path.stem)
        if video_id in seen:
            raise ManifestError(f"{where}: video id {video_id!r} repeats row {seen[video_id]}")
        seen[video_id] = i + 1
        out.append(VideoInput(video_id, str(video_path),
                              None if annotation is None else str(path.parent / annotation),
                              split))
    return out
