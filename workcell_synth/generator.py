"""The whole dataset: operators and their splits, one task per video, a process pool, manifest.

Every random number of a video comes from ``SeedSequence([seed, stream, operator, video])``, so
the files do not depend on the number of workers or on the order the videos are made in.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from mmengine import Config
from tqdm import tqdm

from model.datasets.annotation import DatasetSpec
from model.datasets.feature_table import SPLITS
from model.datasets.splits import write_split_file
from workcell_synth.annotate import annotate
from workcell_synth.classes import ACTION_CLASSES, OBJECT_CLASSES
from workcell_synth.coco import COCO_DIR, export_frames, sample_frames, write_coco_files
from workcell_synth.render import render_video
from workcell_synth.scene import sample_operator, simulate_video

GENERATOR_NAME = "workcell-synth"
# 4: camera-like rendering (volume bodies, clutter, sensor effects) and COCO files; the
# annotations (and so the frozen test set) are those of version 3.
GENERATOR_VERSION = 4
DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "default.py"
# Independent random streams derived from the seed.
_STREAM_SPLITS, _STREAM_OPERATOR, _STREAM_CLIP_ORDER, _STREAM_VIDEO = range(4)


@dataclass(frozen=True)
class VideoTask:
    video_id: str
    split: str
    operator: int
    operator_name: str          # the operator's group key in the annotations (video.groups)
    index: int                  # the video's number within its operator
    clip_label: str | None      # None: an untrimmed sequence


@dataclass(frozen=True)
class _Run:
    out_dir: Path
    seed: int
    fps: float
    width: int
    height: int
    render: bool
    cfg: dict


def load_config(config: str | Path | dict | Config) -> dict:
    """A plain dict of the generator config, from a config file or an already loaded config."""
    if isinstance(config, str | Path):
        config = Config.fromfile(str(config))
    return config.to_dict() if isinstance(config, Config) else json.loads(json.dumps(config))


def plan_videos(cfg: dict, seed: int, scale: int) -> list[VideoTask]:
    """Every video of the dataset; operators are drawn into splits, videos named per operator."""
    counts = [cfg["operators"][split] * scale for split in SPLITS]
    order = np.random.default_rng([seed, _STREAM_SPLITS]).permutation(sum(counts))
    groups = np.split(order, np.cumsum(counts)[:-1])
    split_of = {int(op): split for split, ops in zip(SPLITS, groups, strict=True) for op in ops}
    digits = max(2, len(str(sum(counts) - 1)))
    clip_labels = [c for c in ACTION_CLASSES for _ in range(cfg["clips_per_class"])]
    tasks = []
    for op in range(sum(counts)):
        name = f"op{op:0{digits}d}"
        # Shuffled, so that a clip's number says nothing about its label.
        shuffle = np.random.default_rng([seed, _STREAM_CLIP_ORDER, op]).permutation(
            len(clip_labels))
        tasks += [VideoTask(f"{name}_clip{k:03d}", split_of[op], op, name, k, clip_labels[i])
                  for k, i in enumerate(shuffle.tolist())]
        tasks += [VideoTask(f"{name}_seq{k:03d}", split_of[op], op, name, len(clip_labels) + k,
                            None) for k in range(cfg["sequences_per_operator"])]
    return tasks


def make_video(task: VideoTask, run: _Run) -> dict:
    """Simulate, annotate and (optionally) render one video; returns its summary."""
    operator = sample_operator(
        np.random.default_rng([run.seed, _STREAM_OPERATOR, task.operator]), run.cfg)
    truth_seed, noise_seed, render_seed, coco_seed = np.random.SeedSequence(
        [run.seed, _STREAM_VIDEO, task.operator, task.index]).spawn(4)
    truth = simulate_video(np.random.default_rng(truth_seed), run.cfg, operator, task.clip_label,
                           run.fps, run.width, run.height)
    video_file = f"videos/{task.video_id}.mp4"
    doc = annotate(np.random.default_rng(noise_seed), truth, run.cfg, task.video_id, video_file,
                   run.fps, run.width, run.height, trimmed=task.clip_label is not None)
    doc["video"]["groups"] = {"operator": task.operator_name}
    path = run.out_dir / "annotations" / f"{task.video_id}.json"
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    coco_records = []
    if run.render:
        cc = run.cfg["coco"]
        frames = sample_frames(np.random.default_rng(coco_seed), truth.frame_count,
                               cc["frames_per_video"][task.split])
        drawn = render_video(run.out_dir / video_file, truth, np.random.default_rng(render_seed),
                             run.fps, run.width, run.height, run.cfg["camera"]["near_m"],
                             run.cfg["render"], annotate_frames=frames)
        coco_records = export_frames(run.out_dir, task.split, task.video_id,
                                     run.out_dir / video_file, drawn, cc["jpeg_quality"],
                                     cc["min_box_px"])
    return {"video_id": task.video_id, "split": task.split, "operator": task.operator,
            "trimmed": task.clip_label is not None, "frames": truth.frame_count,
            "labels": [label for label, _, _ in truth.segments], "coco": coco_records}


class _Inline:
    """The part of ``multiprocessing.Pool`` used here, run in this process (one worker)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc) -> None:
        return None

    @staticmethod
    def imap_unordered(func, items, chunksize: int = 1):
        return map(func, items)


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if (out_dir / "dataset.json").exists():
        if not overwrite:
            raise FileExistsError(f"{out_dir} already holds a dataset; pass overwrite=True "
                                  "(--overwrite) to replace it")
        for sub in ("annotations", "videos", COCO_DIR):
            shutil.rmtree(out_dir / sub, ignore_errors=True)
    for sub in ("annotations", "videos"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)


