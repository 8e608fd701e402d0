"""Evaluate a model package on a split of a feature table; write JSON, Markdown and PNG.

Reports top-1/top-5 accuracy, macro and per-class precision/recall/F1 (scikit-learn), the
confusion matrix, and for untrimmed videos the frame-level accuracy of the action timeline.
With ``--frozen-test-set`` the split's content checksum must match the recorded one before
anything is reported.

Examples:
  python -m jobs.evaluate --package outputs/fused/package --table data/workcell/features \\
      --out outputs/fused/eval --frozen-test-set benchmarks/workcell_test_set.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from tqdm import tqdm

from jobs.cli import write_report
from model.datasets.feature_table import content_checksum, read_feature_table
from model.device import local_device
from model.evaluation.metrics import classification_metrics, timeline_accuracy
from model.evaluation.report import confusion_png, evaluation_markdown, timeline_png
from model.training.builders import build_dataset, load_config
from model.training.package import load_package
from model.training.predict import predict_dataset


class TestSetMismatch(RuntimeError):
    """The split is not the frozen test set the figures are defined on."""


def check_frozen(table: str | Path, split: str, frozen_file: str | Path) -> str:
    frozen = json.loads(Path(frozen_file).read_text())
    actual = content_checksum(table, split)
    if actual != frozen["content_sha256"]:
        raise TestSetMismatch(
            f"{table} split {split!r} has content checksum {actual}, but {frozen_file} records "
            f"{frozen['content_sha256']} (generator {frozen.get('generator')}); regenerate and "
            "re-ingest the frozen test set before reporting")
    return f"matches {Path(frozen_file).name} (sha256 {actual[:16]}...)"


def _untrimmed_videos(table: str | Path, split: str) -> list[str]:
    """Videos with more than one labelled segment."""
    rows, _ = read_feature_table(table, splits=[split], columns=["video_id", "segment_index"])
    grouped = rows.group_by("video_id").aggregate([("segment_index", "max")])
    mask = pc.greater(grouped.column("segment_index_max"), 0)
    return sorted(grouped.filter(mask).column("video_id").to_pylist())


def _timeline(package, table, split, videos: list[str], stride_s: float,
              batch_size: int) -> tuple[dict, dict]:
    cfg = load_config(package.folder / "config.py", table=table)
    dataset = build_dataset(cfg, split, "test_pipeline", mode="sliding", stride_s=stride_s,
                            video_ids=videos)
    with tqdm(total=len(dataset), desc="timeline windows", unit="window") as bar:
        scores, _, metas = predict_dataset(package.model, dataset, batch_size, bar.update)
    rows, _ = read_feature_table(table, splits=[split], columns=["video_id", "label"])
    timelines, all_labels, all_preds = {}, [], []
    for video in videos:
        labels = rows.filter(pc.equal(rows.column("video_id"), video)).column("label").to_numpy()
        summed = np.zeros((len(labels), scores.shape[1]))
        for score, meta in zip(scores, metas, strict=True):
            if meta["video_id"] == video:
                start, end = meta["frame_range"]
                summed[start:end] += score
        predictions = summed.argmax(axis=1)
        timelines[video] = {"labels": labels.tolist(), "predictions": predictions.tolist(),
                            **timeline_accuracy(labels, predictions)}
        all_labels.append(labels)
        all_preds.append(predictions)
    summary = timeline_accuracy(np.concatenate(all_labels), np.concatenate(all_preds))
    summary.update(videos=len(videos), window_s=cfg.dataset.window_s, stride_s=stride_s)
    return summary, timelines


def evaluate(package_dir: str | Path, table: str | Path, out: str | Path, *,
             split: str = "test", frozen_test_set: str | None = None, timeline: bool = True,
             timeline_stride_s: float = 0.5, batch_size: int = 32) -> dict:
    """Score ``split`` of ``table`` with the package; write metrics.json, report.md, PNGs."""
    check = check_frozen(table, split, frozen_test_set) if frozen_test_set else "not requested"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    package = load_package(package_dir, local_device())
    cfg = load_config(package.folder / "config.py", table=table)
    dataset = build_dataset(cfg, split, "test_pipeline")
    if list(dataset.metainfo["classes"]) != package.action_classes:
        raise ValueError(f"{table} classes {dataset.metainfo['classes']} differ from the "
                         f"package's {package.action_classes}")
    with tqdm(total=len(dataset), desc=f"{split} clips", unit="clip") as bar:
        scores, labels, metas = predict_dataset(package.model, dataset, batch_size, bar.update)
    clips = classification_metrics(labels, scores, package.action_classes)
    sampler = next(s for s in cfg.test_pipeline if s["type"] == "UniformSampleFrames")
    result = {"package": str(package_dir), "data": str(table), "split": split,
              "test_set_check": check, "window_s": cfg.dataset.window_s,
              "clip_len": sampler["clip_len"], "num_clips_per_window": sampler["num_clips"],
              "clips": clips,
              "predictions": [{"video_id": m["video_id"], "frame_range": list(m["frame_range"]),
                               "label": int(y), "predicted": int(s.argmax())}
                              for m, y, s in zip(metas, labels, scores, strict=True)]}
    confusion_png(clips["confusion_matrix"], package.action_classes,
                  out / "confusion_matrix.png", f"{Path(package_dir).name}: {split}")
    videos = _untrimmed_videos(table, split) if timeline else []
    if videos:
        result["timeline"], timelines = _timeline(package, table, split, videos,
                                                  timeline_stride_s, batch_size)
        result["timeline_videos"] = timelines
        timeline_png({v: timelines[v] for v in videos[:6]}, package.action_classes,
                     out / "timelines.png")
    write_report(out / "metrics", result, evaluation_markdown(result))
    return result


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jobs.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--package", required=True, help="model package folder (jobs.train)")
    p.add_argument("--table", required=True, help="Parquet feature table (jobs.ingest)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--frozen-test-set", help="JSON with the split's expected content_sha256")
    p.add_argument("--no-timeline", action="store_true", help="skip untrimmed-video timelines")
    p.add_argument("--timeline-stride-s", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=32)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = evaluate(args.package, args.table, args.out, split=args.split,
                          frozen_test_set=args.frozen_test_set, timeline=not args.no_timeline,
                          timeline_stride_s=args.timeline_stride_s, batch_size=args.batch_size)
    except TestSetMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    clips = result["clips"]
    print(f"{args.split}: top1 {clips['top1']:.4f}  top5 {clips['top5']:.4f}  "
          f"macro P/R/F1 {clips['macro_precision']:.4f}/{clips['macro_recall']:.4f}/"
          f"{clips['macro_f1']:.4f}  ({clips['num_clips']} clips)")
    if "timeline" in result:
        print(f"timeline frame accuracy {result['timeline']['frame_accuracy']:.4f}")
    print(f"report: {Path(args.out) / 'metrics.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
