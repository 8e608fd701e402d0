"""Write docs/PERFORMANCE.md from the benchmark results in benchmarks/results/.

    python -m benchmarks.performance_report

Every figure in the report comes from the JSON files the benchmarks wrote; the confusion
matrices are copied next to the report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from model.evaluation.report import per_class_table

RESULTS = Path("benchmarks/results")
DOCS = Path("docs")
IMAGES = DOCS / "images"
FROZEN = Path("benchmarks/workcell_test_set.json")
NAMES = {"fused": "fused: pose + objects, cross-attention",
         "fused_concat": "fused: feature concatenation", "fused_late": "fused: late fusion",
         "pose_only": "pose only (ST-GCN++)", "object_only": "objects only"}


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def workcell_section() -> list[str]:
    accuracy = _load("accuracy.json")
    if accuracy is None:
        return ["## Built-in workcell dataset", "", "Not measured yet: run "
                "`python -m benchmarks.workcell_accuracy`.", ""]
    frozen = json.loads(FROZEN.read_text())
    gen = frozen["generator"]
    lines = [
        "## Built-in workcell dataset: fused model and ablations", "",
        "Reproduce: `python -m benchmarks.workcell_accuracy` (generates the dataset with seed 0, "
        "ingests it, trains and evaluates every model, then times training; about 1 hour on "
        "2 CPU cores), then `python -m benchmarks.performance_report`.", "",
        f"**Frozen test set**: generator `{gen['name']}` version {gen['version']}, seed "
        f"{gen['seed']}, scale {gen['scale']}, {gen['fps']} fps, {gen['width']}x{gen['height']}; "
        f"test split content SHA-256 `{frozen['content_sha256']}` "
        f"(`benchmarks/workcell_test_set.json`). `jobs.evaluate --frozen-test-set` refuses to "
        "report on anything else.", "",
        "Test clips are windows of at most 4 s inside the labelled segments of the 12 test "
        "operators' videos (trimmed clips and the segments of untrimmed videos); none of these "
        "operators is seen in training. Each clip is scored as the mean of 5 uniformly sampled "
        "48-frame clips.", "",
        "| model | top-1 | top-5 | macro precision | macro recall | macro F1 | timeline frame "
        "acc. | test clips | train clips/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in ("fused", "fused_concat", "fused_late", "pose_only", "object_only"):
        if key not in accuracy:
            continue
        m = accuracy[key]
        lines.append(
            f"| {NAMES[key]} | {_pct(m['top1'])} | {_pct(m['top5'])} | "
            f"{_pct(m['macro_precision'])} | {_pct(m['macro_recall'])} | {_pct(m['macro_f1'])} "
            f"| {_pct(m.get('timeline_frame_accuracy'))} | {m['num_test_clips']} | "
            f"{m['train_clips_per_s']:.0f} |")
    fused = accuracy.get("fused")
    gaps = [f"{NAMES[k]} is {100 * (fused['top1'] - accuracy[k]['top1']):.1f} points of top-1 "
            f"below it" for k in ("pose_only", "object_only") if fused and k in accuracy]
    if gaps:
        lines += ["", "Neither stream alone separates the classes: " + "; ".join(gaps) + ". By "
                  "construction ([data format](data-format.md)), some class pairs share the "
                  "body motion and differ only in the object handled, others share the object "
                  "and differ only in the motion; the per-class tables below show where each "
                  "stream fails. The object stream comes closer than the pose stream because "
                  "each object is encoded relative to the wrists, so an object in the hand "
                  "carries the hand's motion; it is weakest where the hand is empty or the part "
                  "is hidden in it (reach, pick, place, pack)."]
    lines += ["", "The timeline frame accuracy scores every frame of the untrimmed test videos "
              "(idle gaps and transitions included) with sliding 1.5 s windows; it is lower than "
              "clip accuracy because training windows never cross a segment boundary, so frames "
              "near a change of action are scored from windows that mix two actions."]
    lines += ["", "Training: best epoch by validation macro-F1 "
              + ", ".join(f"{k} {accuracy[k]['best_epoch']}/{accuracy[k]['epochs_run']}"
                          for k in accuracy) + " (epochs run, early stopping included).", ""]
    for key in ("fused", "pose_only", "object_only"):
        folder = RESULTS / "workcell" / key
        if not (folder / "metrics.json").exists():
            continue
        result = json.loads((folder / "metrics.json").read_text())
        IMAGES.mkdir(parents=True, exist_ok=True)
        image = IMAGES / f"workcell_{key}_confusion.png"
        shutil.copy(folder / "confusion_matrix.png", image)
        lines += [f"### {NAMES[key]}", "", per_class_table(result["clips"]["per_class"]), "",
                  f"![{key} confusion matrix](images/{image.name})", ""]
    throughput = _load("throughput.json")
    if throughput:
        lines += ["### Training throughput and memory (2 CPU cores, fused model)", "",
                  "| Ray Train workers | CPUs per worker | clips/s | peak memory per worker |",
                  "| ---: | ---: | ---: | ---: |"]
        for row in throughput.values():
            lines.append(f"| {row['num_workers']} | {row['cpus_per_worker']} | "
                         f"{row['train_clips_per_s']:.1f} | "
                         f"{row['peak_memory_mb_per_worker']:.0f} MB |")
        lines += ["", "Clips/s counts training clips of the whole job per second of training "
                  "(validation excluded), averaged over the epochs; peak memory is the resident "
                  "set size of a worker process (on a GPU: `torch.cuda.max_memory_allocated`).",
                  ""]
    return lines


def penn_section() -> list[str]:
    penn = _load("penn_action.json")
    if penn is None:
        return ["## Penn Action (real human motion, pose only)", "",
                "Not measured yet: run `python -m benchmarks.penn_action`.", ""]
    val = penn["val"]
    lines = [
        "## Penn Action (real human motion, pose only)", "",
        "Reproduce: `python -m benchmarks.penn_action` (ingests "
        "`../shared/data/penn_action_train_coco17.pkl.gz` through `jobs.ingest --mmaction-pkl`, "
        "trains each ST-GCN++ stream with `jobs.train`, evaluates with `jobs.evaluate`), then "
        "`python -m benchmarks.performance_report`.", "",
        f"Validation split: {val['num_clips']} clips cut from the training clips, stratified by "
        f"class with seed 0 and frozen in `{penn['split_file']}`; never trained on (the official "
        "test split is not distributed with the project). Device: "
        f"{penn['device']}.", "",
        "How to read it: the validation clips are a random, class-stratified part of the "
        "official training split, and the models train on the rest of it; the project's "
        "reference figure (MMAction2's ST-GCN++ joint stream trained on the whole training split:"
        " 95.5 % top-1) is on the official test split, which is not available here. The two "
        "splits differ, so the figures below are not directly comparable with it.", "",
        f"**Best configuration: {val['configuration']}** — top-1 {_pct(val['top1'])}, top-5 "
        f"{_pct(val['top5'])}, macro F1 {_pct(val['macro_f1'])}, mean class accuracy "
        f"{_pct(val['mean_class_accuracy'])}.", "",
        "| variant | val top-1 |", "| --- | ---: |"]
    lines += [f"| {name} | {_pct(top1)} |" for name, top1 in penn["variants"].items()]
    clips = val["num_clips"]
    lines += ["", f"With {clips} validation clips one clip is {100 / clips:.2f} points of top-1: "
              "each variant's errors, " + ", ".join(
                  f"{name} {round((1 - top1) * clips)}" for name, top1 in penn["variants"].items())
              + ", so variants that differ by a clip or two are not told apart by this split."]
    lines += ["", "Training time per stream (minutes): " + ", ".join(
        f"{k} {v:.1f}" for k, v in penn["training_minutes"].items()) + ".", ""]
    folder = RESULTS / "penn_action"
    if (folder / "metrics.json").exists():
        result = json.loads((folder / "metrics.json").read_text())
        IMAGES.mkdir(parents=True, exist_ok=True)
        image = IMAGES / "penn_action_confusion.png"
        shutil.copy(folder / "confusion_matrix.png", image)
        lines += [f"### Per class ({val['configuration']}, validation split)", "",
                  per_class_table(result["clips"]["per_class"]), "",
                  f"![Penn Action confusion matrix](images/{image.name})", ""]
    return lines


def main() -> int:
    lines = ["# Performance report", "",
             "Generated by `python -m benchmarks.performance_report` from "
             "`benchmarks/results/*.json`; do not edit by hand.", "",
             "Machine: 2 CPU cores (x86-64), no GPU, PyTorch 2.14.1, MMAction2 1.2.0, "
             "Ray 2.60.", ""]
    lines += workcell_section()
    lines += penn_section()
    (DOCS / "PERFORMANCE.md").write_text("\n".join(lines))
    print(f"wrote {DOCS / 'PERFORMANCE.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
