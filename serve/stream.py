"""The state of one camera stream: tracker, the last persons and objects, and per tracked person
the online action timeline (the sliding windows of pose and object features it needs).

It holds no model: the ingress calls the detector, pose and recognizer deployments and hands
their answers to ``track``, ``add_pose`` and ``complete``, in frame order (the ingress holds
the stream's lock across one frame). Tracking and frame rows are the frame path's
(``Tracker``, ``fill_frame``: persons by decreasing box size, objects by score), as in
jobs.extract and jobs.infer, and each person's timeline sees the stream with that person as
the subject, as jobs.infer's per-person views do.

Between detections (``stream.detect_every`` > 1) a person is tracked by the box of its last
keypoints, padded as top-down pose models pad a box, and the objects of the last detection are
kept; the tracker itself is only updated with detections, and it numbers them as consecutive
frames (``detection_tracker``). With ``stream.confirmed_tracks_only`` a person appears once the
tracker confirms its track, so that a one-off false detection never gets a timeline or an
answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np

from model.datasets.frame_rows import FrameArrays
from model.frame_path.boxes import keypoint_boxes
from model.frame_path.rows import fill_frame
from model.frame_path.tracking import Tracker
from model.inference.online import OnlineTimeline
from model.inference.package import ModelPackage
from model.inference.timeline_head import TimelineHead
from serve.settings import ServingSettings


class RequestError(ValueError):
    """A request the server refuses; ``status`` is its HTTP status code (4xx)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class PersonTimeline:
    timeline: OnlineTimeline
    first_frame: int      # stream frame of the timeline's first row
    last_seen: int


@dataclass
class Persons:
    """The tracked persons of one frame."""
    ids: np.ndarray                 # (P,)
    boxes: np.ndarray               # (P, 4)
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 17, 2), np.float32))
    keypoint_scores: np.ndarray = field(default_factory=lambda: np.zeros((0, 17), np.float32))


def detection_tracker(tracker_cfg: dict, detect_every: int) -> Tracker:
    """The tracker of a stream detected on every ``detect_every``-th frame. It is fed the
    detections numbered 0, 1, 2, ...: ByteTrack treats a track not updated on the frame before
    as lost (its height velocity is zeroed and low-score detections are not matched to it), so
    stream frame numbers with gaps would leave every track lost at every update; its Kalman
    filter steps once per update either way. Its retention, in frames, becomes updates."""
    cfg = dict(tracker_cfg)
    if "num_frames_retain" in cfg:
        cfg["num_frames_retain"] = max(1, round(int(cfg["num_frames_retain"]) / detect_every))
    return Tracker(cfg)


