"""Extract pose and object features from raw video into the Parquet feature table.

The frame path (model/frame_path: decode -> detector -> pose model -> ByteTrack -> feature
rows) over a Ray Data pipeline (actors/extraction.py): video shards decoded by a pool of actors
that run the detector and the pose model on their frames, each video put back in order,
tracked and written with the same table, schema and metadata as ``jobs.ingest``, so training,
evaluation and serving cannot tell the sources apart. Labelled videos (an annotation JSON
beside them) get labels and splits, and can be trained on.

Resumable: each video is written to its own file when it is finished, so a rerun skips the
videos already in --out and does the rest. A video that cannot be read is recorded in
``extract_report.{json,md}`` and the job goes on; the exit status is 1 when any video failed.

Examples (the default --config is the shipped workcell detector and pose model, as jobs.infer
and the service run them):
  python -m jobs.extract --dataset data/workcell --out data/workcell/extracted
  python -m jobs.extract --dataset data/workcell --out data/workcell/extracted-test-clips \\
      --splits test --match '*_clip*'
  python -m jobs.extract --dataset data/workcell --out data/workcell/extracted \\
      --config model/configs/extraction/light.py \\
      --detector-checkpoint det.pth --pose-checkpoint pose.pth
  python -m jobs.extract --videos cams/ --spec dataset.json --out feats --random-weights \\
      --config model/configs/extraction/light_random_weights.py
  python -m jobs.extract --manifest videos.csv --spec dataset.json --out feats \\
      --config model/configs/extraction/light.py \\
      --detector-checkpoint official --pose-checkpoint official
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmengine.config import DictAction

from actors.extraction import EXECUTORS, ExtractionError, extract, select_inputs
from model.cli import command_parser, refuse
from model.config_files import read_config
from model.datasets.annotation import (
    DEFAULT_MAX_ANNOTATION_BYTES,
    AnnotationError,
    DatasetSpec,
)
from model.datasets.feature_table import SPLITS
from model.datasets.splits import SplitError
from model.datasets.video_manifest import ManifestError, VideoInput, read_manifest, videos_in_folder
from model.frame_path.chain import SHIPPED_EXTRACTION
from model.frame_path.models import MissingCheckpointError


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("jobs.extract", __doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="dataset folder: dataset.json, videos/, annotations/ "
                                       "and splits.json (e.g. from jobs.make_dataset)")
    src.add_argument("--videos", help="folder of videos (.mp4, .avi, .mov, .mkv, .webm)")
    src.add_argument("--manifest", help="CSV or JSON list of {video, annotation?, split?}")
    p.add_argument("--spec", help="dataset.json with the class lists (default: the "
                                  "--dataset's)")
    p.add_argument("--annotations", help="with --videos: folder of <video id>.json annotations")
    p.add_argument("--split-file", help="with --videos: JSON {train|val|test: [video ids]}")
    p.add_argument("--default-split", default="test", choices=SPLITS,
                   help="split of videos that none is given for (default: test)")
    p.add_argument("--splits", nargs="+", choices=SPLITS,
                   help="only the videos of these splits (default: all)")
    p.add_argument("--match", metavar="PATTERN",
                   help="only the videos whose id matches this shell pattern, e.g. '*_clip*'")
    p.add_argument("--out", required=True, help="output folder of the feature table")
    p.add_argument("--config", default=SHIPPED_EXTRACTION,
                   help=f"extraction config (default: {SHIPPED_EXTRACTION}, the shipped models)")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, metavar="KEY=VALUE",
                   help="override config values, e.g. video.stride=2 detector.score_thr=0.4")
    p.add_argument("--detector", help="detector name (a key of model_zoo.detectors)")
    p.add_argument("--pose", help="pose model name (a key of model_zoo.pose_models)")
    p.add_argument("--detector-checkpoint", help="path or URL, or 'official' for the zoo's")
    p.add_argument("--pose-checkpoint", help="path or URL, or 'official' for the zoo's")
    p.add_argument("--random-weights", action="store_true",
                   help="run without checkpoints (tests and benchmarks only)")
    p.add_argument("--executor", choices=EXECUTORS, default="ray",
                   help="a Ray Data pipeline (default) or a plain loop in this process")
    p.add_argument("--actors", type=int, default=2,
                   help="size of the actor pool that decodes shards and runs the detector and "
                        "the pose model (default: 2)")
    p.add_argument("--cpus-per-actor", type=float,
                   help="CPUs per model actor, and inference threads (default: the "
                        "cluster's CPUs shared out; for --executor sequential, all cores)")
    p.add_argument("--gpus-per-actor", type=float,
                   help="GPUs per model actor (default: the cluster's GPUs shared out)")
    p.add_argument("--max-annotation-mb", type=float,
                   default=DEFAULT_MAX_ANNOTATION_BYTES / 2**20,
                   help="annotation files larger than this are rejected unread")
    p.add_argument("--overwrite", action="store_true", help="start --out again from empty")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _inputs(args: argparse.Namespace) -> tuple[list[VideoInput], DatasetSpec, str]:
    if args.dataset:
        root = Path(args.dataset)
        split_file = root / "splits.json"
        inputs = videos_in_folder(root / "videos", root / "annotations",
                                  split_file if split_file.exists() else None)
        return inputs, DatasetSpec.load(args.spec or root / "dataset.json"), str(root)
    if not args.spec:
        raise ManifestError("--spec (a dataset.json with the class lists) is needed with "
                            "--videos and --manifest")
    spec = DatasetSpec.load(args.spec)
    if args.videos:
        return videos_in_folder(args.videos, args.annotations, args.split_file), spec, \
            args.videos
    if args.annotations or args.split_file:
        raise ManifestError("--annotations and --split-file go with --videos; a manifest "
                            "names annotations and splits in its rows")
    return read_manifest(args.manifest), spec, args.manifest


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        inputs, spec, source = _inputs(args)
        inputs = select_inputs(inputs, args.splits, args.match, args.default_split)
        if not inputs:
            raise ManifestError(f"{source}: no video is left after --splits / --match")
        config = read_config(args.config, args.cfg_options)
        for key, value in (("detector.model", args.detector), ("pose.model", args.pose),
                           ("detector.checkpoint", args.detector_checkpoint),
                           ("pose.checkpoint", args.pose_checkpoint)):
            if value is not None:
                config.merge_from_dict({key: value})
        report = extract(inputs, spec, args.out, config=config,
                         random_weights=args.random_weights, executor=args.executor,
                         actors=args.actors,
                         cpus_per_actor=args.cpus_per_actor,
                         gpus_per_actor=args.gpus_per_actor, default_split=args.default_split,
                         max_annotation_bytes=int(args.max_annotation_mb * 2**20),
                         overwrite=args.overwrite, progress=not args.no_progress,
                         source=source)
    except (MissingCheckpointError, ManifestError, SplitError, AnnotationError,
            ExtractionError, ValueError) as exc:
        return refuse(exc)
    print(report.markdown())
    print(f"feature table: {report.out}  (report: {report.out}/extract_report.md)")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