def _summarize(videos: list[dict], seconds: float, workers: int, rendered: bool) -> dict:
    splits = {}
    for split in SPLITS:
        rows = [v for v in videos if v["split"] == split]
        splits[split] = {
            "operators": len({v["operator"] for v in rows}), "videos": len(rows),
            "clips": sum(v["trimmed"] for v in rows),
            "sequences": sum(not v["trimmed"] for v in rows),
            "frames": sum(v["frames"] for v in rows),
            "clip_labels": dict(sorted(Counter(v["labels"][0] for v in rows
                                               if v["trimmed"]).items())),
            "segment_labels": dict(sorted(Counter(label for v in rows if not v["trimmed"]
                                                  for label in v["labels"]).items())),
        }
    return {"videos": len(videos), "frames": sum(v["frames"] for v in videos),
            "seconds": round(seconds, 2), "workers": workers, "videos_rendered": rendered,
            "splits": splits}


def generate_dataset(out_dir: str | Path, seed: int = 0, scale: int = 1,
                     config: str | Path | dict | Config = DEFAULT_CONFIG, fps: float | None = None,
                     width: int | None = None, height: int | None = None,
                     workers: int | None = None, render: bool = True, overwrite: bool = False,
                     progress: bool = False) -> dict:
    """Write the dataset under ``out_dir`` (dataset.json, splits.json, annotations/, videos/,
    coco/ (with the videos), summary.json) and return the summary. ``fps``, ``width`` and
    ``height`` override the config's ``video`` section; ``workers`` defaults to the number of
    CPUs."""
    start = time.perf_counter()
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    cfg = load_config(config)
    cfg["video"].update({k: v for k, v in (("fps", fps), ("width", width), ("height", height))
                         if v is not None})
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite)
    run = _Run(out_dir, seed, cfg["video"]["fps"], cfg["video"]["width"], cfg["video"]["height"],
               render, cfg)
    tasks = plan_videos(cfg, seed, scale)
    workers = workers or os.cpu_count() or 1
    # Longest first (sequences), so that no worker is left with a long video at the end.
    ordered = sorted(tasks, key=lambda t: t.clip_label is not None)
    job = partial(make_video, run=run)
    videos = []
    # The pool forks before tqdm starts its monitor thread.
    with multiprocessing.Pool(workers) if workers > 1 else _Inline() as pool, \
            tqdm(total=len(tasks), unit="video", disable=not progress) as bar:
        for video in pool.imap_unordered(job, ordered, chunksize=2):
            videos.append(video)
            bar.update()
    videos.sort(key=lambda v: v["video_id"])
    if render:
        for split in SPLITS:
            write_coco_files(out_dir, split, [rec for v in videos if v["split"] == split
                                              for rec in v["coco"]], OBJECT_CLASSES)
    spec = DatasetSpec(cfg["dataset_name"], ACTION_CLASSES, OBJECT_CLASSES)
    manifest = spec.to_json() | {"generator": {
        "name": GENERATOR_NAME, "version": GENERATOR_VERSION, "seed": seed, "scale": scale,
        "fps": run.fps, "width": run.width, "height": run.height, "config": cfg}}
    (out_dir / "dataset.json").write_text(json.dumps(manifest, indent=1) + "\n")
    write_split_file(out_dir / "splits.json", {v["video_id"]: v["split"] for v in videos})
    summary = _summarize(videos, time.perf_counter() - start, workers, render)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def tiny_config(train: int = 2, val: int = 1, test: int = 1, sequences: int = 1) -> dict:
    """The generator config with few operators, one clip per class (tests, and the fault
    benchmark's small datasets)."""
    cfg = load_config(DEFAULT_CONFIG)
    cfg.update(operators=dict(train=train, val=val, test=test), clips_per_class=1,
               sequences_per_operator=sequences)
    return cfg
