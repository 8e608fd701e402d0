"""Extraction of raw videos into the Parquet feature table: the frame path over Ray Data.

Video shards go to a pool of Ray Data actors that decode them and run the detector and the
pose model on their frames (actors/frame_stages.py); this process puts each video back in
order, tracks it and writes its rows with the frame path's own classes (``model.frame_path``):
the same table, schema and metadata as jobs.ingest writes, so training, evaluation and
serving cannot tell the sources apart. Labelled videos (an annotation JSON beside them) get
labels and splits. The plain-loop executor runs the same actor class in this process, one
shard after another.

Resumable: each video is written to its own file when it is finished, so a rerun skips the
videos already in the output folder and does the rest. A video that cannot be read is recorded
in ``extract_report.{json,md}`` and the run goes on.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import ray
from mmengine.config import Config
from tqdm import tqdm

from actors.frame_stages import PerceiveShards
from model.cluster import init_ray
from model.datasets.annotation import (
    DEFAULT_MAX_ANNOTATION_BYTES,
    AnnotationError,
    DatasetSpec,
    load_annotation,
)
from model.datasets.feature_table import read_feature_table, read_info
from model.datasets.splits import write_split_file
from model.datasets.video_manifest import VideoInput
from model.frame_path.chain import FramePathSettings
from model.frame_path.rows import merge_batches, video_rows
from model.frame_path.tracking import Tracker
from model.frame_path.video import VideoError, VideoInfo, kept_frames, plan_shards, probe_video
from model.reports import write_report

RUN_FILE = "extract_config.json"
EXECUTORS = ("ray", "sequential")


class ExtractionError(ValueError):
    """An output folder that an extraction cannot write to (another run's, or not one)."""


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


def _file_name(video_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", video_id)
    return f"{safe}.parquet"


def _run_settings(cfg: Config, spec: DatasetSpec, models: dict, random_weights: bool) -> dict:
    """What a rerun must share with the run that started the output (else its rows would
    mix)."""
    return {"models": models, "random_weights": random_weights,
            "spec": spec.to_json(),
            **{k: cfg[k].to_dict() for k in ("detector", "pose", "tracker", "video", "table",
                                             "subject")}}


def _prepare_out(out: Path, settings: dict, overwrite: bool) -> set[str]:
    """Create or reuse ``out``; the ids of the videos it already holds."""
    run_file = out / RUN_FILE
    if overwrite and out.exists():
        shutil.rmtree(out)
    if out.exists() and any(out.iterdir()):
        if not run_file.exists():
            raise ExtractionError(f"{out} is not empty and holds no {RUN_FILE}; choose another "
                                  "output folder or overwrite it")
        previous = json.loads(run_file.read_text())
        if previous != json.loads(json.dumps(settings)):
            changed = sorted(k for k in set(previous) | set(settings)
                             if previous.get(k) != json.loads(json.dumps(settings.get(k))))
            raise ExtractionError(f"{out} was extracted with other settings "
                                  f"({', '.join(changed)} differ); overwrite it to start "
                                  "again, or choose another output folder")
        if not any(out.glob("split=*/*.parquet")):
            return set()
        table, _ = read_feature_table(out, columns=["video_id"])
        return set(table.column("video_id").unique().to_pylist())
    out.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(settings, indent=1) + "\n")
    return set()


def _check_video(item: VideoInput, spec: DatasetSpec, default_split: str,
                 max_bytes: int) -> _Video:
    """Probe the file and read its annotation; ``VideoError`` / ``AnnotationError`` if
    unusable."""
    info = probe_video(item.path)
    doc = None
    if item.annotation is not None:
        doc = load_annotation(item.annotation, spec, max_bytes=max_bytes)
        video = doc["video"]
        for key, value in (("frame_count", info.num_frames), ("width", info.width),
                           ("height", info.height)):
            if video[key] != value:
                raise VideoError(item.annotation, f"video.{key}: {video[key]}, but "
                                 f"{item.path} has {value}")
        if video["id"] != item.video_id:
            raise VideoError(item.annotation, f"video.id: {video['id']!r}, but the video "
                             f"is listed as {item.video_id!r}")
    return _Video(item, info, doc, item.split or default_split)


def select_inputs(inputs: list[VideoInput], splits: list[str] | None, pattern: str | None,
                  default_split: str) -> list[VideoInput]:
    """The videos of ``splits`` (a video without one is in ``default_split``) whose id
    matches ``pattern``."""
    return [item for item in inputs
            if (splits is None or (item.split or default_split) in splits)
            and (pattern is None or fnmatch.fnmatchcase(item.video_id, pattern))]


def _pipeline_rows(shards: list[dict], settings: FramePathSettings, executor: str,
                   actors: int, resources: dict) -> Iterator[dict]:
    """The perceived frame batches of ``shards``: a Ray Data pipeline, or a plain loop."""
    threads = max(1, int(resources["cpus"]))
    if executor == "sequential":
        perceive = PerceiveShards(settings, threads)
        for shard in shards:
            yield from perceive(shard)
        return
    from ray.data import ActorPoolStrategy, DataContext

    DataContext.get_current().enable_progress_bars = False
    # One block per shard, so that the pool shares them out; Ray 2.51+ sizes actor pools with
    # `compute=ActorPoolStrategy(...)` (`concurrency=` is deprecated there). Each actor runs
    # its networks with one intra-op thread per CPU it reserves.
    ds = (ray.data.from_items(shards, override_num_blocks=len(shards))
          .flat_map(PerceiveShards, fn_constructor_args=(settings, threads),
                    compute=ActorPoolStrategy(size=actors), num_cpus=resources["cpus"],
                    num_gpus=resources["gpus"]))
    yield from ds.iter_rows()


def _resources(actors: int, cpus_per_actor: float | None,
               gpus_per_actor: float | None) -> dict:
    """CPUs and GPUs per actor: as given, or the cluster's shared out (at most one each)."""
    cluster = ray.cluster_resources()
    if cpus_per_actor is None:
        cpus_per_actor = min(1.0, max(cluster.get("CPU", 1), 1.0) / actors)
    if gpus_per_actor is None:
        gpus = cluster.get("GPU", 0)
        gpus_per_actor = min(1.0, gpus / actors) if gpus else 0.0
    return {"cpus": cpus_per_actor, "gpus": gpus_per_actor}


def extract(inputs: list[VideoInput], spec: DatasetSpec, out: str | Path, *,
            config: Config, random_weights: bool = False, executor: str = "ray",
            actors: int = 2, cpus_per_actor: float | None = None,
            gpus_per_actor: float | None = None,
            default_split: str = "test",
            max_annotation_bytes: int = DEFAULT_MAX_ANNOTATION_BYTES,
            overwrite: bool = False, progress: bool = True, source: str = "") -> ExtractReport:
    """Extract the features of ``inputs`` into the table at ``out`` (see the module doc);
    ``config``: an extraction config (``model.frame_path.chain.load_config``)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    started = time.perf_counter()
    out = Path(out)
    settings = FramePathSettings.from_config(config, spec.object_classes, random_weights)
    models = settings.models()
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
        _process(videos, spec, out, config, settings, feature_source, report, executor,
                 actors, cpus_per_actor, gpus_per_actor, progress)
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


def _process(videos: dict[str, _Video], spec: DatasetSpec, out: Path, config: Config,
             settings: FramePathSettings, feature_source: dict, report: ExtractReport,
             executor: str, actors: int, cpus_per_actor: float | None,
             gpus_per_actor: float | None, progress: bool) -> None:
    stride = int(config.video.stride)
    shards = [s for v in videos.values()
              for s in plan_shards(v.input.video_id, v.info, int(config.video.shard_frames),
                                   stride)]
    if executor == "ray":
        init_ray()
        resources = _resources(actors, cpus_per_actor, gpus_per_actor)
    else:
        # The plain loop uses every core for intra-op threads unless told otherwise.
        resources = {"cpus": cpus_per_actor or float(os.cpu_count() or 1)}
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
        for row in _pipeline_rows(shards, settings, executor, actors, resources):
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
            frames, source_index = merge_batches(rows)
            result = video_rows(frames, source_index, video_id, video.info.fps / stride,
                                video.info.width, video.info.height, Tracker(settings.tracker),
                                doc=video.doc, spec=spec,
                                min_iou=float(config.subject.min_iou))
            table = result.arrays.to_table(list(spec.action_classes),
                                           list(spec.object_classes), feature_source)
            _write_video(out, video_id, video.split, table)
            busy["track_and_write"] += time.perf_counter() - written_at
            arrays = result.arrays
            report.videos_written += 1
            report.frames += arrays.num_frames
            persons += float(arrays.num_persons.sum())
            objects += float(arrays.num_objects.sum())
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
