"""Single encoded frames (a camera's JPEG or PNG): their size read from the header, then one
decode. The header is read first so that an image too large to hold is refused before its
pixels are decoded (a 16384 x 16384 PNG can weigh a quarter of a megabyte)."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import JpegImagePlugin, PngImagePlugin

# Header readers by the files' magic bytes.
_READERS = {b"\x89PNG\r\n\x1a\n": PngImagePlugin.PngImageFile,
            b"\xff\xd8\xff": JpegImagePlugin.JpegImageFile}


class FrameError(ValueError):
    """An encoded frame that cannot be used; the message says what is wrong with it."""


class FrameTooLarge(FrameError):
    """An encoded frame with more pixels than the limit (refused before decoding)."""


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG or PNG header, without decoding the pixels."""
    if not data:
        raise FrameError("frame: empty body")
    reader = next((r for magic, r in _READERS.items() if data.startswith(magic)), None)
    if reader is None:
        raise FrameError(f"frame: {len(data)} bytes that are not a JPEG or PNG image; send "
                         "JPEG or PNG")
    try:
        # The format's own parser reads the header only (pixels are decoded on first access);
        # called directly, it skips Image.open's decompression-bomb refusal, so that the
        # caller's pixel limit, not Pillow's, decides.
        with reader(io.BytesIO(data)) as image:
            return image.size
    except (SyntaxError, OSError, ValueError) as exc:
        raise FrameError(f"frame: {len(data)} bytes whose JPEG/PNG header does not parse "
                         f"({exc})") from exc


def decode_image(data: bytes, max_pixels: int, min_side: int = 1) -> np.ndarray:
    """The BGR frame of JPEG/PNG bytes; ``FrameError`` when the header is not an image's,
    the image is larger than ``max_pixels`` or smaller than ``min_side`` on a side, or the
    pixels do not decode."""
    width, height = image_size(data)
    if width * height > max_pixels:
        raise FrameTooLarge(f"frame: {width}x{height} pixels, more than the limit of "
                            f"{max_pixels}")
    if min(width, height) < min_side:
        raise FrameError(f"frame: {width}x{height} pixels; a side must be at least {min_side}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError(f"frame: {len(data)} bytes of a {width}x{height} image whose pixels "
                         "do not decode (truncated or corrupt)")
    return image
