"""Reading video files: probe a file, cut it into shards, read the frames of a shard.

A shard is a range of source frames; shards of one video can be read in parallel and put back
in order. OpenCV's FFmpeg backend seeks to the keyframe before a position and decodes forward,
so a shard starting mid-video yields exactly the frames a full read would.

A file that cannot be opened, has no frames or stops decoding early raises ``VideoError``
naming the file (and the frame where it broke off).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class VideoError(ValueError):
    """A video file that cannot be used; the message names the file (``path``) and what is
    wrong (``problem``, without the file: what a service tells a client that uploaded it)."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = str(path), problem

    def __reduce__(self):
        # Raised in Ray workers: it crosses processes pickled, with both arguments.
        return type(self), (self.path, self.problem)


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int       # frames the container declares
    fps: float
    width: int
    height: int


def probe_video(path: str | Path) -> VideoInfo:
    """Open a video and read its declared frame count, rate and size, and its first frame."""
    path = str(path)
    if not Path(path).is_file():
        raise VideoError(path, "no such file")
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise VideoError(path, "cannot be opened as a video (corrupt, truncated, or a "
                             "codec OpenCV lacks)")
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        ok, first = cap.read()
    finally:
        cap.release()
    if frames <= 0 or not ok:
        raise VideoError(path, f"the video has no decodable frame (declared frame count "
                         f"{frames})")
    if not np.isfinite(fps) or fps <= 0:
        raise VideoError(path, f"no valid frame rate in the container (fps {fps})")
    height, width = first.shape[:2]
    return VideoInfo(path, frames, fps, width, height)


def plan_shards(video_id: str, info: VideoInfo, shard_frames: int, stride: int) -> list[dict]:
    """Rows ``{video_id, path, shard, num_shards, start, end, stride}`` covering the video.

    Shard boundaries are multiples of ``stride`` so that every shard keeps the frames a
    full-length strided read keeps."""
    if shard_frames < 1 or stride < 1:
        raise ValueError(f"shard_frames and stride must be positive ({shard_frames}, {stride})")
    step = max(stride, shard_frames // stride * stride)
    starts = list(range(0, info.num_frames, step))
    return [dict(video_id=video_id, path=info.path, shard=i, num_shards=len(starts),
                 start=s, end=min(s + step, info.num_frames), stride=stride)
            for i, s in enumerate(starts)]


def kept_frames(start: int, end: int, stride: int) -> int:
    """How many frames a shard keeps (its starts are multiples of the stride)."""
    return len(range(start, end, stride))


def read_frames(path: str | Path, start: int = 0, end: int | None = None,
                stride: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(source frame index, BGR frame) of every ``stride``-th frame of [start, end) (``end``:
    the declared frame count when None). Raises ``VideoError`` where the file stops decoding
    before ``end``."""
    path = str(path)
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise VideoError(path, "cannot be opened as a video")
        if end is None:
            end = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if start > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        for index in range(start, end):
            # Frames between kept ones are grabbed without being converted to BGR.
            kept = not (index - start) % stride
            ok = cap.grab()
            frame = cap.retrieve()[1] if ok and kept else None
            if not ok or (kept and frame is None):
                raise VideoError(path, f"frame {index}: could not be decoded (the container "
                                 f"declares frames up to {end - 1}; file truncated or corrupt)")
            if kept:
                yield index, frame
    finally:
        cap.release()
