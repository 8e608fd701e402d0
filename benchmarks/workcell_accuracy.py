"""Accuracy of the fused recognizer and of each stream alone on the frozen built-in test set,
and training throughput with 1 and 2 Ray Train workers.

    python -m benchmarks.workcell_accuracy [--data data/workcell-bench] [--out benchmarks/results]

Steps: generate the built-in dataset (seed 0) and ingest it unless present; check the test
split against benchmarks/workcell_test_set.json (``--freeze`` records it instead); train and
evaluate each model; time short training runs with 1 and 2 workers. Writes
``<out>/accuracy.json``, ``<out>/throughput.json`` and per-model evaluation reports in
``<out>/workcell/<model>/``, and copies the fused model's package to models/workcell/ (the
trained model shipped with the repository); ``python -m benchmarks.performance_report`` turns
the results into docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from jobs.evaluate import evaluate
from jobs.ingest import ingest_annotations
from jobs.train import train
from model.datasets.feature_table import content_checksum
from model.datasets.synthetic import generate_dataset

CONFIGS = "model/configs/workcell"
MODELS = {
    "fused": "fusion_xattn_stgcnpp",
    "pose_only": "pose_only_stgcnpp",
    "object_only": "object_only",
}
FUSION_VARIANTS = {"fused_concat": "fusion_concat_stgcnpp", "fused_late": "fusion_late_stgcnpp"}
FROZEN = Path("benchmarks/workcell_test_set.json")
SHIPPED = Path("models/workcell")
RUNS = Path("outputs/benchmarks/workcell")   # checkpoints: not committed
SEED = 0


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


def accuracy_entry(metrics: dict, result: dict) -> dict:
    history = metrics["history"]
    clips = result["clips"]
    entry = {key: clips[key] for key in ("top1", "top5", "macro_precision", "macro_recall",
                                         "macro_f1", "mean_class_accuracy")}
    entry.update(
        num_test_clips=clips["num_clips"],
        train_clips_per_s=sum(r["train_clips_per_s"] for r in history) / len(history),
        timeline_frame_accuracy=result.get("timeline", {}).get("frame_accuracy"),
        best_epoch=metrics["best_epoch"], epochs_run=metrics["epochs_run"],
        best_val_macro_f1=metrics["best_val_macro_f1"],
        train_minutes=sum(r["epoch_seconds"] for r in history) / 60,
        config=metrics["config"])
    return entry


def run_accuracy(table: Path, out: Path, models: dict[str, str]) -> dict:
    results_file = out / "accuracy.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name, config in models.items():
        work = RUNS / name
        metrics = train(f"{CONFIGS}/{config}.py", str(table), str(work), overwrite=True)
        result = evaluate(work / "package", table, out / "workcell" / name,
                          frozen_test_set=str(FROZEN))
        results[name] = accuracy_entry(metrics, result)
        results_file.write_text(json.dumps(results, indent=1) + "\n")
        if name == "fused":
            shutil.rmtree(SHIPPED, ignore_errors=True)
            shutil.copytree(work / "package", SHIPPED)
        print(f"{name}: top1 {results[name]['top1']:.4f} macro-F1 {results[name]['macro_f1']:.4f}")
    return results


def run_throughput(table: Path, out: Path, epochs: int) -> dict:
    """Short fused runs with 1 worker x 2 CPUs and 2 workers x 1 CPU (same 2 cores)."""
    results = {}
    for workers, cpus in ((1, 2), (2, 1)):
        work = RUNS / f"throughput_{workers}w"
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
        }
        shutil.rmtree(work)
    (out / "throughput.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.workcell_accuracy",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data/workcell-bench"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument("--freeze", action="store_true",
                   help="record the test split as the frozen test set (once, deliberately)")
    p.add_argument("--only", nargs="+", choices=[*MODELS, *FUSION_VARIANTS],
                   help="train and evaluate only these models")
    p.add_argument("--fusion-variants", action="store_true",
                   help="also concat and late fusion")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--throughput-epochs", type=int, default=2)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    table = prepare_data(args.data)
    if args.freeze:
        freeze(args.data, table)
    models = {**MODELS, **(FUSION_VARIANTS if args.fusion_variants else {})}
    if args.only:
        models = {k: v for k, v in {**MODELS, **FUSION_VARIANTS}.items() if k in args.only}
    if not args.skip_accuracy:
        run_accuracy(table, args.out, models)
    if not args.skip_throughput:
        run_throughput(table, args.out, args.throughput_epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
