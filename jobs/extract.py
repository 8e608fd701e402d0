"""Extract pose and object features from raw video into the Parquet feature table.

A Ray Data pipeline decodes video shards, runs an MMDetection detector and an MMPose top-down
pose model on them in actor pools, and the driver puts each video back in order, tracks it
(MMDetection's ByteTrack) and writes its rows: the same table, schema and metadata as
``jobs.ingest``, so training, evaluation and serving cannot tell the sources apart. Labelled
videos (an annotation JSON beside them) get labels and splits, and can be trained on.

Resumable: each video is written to its own file when it is finished, so a rerun skips the
videos already in --out and does the rest. A video that cannot be read is recorded in
``extract_report.{json,md}`` and the job goes on; the exit status is 1 when any video failed.

Examples:
  python -m jobs.extract --dataset data/workcell --out data/workcell/extracted \\
      --config model/configs/extraction/workcell.py          # the shipped workcell models
  python -m jobs.extract --dataset data/workcell --out data/workcell/extracted-test-clips \\
      --config model/configs/extraction/workcell.py --splits test --match '*_clip*'
  python -m jobs.extract --dataset data/workcell --out data/workcell/extracted \\
      --detector-checkpoint det.pth --pose-checkpoint pose.pth
  python -m jobs.extract --videos cams/ --spec dataset.json --out feats --random-weights \\
      --config model/configs/extraction/light_random_weights.py
  python -m jobs.extract --manifest videos.csv --spec dataset.json --out feats \\
      --detector-checkpoint official --pose-checkpoint official
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import ray
from mmengine.config import Config, DictAction
from tqdm import tqdm

from actors.detector import DetectorStage
from actors.openmmlab_models import MissingCheckpointError, ModelChoice, choose_model
from actors.pose import PoseStage
from actors.video_decode import (
    DecodeShard,
    VideoError,
    VideoInfo,
    kept_frames,
    plan_shards,
    probe_video,
)
from actors.video_features import video_table
from jobs.cli import init_ray, write_report
from model.datasets.annotation import (
    DEFAULT_MAX_ANNOTATION_BYTES,
    AnnotationError,
    DatasetSpec,
    load_annotation,
)
from model.datasets.feature_table import SPLITS, read_feature_table, read_info
from model.datasets.splits import SplitError, write_split_file
from model.datasets.video_manifest import ManifestError, VideoInput, read_manifest, videos_in_folder

DEFAULT_CONFIG = "model/configs/extraction/light.py"
RUN_FILE = "extract_config.json"


@dataclass
class ExtractReport:
    out: str
    source: str
    executor: str
    models: dict
    random_weights: bool
    videos_total: int = 0
    videos_written: int = 0
    videos_skipped: int = 0
    frames: int = 0
    seconds: float = 0.0
    frames_per_s: float = 0.0
    first_row_s: float = 0.0        # start of the pipeline to its first result
    persons_per_frame: float = 0.0
    objects_per_frame: float = 0.0
    labelled_segments: int = 0
    segments_with_subject: int = 0
    stage_seconds: dict = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        models = ", ".join(f"{k}: `{v['model']}` ({v['checkpoint']})"
                           for k, v in self.models.items())
        lines = ["# Extraction report\n", f"- source: `{self.source}`", f"- table: `{self.out}`",
                 f"- models: {models}", f"- executor: {self.executor}",
                 f"- videos: {self.videos_total} ({self.videos_written} written, "
                 f"{self.videos_skipped} already in the table, {len(self.failures)} failed)",
                 f"- frames processed: {self.frames} in {self.seconds:.1f} s "
                 f"({self.frames_per_s:.2f} frames/s)",
                 f"- persons per frame: {self.persons_per_frame:.2f}; objects per frame: "
                 f"{self.objects_per_frame:.2f}",
                 f"- labelled segments whose subject was found: {self.segments_with_subject}"
                 f" of {self.labelled_segments}"]
        if self.random_weights:
            lines.append("- **random weights**: the features mean nothing (tests and "
                         "benchmarks only); the table's metadata says so")
        if self.stage_seconds:
            lines += ["", "| stage | busy seconds |", "| --- | ---: |"]
            lines += [f"| {k} | {v:.1f} |" for k, v in self.stage_seconds.items()]
        lines += [f"- note: {n}" for n in self.notes]
        if self.failures:
            lines += ["", f"## Failed videos ({len(self.failures)})", "",
                      "| video | file | error |", "| --- | --- | --- |"]
            lines += [f"| {f['video_id']} | `{f['path']}` | {f['error']} |"
                      for f in self.failures]
        return "\n".join(lines) + "\n"


@dataclass
class _Video:
    """A video to process: its input, container facts, annotation and split."""

    input: VideoInput
    info: VideoInfo
    doc: dict | None
    split: str


def load_config(path: str, options: dict | None) -> Config:
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    return cfg


def _file_name(video_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", video_id)
    return f"{safe}.parquet"


def _run_settings(cfg: Config, spec: DatasetSpec, models: dict, random_weights: bool) -> dict:
    """What a rerun must share with the run that started --out (else its rows would mix)."""
    return {"models": models, "random_weights": random_weights,
            "spec": spec.to_json(),
            **{k: cfg[k].to_dict() for k in ("detector", "pose", "tracker", "video", "table",
                                             "subject")}}


def _prepare_out(out: Path, settings: dict, overwrite: bool) -> set[str]:
    """Create or reuse --out; the ids of the videos it already holds."""
    run_file = out / RUN_FILE
    if overwrite and out.exists():
        shutil.rmtree(out)
    if out.exists() and any(out.iterdir()):
        if not run_file.exists():
            raise SystemExit(f"{out} is not empty and holds no {RUN_FILE}; choose another "
                             "--out or pass --overwrite")
        previous = json.loads(run_file.read_text())
        if previous != json.loads(json.dumps(settings)):
            changed = sorted(k for k in set(previous) | set(settings)
                             if previous.get(k) != json.loads(json.dumps(settings.get(k))))
            raise SystemExit(f"{out} was extracted with other settings ({', '.join(changed)} "
                             "differ); pass --overwrite to start again, or another --out")
        if not any(out.glob("split=*/*.parquet")):
            return set()
        table, _ = read_feature_table(out, columns=["video_id"])
        return set(table.column("video_id").unique().to_pylist())
    out.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(settings, indent=1) + "\n")
    return set()


def _check_video(item: VideoInput, spec: DatasetSpec, default_split: str,
                 max_bytes: int) -> _Video:
    """Probe the file and read its annotation; ``VideoError`` / ``AnnotationError`` if unusable."""
    info = probe_video(item.path)
    doc = None
    if item.annotation is not None:
        doc = load_annotation(item.annotation, spec, max_bytes=max_bytes)
        video = doc["video"]
        for key, value in (("frame_count", info.num_frames), ("width", info.width),
                           ("height", info.height)):
            if video[key] != value:
                raise VideoError(f"{item.annotation}: video.{key}: {video[key]}, but "
                                 f"{item.path} has {value}")
        if video["id"] != item.video_id:
            raise VideoError(f"{item.annotation}: video.id: {video['id']!r}, but the video "
                             f"is listed as {item.video_id!r}")
    return _Video(item, info, doc, item.split or default_split)


def _pipeline_rows(shards: list[dict], stages: dict, executor: str, actors: dict,
                   resources: dict) -> Iterator[dict]:
    """Rows after decode, detection and pose: a Ray Data pipeline, or a plain loop."""
    if executor == "sequential":
        detect, pose = _TimedDetector(**stages["detector"]), _TimedPose(**stages["pose"])
        for shard in shards:
            for row in decode_timed(shard, **stages["decode"]):
                yield pose(detect(row))
        return
    from ray.data import ActorPoolStrategy, DataContext

    DataContext.get_current().enable_progress_bars = False
    # Decoding runs as plain Ray tasks; Ray 2.51+ sizes actor pools with
    # `compute=ActorPoolStrategy(...)` (`concurrency=` is deprecated there): one pool per
    # model stage, each scaling on its own.
    ds = (ray.data.from_items(shards, override_num_blocks=len(shards))
          .flat_map(decode_timed, fn_kwargs=stages["decode"],
                    num_cpus=resources["decode_cpus"])
          .map(_TimedDetector, fn_constructor_kwargs=stages["detector"],
               compute=ActorPoolStrategy(size=actors["detector"]), num_cpus=resources["cpus"],
               num_gpus=resources["gpus"])
          .map(_TimedPose, fn_constructor_kwargs=stages["pose"],
               compute=ActorPoolStrategy(size=actors["pose"]), num_cpus=resources["cpus"],
               num_gpus=resources["gpus"]))
    yield from ds.iter_rows()


def _timed(fn, key: str):
    """Call ``fn`` and add its busy seconds to the row(s) it returns, under ``key``."""
    def call(row):
        started = time.perf_counter()
        out = fn(row)
        if isinstance(out, dict):
            out[key] = time.perf_counter() - started
            return out
        return _timed_iter(out, key, started)
    return call


def _timed_iter(rows: Iterable[dict], key: str, started: float) -> Iterator[dict]:
    for row in rows:
        row[key] = time.perf_counter() - started
        yield row
        started = time.perf_counter()


def decode_timed(shard: dict, batch_frames: int, resize: tuple[int, int] | None
                 ) -> Iterator[dict]:
    return _timed(DecodeShard(batch_frames, resize), "decode_s")(shard)


class _TimedDetector(DetectorStage):
    def __call__(self, row: dict) -> dict:
        return _timed(super().__call__, "detect_s")(row)


class _TimedPose(PoseStage):
    def __call__(self, row: dict) -> dict:
        return _timed(super().__call__, "pose_s")(row)


def _resources(num_model_actors: int, cpus_per_actor: float | None,
               gpus_per_actor: float | None) -> dict:
    cluster = ray.cluster_resources()
    # Decoding is light next to the models; a quarter CPU keeps it schedulable beside them.
    decode_cpus = 0.25
    if cpus_per_actor is None:
        cpus_per_actor = min(1.0, max(cluster.get("CPU", 1) - decode_cpus, 0.25)
                             / num_model_actors)
    if gpus_per_actor is None:
        gpus = cluster.get("GPU", 0)
        gpus_per_actor = min(1.0, gpus / num_model_actors) if gpus else 0.0
    return {"cpus": cpus_per_actor, "gpus": gpus_per_actor, "decode_cpus": decode_cpus}


def extract(inputs: list[VideoInput], spec: DatasetSpec, out: str | Path, *,
            config: Config, random_weights: bool = False, executor: str = "ray",
            detector_actors: int = 1, pose_actors: int = 1,
            cpus_per_actor: float | None = None, gpus_per_actor: float | None = None,
            default_split: str = "test",
            max_annotation_bytes: int = DEFAULT_MAX_ANNOTATION_BYTES,
            overwrite: bool = False, progress: bool = True, source: str = "") -> ExtractReport:
    """Extract the features of ``inputs`` into the table at ``out`` (see the module doc)."""
    started = time.perf_counter()
    out = Path(out)
    choices: dict[str, ModelChoice] = {
        kind: choose_model(config, kind, random_weights) for kind in ("detector", "pose")}
    models = {k: c.describe() for k, c in choices.items()}
    report = ExtractReport(str(out), source, executor, models, random_weights,
                           videos_total=len(inputs))
    done = _prepare_out(out, _run_settings(config, spec, models, random_weights), overwrite)
    videos: dict[str, _Video] = {}
    for item in inputs:
        if item.video_id in done:
            report.videos_skipped += 1
            continue
        try:
            videos[item.video_id] = _check_video(item, spec, default_split,
                                                 max_annotation_bytes)
        except AnnotationError as exc:
            report.failures.append(_failure(item, "; ".join(str(i) for i in exc.issues)))
        except VideoError as exc:
            report.failures.append(_failure(item, str(exc)))
    feature_source = {"kind": "extraction", "random_weights": random_weights, **models}
    if videos:
        _process(videos, spec, out, config, choices, feature_source, report, executor,
                 dict(detector=detector_actors, pose=pose_actors),
                 cpus_per_actor, gpus_per_actor, progress)
    report.seconds = time.perf_counter() - started
    report.frames_per_s = report.frames / report.seconds if report.frames else 0.0
    if any(out.glob("split=*/*.parquet")):
        read_info(out)  # every file agrees on schema version, classes and source
        table, _ = read_feature_table(out, columns=["video_id", "split"])
        pairs = set(zip(table.column("video_id").to_pylist(), table.column("split").to_pylist(),
                        strict=True))
        write_split_file(out / "splits.json", dict(pairs))
    write_report(out / "extract_report", asdict(report), report.markdown())
    return report


def _failure(item: VideoInput, error: str) -> dict:
    return {"video_id": item.video_id, "path": item.path, "error": error}


def model_stage_arguments(config: Config, choices: dict[str, ModelChoice],
                          object_classes: tuple[str, ...], num_cpus: float) -> dict[str, dict]:
    """Keyword arguments of ``DetectorStage`` and ``PoseStage`` from an extraction config."""
    return {
        "detector": dict(choice=choices["detector"], object_classes=tuple(object_classes),
                         class_map=dict(config.detector.class_map),
                         score_thr=float(config.detector.score_thr),
                         min_box_px=float(config.detector.min_box_px),
                         max_persons=int(config.table.max_persons),
                         max_objects=int(config.table.max_objects),
                         unmapped_classes=str(config.detector.unmapped_classes),
                         num_cpus=num_cpus, backend=str(config.detector.get("backend", "torch"))),
        "pose": dict(choice=choices["pose"], num_cpus=num_cpus,
                     backend=str(config.pose.get("backend", "torch"))),
    }


def _process(videos: dict[str, _Video], spec: DatasetSpec, out: Path, config: Config,
             choices: dict[str, ModelChoice], feature_source: dict, report: ExtractReport,
             executor: str, actors: dict, cpus_per_actor: float | None,
             gpus_per_actor: float | None, progress: bool) -> None:
    stride = int(config.video.stride)
    shards = [s for v in videos.values()
              for s in plan_shards(v.input.video_id, v.info, int(config.video.shard_frames),
                                   stride)]
    if executor == "ray":
        init_ray()
        resources = _resources(actors["detector"] + actors["pose"], cpus_per_actor,
                               gpus_per_actor)
    else:
        # The plain loop uses every core for intra-op threads unless told otherwise.
        resources = {"cpus": cpus_per_actor or float(os.cpu_count() or 1)}
    resize = config.video.resize
    batch_frames = int(config.detector.batch_frames)
    stages = {"decode": dict(batch_frames=batch_frames,
                             resize=None if resize is None else tuple(resize)),
              **model_stage_arguments(config, choices, spec.object_classes, resources["cpus"])}
    pending_shards = defaultdict(int)
    for shard in shards:
        pending_shards[shard["video_id"]] += 1
    # (video, shard) -> [rows received, rows the shard gave (known from its last row)]
    shard_rows: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, -1])
    rows_of: dict[str, list[dict]] = defaultdict(list)
    errors: dict[str, str] = {}
    busy = defaultdict(float)
    persons = objects = 0.0
    total = sum(kept_frames(0, v.info.num_frames, stride) for v in videos.values())
    started = time.perf_counter()
    with tqdm(total=total, unit="frame", desc="extract", disable=not progress) as bar:
        for row in _pipeline_rows(shards, stages, executor, actors, resources):
            if not report.first_row_s:
                report.first_row_s = time.perf_counter() - started
            video_id = str(row["video_id"])
            for key in ("decode_s", "detect_s", "pose_s"):
                busy[key[:-2]] += float(row[key])
            bar.update(len(row["frame_indices"]))
            if row["error"]:
                errors.setdefault(video_id, str(row["error"]))
            else:
                rows_of[video_id].append(row)
            counts = shard_rows[video_id, int(row["shard"])]
            counts[0] += 1
            if row["last_in_shard"]:
                counts[1] = int(row["shard_rows"])
            if counts[0] != counts[1]:
                continue
            pending_shards[video_id] -= 1
            if pending_shards[video_id]:
                continue
            video = videos[video_id]
            rows = rows_of.pop(video_id, [])
            decoded = sum(len(r["frame_indices"]) for r in rows)
            expected = kept_frames(0, video.info.num_frames, stride)
            if video_id not in errors and decoded != expected:
                errors[video_id] = (f"{video.input.path}: decoded {decoded} of the {expected} "
                                    "frames the container declares")
            if video_id in errors:
                report.failures.append(_failure(video.input, errors[video_id]))
                continue
            written_at = time.perf_counter()
            result = video_table(rows, video_id, video.info.fps, video.info.width,
                                 video.info.height, stride, spec, config.tracker.to_dict(),
                                 float(config.subject.min_iou), video.doc, feature_source)
            _write_video(out, video_id, video.split, result.table)
            busy["track_and_write"] += time.perf_counter() - written_at
            report.videos_written += 1
            report.frames += result.frames
            persons += result.persons_per_frame * result.frames
            objects += result.objects_per_frame * result.frames
            report.labelled_segments += result.segments
            report.segments_with_subject += result.segments_with_subject
            report.notes += [f"{video_id}: {n}" for n in result.notes]
    if report.frames:
        report.persons_per_frame = persons / report.frames
        report.objects_per_frame = objects / report.frames
    report.stage_seconds = dict(busy)


def _write_video(out: Path, video_id: str, split: str, table) -> None:
    """Write one video's rows atomically: a crash leaves the file whole or absent."""
    folder = out / f"split={split}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / _file_name(video_id)
    partial = folder / f".{target.name}.partial"
    # The split is the folder name (Hive layout), as in the files jobs.ingest writes.
    pq.write_table(table, partial)
    os.replace(partial, target)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jobs.extract", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument("--config", default=DEFAULT_CONFIG,
                   help=f"extraction config (default: {DEFAULT_CONFIG})")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, metavar="KEY=VALUE",
                   help="override config values, e.g. video.stride=2 detector.score_thr=0.4")
    p.add_argument("--detector", help="detector name (a key of model_zoo.detectors)")
    p.add_argument("--pose", help="pose model name (a key of model_zoo.pose_models)")
    p.add_argument("--detector-checkpoint", help="path or URL, or 'official' for the zoo's")
    p.add_argument("--pose-checkpoint", help="path or URL, or 'official' for the zoo's")
    p.add_argument("--random-weights", action="store_true",
                   help="run without checkpoints (tests and benchmarks only)")
    p.add_argument("--executor", choices=("ray", "sequential"), default="ray",
                   help="a Ray Data pipeline (default) or a plain loop in this process")
    p.add_argument("--detector-actors", type=int, default=1, help="detector actor pool size")
    p.add_argument("--pose-actors", type=int, default=1, help="pose actor pool size")
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


