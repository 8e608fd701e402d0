"""The Ray Data actor of the extraction pipeline: the frame path's model stages over video
shards.

    shard row --PerceiveShards (actor pool)--> frame-batch rows: frame numbers, persons,
        objects and keypoints (no pixels)

Each actor decodes its shard, runs the detector and the pose model of ``model.frame_path`` on
batches of frames and adds the busy seconds of each step to the rows (``decode_s``,
``detect_s``, ``pose_s``), so the job can tell which stage limits a run. Decoding in the actor
keeps the pixels where they are made: a batch of eight 480x360 frames is 4 MB, its
perception a few kilobytes. A shard whose file breaks off ends with an error row (``error``
names the file and frame) instead of raising: only that video fails, the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from model.frame_path.chain import DetectionStage, FramePathSettings, PoseStage
from model.frame_path.video import VideoError, read_frames


def _row(shard: dict, frames: list[np.ndarray], indices: list[int], error: str,
         seconds: float) -> dict:
    stacked = np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)
    return {"video_id": shard["video_id"], "shard": int(shard["shard"]), "frames": stacked,
            "frame_indices": np.asarray(indices, np.int32), "error": error,
            "last_in_shard": False, "shard_rows": 0, "decode_s": seconds}


def decode_shard(shard: dict, batch_frames: int) -> Iterator[dict]:
    """Shard row -> rows of at most ``batch_frames`` kept frames: ``frames`` (B, H, W, 3)
    uint8 BGR, ``frame_indices`` (B,) their source frame numbers, ``error`` (empty, or why
    the shard broke off). The last row of a shard has ``last_in_shard`` set and
    ``shard_rows``, the number of rows the shard gave (0 on the others): rows may reach the
    consumer in any order, so it knows a shard is complete when it has that many."""
    if batch_frames < 1:
        raise ValueError(f"batch_frames must be positive, got {batch_frames}")
    # Each row is held back until the next one exists, so that the last can be marked.
    held, count = None, 0
    for row in _shard_rows(shard, batch_frames):
        if held is not None:
            count += 1
            yield held
        held = row
    if held is None:   # a shard of no frame (a container that declares none in its range)
        held = _row(shard, [], [], f"{shard['path']}: frames {shard['start']}-{shard['end']}: "
                    "nothing decoded", 0.0)
    held["last_in_shard"], held["shard_rows"] = True, count + 1
    yield held


def _shard_rows(shard: dict, batch_frames: int) -> Iterator[dict]:
    frames, indices = [], []
    started = time.perf_counter()
    try:
        for index, frame in read_frames(shard["path"], int(shard["start"]), int(shard["end"]),
                                        int(shard["stride"])):
            frames.append(frame)
            indices.append(index)
            if len(frames) == batch_frames:
                yield _row(shard, frames, indices, "", time.perf_counter() - started)
                frames, indices = [], []
                started = time.perf_counter()
    except VideoError as exc:
        if frames:
            yield _row(shard, frames, indices, "", time.perf_counter() - started)
        yield _row(shard, [], [], str(exc), 0.0)
        return
    if frames:
        yield _row(shard, frames, indices, "", time.perf_counter() - started)


class PerceiveShards:
    """Shard row -> its frame-batch rows with the frames' perception (``PERCEPTION`` arrays:
    persons, objects, keypoints; frame pixels) in place of the pixels. The frame path's
    ``DetectionStage`` and ``PoseStage`` run in this actor on the frames it decoded: the
    pixels never travel, and each actor's models use its own share of the cores."""

    def __init__(self, settings: FramePathSettings, threads: int = 1):
        self.settings = settings
        self.detection = DetectionStage(settings, threads)
        self.poses = PoseStage(settings, threads)

    def __call__(self, shard: dict) -> Iterator[dict]:
        for row in decode_shard(shard, self.settings.batch_frames):
            frames = row.pop("frames")
            started = time.perf_counter()
            row.update(self.detection(frames))
            row["detect_s"] = time.perf_counter() - started
            started = time.perf_counter()
            row["keypoints"], row["keypoint_scores"] = self.poses(
                frames, row["person_boxes"], row["num_persons"])
            row["pose_s"] = time.perf_counter() - started
            yield row
