"""Recognise what each person in a raw video is doing: the whole chain on one video.

Extraction (jobs.extract's stages in this process: the detector and the pose model of the
extraction config, ByteTrack) -> for every tracked person, with that person as the subject,
the recognizer package's timeline head (per-step features, MS-TCN, decoding; offline by
default, the causal online mode with --online) -> per-person action timeline. A package
without a timeline head sums the scores of sliding windows. Writes to --out:

  timeline.json    per person: track id, frames seen, segments (start/end frame, label, score)
  timeline.md      the same for people
  annotated.mp4    boxes, skeletons, track ids and each person's current action
  features/        the video's feature table (the recognizer's input)

Example (the shipped models; a rendered test video that training never saw):
  python -m jobs.infer --video data/workcell/videos/op01_seq000.mp4 \\
      --package trained_models/workcell --out outputs/infer/op01_seq000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from mmengine.config import DictAction

from actors.openmmlab_models import MissingCheckpointError
from actors.video_decode import VideoError
from jobs.cli import write_report
from jobs.evaluate import load_members, package_classes
from jobs.extract import extract, load_config
from model.datasets.annotation import DatasetSpec
from model.datasets.feature_table import tensor_column, write_split_file
from model.datasets.video_manifest import VideoInput
from model.device import local_device
from model.inference.annotated_video import write_annotated_video
from model.inference.ensemble import combine, predict_members
from model.inference.package import ModelPackage, load_package
from model.inference.step_cache import step_features
from model.inference.timeline import frame_segments, label_segments, summed_frame_scores
from model.inference.timeline_head import has_timeline_head, load_timeline_head

DEFAULT_EXTRACTION = "model/configs/extraction/workcell.py"
_SPLIT = "test"   # the split the video's rows are written under (a table needs one)


def person_tracks(table: pa.Table, min_frames: int) -> dict[int, tuple[int, int, int]]:
    """Track id -> (first frame, last frame, frames seen) of every person track seen in at
    least ``min_frames`` frames."""
    ids = tensor_column(table, "person_track_ids")
    tracks = {}
    for tid in np.unique(ids[ids >= 0]).tolist():
        frames = np.flatnonzero((ids == tid).any(1))
        if len(frames) >= min_frames:
            tracks[tid] = (int(frames[0]), int(frames[-1]), len(frames))
    return tracks


def per_person_table(table: pa.Table, video_id: str, tracks: list[int]) -> pa.Table:
    """One copy of the video per track, that track as the subject (the recognizer's first
    person), named ``<video id>@<track id>``."""
    copies = []
    subject = table.schema.get_field_index("subject_track_id")
    name = table.schema.get_field_index("video_id")
    for tid in tracks:
        copy = table.set_column(subject, table.schema.field(subject),
                                pa.array(np.full(table.num_rows, tid, np.int32)))
        copies.append(copy.set_column(name, table.schema.field(name),
                                      pa.array([f"{video_id}@{tid}"] * table.num_rows)))
    return pa.concat_tables(copies)


def head_segments(package: Path, people: Path, names: dict[int, str], tracks: dict,
                  actions: list[str], online: bool, batch_size: int,
                  loaded: ModelPackage | None = None) -> dict[int, list[dict]]:
    """Per track: the segments of the timeline head's offline (or online) timeline while the
    person is seen (``loaded``: the package already loaded)."""
    head = load_timeline_head(package)
    feats = step_features(loaded or load_package(package, local_device()), people, _SPLIT,
                          list(names.values()), head.windows_s, head.step_s, batch_size)
    out = {}
    for tid, name in names.items():
        labels, probs = (head.online_timeline if online else head.offline_timeline)(feats[name])
        first, last, _ = tracks[tid]
        labels = labels.copy()
        labels[:first] = labels[last + 1:] = -1   # a person's actions only while seen
        out[tid] = label_segments(labels, probs, actions)
    return out


def window_segments(package: Path, people: Path, names: dict[int, str], tracks: dict,
                    actions: list[str], frames: int, window_s: float, stride_s: float,
                    batch_size: int) -> dict[int, list[dict]]:
    """Per track: segments of the summed sliding-window scores while the person is seen."""
    members, weights = load_members(package)
    scores, _, metas = predict_members(members, people, _SPLIT, batch_size, mode="sliding",
                                       window_s=window_s, stride_s=stride_s,
                                       video_ids=list(names.values()))
    combined = combine(scores, weights)
    out = {}
    for tid, name in names.items():
        summed = summed_frame_scores(combined, metas, name, frames)
        first, last, _ = tracks[tid]
        summed[:first] = summed[last + 1:] = 0.0
        out[tid] = frame_segments(summed, actions)
    return out


def person_timelines(table: pa.Table, package: Path, work: Path, *, online: bool = False,
                     window_s: float = 1.5, stride_s: float = 0.25, min_track_s: float = 0.5,
                     batch_size: int = 32, loaded: ModelPackage | None = None) -> dict:
    """The timeline document's fields of one video's feature table (``table``): fps, frames,
    classes, package, method and the persons with their segments; per-person tables go to
    ``work``/persons."""
    video_id = table.column("video_id")[0].as_py()
    actions, _ = package_classes(package)
    fps = float(table.column("fps")[0].as_py())
    tracks = person_tracks(table, max(1, round(min_track_s * fps)))
    with_head = has_timeline_head(package)
    if online and not with_head:
        raise ValueError(f"{package} has no timeline head, which the online mode needs; train "
                         f"one with python -m jobs.train_timeline --package {package}")
    method = ("timeline head, " + ("online" if online else "offline")) if with_head \
        else f"summed sliding windows of {window_s} s every {stride_s} s"
    persons = []
    if tracks:
        people = work / "persons"
        write_split_file(people, _SPLIT, "persons.parquet",
                         per_person_table(table, video_id, list(tracks)))
        names = {tid: f"{video_id}@{tid}" for tid in tracks}
        segments = (head_segments(package, people, names, tracks, actions, online, batch_size,
                                  loaded)
                    if with_head else
                    window_segments(package, people, names, tracks, actions, table.num_rows,
                                    window_s, stride_s, batch_size))
        persons = [{"track_id": tid, "first_frame": first, "last_frame": last,
                    "frames_seen": seen, "segments": segments[tid]}
                   for tid, (first, last, seen) in tracks.items()]
    return {"fps": fps, "frames": table.num_rows, "classes": actions, "package": str(package),
            "method": method, "persons": persons}


def infer(video: Path, package: Path, out: Path, *, extraction_config: str,
          cfg_options: dict | None = None, online: bool = False, window_s: float = 1.5,
          stride_s: float = 0.25, min_track_s: float = 0.5, batch_size: int = 32,
          keypoint_thr: float = 0.3, progress: bool = True) -> dict:
    """Run the chain on ``video`` (see the module doc); returns the timeline document."""
    if not video.is_file():
        raise VideoError(f"{video}: no such video file")
    video_id = video.stem
    actions, objects = package_classes(package)
    spec = DatasetSpec("infer", actions, objects)
    config = load_config(extraction_config, cfg_options)
    features = out / "features"
    report = extract([VideoInput(video_id, str(video), None, _SPLIT)], spec, features,
                     config=config, executor="sequential", overwrite=True, progress=progress,
                     source=str(video))
    if report.failures:
        raise VideoError(report.failures[0]["error"])
    table = pq.read_table(next(features.glob("split=*/*.parquet")))
    doc = {"video": str(video), "video_id": video_id,
           **person_timelines(table, package, out, online=online, window_s=window_s,
                              stride_s=stride_s, min_track_s=min_track_s,
                              batch_size=batch_size),
           "models": {**report.models, "recognizer": str(package)}}
    frames = write_annotated_video(video, table, doc["persons"], objects, out / "annotated.mp4",
                                   keypoint_thr)
    doc["annotated_video"] = {"file": str(out / "annotated.mp4"), "frames": frames}
    write_report(out / "timeline", doc, timeline_markdown(doc))
    return doc


def timeline_markdown(doc: dict) -> str:
    lines = [f"# Action timeline: {doc['video_id']}", "",
             f"{doc['frames']} frames at {doc['fps']:g} fps; detector "
             f"{doc['models']['detector']['model']}, pose {doc['models']['pose']['model']}, "
             f"recognizer {doc['package']} ({doc['method']}).", ""]
    if not doc["persons"]:
        lines.append("No person was tracked.")
    for person in doc["persons"]:
        lines += [f"## Person #{person['track_id']} (frames {person['first_frame']}-"
                  f"{person['last_frame']})", "", "| start | end | action | score |",
                  "|---:|---:|---|---:|"]
        lines += [f"| {s['start_frame']} | {s['end_frame']} | {s['label']} | {s['score']:.2f} |"
                  for s in person["segments"]]
        lines.append("")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jobs.infer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, required=True, help="the video file")
    p.add_argument("--package", type=Path, default=Path("trained_models/workcell"),
                   help="recognizer package or ensemble folder (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--extraction-config", default=DEFAULT_EXTRACTION,
                   help="extraction config: detector, pose model, tracker (default: "
                        "%(default)s, the shipped workcell models)")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, metavar="KEY=VALUE",
                   help="overrides of the extraction config, e.g. detector.score_thr=0.4")
    p.add_argument("--online", action="store_true",
                   help="the causal online timeline (what a live stream gets) instead of the "
                        "offline one")
    p.add_argument("--window-s", type=float, default=1.5,
                   help="packages without a timeline head: sliding window (seconds)")
    p.add_argument("--stride-s", type=float, default=0.25,
                   help="packages without a timeline head: window stride (seconds)")
    p.add_argument("--min-track-s", type=float, default=0.5,
                   help="persons tracked for less than this get no timeline")
    p.add_argument("--keypoint-thr", type=float, default=0.3,
                   help="keypoints below this score are not drawn")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        doc = infer(args.video, args.package, args.out, extraction_config=args.extraction_config,
                    cfg_options=args.cfg_options, online=args.online, window_s=args.window_s,
                    stride_s=args.stride_s, min_track_s=args.min_track_s,
                    keypoint_thr=args.keypoint_thr, progress=not args.no_progress)
    except (VideoError, MissingCheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(timeline_markdown(doc))
    print(f"timeline: {args.out}/timeline.json  annotated video: {args.out}/annotated.mp4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
