"""What each tracked person of one video is doing: per-person action timelines from the
video's feature rows in memory (the frame path's ``FrameArrays``).

Every person tracked long enough is followed on its own: the video's rows with that person as
the subject (the recognizer's first person), through the package's timeline head (per-step
features, MS-TCN, decoding; offline, or the causal online mode), or, for a package without a
head, the summed scores of sliding windows. A person's actions are reported while it is seen.
The windows are cut as the feature-table dataset cuts them (``causal_windows``,
``sliding_windows``), straight from the arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from model.datasets.frame_rows import FrameArrays
from model.datasets.window_dataset import STREAMS, VideoArrays, sliding_windows
from model.device import local_device
from model.inference.ensemble import combine, load_members, package_classes
from model.inference.package import ModelPackage, load_package
from model.inference.predict import predict_samples
from model.inference.step_features import merge_windows, window_step_features
from model.inference.timeline import frame_segments, label_segments, summed_frame_scores
from model.inference.timeline_head import has_timeline_head, load_timeline_head


def person_tracks(arrays: FrameArrays, min_frames: int) -> dict[int, tuple[int, int, int]]:
    """Track id -> (first frame, last frame, frames seen) of every person track seen in at
    least ``min_frames`` frames."""
    ids = arrays.person_track_ids
    tracks = {}
    for tid in np.unique(ids[ids >= 0]).tolist():
        frames = np.flatnonzero((ids == tid).any(1))
        if len(frames) >= min_frames:
            tracks[tid] = (int(frames[0]), int(frames[-1]), len(frames))
    return tracks


def subject_view(arrays: FrameArrays, package: ModelPackage, track_id: int) -> VideoArrays:
    """The video as the package's recognizer sees it with ``track_id`` as the subject."""
    followed = arrays.rows(slice(None))
    followed.subject_track_id[:] = track_id
    dataset = package.cfg.dataset
    return VideoArrays.from_frames(followed, dataset.get("num_person", 1),
                                   tuple(dataset.get("streams", STREAMS)))


def _while_seen(values: np.ndarray, track: tuple[int, int, int], empty) -> np.ndarray:
    first, last, _ = track
    values = values.copy()
    values[:first] = values[last + 1:] = empty
    return values


def head_segments(package: ModelPackage, arrays: FrameArrays, tracks: dict,
                  actions: list[str], online: bool, batch_size: int) -> dict[int, list[dict]]:
    """Per track: the segments of the timeline head's offline (or online) timeline while the
    person is seen."""
    head = load_timeline_head(package.folder)
    out = {}
    for tid, track in tracks.items():
        video = subject_view(arrays, package, tid)
        feats = merge_windows([{tid: window_step_features(package, video, w, head.step_s,
                                                          batch_size)}
                               for w in head.windows_s])[tid]
        labels, probs = (head.online_timeline if online else head.offline_timeline)(feats)
        out[tid] = label_segments(_while_seen(labels, track, -1), probs, actions)
    return out


def window_segments(package_dir: Path, arrays: FrameArrays, tracks: dict,
                    actions: list[str], window_s: float, stride_s: float,
                    batch_size: int) -> dict[int, list[dict]]:
    """Per track: segments of the summed sliding-window scores (of every member of an
    ensemble, weighted) while the person is seen."""
    members, weights = load_members(package_dir)
    out = {}
    for tid, track in tracks.items():
        scores = {}
        for name, member in members.items():
            with DefaultScope.overwrite_default_scope("mmaction"):
                pipeline = Compose(member.cfg.test_pipeline)
            windows = sliding_windows(subject_view(arrays, member, tid), window_s, stride_s)
            scores[name] = predict_samples(member.model, pipeline, windows, batch_size)
        summed = summed_frame_scores(combine(scores, weights), windows, arrays.video_id,
                                     arrays.num_frames)
        out[tid] = frame_segments(_while_seen(summed, track, 0.0), actions)
    return out


def person_timelines(arrays: FrameArrays, package_dir: str | Path, *, online: bool = False,
                     window_s: float = 1.5, stride_s: float = 0.25, min_track_s: float = 0.5,
                     batch_size: int = 32, loaded: ModelPackage | None = None) -> dict:
    """The timeline document's fields of one video's feature rows: fps, frames, classes,
    package, method and the persons with their segments (``loaded``: the package already
    loaded)."""
    package_dir = Path(package_dir)
    actions, _ = package_classes(package_dir)
    tracks = person_tracks(arrays, max(1, round(min_track_s * arrays.fps)))
    with_head = has_timeline_head(package_dir)
    if online and not with_head:
        raise ValueError(f"{package_dir} has no timeline head, which the online mode needs; "
                         f"train one with python -m jobs.train_timeline --package "
                         f"{package_dir}")
    method = ("timeline head, " + ("online" if online else "offline")) if with_head \
        else f"summed sliding windows of {window_s} s every {stride_s} s"
    segments = {}
    if tracks and with_head:
        segments = head_segments(loaded or load_package(package_dir, local_device()), arrays,
                                 tracks, actions, online, batch_size)
    elif tracks:
        segments = window_segments(package_dir, arrays, tracks, actions, window_s, stride_s,
                                   batch_size)
    persons = [{"track_id": tid, "first_frame": first, "last_frame": last,
                "frames_seen": seen, "segments": segments[tid]}
               for tid, (first, last, seen) in tracks.items()]
    return {"fps": arrays.fps, "frames": arrays.num_frames, "classes": actions,
            "package": str(package_dir), "method": method, "persons": persons}
