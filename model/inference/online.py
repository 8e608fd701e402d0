"""The online action timeline of one person in a live stream, fed one frame at a time.

It computes what ``TimelineHead.online_timeline`` computes over a whole video, but from the
frames seen so far only: every step it runs the recognizer on the last windows of frames (the
rows it has buffered), one step of the causal MS-TCN (``CausalTCNStream``: one column per
layer, the same output as the network over the whole sequence), and one update of the
forward filter. The answer names the frame ``lag_frames`` before the newest
(the head's fixed lag), and depends on no frame after the newest.

``push`` does all of it in this process. A server whose recognizer runs elsewhere (the Serve
graph) splits it: ``add_row`` buffers a frame and returns the recognizer's input samples when a
step needs them, ``complete`` takes the step's features back. Rows are the feature table's,
in memory (``FrameArrays``), kept in the frame path's window buffer.
"""

from __future__ import annotations

import numpy as np
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

from model.datasets.frame_rows import FrameArrays
from model.datasets.window_dataset import STREAMS, VideoArrays, seconds_to_frames
from model.frame_path.window import FrameWindow
from model.inference.package import ModelPackage
from model.inference.step_features import embed, step_pipeline
from model.inference.timeline_head import TimelineHead
from model.networks.ms_tcn import CausalTCNStream


class OnlineTimeline:
    """Feed the feature rows of a video or stream (one frame each, in order, with
    ``subject_track_id`` the person followed) to ``push``; it returns the frame the answer is
    about, its action and the action's posterior (None, None, None until the first answer).

    ``recognize_every``: the recognizer runs at every this-many-th step of the head; the steps
    in between reuse the last step's features (less compute per frame, coarser in time)."""

    def __init__(self, package: ModelPackage, head: TimelineHead, fps: float,
                 recognize_every: int = 1):
        if recognize_every < 1:
            raise ValueError(f"recognize_every must be a positive number of steps, got "
                             f"{recognize_every}")
        self.package, self.head = package, head
        self.windows = [seconds_to_frames(w, fps) for w in head.windows_s]
        self.step = seconds_to_frames(head.step_s, fps)
        self.lag_frames = head.lag_steps * self.step
        self.recognize_every = recognize_every
        dataset = package.cfg.dataset
        self.num_person = dataset.get("num_person", 1)
        self.streams = tuple(dataset.get("streams", STREAMS))
        with DefaultScope.overwrite_default_scope("mmaction"):
            self.pipeline = Compose(step_pipeline(package.cfg))
        self.rows: FrameWindow | None = None     # made by the first row (its frame size)
        self.tcn = CausalTCNStream(head.online_stream_weights)
        self.last_feature: np.ndarray | None = None   # reused by steps without recognition
        self.filter = head.online_filter()
        self.frames_seen = 0
        self.steps_seen = 0
        self.waiting_frame: int | None = None   # the step whose features are awaited
        self.answer: tuple[int | None, int | None, np.ndarray | None] = (None, None, None)

    def _samples(self) -> list[dict]:
        """The recognizer's input for the windows ending at the newest frame, in the head's
        order (``merge_windows`` concatenates their features in that order)."""
        video = VideoArrays.from_frames(self.rows.newest(len(self.rows)), self.num_person,
                                        self.streams)
        end = len(self.rows)
        samples = []
        for window in self.windows:
            sample = video.sample(max(0, end - window), end, int(video.label[-1]))
            # What BaseActionDataset.get_data_info adds to every sample of the dataset path.
            sample.update(modality="Pose", start_index=0)
            samples.append(self.pipeline(sample))
        return samples

    @property
    def next_is_step(self) -> bool:
        """Whether the next frame is a step of the head."""
        return self.frames_seen % self.step == 0

    def add_row(self, row: FrameArrays, t: int = 0, subject: int | None = None,
                held: bool = False) -> list[dict] | None:
        """Buffer row ``t`` of ``row`` (its ``subject_track_id``, or ``subject`` when given:
        the person this timeline follows). At a step that runs the recognizer: its input
        samples, to embed and hand to ``complete`` before the next step's ``add_row``;
        otherwise None.

        ``held``: the row stands in for a frame that was never processed (a stream's dropped
        frame repeats the last row, so that the timeline keeps the stream's time); its step
        reuses the last features instead of running the recognizer."""
        if self.next_is_step and self.waiting_frame is not None:
            raise RuntimeError(f"step at frame {self.waiting_frame} was not completed")
        if self.rows is None:
            self.rows = FrameWindow(max(self.windows), row.video_id, row.fps, row.width,
                                    row.height, row.person_track_ids.shape[1],
                                    row.object_track_ids.shape[1])
        self.rows.push(row, t, subject)
        frame = self.frames_seen
        self.frames_seen += 1
        if frame % self.step:
            return None
        self.steps_seen += 1
        reuse = held or (self.steps_seen - 1) % self.recognize_every
        if reuse and self.last_feature is not None:
            self._advance(frame, self.last_feature)
            return None
        if held:    # nothing recognised yet: the step has no features to reuse
            return None
        self.waiting_frame = frame
        return self._samples()

    def complete(self, features: np.ndarray) -> tuple[int | None, int | None, np.ndarray | None]:
        """The recognizer's features (one row per window sample) of the awaited step."""
        if self.waiting_frame is None:
            raise RuntimeError("no step is waiting for features")
        frame, self.waiting_frame = self.waiting_frame, None
        self._advance(frame, np.asarray(features).reshape(-1))
        return self.answer

    def abandon(self) -> None:
        """Give up the awaited step (its recognizer run failed or came too late): the step
        reuses the last features, as a held frame's step does, so that the timeline keeps the
        stream's time (before any features, it goes on one step shorter)."""
        frame, self.waiting_frame = self.waiting_frame, None
        if frame is not None and self.last_feature is not None:
            self._advance(frame, self.last_feature)

    def _advance(self, frame: int, feature: np.ndarray) -> None:
        self.last_feature = feature
        label, belief = self.filter.update(self.tcn.step(feature))
        if frame >= self.lag_frames:
            self.answer = (frame - self.lag_frames, label, belief)

    def push(self, row: FrameArrays, t: int = 0, subject: int | None = None
             ) -> tuple[int | None, int | None, np.ndarray | None]:
        samples = self.add_row(row, t, subject)
        if samples is not None:
            features, _ = embed(self.package.model, pseudo_collate(samples))
            self.complete(features)
        return self.answer
