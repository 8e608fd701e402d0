"""COCO-format detection and keypoint files of frames sampled from the rendered videos.

Frames are read back from the written MP4s (what the detector will see at run time, after both
compressions) and stored as JPEGs under ``coco/images/<split>/``; their ground truth is what the
renderer drew (``render.DrawnFrame``). One file pair per split, ``coco/detection_<split>.json``
(person + the object classes) and ``coco/keypoints_<split>.json`` (persons with COCO-17
keypoints): the training jobs read train and val, the pixel benchmark reads test, so test frames
never reach training.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from model.datasets.coco_keypoints import coco_pose_metainfo
from workcell_synth.render import DrawnFrame

COCO_DIR = "coco"
PERSON = "person"


def coco_keypoint_meta() -> tuple[list[str], list[list[int]]]:
    """COCO-17 keypoint names and skeleton (1-based ids, as in person_keypoints files)."""
    meta = coco_pose_metainfo()
    names = [meta["keypoint_id2name"][i] for i in range(meta["num_keypoints"])]
    return names, [[a + 1, b + 1] for a, b in meta["skeleton_links"]]


def detection_file(root: str | Path, split: str) -> Path:
    return Path(root) / COCO_DIR / f"detection_{split}.json"


def keypoint_file(root: str | Path, split: str) -> Path:
    return Path(root) / COCO_DIR / f"keypoints_{split}.json"


def sample_frames(rng: np.random.Generator, frame_count: int, count: int) -> tuple[int, ...]:
    """``count`` frames spread over the video: one at a random place in each equal part."""
    if count <= 0 or frame_count <= 0:
        return ()
    edges = np.linspace(0, frame_count, min(count, frame_count) + 1)
    return tuple(int(rng.integers(int(a), max(int(a) + 1, int(b))))
                 for a, b in zip(edges[:-1], edges[1:], strict=True))


def read_frames(path: str | Path, indices: tuple[int, ...]) -> dict[int, np.ndarray]:
    """The decoded frames ``indices`` of a video, read in one sequential pass."""
    wanted, frames = set(indices), {}
    capture = cv2.VideoCapture(str(path))
    try:
        t = 0
        while len(frames) < len(wanted):
            ok, img = capture.read()
            if not ok:
                raise OSError(f"{path}: frame {t} cannot be decoded (wanted {sorted(wanted)})")
            if t in wanted:
                frames[t] = img
            t += 1
    finally:
        capture.release()
    return frames


def export_frames(root: Path, split: str, video_id: str, video: Path,
                  drawn: dict[int, DrawnFrame], jpeg_quality: int, min_box_px: float) -> list[dict]:
    """Write the JPEGs of ``drawn``'s frames; their records (image + instances) for
    ``write_coco_files``. Boxes under ``min_box_px`` wide or high are left out."""
    images = root / COCO_DIR / "images" / split
    images.mkdir(parents=True, exist_ok=True)
    records = []
    for t, img in sorted(read_frames(video, tuple(drawn)).items()):
        name = f"{video_id}_{t:05d}.jpg"
        if not cv2.imwrite(str(images / name), img, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f"cannot write {images / name}")
        frame = drawn[t]

        def big(box: list[float]) -> bool:
            return box[2] - box[0] >= min_box_px and box[3] - box[1] >= min_box_px

        records.append({
            "file_name": f"images/{split}/{name}", "height": img.shape[0], "width": img.shape[1],
            "video_id": video_id, "frame": t,
            "persons": [{"track_id": tid, "box": [round(v, 2) for v in box],
                         "keypoints": np.round(kp, 2).tolist()}
                        for tid, box, kp in frame.persons if big(box)],
            "objects": [{"category": cls, "track_id": tid, "box": [round(v, 2) for v in box]}
                        for cls, tid, box in frame.objects if big(box)]})
    return records


def _xywh(box: list[float]) -> list[float]:
    return [box[0], box[1], round(box[2] - box[0], 2), round(box[3] - box[1], 2)]


def coco_documents(records: list[dict], object_classes: tuple[str, ...]) -> tuple[dict, dict]:
    """(detection, keypoint) COCO documents of one split's records."""
    classes = (PERSON, *object_classes)
    category_id = {name: k + 1 for k, name in enumerate(classes)}
    images, det, kpt = [], [], []
    for image_id, rec in enumerate(sorted(records, key=lambda r: r["file_name"]), start=1):
        images.append({"id": image_id, "file_name": rec["file_name"], "width": rec["width"],
                       "height": rec["height"], "video_id": rec["video_id"],
                       "frame": rec["frame"]})
        for person in rec["persons"]:
            box = _xywh(person["box"])
            common = {"image_id": image_id, "category_id": category_id[PERSON], "bbox": box,
                      "area": round(box[2] * box[3], 2), "iscrowd": 0,
                      "track_id": person["track_id"]}
            det.append(common | {"id": len(det) + 1})
            flat = [round(v, 2) if i % 3 < 2 else int(v)
                    for kp in person["keypoints"] for i, v in enumerate(kp)]
            kpt.append(common | {"id": len(kpt) + 1, "keypoints": flat,
                                 "num_keypoints": sum(int(kp[2]) > 0
                                                      for kp in person["keypoints"])})
        for obj in rec["objects"]:
            box = _xywh(obj["box"])
            det.append({"id": len(det) + 1, "image_id": image_id,
                        "category_id": category_id[obj["category"]], "bbox": box,
                        "area": round(box[2] * box[3], 2), "iscrowd": 0,
                        "track_id": obj["track_id"]})
    detection = {"images": images, "annotations": det,
                 "categories": [{"id": i, "name": n} for n, i in category_id.items()]}
    names, skeleton = coco_keypoint_meta()
    keypoints = {"images": images, "annotations": kpt,
                 "categories": [{"id": 1, "name": PERSON, "supercategory": PERSON,
                                 "keypoints": names, "skeleton": skeleton}]}
    return detection, keypoints


def write_coco_files(root: Path, split: str, records: list[dict],
                     object_classes: tuple[str, ...]) -> None:
    detection, keypoints = coco_documents(records, object_classes)
    for path, doc in ((detection_file(root, split), detection),
                      (keypoint_file(root, split), keypoints)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
