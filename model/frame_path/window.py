"""The window buffer of a live stream: the newest feature rows, kept in preallocated arrays.

A stream's recognizer looks at the last few seconds of rows at every step. ``FrameWindow``
holds them in a ring of ``FrameArrays`` rows: pushing a frame copies one row (no Arrow table,
no allocation), and ``newest(n)`` hands the last ``n`` rows back in time order.
"""

from __future__ import annotations

import numpy as np

from model.datasets.frame_rows import PER_FRAME_FIELDS, FrameArrays


class FrameWindow:
    """The newest ``capacity`` rows of a stream (``FrameArrays`` of one video id, fps and
    frame size)."""

    def __init__(self, capacity: int, video_id: str, fps: float, width: int, height: int,
                 max_persons: int, max_objects: int):
        if capacity < 1:
            raise ValueError(f"a window holds at least one frame, got capacity {capacity}")
        self.ring = FrameArrays.empty(video_id, fps, width, height, capacity, max_persons,
                                      max_objects)
        self.capacity = capacity
        self.pushed = 0          # rows pushed in all

    def push(self, row: FrameArrays, t: int = 0, subject: int | None = None) -> None:
        """Append row ``t`` of ``row`` (arrays of the same slot counts), dropping the oldest
        row when full; ``subject``: the track id to store as its ``subject_track_id``."""
        slot = self.pushed % self.capacity
        for name in PER_FRAME_FIELDS:
            getattr(self.ring, name)[slot] = getattr(row, name)[t]
        if subject is not None:
            self.ring.subject_track_id[slot] = subject
        self.pushed += 1

    def __len__(self) -> int:
        return min(self.pushed, self.capacity)

    def newest(self, n: int) -> FrameArrays:
        """The newest ``n`` rows (at most those held), oldest first, as arrays of their own."""
        n = min(n, len(self))
        return self.ring.rows(np.arange(self.pushed - n, self.pushed) % self.capacity)
