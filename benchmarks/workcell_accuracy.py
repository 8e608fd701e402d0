"""Accuracy of the fused recognizer, of each stream alone and of two trivial baselines on the
frozen built-in test set, and training throughput with 1 and 2 Ray Train workers.

    python -m benchmarks.workcell_accuracy [--data data/workcell-bench] [--out benchmarks/results]

Steps: generate the built-in dataset (seed 0) and ingest it unless present; check the test
split against benchmarks/workcell_test_set.json (``--freeze`` records it instead); train and
evaluate each model (the epoch is chosen on the validation split, the figures are on the test
split); fit and score the baselines (majority class, bag of object classes) on the same windows;
time short training runs with 1 and 2 workers. Writes ``<out>/accuracy.json`` (one entry per
model, each with the environment and test-set facts it was measured with),
``<out>/throughput.json`` and per-model reports in ``<out>/workcell/<model>/``, and copies the
fused model's package to trained_models/workcell/ (the trained model shipped with the
repository); ``python -m benchmarks.performance_report`` turns the results into
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.environment import environment
from jobs.evaluate import check_frozen, evaluate
from jobs.ingest import ingest_annotations
from jobs.train import RUN_CONFIG, train
from model.builders import load_config
from model.cli import command_parser
from model.datasets.feature_table import content_checksum
from model.evaluation.baselines import BASELINES, run_baseline
from model.evaluation.report import confusion_png, evaluation_markdown, timeline_png
from model.reports import write_report
from workcell_synth import generate_dataset

CONFIGS = "model/configs/workcell"
MODELS = {
    "fused": "fusion_xattn_stgcnpp",
    "pose_only": "pose_only_stgcnpp",
    "object_only": "object_only",
}
FUSION_VARIANTS = {"fused_concat": "fusion_concat_stgcnpp", "fused_late": "fusion_late_stgcnpp"}
FROZEN = Path("benchmarks/workcell_test_set.json")
SHIPPED = Path("trained_models/workcell")
RUNS = Path("outputs/benchmarks/workcell")   # default --runs: checkpoints, not committed
SEED = 0
METRIC_KEYS = ("top1", "top5", "macro_precision", "macro_recall", "macro_f1",
               "mean_class_accuracy")


def prepare_data(data: Path) -> Path:
    table = data / "features"
    if not (data / "dataset.json").exists():
        generate_dataset(data, seed=SEED, render=False, progress=True)
    if not table.exists():
        report = ingest_annotations(data, table)
        if not report.ok:
            raise SystemExit(f"ingest rejected files: {report.rejected}")
    return table


def freeze(data: Path, table: Path) -> None:
    manifest = json.loads((data / "dataset.json").read_text())
    generator = {k: manifest["generator"][k]
                 for k in ("name", "version", "seed", "scale", "fps", "width", "height")}
    FROZEN.write_text(json.dumps({"generator": generator, "split": "test",
                                  "content_sha256": content_checksum(table, "test")},
                                 indent=1) + "\n")


def test_set_facts(data: Path, result: dict) -> dict:
    """What the test figures were measured on: generator, operators, videos, windows."""
    generator = json.loads((data / "dataset.json").read_text())["generator"]
    split = json.loads((data / "summary.json").read_text())["splits"]["test"]
    return {
        "generator": {k: generator[k] for k in ("name", "version", "seed", "scale", "fps",
                                                "width", "height")},
        "split": result["split"], "check": result["test_set_check"],
        "operators": split["operators"], "videos": split["videos"],
        "trimmed_clips": split["clips"], "untrimmed_videos": split["sequences"],
        "windows": result["clips"]["num_clips"], "window_s": result["window_s"],
        "clip_len": result["clip_len"], "clips_per_window": result["num_clips_per_window"],
        "timeline_window_s": result.get("timeline", {}).get("window_s"),
        "timeline_stride_s": result.get("timeline", {}).get("stride_s"),
    }


def _entry(result: dict, data: Path, **training) -> dict:
    clips = result["clips"]
    return {**{key: clips[key] for key in METRIC_KEYS}, "num_test_clips": clips["num_clips"],
            "timeline_frame_accuracy": result.get("timeline", {}).get("frame_accuracy"),
            **training, "environment": environment(), "test_set": test_set_facts(data, result)}


def model_entry(metrics: dict, result: dict, data: Path) -> dict:
    history = metrics["history"]
    return _entry(
        result, data,
        # The median: an epoch slowed by another process on the machine does not move it.
        train_clips_per_s=statistics.median(r["train_clips_per_s"] for r in history),
        selection=metrics["selection"], best_epoch=metrics["selected_epoch"],
        epochs_run=metrics["epochs_run"],
        best_val_macro_f1=metrics["selected_val_macro_f1"],
        train_minutes=sum(r["epoch_seconds"] for r in history) / 60, config=metrics["config"])


def baseline_entry(result: dict, data: Path, description: str) -> dict:
    return _entry(
        result, data, train_clips_per_s=result["train_windows"] / max(result["fit_seconds"], 1e-9),
        selection=None, best_epoch=None, epochs_run=None,
        best_val_macro_f1=result["val"]["macro_f1"],
        train_minutes=result["fit_seconds"] / 60, config=description)


def _save(results: dict, results_file: Path) -> None:
    results_file.write_text(json.dumps(results, indent=1) + "\n")


def finished_run(config: str, table: Path, work: Path) -> dict | None:
    """The package metrics of a finished run of ``config`` on ``table`` in ``work`` (same config
    text, options and table as this run would have), or None."""
    started_with, metrics = work / RUN_CONFIG, work / "package" / "metrics.json"
    if not (started_with.exists() and metrics.exists()):
        return None
    if started_with.read_text() != load_config(config, table=table.resolve()).pretty_text:
        return None
    return json.loads(metrics.read_text())


def run_accuracy(data: Path, table: Path, out: Path, models: dict[str, str], runs: Path,
                 reuse: bool) -> dict:
    results_file = out / "accuracy.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name, config in models.items():
        work, config = runs / name, f"{CONFIGS}/{config}.py"
        metrics = finished_run(config, table, work) if reuse else None
        if metrics is None:
            metrics = train(config, str(table), str(work), overwrite=True)
        else:
            print(f"{name}: reusing the finished run in {work}")
        result = evaluate(work / "package", table, out / "workcell" / name,
                          frozen_test_set=str(FROZEN))
        results[name] = model_entry(metrics, result, data)
        _save(results, results_file)
        if name == "fused":
            shutil.rmtree(SHIPPED, ignore_errors=True)
            shutil.copytree(work / "package", SHIPPED)
        print(f"{name}: top1 {results[name]['top1']:.4f} macro-F1 {results[name]['macro_f1']:.4f}")
    return results


BASELINE_DESCRIPTIONS = {
    "majority": "baseline: the most frequent training class (scikit-learn DummyClassifier)",
    "bag_of_classes": "baseline: object classes visible in the window, no geometry "
                      "(scikit-learn LogisticRegression)",
}


def run_baselines(data: Path, table: Path, out: Path, names: list[str]) -> dict:
    results_file = out / "accuracy.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    check = check_frozen(table, "test", FROZEN)
    for name in names:
        result = run_baseline(name, table, f"{CONFIGS}/{MODELS['fused']}.py")
        result["test_set_check"] = check
        folder = out / "workcell" / name
        folder.mkdir(parents=True, exist_ok=True)
        classes = list(result["clips"]["per_class"])
        confusion_png(result["clips"]["confusion_matrix"], classes,
                      folder / "confusion_matrix.png", f"{name}: test")
        if "timeline_videos" in result:
            videos = sorted(result["timeline_videos"])[:6]
            timeline_png({v: result["timeline_videos"][v] for v in videos}, classes,
                         folder / "timelines.png")
        write_report(folder / "metrics", result, evaluation_markdown(result))
        results[name] = baseline_entry(result, data, BASELINE_DESCRIPTIONS[name])
        _save(results, results_file)
        print(f"{name}: top1 {results[name]['top1']:.4f} macro-F1 {results[name]['macro_f1']:.4f}")
    return results


def run_throughput(table: Path, out: Path, epochs: int, runs: Path) -> dict:
    """Short fused runs with 1 worker x 2 CPUs and 2 workers x 1 CPU (same 2 cores)."""
    results = {}
    for workers, cpus in ((1, 2), (2, 1)):
        work = runs / f"throughput_{workers}w"
        started = time.perf_counter()
        metrics = train(f"{CONFIGS}/{MODELS['fused']}.py", str(table), str(work),
                        num_workers=workers, cpus_per_worker=cpus, overwrite=True,
                        options={"train_cfg.max_epochs": epochs})
        history = metrics["history"]
        results[f"{workers}_workers"] = {
            "num_workers": workers, "cpus_per_worker": cpus, "epochs": len(history),
            "train_clips_per_s": sum(r["train_clips_per_s"] for r in history) / len(history),
            "peak_memory_mb_per_worker": max(r["peak_memory_mb"] for r in history),
            "wall_seconds": time.perf_counter() - started,
            "gpus_per_worker": metrics["gpus_per_worker"], "environment": environment(),
        }
        shutil.rmtree(work)
    (out / "throughput.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    p = command_parser("benchmarks.workcell_accuracy", __doc__)
    p.add_argument("--data", type=Path, default=Path("data/workcell-bench"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument("--freeze", action="store_true",
                   help="record the test split as the frozen test set (once, deliberately)")
    p.add_argument("--only", nargs="+", choices=[*MODELS, *FUSION_VARIANTS, *BASELINES],
                   help="train and evaluate only these models / baselines")
    p.add_argument("--fusion-variants", action="store_true",
                   help="also concat and late fusion")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--throughput-epochs", type=int, default=2)
    p.add_argument("--runs", type=Path, default=RUNS,
                   help="where each model's training run and package go")
    p.add_argument("--reuse-finished-runs", action="store_true",
                   help="evaluate a model's finished run in --runs instead of training it "
                        "again, when it was trained from the same config and table")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    table = prepare_data(args.data)
    if args.freeze:
        freeze(args.data, table)
    models = {**MODELS, **(FUSION_VARIANTS if args.fusion_variants else {})}
    baselines = list(BASELINES)
    if args.only:
        models = {k: v for k, v in {**MODELS, **FUSION_VARIANTS}.items() if k in args.only}
        baselines = [b for b in BASELINES if b in args.only]
    if not args.skip_accuracy:
        if baselines:
            run_baselines(args.data, table, args.out, baselines)
        run_accuracy(args.data, table, args.out, models, args.runs, args.reuse_finished_runs)
    if not args.skip_throughput:
        run_throughput(table, args.out, args.throughput_epochs, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
