"""The online action timeline of one person in a live stream, fed one frame at a time.

It computes what ``TimelineHead.online_timeline`` computes over a whole video, but from the
frames seen so far only: every step it runs the recognizer on the last windows of frames (the
rows it has buffered), the causal MS-TCN on the last receptive field of step features, and
one update of the forward filter. The answer names the frame ``lag_frames`` before the newest
(the head's fixed lag), and depends on no frame after the newest.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyarrow as pa
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

from model.datasets.window_dataset import STREAMS, VideoArrays, seconds_to_frames
from model.inference.package import ModelPackage
from model.inference.step_features import embed, step_pipeline
from model.inference.timeline_head import TimelineHead, step_probs


class OnlineTimeline:
    """Feed rows of the feature table (one frame each, in order, with ``subject_track_id`` the
    person followed) to ``push``; it returns the frame the answer is about, its action and
    the action's posterior (None, None, None until the first answer)."""

    def __init__(self, package: ModelPackage, head: TimelineHead, fps: float):
        self.package, self.head = package, head
        self.windows = [seconds_to_frames(w, fps) for w in head.windows_s]
        self.step = seconds_to_frames(head.step_s, fps)
        self.lag_frames = head.lag_steps * self.step
        dataset = package.cfg.dataset
        self.num_person = dataset.get("num_person", 1)
        self.streams = tuple(dataset.get("streams", STREAMS))
        with DefaultScope.overwrite_default_scope("mmaction"):
            self.pipeline = Compose(step_pipeline(package.cfg))
        self.rows: deque[pa.Table] = deque(maxlen=max(self.windows))
        self.features: deque[np.ndarray] = deque(maxlen=head.online.receptive_field)
        self.filter = head.online_filter()
        self.frames_seen = 0
        self.answer: tuple[int | None, int | None, np.ndarray | None] = (None, None, None)

    def _step_feature(self) -> np.ndarray:
        """The recognizer's features of the windows ending at the newest frame, concatenated
        in the head's order (as ``merge_windows`` does)."""
        video = VideoArrays(pa.concat_tables(self.rows), self.num_person, self.streams)
        end = len(self.rows)
        samples = []
        for window in self.windows:
            sample = video.sample(max(0, end - window), end, int(video.label[-1]))
            # What BaseActionDataset.get_data_info adds to every sample of the dataset path.
            sample.update(modality="Pose", start_index=0)
            samples.append(self.pipeline(sample))
        features, _ = embed(self.package.model, pseudo_collate(samples))
        return features.reshape(-1)

    def push(self, row: pa.Table) -> tuple[int | None, int | None, np.ndarray | None]:
        if row.num_rows != 1:
            raise ValueError(f"push takes one frame (one table row), got {row.num_rows}")
        self.rows.append(row)
        frame = self.frames_seen
        if frame % self.step == 0:
            self.features.append(self._step_feature())
            probs = step_probs(self.head.online, np.stack(self.features))[-1]
            label, belief = self.filter.update(probs)
            if frame >= self.lag_frames:
                self.answer = (frame - self.lag_frames, label, belief)
        self.frames_seen += 1
        return self.answer
