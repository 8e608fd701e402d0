"""Extraction throughput: the Ray Data pipeline against a plain loop, light and heavy models.

    python -m benchmarks.extraction_throughput [--dataset data/workcell] [--light-videos 8]

Runs ``jobs.extract`` on the first test videos with the light and heavy zoo models at random
weights (no checkpoint can be downloaded here; see model/configs/extraction/*_random_weights.py
for why their thresholds are zero) and with the trained workcell models (``workcell``: the
packages in trained_models/, real detections and thresholds) of the rendered built-in
dataset, once per executor, in one process and one run:

  * the plain loop (``--executor sequential``) with one inference thread, the setting of each
    pipeline actor, and with one thread per core (PyTorch's default);
  * the Ray Data pipeline with 1 and with 2 actors per model stage.

Every run includes model loading and, for the pipeline, actor start-up (Ray itself is started
before the clock); ``first_result_s`` is the time to the first result (start-up plus the
first shard). Frames/s counts the frames processed (after the frame stride). The stage busy
seconds say what limits each run. Writes benchmarks/results/extraction.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.environment import environment
from jobs.cli import init_ray, write_report
from jobs.extract import extract, load_config
from model.datasets.annotation import DatasetSpec
from model.datasets.splits import load_split_file
from model.datasets.video_manifest import VideoInput

CONFIGS = {"light": "model/configs/extraction/light_random_weights.py",
           "heavy": "model/configs/extraction/heavy_random_weights.py",
           # the trained light models shipped in trained_models/ (real detections)
           "workcell": "model/configs/extraction/workcell.py"}
TRAINED = {"workcell"}


def _test_videos(dataset: Path, count: int) -> list[VideoInput]:
    """The first ``count`` test videos (sorted ids) that have an MP4, unlabelled: the
    benchmark measures extraction, not the subject matching of labelled videos."""
    ids = sorted(v for v, s in load_split_file(dataset / "splits.json").items() if s == "test")
    paths = [(v, dataset / "videos" / f"{v}.mp4") for v in ids]
    chosen = [VideoInput(v, str(p), None, "test") for v, p in paths if p.exists()][:count]
    if len(chosen) < count:
        raise SystemExit(f"{dataset}: only {len(chosen)} rendered test videos; render the "
                         "dataset with `python -m jobs.make_dataset` (without --no-video)")
    return chosen


def _run(name: str, inputs: list[VideoInput], spec: DatasetSpec, config: str, stride: int,
         executor: str, actors: int, threads: int | None, random_weights: bool) -> dict:
    cfg = load_config(config, {"video.stride": stride})
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        report = extract(inputs, spec, out, config=cfg, random_weights=random_weights,
                         executor=executor, detector_actors=actors, pose_actors=actors,
                         cpus_per_actor=threads, progress=False)
        wall = time.perf_counter() - started
    if report.failures:
        raise SystemExit(f"{name}: extraction failed: {report.failures}")
    workers = 1 if executor == "sequential" else actors
    busy = report.stage_seconds
    # Share of the run each stage's pool was busy; the highest is what limits the run.
    utilisation = {k: v / (wall * (workers if k in ("detect", "pose") else 1))
                   for k, v in busy.items()}
    run = {"executor": executor, "actors_per_stage": actors if executor == "ray" else None,
           "inference_threads": threads, "frames": report.frames, "wall_s": wall,
           "first_result_s": report.first_row_s,
           "frames_per_s": report.frames / wall, "stage_busy_s": busy,
           "stage_utilisation": utilisation,
           "limited_by": max(utilisation, key=utilisation.get),
           "persons_per_frame": report.persons_per_frame,
           "objects_per_frame": report.objects_per_frame, "models": report.models}
    print(f"{name}: {run['frames_per_s']:.2f} frames/s ({report.frames} frames, "
          f"{wall:.0f} s), busiest stage {run['limited_by']}", file=sys.stderr)
    return run


def measure(name: str, inputs: list[VideoInput], spec: DatasetSpec, stride: int,
            cpu_count: int) -> dict:
    config, random_weights = CONFIGS[name], name not in TRAINED
    runs = {
        "sequential_1_thread": _run(f"{name} sequential, 1 thread", inputs, spec, config,
                                    stride, "sequential", 1, 1, random_weights),
        "sequential_all_cores": _run(f"{name} sequential, {cpu_count} threads", inputs, spec,
                                     config, stride, "sequential", 1, cpu_count,
                                     random_weights),
        "pipeline_1_actor": _run(f"{name} pipeline, 1 actor per stage", inputs, spec,
                                 config, stride, "ray", 1, None, random_weights),
        "pipeline_2_actors": _run(f"{name} pipeline, 2 actors per stage", inputs, spec,
                                  config, stride, "ray", 2, None, random_weights),
    }
    # The headline pipeline figure is fixed in advance: 2 actors per stage, one per core.
    pipeline = runs["pipeline_2_actors"]["frames_per_s"]
    sequential = runs["sequential_1_thread"]["frames_per_s"]
    all_cores = runs["sequential_all_cores"]["frames_per_s"]
    return {"pipeline_frames_per_s": pipeline, "sequential_frames_per_s": sequential,
            "ratio": pipeline / sequential,
            "sequential_all_cores_frames_per_s": all_cores,
            "ratio_vs_all_cores": pipeline / all_cores,
            "actors_per_stage": 2, "videos": len(inputs), "frame_stride": stride,
            "frames": runs["pipeline_2_actors"]["frames"], "config": config,
            "random_weights": random_weights,
            "runs": runs, "environment": environment()}


def markdown(results: dict) -> str:
    lines = ["# Extraction throughput\n",
             "| models | run | frames/s | first result s | busiest stage (busy share) | "
             "persons / frame |",
             "| --- | --- | ---: | ---: | --- | ---: |"]
    for name, res in results.items():
        for run_name, run in res["runs"].items():
            share = run["stage_utilisation"][run["limited_by"]]
            lines.append(f"| {name} | {run_name} | {run['frames_per_s']:.2f} | "
                         f"{run['first_result_s']:.1f} | {run['limited_by']} "
                         f"({100 * share:.0f} %) | "
                         f"{run['persons_per_frame']:.2f} |")
    lines.append("")
    for name, res in results.items():
        lines.append(f"- {name}: pipeline / sequential loop (1 thread) = {res['ratio']:.2f}; "
                     f"/ sequential loop ({res['environment']['cpu_count']} threads) = "
                     f"{res['ratio_vs_all_cores']:.2f}; {res['videos']} videos, "
                     f"{res['frames']} frames (stride {res['frame_stride']})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.extraction_throughput",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", type=Path, default=Path("data/workcell"),
                   help="rendered built-in dataset (default: data/workcell)")
    p.add_argument("--light-videos", type=int, default=20, help="test videos, light models")
    p.add_argument("--light-stride", type=int, default=1, help="frame stride, light models")
    p.add_argument("--heavy-videos", type=int, default=5, help="test videos, heavy models")
    p.add_argument("--heavy-stride", type=int, default=8,
                   help="frame stride, heavy models (Faster R-CNN takes seconds per frame "
                        "on a CPU core)")
    p.add_argument("--models", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                   help="light and heavy: random weights; workcell: the trained packages "
                        "(test videos and stride of the light models)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/extraction"),
                   help="results stem (.json and .md)")
    args = p.parse_args(argv)
    spec = DatasetSpec.load(args.dataset / "dataset.json")
    init_ray()
    cpu_count = environment()["cpu_count"]
    plan = {"light": (args.light_videos, args.light_stride),
            "heavy": (args.heavy_videos, args.heavy_stride),
            "workcell": (args.light_videos, args.light_stride)}
    previous = json.loads(args.out.with_suffix(".json").read_text()) \
        if args.out.with_suffix(".json").exists() else {}
    results = dict(previous)
    for name in args.models:
        count, stride = plan[name]
        results[name] = measure(name, _test_videos(args.dataset, count), spec, stride,
                                cpu_count)
    write_report(args.out, results, markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
