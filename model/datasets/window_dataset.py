"""An MMAction2 dataset of windows cut from the Parquet feature table at load time.

Because the table holds one row per frame, the window length is a parameter of this dataset,
not of the ingest: any length can be tried without re-ingesting.

Each sample holds the arrays of the configured ``streams`` only: an ablation that sees one
stream cannot be handed the other by its pipeline, because the dataset never loads it.

Two modes:
  * ``segments`` (training, validation, test): windows inside each labelled segment of the
    subject, at most ``window_s`` long, every ``stride_s``; a segment shorter than a window
    is one window. Each window is one sample with its segment's label.
  * ``sliding`` (action timelines of untrimmed videos): windows over whole videos, labelled or
    not; ``frame_range`` tells which frames a window covers.
  * ``causal`` (per-step features of the temporal model): at every ``stride_s`` from the first
    frame, the window of at most ``window_s`` that ends at that frame (shorter at the start of
    the video); its label is that frame's. A window never holds a frame after its step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS

from model.datasets.feature_table import read_feature_table, read_info, tensor_column
from model.datasets.frame_rows import FrameArrays
from model.runs import runs

STREAMS = ("pose", "objects")
_COMMON_COLUMNS = ["video_id", "frame_index", "fps", "width", "height", "label",
                   "segment_index"]
_STREAM_COLUMNS = {
    "pose": ["person_track_ids", "keypoints", "keypoint_scores", "subject_track_id"],
    "objects": ["object_track_ids", "object_classes", "object_boxes", "object_scores"],
}


def subject_first_order(track_ids: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """(T, M) slot order per frame that puts the subject's slot first, the others after.

    A frame whose subject is not detected gets an empty slot (index M, pointing at padding)
    first, so that a passer-by is never taken for the subject. A subject of -1 (unlabelled
    frame) means "the largest person", which the ingest already put in slot 0.
    """
    num_frames, num_slots = track_ids.shape
    is_subject = (track_ids == subject[:, None]) & (track_ids >= 0)
    found = is_subject.any(1)
    subject_slot = np.where(found, is_subject.argmax(1), num_slots)
    subject_slot = np.where(subject < 0, 0, subject_slot)
    slots = np.broadcast_to(np.arange(num_slots), (num_frames, num_slots))
    others = np.where(slots == subject_slot[:, None], num_slots + 1, slots)
    others = np.sort(others, axis=1)[:, : num_slots - 1]
    return np.concatenate([subject_slot[:, None], others], 1)


class VideoArrays:
    """Dense arrays of one video: the pose with the subject-first person order applied (time
    axis 1), and the objects (time axis 0), for the streams that were read.

    ``columns``: the feature table's per-frame columns by name, as NumPy arrays (those of the
    ``streams``, plus ``label`` and ``segment_index``); ``from_table`` and ``from_frames`` make
    them from a table's rows or from in-memory ``FrameArrays``."""

    def __init__(self, columns: Mapping[str, np.ndarray], video_id: str, fps: float,
                 img_shape: tuple[int, int], num_person: int, streams: Sequence[str]):
        self.video_id, self.fps, self.img_shape = video_id, float(fps), tuple(img_shape)
        self.label = np.asarray(columns["label"])
        self.segment = np.asarray(columns["segment_index"])
        self.pose: dict[str, np.ndarray] = {}
        self.objects: dict[str, np.ndarray] = {}
        if "pose" in streams:
            order = subject_first_order(columns["person_track_ids"],
                                        np.asarray(columns["subject_track_id"]))[:, :num_person]
            kp, score = columns["keypoints"], columns["keypoint_scores"]
            # Index M of the padded arrays is an all-zero (missing) person.
            kp = np.concatenate([kp, np.zeros_like(kp[:, :1])], 1)
            score = np.concatenate([score, np.zeros_like(score[:, :1])], 1)
            rows = np.arange(len(order))[:, None]
            self.pose = {"keypoint": kp[rows, order].transpose(1, 0, 2, 3),       # (M, T, V, 2)
                         "keypoint_score": score[rows, order].transpose(1, 0, 2)}  # (M, T, V)
        if "objects" in streams:
            self.objects = {
                "object_track_ids": columns["object_track_ids"],
                "object_boxes": columns["object_boxes"],
                "object_classes": np.asarray(columns["object_classes"]).astype(np.int64),
                "object_scores": columns["object_scores"]}

    @classmethod
    def from_table(cls, table: pa.Table, num_person: int, streams: Sequence[str]
                   ) -> VideoArrays:
        """The rows of one video of a feature table (the columns of ``streams`` at least)."""
        names = ["label", "segment_index"] + [c for s in streams for c in _STREAM_COLUMNS[s]]
        columns = {name: tensor_column(table, name)
                   if isinstance(table.schema.field(name).type, pa.FixedShapeTensorType)
                   else table.column(name).to_numpy() for name in names}
        return cls(columns, table.column("video_id")[0].as_py(),
                   float(table.column("fps")[0].as_py()),
                   (table.column("height")[0].as_py(), table.column("width")[0].as_py()),
                   num_person, streams)

    @classmethod
    def from_frames(cls, arrays: FrameArrays, num_person: int, streams: Sequence[str]
                    ) -> VideoArrays:
        """In-memory feature rows (the frame path's, a live stream's window)."""
        return cls(vars(arrays), arrays.video_id, arrays.fps, (arrays.height, arrays.width),
                   num_person, streams)

    def sample(self, start: int, end: int, label: int) -> dict:
        span = slice(start, end)
        return dict(video_id=self.video_id, frame_range=(start, end), label=int(label),
                    total_frames=end - start, img_shape=self.img_shape, fps=self.fps,
                    **{k: v[:, span] for k, v in self.pose.items()},
                    **{k: v[span] for k, v in self.objects.items()})


