"""The overload policy of a WebSocket stream: the newest frame wins.

A camera sends at its own rate whether or not the service keeps up. The socket's reader takes
every message as it arrives and leaves at most one frame waiting: a frame that arrives while
another waits replaces it, and the replaced one is dropped (never decoded). The stream then
holds the dropped frames (``StreamState.hold``) and each answer counts them, so a client that
sends faster than it is served gets bounded latency and sees what it lost, never a queue that
grows.
"""

from __future__ import annotations

import asyncio


class NewestFrame:
    """What the reader of one WebSocket hands to the task that answers it: the newest frame
    not yet taken (with its number among the frames received on the socket) and the notices
    to send before it (answers to messages that are not frames)."""

    def __init__(self):
        self.received = 0           # frames received on the socket
        self.closed = False
        self._frame: tuple[int, bytes] | None = None
        self._notices: list[dict] = []
        self._ready = asyncio.Event()

    def put_frame(self, data: bytes) -> None:
        self._frame = (self.received, data)
        self.received += 1
        self._ready.set()

    def put_notice(self, notice: dict) -> None:
        self._notices.append(notice)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def take(self) -> tuple[list[dict], tuple[int, bytes] | None]:
        """Wait for something to answer: (notices, (frame number, bytes) or None); returns
        at once when the socket is closed."""
        while not (self._frame or self._notices or self.closed):
            self._ready.clear()
            await self._ready.wait()
        notices, self._notices = self._notices, []
        frame, self._frame = self._frame, None
        return notices, frame
