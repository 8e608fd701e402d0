"""Extraction throughput: the Ray Data pipeline against a plain loop, on the frame path.

    python -m benchmarks.extraction_throughput [--dataset data/workcell] [--models workcell heavy]

Runs ``actors.extraction.extract`` (what ``python -m jobs.extract`` runs) with

  * ``workcell``: the shipped detector and pose model (trained_models/, through
    model/configs/extraction/workcell.py: ONNX Runtime, real detections and thresholds) on
    every video of the test split of the rendered built-in dataset;
  * ``heavy``: Faster R-CNN R50-FPN + HRNet-W32 at random weights (no checkpoint can be
    downloaded here; model/configs/extraction/heavy_random_weights.py says why its thresholds
    are zero), through MMDetection's and MMPose's own pipelines in PyTorch, on the first
    ``--heavy-videos`` test videos every ``--heavy-stride``-th frame (Faster R-CNN takes
    seconds per frame on a CPU core: the row measures a rate, not the split),

each once per executor, in one process, one run, on one commit (recorded in the file):

  * the plain loop (``--executor sequential``) with one inference thread, the setting of each
    pipeline actor, and with one thread per core;
  * the Ray Data pipeline with ``--actors`` actors (the headline setting, fixed in advance:
    one per core).

Every run includes model loading and, for the pipeline, actor start-up (Ray itself is started
before the clock); ``first_result_s`` is the time to the first result. Frames/s counts the
frames processed (after the frame stride); ``speedup`` is the pipeline's frames/s over the
one-thread loop's. Stage times per frame are the busy milliseconds of each step per frame
(the pipeline's actors overlap, so they add up to more than its wall time per frame).
Writes benchmarks/results/extraction.{json,md}.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from actors.extraction import extract
from benchmarks.environment import code_commit, environment
from model.cli import command_parser
from model.cluster import init_ray
from model.config_files import read_config
from model.datasets.annotation import DatasetSpec
from model.datasets.splits import load_split_file
from model.datasets.video_manifest import VideoInput
from model.reports import write_report

CONFIGS = {"workcell": "model/configs/extraction/workcell.py",
           "heavy": "model/configs/extraction/heavy_random_weights.py"}
TRAINED = {"workcell"}


def _test_videos(dataset: Path, count: int | None) -> list[VideoInput]:
    """The test videos (sorted ids; the first ``count``, or all), unlabelled: the benchmark
    measures extraction, not the subject matching of labelled videos."""
    ids = sorted(v for v, s in load_split_file(dataset / "splits.json").items() if s == "test")
    chosen = [VideoInput(v, str(dataset / "videos" / f"{v}.mp4"), None, "test")
              for v in ids[:count]]
    missing = [v.path for v in chosen if not Path(v.path).exists()]
    if missing:
        raise SystemExit(f"{dataset}: {len(missing)} test videos are not rendered (e.g. "
                         f"{missing[0]}); render the dataset with `python -m jobs.make_dataset`")
    return chosen


def _run(name: str, inputs: list[VideoInput], spec: DatasetSpec, config: str, stride: int,
         executor: str, actors: int, threads: int | None, random_weights: bool) -> dict:
    cfg = read_config(config, {"video.stride": stride})
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        report = extract(inputs, spec, out, config=cfg, random_weights=random_weights,
                         executor=executor, actors=actors, cpus_per_actor=threads,
                         progress=True)
        wall = time.perf_counter() - started
    if report.failures:
        raise SystemExit(f"{name}: extraction failed: {report.failures}")
    workers = 1 if executor == "sequential" else actors
    busy = report.stage_seconds
    # Share of the run each stage was busy (model stages over the pool's workers).
    utilisation = {k: v / (wall * (workers if k != "track_and_write" else 1))
                   for k, v in busy.items()}
    run = {"executor": executor, "actors": actors if executor == "ray" else None,
           "inference_threads": threads, "frames": report.frames, "wall_s": wall,
           "first_result_s": report.first_row_s,
           "frames_per_s": report.frames / wall, "stage_busy_s": busy,
           "stage_ms_per_frame": {k: 1e3 * v / report.frames for k, v in busy.items()},
           "stage_utilisation": utilisation,
           "limited_by": max(utilisation, key=utilisation.get),
           "persons_per_frame": report.persons_per_frame,
           "objects_per_frame": report.objects_per_frame, "models": report.models}
    print(f"{name}: {run['frames_per_s']:.2f} frames/s ({report.frames} frames, "
          f"{wall:.0f} s), busiest stage {run['limited_by']}", file=sys.stderr)
    return run


def measure(name: str, inputs: list[VideoInput], spec: DatasetSpec, stride: int,
            actors: int, cpu_count: int) -> dict:
    config, random_weights = CONFIGS[name], name not in TRAINED
    runs = {
        "sequential_1_thread": _run(f"{name} sequential, 1 thread", inputs, spec, config,
                                    stride, "sequential", 1, 1, random_weights),
        "sequential_all_cores": _run(f"{name} sequential, {cpu_count} threads", inputs, spec,
                                     config, stride, "sequential", 1, cpu_count,
                                     random_weights),
        "pipeline": _run(f"{name} pipeline, {actors} actors", inputs, spec, config, stride,
                         "ray", actors, None, random_weights),
    }
    pipeline = runs["pipeline"]["frames_per_s"]
    sequential = runs["sequential_1_thread"]["frames_per_s"]
    all_cores = runs["sequential_all_cores"]["frames_per_s"]
    return {"frames_per_s": pipeline, "sequential_frames_per_s": sequential,
            "speedup": pipeline / sequential,
            "sequential_all_cores_frames_per_s": all_cores,
            "speedup_vs_all_cores": pipeline / all_cores,
            "stage_ms_per_frame": runs["sequential_1_thread"]["stage_ms_per_frame"],
            "actors": actors, "videos": len(inputs), "frame_stride": stride,
            "frames": runs["pipeline"]["frames"], "config": config,
            "random_weights": random_weights, "runs": runs}


def markdown(results: dict) -> str:
    env = results["environment"]
    lines = ["# Extraction throughput (benchmarks/extraction_throughput.py)\n",
             f"{env['device']}, {env['cpu_count']} cores; commit `{results['commit']}`, one "
             "run.\n",
             "| models | run | frames/s | first result s | busiest stage (busy share) | "
             "persons / frame |",
             "| --- | --- | ---: | ---: | --- | ---: |"]
    for name in CONFIGS:
        if name not in results:
            continue
        for run_name, run in results[name]["runs"].items():
            share = run["stage_utilisation"][run["limited_by"]]
            lines.append(f"| {name} | {run_name} | {run['frames_per_s']:.2f} | "
                         f"{run['first_result_s']:.1f} | {run['limited_by']} "
                         f"({100 * share:.0f} %) | {run['persons_per_frame']:.2f} |")
    lines += ["", "Stage times per frame (ms, the one-thread loop):", "",
              "| models | " + " | ".join(["decode", "detect", "pose", "track_and_write"]) +
              " |", "| --- | ---: | ---: | ---: | ---: |"]
    for name in CONFIGS:
        if name in results:
            ms = results[name]["stage_ms_per_frame"]
            lines.append(f"| {name} | " + " | ".join(
                f"{ms[k]:.1f}" for k in ("decode", "detect", "pose", "track_and_write")) + " |")
    lines.append("")
    for name in CONFIGS:
        if name not in results:
            continue
        res = results[name]
        lines.append(f"- {name}: pipeline ({res['actors']} actors) {res['frames_per_s']:.1f} "
                     f"frames/s; speedup over the one-thread loop {res['speedup']:.2f}, over "
                     f"the {env['cpu_count']}-thread loop {res['speedup_vs_all_cores']:.2f}; "
                     f"{res['videos']} videos, {res['frames']} frames "
                     f"(stride {res['frame_stride']})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = command_parser("benchmarks.extraction_throughput", __doc__)
    p.add_argument("--dataset", type=Path, default=Path("data/workcell"),
                   help="rendered built-in dataset (default: data/workcell)")
    p.add_argument("--models", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--actors", type=int, default=2,
                   help="pipeline actors (default 2: one per core of this machine)")
    p.add_argument("--heavy-videos", type=int, default=5, help="test videos, heavy models")
    p.add_argument("--heavy-stride", type=int, default=8, help="frame stride, heavy models")
    p.add_argument("--allow-dirty", action="store_true",
                   help="run with uncommitted code changes (recorded as <sha>+dirty)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/extraction"),
                   help="results stem (.json and .md)")
    args = p.parse_args(argv)
    commit = code_commit(args.allow_dirty)
    spec = DatasetSpec.load(args.dataset / "dataset.json")
    init_ray()
    env = environment()
    plan = {"workcell": (None, 1), "heavy": (args.heavy_videos, args.heavy_stride)}
    results = {"commit": commit}
    for name in args.models:
        count, stride = plan[name]
        results[name] = measure(name, _test_videos(args.dataset, count), spec, stride,
                                args.actors, env["cpu_count"])
    results["environment"] = env
    write_report(args.out, results, markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
