"""Video decoding for the extraction pipeline: probe a file, cut it into shards, decode a shard.

A shard is a range of source frames; shards of one video are decoded in parallel and put back
in order by the job. OpenCV's FFmpeg backend seeks to the keyframe before a position and
decodes forward, so a shard starting mid-video yields exactly the frames a full read would.

A file that cannot be opened, has no frames or stops decoding early is not an exception that
stops the pipeline: probing raises ``VideoError`` (the job records it), and a shard that breaks
off yields a row whose ``error`` says where, so that only that video fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class VideoError(ValueError):
    """A video file that cannot be used; the message names the file and what is wrong."""


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
        raise VideoError(f"{path}: no such file")
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise VideoError(f"{path}: cannot be opened as a video (corrupt, truncated, or a "
                             "codec OpenCV lacks)")
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        ok, first = cap.read()
    finally:
        cap.release()
    if frames <= 0 or not ok:
        raise VideoError(f"{path}: the video has no decodable frame (declared frame count "
                         f"{frames})")
    if not np.isfinite(fps) or fps <= 0:
        raise VideoError(f"{path}: no valid frame rate in the container (fps {fps})")
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


class DecodeShard:
    """Shard row -> frame-batch rows of at most ``batch_frames`` kept frames.

    Each output row holds ``frames`` (B, H, W, 3) uint8 BGR (resized when ``resize`` is given),
    ``frame_indices`` (B,) the source frame numbers, ``scale`` (x, y) from source to frame
    pixels, and ``error`` (empty, or why the shard broke off). The last row of a shard has
    ``last_in_shard`` set and ``shard_rows``, the number of rows the shard gave (0 on the
    others): rows may reach the consumer in any order, so it knows a shard is complete when it
    has that many. A shard that breaks off ends with an error row without frames.
    """

    def __init__(self, batch_frames: int, resize: tuple[int, int] | None = None):
        if batch_frames < 1:
            raise ValueError(f"batch_frames must be positive, got {batch_frames}")
        if resize is not None and (len(resize) != 2 or min(resize) < 1):
            raise ValueError(f"resize must be (width, height), got {resize}")
        self.batch_frames = batch_frames
        self.resize = None if resize is None else (int(resize[0]), int(resize[1]))

    def __call__(self, shard: dict) -> Iterator[dict]:
        cap = cv2.VideoCapture(shard["path"])
        try:
            for count, row in enumerate(self._decode(cap, shard), 1):
                row["shard_rows"] = count if row["last_in_shard"] else 0
                yield row
        finally:
            cap.release()

    def _decode(self, cap: cv2.VideoCapture, shard: dict) -> Iterator[dict]:
        start, end, stride = int(shard["start"]), int(shard["end"]), int(shard["stride"])
        if start > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        frames, indices = [], []
        scale = np.ones(2, np.float32)
        for index in range(start, end):
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            if not ok:
                if frames:
                    yield self._row(shard, frames, indices, scale, "", last=False)
                yield self._row(shard, [], [], scale, (
                    f"{shard['path']}: frame {index}: could not be decoded (the container "
                    f"declares frames up to {shard['end'] - 1}; file truncated or corrupt)"),
                    last=True)
                return
            if (index - start) % stride:
                continue
            if self.resize is not None:
                h, w = frame.shape[:2]
                scale = np.array([self.resize[0] / w, self.resize[1] / h], np.float32)
                frame = cv2.resize(frame, self.resize, interpolation=cv2.INTER_AREA)
            frames.append(frame)
            indices.append(index)
            if len(frames) == self.batch_frames:
                done = index + stride >= end
                yield self._row(shard, frames, indices, scale, "", last=done)
                if done:
                    return
                frames, indices = [], []
        yield self._row(shard, frames, indices, scale, "", last=True)

    @staticmethod
    def _row(shard: dict, frames: list, indices: list, scale: np.ndarray, error: str,
             last: bool) -> dict:
        stacked = np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)
        return {"video_id": shard["video_id"], "shard": int(shard["shard"]),
                "frames": stacked, "frame_indices": np.asarray(indices, np.int32),
                "scale": scale, "error": error, "last_in_shard": last}
