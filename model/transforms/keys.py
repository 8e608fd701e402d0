"""Results-dict key checks shared by the transforms (see STYLE: name the transform in errors)."""

from __future__ import annotations

from collections.abc import Iterable

# COCO-17 joint indices used by the transforms.
LEFT_JOINTS = (1, 3, 5, 7, 9, 11, 13, 15)
RIGHT_JOINTS = (2, 4, 6, 8, 10, 12, 14, 16)
SHOULDERS = (5, 6)
HIPS = (11, 12)
WRISTS = (9, 10)  # left, right
# Set by the normalizers (model.transforms.normalize): "body" or "image". The augmentations and
# encoders that follow need centred coordinates and check for it.
COORD_FRAME = "coord_frame"


def require(transform: object, results: dict, keys: Iterable[str]) -> None:
    """Fail with the transform's name and the missing keys instead of a bare KeyError."""
    missing = [k for k in keys if k not in results]
    if missing:
        video = results.get("video_id", "?")
        raise KeyError(f"{type(transform).__name__}: results of video {video!r} lack "
                       f"{missing}; check the order of the pipeline")