def seconds_to_frames(seconds: float, fps: float) -> int:
    """A duration in whole frames (at least one)."""
    return max(1, int(round(seconds * fps)))


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Starts of windows covering [0, length): a short span is one window, the last window
    ends at ``length``."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


@DATASETS.register_module()
class FeatureTableDataset(BaseActionDataset):
    """Windows of the feature table (``ann_file`` is the table's folder).

    Args:
        ann_file: folder of the Parquet feature table.
        pipeline: the transforms.
        split: ``train``, ``val`` or ``test``.
        mode: ``segments``, ``sliding`` or ``causal`` (see the module docstring).
        window_s: longest window in seconds (None: whole segments, ``segments`` mode only).
        stride_s: step between windows in seconds.
        num_person: persons per sample, subject first.
        min_frames: segments shorter than this are skipped.
        video_ids: only these videos (None: all of the split).
        streams: what the samples hold: ``pose`` (keypoints of the subject first), ``objects``
            (the detections), or both.
        extra_tables: more feature tables (same classes) whose windows of ``split`` are added,
            e.g. features extracted from the videos beside their annotations; a table without
            that split adds none.
    """

    def __init__(self, ann_file: str, pipeline: Sequence[dict | Callable], split: str,
                 mode: str = "segments", window_s: float | None = 4.0, stride_s: float = 2.0,
                 num_person: int = 1, min_frames: int = 4,
                 video_ids: Sequence[str] | None = None,
                 streams: Sequence[str] = STREAMS, extra_tables: Sequence[str] = (),
                 **kwargs):
        if mode not in ("segments", "sliding", "causal"):
            raise ValueError(f"mode must be 'segments', 'sliding' or 'causal', got {mode!r}")
        if mode != "segments" and window_s is None:
            raise ValueError(f"{mode} windows need window_s")
        if stride_s <= 0 or (window_s is not None and window_s <= 0):
            raise ValueError(f"window_s and stride_s must be positive ({window_s}, {stride_s})")
        unknown = set(streams) - set(STREAMS)
        if unknown or not streams:
            raise ValueError(f"streams must be a non-empty subset of {STREAMS}, got {streams}")
        self.streams = tuple(streams)
        self.split, self.mode = split, mode
        self.window_s, self.stride_s = window_s, stride_s
        self.num_person, self.min_frames = num_person, min_frames
        self.video_ids = None if video_ids is None else set(video_ids)
        info = read_info(ann_file)
        self.extra_tables = tuple(str(t) for t in extra_tables)
        for table in self.extra_tables:
            other = read_info(table)
            if (other.action_classes, other.object_classes) != \
                    (info.action_classes, info.object_classes):
                raise ValueError(f"{table}: its action or object classes differ from "
                                 f"{ann_file}'s")
        kwargs.setdefault("metainfo", dict(classes=info.action_classes,
                                           object_classes=info.object_classes))
        super().__init__(ann_file, pipeline=pipeline, modality="Pose", **kwargs)

    def load_data_list(self) -> list[dict]:
        data_list = self._windows(self.ann_file, required=True)
        for table in self.extra_tables:
            data_list += self._windows(table, required=False)
        return data_list

    def _windows(self, root: str, required: bool) -> list[dict]:
        columns = _COMMON_COLUMNS + [c for s in self.streams for c in _STREAM_COLUMNS[s]]
        table, _ = read_feature_table(root, splits=[self.split], columns=columns)
        if table.num_rows == 0:
            if required:
                raise ValueError(f"{root}: split {self.split!r} is empty")
            return []
        # Rows come sorted by video and frame: each video is one contiguous run.
        ids = table.column("video_id").to_numpy(zero_copy_only=False)
        data_list = []
        for start, end in runs(ids):
            if self.video_ids is not None and ids[start] not in self.video_ids:
                continue
            video = VideoArrays.from_table(table.slice(start, end - start), self.num_person,
                                            self.streams)
            cut = {"segments": self._segment_windows, "sliding": self._sliding_windows,
                   "causal": self._causal_windows}[self.mode]
            data_list += cut(video)
        return data_list

    def _segment_windows(self, video: VideoArrays) -> list[dict]:
        out = []
        for start, end in runs(video.segment):
            label = video.label[start]
            if label < 0 or end - start < self.min_frames:
                continue
            if self.window_s is None:
                out.append(video.sample(start, end, label))
                continue
            window = seconds_to_frames(self.window_s, video.fps)
            stride = seconds_to_frames(self.stride_s, video.fps)
            out += [video.sample(start + s, min(start + s + window, end), label)
                    for s in window_starts(end - start, window, stride)]
        return out

    def _sliding_windows(self, video: VideoArrays) -> list[dict]:
        return sliding_windows(video, self.window_s, self.stride_s)

    def _causal_windows(self, video: VideoArrays) -> list[dict]:
        return causal_windows(video, self.window_s, self.stride_s)


def sliding_windows(video: VideoArrays, window_s: float, stride_s: float) -> list[dict]:
    """Windows of ``window_s`` every ``stride_s`` over the whole video (mode ``sliding``),
    labelled with their middle frame's label."""
    window = seconds_to_frames(window_s, video.fps)
    stride = seconds_to_frames(stride_s, video.fps)
    total = len(video.label)
    out = []
    for s in window_starts(total, window, stride):
        end = min(s + window, total)
        out.append(video.sample(s, end, video.label[(s + end) // 2]))
    return out


def causal_windows(video: VideoArrays, window_s: float, stride_s: float) -> list[dict]:
    """At every ``stride_s`` from the first frame, the window of at most ``window_s`` that
    ends at that frame (mode ``causal``), labelled with that frame's label."""
    window = seconds_to_frames(window_s, video.fps)
    stride = seconds_to_frames(stride_s, video.fps)
    return [video.sample(max(0, t + 1 - window), t + 1, video.label[t])
            for t in causal_steps(len(video.label), stride)]


def causal_steps(num_frames: int, stride: int) -> range:
    """The frames at which the causal mode cuts a window: 0, stride, 2 stride, ..."""
    return range(0, num_frames, stride)
