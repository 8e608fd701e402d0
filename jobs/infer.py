"""Recognise what each person in a raw video is doing: the whole chain on one video.

The frame path in this process (model/frame_path: decode -> the detector and the pose model of
the extraction config -> ByteTrack -> feature rows) -> for every tracked person, with that
person as the subject, the recognizer package's timeline head (per-step features, MS-TCN,
decoding; offline by default, the causal online mode with --online) -> per-person action
timeline (model/inference/person_timelines.py). A package without a timeline head sums the
scores of sliding windows. Writes to --out:

  timeline.json    per person: track id, frames seen, segments (start/end frame, label, score)
  timeline.md      the same for people
  annotated.webm    boxes, skeletons, track ids and each person's current action
  features/        the video's feature table (the recognizer's input)

With --annotation (the video's annotation document), the rows are labelled from it and the
timeline document gets ``operator``: the fraction of labelled frames on which the annotated
operator's tracked person is named with the right action (model/evaluation/operator.py).

Example (the shipped models; a rendered test video that training never saw):
  python -m jobs.infer --video data/workcell/videos/op01_seq000.mp4 \\
      --package trained_models/workcell_pixels --out outputs/infer/op01_seq000
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mmengine.config import DictAction
from tqdm import tqdm

from model.cli import command_parser, refuse
from model.config_files import read_config
from model.datasets.annotation import DatasetSpec, load_annotation
from model.datasets.feature_table import write_split_file
from model.evaluation.operator import operator_frame_accuracy
from model.frame_path.chain import SHIPPED_EXTRACTION, FramePath, FramePathSettings
from model.frame_path.models import MissingCheckpointError
from model.frame_path.video import VideoError, probe_video
from model.inference.annotated_video import write_annotated_video
from model.inference.ensemble import package_classes
from model.inference.person_timelines import person_timelines
from model.reports import write_report

DEFAULT_PACKAGE = Path("trained_models/workcell_pixels")
_SPLIT = "test"   # the split the video's rows are written under (a table needs one)


def infer(video: Path, package: Path, out: Path, *, extraction_config: str,
          cfg_options: dict | None = None, online: bool = False, window_s: float = 1.5,
          stride_s: float = 0.25, min_track_s: float = 0.5, batch_size: int = 32,
          keypoint_thr: float = 0.3, threads: int | None = None,
          annotation: Path | None = None, progress: bool = True) -> dict:
    """Run the chain on ``video`` (see the module doc); returns the timeline document.
    ``threads``: intra-op threads of the models (default: one per core); ``annotation``: the
    video's annotation document, to score the operator's timeline against."""
    info = probe_video(video)
    video_id = video.stem
    actions, objects = package_classes(package)
    config = read_config(extraction_config, cfg_options)
    settings = FramePathSettings.from_config(config, tuple(objects))
    spec = DatasetSpec(video_id, tuple(actions), tuple(objects))
    labels = {} if annotation is None else {
        "doc": load_annotation(annotation, spec), "spec": spec,
        "min_iou": float(config.subject.min_iou)}
    with tqdm(total=info.num_frames, unit="frame", desc="frame path",
              disable=not progress) as bar:
        rows = FramePath(settings, threads or os.cpu_count() or 1).video(
            video, video_id, info, progress=bar.update, **labels)
    source = {"kind": "extraction", "random_weights": False, **settings.models()}
    write_split_file(out / "features", _SPLIT, f"{video_id}.parquet",
                     rows.arrays.to_table(actions, objects, source))
    doc = {"video": str(video), "video_id": video_id,
           **person_timelines(rows.arrays, package, online=online, window_s=window_s,
                              stride_s=stride_s, min_track_s=min_track_s,
                              batch_size=batch_size),
           "models": {**settings.models(), "recognizer": str(package)}}
    if annotation is not None:
        doc["operator"] = {"annotation": str(annotation),
                           **operator_frame_accuracy(rows.arrays, doc["persons"], actions)}
    frames = write_annotated_video(video, rows.arrays, doc["persons"], objects,
                                   out / "annotated.webm", keypoint_thr)
    doc["annotated_video"] = {"file": str(out / "annotated.webm"), "frames": frames}
    write_report(out / "timeline", doc, timeline_markdown(doc))
    return doc


def timeline_markdown(doc: dict) -> str:
    lines = [f"# Action timeline: {doc['video_id']}", "",
             f"{doc['frames']} frames at {doc['fps']:g} fps; detector "
             f"{doc['models']['detector']['model']}, pose {doc['models']['pose']['model']}, "
             f"recognizer {doc['package']} ({doc['method']}).", ""]
    if "operator" in doc:
        op = doc["operator"]
        accuracy = "n/a" if op["frame_accuracy"] is None else f"{op['frame_accuracy']:.3f}"
        lines += [f"Against {op['annotation']}: the operator's action is named right on "
                  f"{accuracy} of {op['labelled_frames']} labelled frames (the operator "
                  f"tracked on {op['frames_with_operator_tracked']}).", ""]
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
    p = command_parser("jobs.infer", __doc__)
    p.add_argument("--video", type=Path, required=True, help="the video file")
    p.add_argument("--package", type=Path, default=DEFAULT_PACKAGE,
                   help="recognizer package or ensemble folder (default: %(default)s, the "
                        "recognizer and timeline head trained with features extracted from "
                        "video)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--extraction-config", default=SHIPPED_EXTRACTION,
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
    p.add_argument("--threads", type=int,
                   help="intra-op threads of the models (default: one per core)")
    p.add_argument("--annotation", type=Path,
                   help="the video's annotation document: score the operator's timeline "
                        "against it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        doc = infer(args.video, args.package, args.out, extraction_config=args.extraction_config,
                    cfg_options=args.cfg_options, online=args.online, window_s=args.window_s,
                    stride_s=args.stride_s, min_track_s=args.min_track_s,
                    keypoint_thr=args.keypoint_thr, threads=args.threads,
                    annotation=args.annotation, progress=not args.no_progress)
    except (VideoError, MissingCheckpointError, ValueError, FileNotFoundError) as exc:
        return refuse(exc)
    print(timeline_markdown(doc))
    print(f"timeline: {args.out}/timeline.json  annotated video: {args.out}/annotated.webm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
