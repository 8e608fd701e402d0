"""A model deployment the ingress stops calling for a while after it failed or answered too
late, so that frames are answered without it (flagged ``degraded``) instead of each waiting
for a replica Serve is still replacing."""

from __future__ import annotations

import time


class Outage:
    def __init__(self, retry_s: float):
        self.retry_s = float(retry_s)
        self.until = 0.0

    def begin(self) -> None:
        """The stage failed now: leave it alone for ``retry_s``."""
        self.until = time.monotonic() + self.retry_s

    def active(self) -> bool:
        return time.monotonic() < self.until


class StageOutage(Exception):
    """A frame needs a stage during its outage: it is refused (503) without calling it."""

    def __init__(self, stage: str):
        super().__init__(f"the {stage} is left alone after a failure")