class StreamState:
    def __init__(self, stream_id: str, fps: float, settings: ServingSettings,
                 package: ModelPackage, head: TimelineHead, client: str | None = None):
        self.stream_id, self.fps = stream_id, float(fps)
        self.client = client        # the address that opened it (per-client limits)
        self.settings, self.package, self.head = settings, package, head
        self.options = settings.stream
        self.tracker = detection_tracker(settings.frame_path.tracker,
                                         int(self.options["detect_every"]))
        self.detections_tracked = 0
        self.lock = asyncio.Lock()
        self.next_frame = 0
        self.size: tuple[int, int] | None = None      # (height, width) of the first frame
        self.persons = Persons(np.zeros(0, np.int32), np.zeros((0, 4), np.float32))
        self.objects = self._no_objects()
        self.timelines: dict[int, PersonTimeline] = {}
        self.row: FrameArrays | None = None   # made at the first frame (its size)
        # Asynchronous detection: (frame, the task computing its detections) while one runs.
        self.detection: tuple[int, asyncio.Future] | None = None
        # Asynchronous recognition: (track ids, the task computing their step features).
        self.recognition: tuple[list[int], asyncio.Future] | None = None
        self.last_active = time.monotonic()
        self.socket_live = False    # a WebSocket feeds the stream (one at a time)

    @staticmethod
    def _no_objects() -> dict[str, np.ndarray]:
        return {"ids": np.zeros(0, np.int32), "boxes": np.zeros((0, 4), np.float32),
                "scores": np.zeros(0, np.float32), "classes": np.zeros(0, np.int16)}

    def begin(self, frame_index: int | None, image: np.ndarray) -> int:
        """Check the next frame (its number, when the client gives one, and its size); its
        stream frame number."""
        expected = self.next_frame
        if frame_index is not None and frame_index != expected:
            raise RequestError(409, f"stream {self.stream_id!r}: frame {frame_index} is out of "
                                    f"order; the next frame is {expected}")
        if self.size is not None and image.shape[:2] != self.size:
            raise RequestError(422, f"stream {self.stream_id!r}: frame {expected} is "
                                    f"{image.shape[1]}x{image.shape[0]}, the stream's frames "
                                    f"are {self.size[1]}x{self.size[0]}")
        self.last_active = time.monotonic()
        return expected

    def needs_detection(self, t: int) -> bool:
        """Detection every ``detect_every`` frames, and on every frame while nobody is
        tracked (a stride would delay finding a newcomer)."""
        return t % int(self.options["detect_every"]) == 0 or not len(self.persons.ids)

    def track(self, image: np.ndarray, detections: dict | None) -> Persons:
        """The persons of the frame ``image``: from the tracker with ``detections`` (of this
        frame, or of a recent one when detection is asynchronous), or (None) from their last
        keypoints."""
        height, width = image.shape[:2]
        if detections is None:
            boxes = keypoint_boxes(self.persons.keypoints, self.persons.keypoint_scores,
                                   self.persons.boxes, float(self.options["keypoint_thr"]),
                                   float(self.options["person_box_padding"]), width, height)
            return Persons(self.persons.ids, boxes)
        np_, no = int(detections["num_persons"]), int(detections["num_objects"])
        person_ids, object_ids = self.tracker.update(self.detections_tracked, detections)
        self.detections_tracked += 1
        kept = object_ids >= 0
        self.objects = {"ids": object_ids[kept],
                        "boxes": detections["object_boxes"][:no][kept],
                        "scores": detections["object_scores"][:no][kept],
                        "classes": detections["object_classes"][:no][kept]}
        tracked = person_ids >= 0
        if self.options["confirmed_tracks_only"]:
            tracked &= self.tracker.confirmed(person_ids)
        return Persons(person_ids[tracked], detections["person_boxes"][:np_][tracked])

    def add_pose(self, t: int, image: np.ndarray, persons: Persons) -> dict[int, list[dict]]:
        """Frame ``t`` complete with its poses: feed every person's timeline; the recognizer
        samples of the timelines that run it at this frame, by track id."""
        self.size = image.shape[:2]
        self.persons = persons
        self.next_frame = t + 1
        row = self._row(image, persons)
        for tid in persons.ids.tolist():
            if tid not in self.timelines:
                self.timelines[tid] = PersonTimeline(
                    OnlineTimeline(self.package, self.head, self.fps,
                                   int(self.options["recognize_every"])), t, t)
            self.timelines[tid].last_seen = t
        forget = max(1, round(float(self.options["forget_track_s"]) * self.fps))
        for tid in [k for k, p in self.timelines.items() if t - p.last_seen > forget]:
            del self.timelines[tid]
        pending = {}
        for tid, person in self.timelines.items():
            samples = person.timeline.add_row(row, subject=tid)
            if samples is not None:
                pending[tid] = samples
        return pending

    def hold(self) -> None:
        """The next frame was dropped (the overload policy: the newest frame wins): every
        timeline repeats the last row for it, so that the stream keeps its time, and no model
        runs. The caller completes a step the timelines wait for first (``step_blocked``)."""
        self.next_frame += 1
        if self.row is None:     # nothing processed yet: nothing to repeat
            return
        for tid, person in self.timelines.items():
            person.timeline.add_row(self.row, subject=tid, held=True)

    def step_blocked(self) -> bool:
        """Whether the next frame is a step of a timeline still waiting for its last one."""
        return any(p.timeline.waiting_frame is not None and p.timeline.next_is_step
                   for p in self.timelines.values())

    def abandon(self, tracks: list[int]) -> None:
        for tid in tracks:
            if tid in self.timelines:
                self.timelines[tid].timeline.abandon()

    def complete(self, features: dict[int, np.ndarray]) -> None:
        """Step features by track id (a timeline forgotten meanwhile is skipped)."""
        for tid, feats in features.items():
            if tid in self.timelines:
                self.timelines[tid].timeline.complete(feats)

    def _row(self, image: np.ndarray, persons: Persons) -> FrameArrays:
        """The frame's feature row (``fill_frame`` of the tracked persons and objects), in
        the stream's one-row buffer (the timelines copy it into their windows)."""
        height, width = image.shape[:2]
        arrays = self.row
        if arrays is None:
            arrays = self.row = FrameArrays.empty(self.stream_id, self.fps, width, height, 1,
                                                  self.settings.max_persons,
                                                  self.settings.max_objects)
        arrays.clear()
        objects = self.objects
        frame = {"person_boxes": persons.boxes, "keypoints": persons.keypoints,
                 "keypoint_scores": persons.keypoint_scores, "object_boxes": objects["boxes"],
                 "object_scores": objects["scores"], "object_classes": objects["classes"]}
        fill_frame(arrays, 0, frame, persons.ids, objects["ids"])
        return arrays

    def answer(self, t: int, with_poses: bool, with_objects: bool, dropped: int = 0,
               degraded: list[str] | None = None) -> dict:
        """The latest action of every person tracked in frame ``t``: the frame it names
        (``about_frame``) and how long before frame ``t`` that is (``delay_s``);
        ``dropped``: the frames dropped since the last answer (held, never processed);
        ``degraded``: the stages the frame was answered without (a lost or late replica: the
        actions are the last ones it gave)."""
        classes = self.settings.action_classes
        persons = []
        for p, tid in enumerate(self.persons.ids.tolist()):
            about, label, belief = self.timelines[tid].timeline.answer
            person = {"track_id": tid, "box": self.persons.boxes[p].round(1).tolist(),
                      "action": None if label is None else classes[label],
                      "score": None if label is None else round(float(belief[label]), 4),
                      "about_frame": None if about is None
                      else self.timelines[tid].first_frame + about,
                      "delay_s": None if about is None
                      else round((t - self.timelines[tid].first_frame - about) / self.fps, 3),
                      "scores": None if belief is None
                      else dict(zip(classes, np.round(belief, 4).tolist(), strict=True))}
            if with_poses:
                person["keypoints"] = self.persons.keypoints[p].round(1).tolist()
                person["keypoint_scores"] = self.persons.keypoint_scores[p].round(3).tolist()
            persons.append(person)
        doc = {"stream_id": self.stream_id, "frame_index": t, "dropped_frames": dropped,
               "degraded": degraded or [], "persons": persons}
        if with_objects:
            names = self.settings.object_classes
            doc["objects"] = [{"track_id": int(i), "label": names[int(c)],
                               "score": round(float(s), 4), "box": b.round(1).tolist()}
                              for i, c, s, b in zip(self.objects["ids"], self.objects["classes"],
                                                    self.objects["scores"],
                                                    self.objects["boxes"], strict=True)]
        return doc
