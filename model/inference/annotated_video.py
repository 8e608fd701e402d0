"""Draw a video's extracted features and per-person actions onto its frames, as an MP4."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from model.datasets.coco_keypoints import coco_pose_metainfo
from model.datasets.frame_rows import FrameArrays


def _track_color(track_id: int) -> tuple[int, int, int]:
    hue = (track_id * 47) % 180
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(c) for c in bgr)


def frame_actions(persons: list[dict], num_frames: int) -> dict[int, list[tuple[str, float]]]:
    """Per track id, the (label, score) of every frame from its timeline segments."""
    actions = {}
    for person in persons:
        per_frame = [("", 0.0)] * num_frames
        for seg in person["segments"]:
            for t in range(seg["start_frame"], min(seg["end_frame"], num_frames)):
                per_frame[t] = (seg["label"], seg["score"])
        actions[person["track_id"]] = per_frame
    return actions


def write_annotated_video(video: str | Path, arrays: FrameArrays, persons: list[dict],
                          object_classes: list[str], out: str | Path,
                          keypoint_thr: float) -> int:
    """Boxes (persons with track id and current action, objects with class), skeletons of
    keypoints scoring at least ``keypoint_thr``; ``arrays``: the video's feature rows, its
    frames in order. Returns the number of frames written."""
    track_ids = arrays.person_track_ids
    person_boxes = arrays.person_boxes
    keypoints = arrays.keypoints
    keypoint_scores = arrays.keypoint_scores
    object_cls = arrays.object_classes
    object_boxes = arrays.object_boxes
    actions = frame_actions(persons, len(track_ids))
    links = coco_pose_metainfo()["skeleton_links"]
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or arrays.fps
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    # VP8 in WebM: browsers play it (the live view's finished videos); MPEG-4 part 2, OpenCV's
    # usual MP4 codec, they do not, and OpenCV's wheels have no H.264 encoder.
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"VP80"), fps, size)
    if not writer.isOpened():
        capture.release()
        raise OSError(f"cannot open a video writer for {out}")
    written = 0
    try:
        for t in range(len(track_ids)):
            ok, img = capture.read()
            if not ok:
                break
            for cls, box in zip(object_cls[t], object_boxes[t], strict=True):
                if cls >= 0:
                    x0, y0, x1, y1 = box.round().astype(int).tolist()
                    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 200, 255), 1)
                    cv2.putText(img, object_classes[cls], (x0, max(y0 - 2, 8)),
                                cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 200, 255), 1, cv2.LINE_AA)
            for slot, tid in enumerate(track_ids[t].tolist()):
                if tid < 0:
                    continue
                color = _track_color(tid)
                x0, y0, x1, y1 = person_boxes[t, slot].round().astype(int).tolist()
                cv2.rectangle(img, (x0, y0), (x1, y1), color, 2)
                kp, score = keypoints[t, slot], keypoint_scores[t, slot]
                for a, b in links:
                    if score[a] >= keypoint_thr and score[b] >= keypoint_thr:
                        cv2.line(img, kp[a].round().astype(int).tolist(),
                                 kp[b].round().astype(int).tolist(), color, 2, cv2.LINE_AA)
                label, conf = actions.get(tid, [("", 0.0)] * len(track_ids))[t]
                text = f"#{tid} {label} {conf:.2f}" if label else f"#{tid}"
                cv2.putText(img, text, (x0, max(y0 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                            color, 1, cv2.LINE_AA)
            writer.write(img)
            written += 1
    finally:
        capture.release()
        writer.release()
    return written
