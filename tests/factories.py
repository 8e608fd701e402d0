"""Test data built in code: small annotation documents, and tiny built-in datasets."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from model.datasets.annotation import DatasetSpec
from model.datasets.coco_keypoints import KEYPOINT_LAYOUT

SPEC = DatasetSpec("tiny", ("idle", "reach", "pick_part"), ("part", "screwdriver"))


def person(track_id: int, x: float, y: float, score: float = 0.9) -> dict:
    """A standing figure of 17 joints whose box is [x, y, x + 40, y + 100]."""
    keypoints = [[x + 20 + (j % 3) * 5, y + 5 + j * 5, score] for j in range(17)]
    return {"track_id": track_id, "box": [x, y, x + 40, y + 100], "score": score,
            "keypoints": keypoints}


def annotation(video_id: str, frames: int = 12, label: str | None = "reach",
               segments: list[dict] | None = None, width: int = 320,
               height: int = 240) -> dict:
    """One subject (track 1) moving right, one part; a clip label unless segments are given."""
    doc = {
        "format": "workcell-annotation", "version": 1,
        "video": {"id": video_id, "file": f"videos/{video_id}.mp4", "fps": 15.0,
                  "width": width, "height": height, "frame_count": frames},
        "keypoint_layout": KEYPOINT_LAYOUT,
        "frames": [{"index": t, "persons": [person(1, 50 + t, 60)],
                    "objects": [{"track_id": 5, "box": [100, 100, 120, 115], "class": "part",
                                 "score": 0.8}]}
                   for t in range(frames)],
    }
    if segments is not None:
        doc["segments"] = segments
    else:
        doc["clip_label"] = {"label": label, "person_track_id": 1}
    return doc


def write_dataset(root: Path, docs: list[dict], spec: DatasetSpec = SPEC,
                  raw: dict[str, str] | None = None) -> Path:
    """Write dataset.json and annotations/*.json; ``raw`` adds files with verbatim text."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "dataset.json").write_text(json.dumps(spec.to_json()))
    for doc in docs:
        (root / "annotations" / f"{doc['video']['id']}.json").write_text(json.dumps(doc))
    for name, text in (raw or {}).items():
        (root / "annotations" / name).write_text(text)
    return root


def modified(doc: dict, edit) -> dict:
    """A deep copy of ``doc`` changed by ``edit(copy)``."""
    out = copy.deepcopy(doc)
    edit(out)
    return out


# Settings of tiny generated datasets: low resolution and frame rate keep them fast.
SMALL = dict(fps=10, width=160, height=120)