def select_inputs(inputs: list[VideoInput], splits: list[str] | None, pattern: str | None,
                  default_split: str) -> list[VideoInput]:
    """The videos of ``splits`` (a video without one is in ``default_split``) whose id
    matches ``pattern``."""
    return [item for item in inputs
            if (splits is None or (item.split or default_split) in splits)
            and (pattern is None or fnmatch.fnmatchcase(item.video_id, pattern))]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        inputs, spec, source = _inputs(args)
        inputs = select_inputs(inputs, args.splits, args.match, args.default_split)
        if not inputs:
            raise ManifestError(f"{source}: no video is left after --splits / --match")
        config = load_config(args.config, args.cfg_options)
        for key, value in (("detector.model", args.detector), ("pose.model", args.pose),
                           ("detector.checkpoint", args.detector_checkpoint),
                           ("pose.checkpoint", args.pose_checkpoint)):
            if value is not None:
                config.merge_from_dict({key: value})
        report = extract(inputs, spec, args.out, config=config,
                         random_weights=args.random_weights, executor=args.executor,
                         detector_actors=args.detector_actors, pose_actors=args.pose_actors,
                         cpus_per_actor=args.cpus_per_actor,
                         gpus_per_actor=args.gpus_per_actor, default_split=args.default_split,
                         max_annotation_bytes=int(args.max_annotation_mb * 2**20),
                         overwrite=args.overwrite, progress=not args.no_progress,
                         source=source)
    except (MissingCheckpointError, ManifestError, SplitError, AnnotationError,
            ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.markdown())
    print(f"feature table: {report.out}  (report: {report.out}/extract_report.md)")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
