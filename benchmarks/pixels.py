"""Pixels to actions: the trained detector, pose model and the whole chain on rendered test data.

    python -m benchmarks.pixels [--data data/workcell] [--skip-end-to-end]

Everything is measured on the test split of the built-in dataset, which neither the detector,
the pose model nor the recognizer saw in training (their COCO files and tables hold train and
val only; the test split's COCO files exist for this benchmark):

  * detector: COCO bbox mAP@0.5 and mAP@[.5:.95] (MMDetection's CocoMetric, per class too) on
    the test frames, next to the same architecture untrained;
  * pose: PCK@0.1 of the person box (MMPose's PCKAccuracy) and COCO keypoint AP on the test
    persons with their true boxes, next to the mean pose of the training persons placed in
    each box;
  * end to end: the shipped recognizer on the frozen test clips when its features come from
    the raw test MP4s through the trained models (jobs.extract with
    model/configs/extraction/workcell.py), next to the same clips from the annotations and
    the majority class.

Writes benchmarks/results/pixels.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from actors.extraction import extract, select_inputs
from benchmarks.environment import code_commit, environment
from jobs.evaluate import check_frozen, evaluate
from model.cluster import init_ray
from model.datasets.annotation import DatasetSpec
from model.datasets.video_manifest import videos_in_folder
from model.evaluation.metrics import classification_metrics
from model.frame_path.chain import load_config
from model.perception.training import evaluate_package
from model.reports import write_report

DETECTION_TEST = "coco/detection_test.json"
KEYPOINTS_TEST = "coco/keypoints_test.json"
KEYPOINTS_TRAIN = "coco/keypoints_train.json"
PCK_THR = 0.1


def detector_figures(package: Path, data: Path, work: Path) -> dict:
    trained = evaluate_package(package, data, DETECTION_TEST, work / "detector", classwise=True)
    untrained = evaluate_package(package, data, DETECTION_TEST, work / "detector_untrained",
                                 trained=False)
    per_class = {k.removeprefix("coco/").removesuffix("_precision"): v
                 for k, v in trained.items() if k.endswith("_precision")}
    return {"map50": trained["coco/bbox_mAP_50"], "map": trained["coco/bbox_mAP"],
            "map75": trained["coco/bbox_mAP_75"], "map_small": trained["coco/bbox_mAP_s"],
            # An untrained head may score no box above the test threshold: CocoMetric then
            # reports nothing, and an empty result has an AP of 0.
            "per_class_ap": per_class,
            "untrained_map50": untrained.get("coco/bbox_mAP_50", 0.0),
            "package": str(package)}


def _persons(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) xywh boxes and (N, 17, 3) keypoints of a keypoint COCO file."""
    doc = json.loads(path.read_text())
    anns = [a for a in doc["annotations"] if a["num_keypoints"] > 0]
    return (np.array([a["bbox"] for a in anns], float),
            np.array([a["keypoints"] for a in anns], float).reshape(len(anns), -1, 3))


def mean_pose_pck(data: Path) -> float:
    """PCK@0.1 of the trivial pose: the training persons' mean keypoints in box coordinates,
    put into every test box (the metric MMPose's PCKAccuracy computes)."""
    from mmpose.evaluation.functional import keypoint_pck_accuracy

    boxes, kps = _persons(data / KEYPOINTS_TRAIN)
    labelled = kps[..., 2] > 0
    rel = (kps[..., :2] - boxes[:, None, :2]) / boxes[:, None, 2:]
    mean = np.array([rel[labelled[:, j], j].mean(0) for j in range(rel.shape[1])])
    boxes, kps = _persons(data / KEYPOINTS_TEST)
    pred = boxes[:, None, :2] + mean[None] * boxes[:, None, 2:]
    size = boxes[:, 2:].max(1, keepdims=True)
    _, pck, _ = keypoint_pck_accuracy(pred, kps[..., :2], kps[..., 2] > 0, PCK_THR,
                                      np.repeat(size, 2, 1))
    return float(pck)


def pose_figures(package: Path, data: Path, work: Path) -> dict:
    trained = evaluate_package(package, data, KEYPOINTS_TEST, work / "pose")
    return {"pck": trained["PCK"], "ap": trained["coco/AP"], "ap50": trained["coco/AP .5"],
            "mean_pose_pck": mean_pose_pck(data), "pck_thr": PCK_THR, "package": str(package)}


def _clip_metrics(result: dict, videos: set[str], classes: list[str]) -> dict:
    rows = [p for p in result["predictions"] if p["video_id"] in videos]
    labels = np.array([p["label"] for p in rows])
    scores = np.eye(len(classes))[[p["predicted"] for p in rows]]
    m = classification_metrics(labels, scores, classes)
    return {"top1": m["top1"], "macro_f1": m["macro_f1"], "windows": len(rows)}


def end_to_end_figures(recognizer: Path, data: Path, annotations_table: Path,
                       extraction_config: str, extracted: Path, work: Path,
                       frozen: Path, clips: str) -> dict:
    spec = DatasetSpec.load(data / "dataset.json")
    inputs = select_inputs(videos_in_folder(data / "videos", data / "annotations",
                                            data / "splits.json"), ["test"], clips, "test")
    init_ray()
    # The extraction benchmark's headline setting: the Ray Data pipeline, 2 actors.
    report = extract(inputs, spec, extracted, config=load_config(extraction_config, None),
                     executor="ray", actors=2, source=str(data))
    if report.failures:
        raise SystemExit(f"extraction failed: {report.failures}")
    from_pixels = evaluate(recognizer, extracted, work / "end_to_end_pixels", timeline=False)
    from_annotations = evaluate(recognizer, annotations_table, work / "end_to_end_annotations",
                                timeline=False)
    classes = from_pixels["clips"]["classes"] if "classes" in from_pixels["clips"] \
        else spec.action_classes
    chosen = {v.video_id for v in inputs}
    pixels = _clip_metrics(from_pixels, chosen, classes)
    annotated = _clip_metrics(from_annotations, chosen, classes)
    counts = Counter(p["label"] for p in from_annotations["predictions"]
                     if p["video_id"] in chosen)
    if pixels["windows"] != annotated["windows"]:
        raise SystemExit(f"the extracted clips give {pixels['windows']} windows, their "
                         f"annotations {annotated['windows']}: not the same samples")
    return {"top1": pixels["top1"], "macro_f1": pixels["macro_f1"], "clips": len(chosen),
            "clip_pattern": clips,
            "windows": pixels["windows"],
            "annotations_top1": annotated["top1"], "annotations_macro_f1": annotated["macro_f1"],
            "majority_top1": max(counts.values()) / sum(counts.values()),
            "extraction_frames_per_s": report.frames_per_s, "extraction_frames": report.frames,
            "extraction_config": extraction_config, "recognizer": str(recognizer),
            "annotations_test_set": check_frozen(annotations_table, "test", frozen),
            "extracted_table": str(extracted)}


def markdown(res: dict) -> str:
    d, p = res["detector"], res["pose"]
    lines = ["# Pixels to actions (rendered test split)", "",
             "| stage | metric | trained | trivial baseline |", "|---|---|---:|---:|",
             f"| detector | COCO bbox mAP@0.5 | {d['map50']:.3f} | {d['untrained_map50']:.3f} "
             "(untrained) |",
             f"| detector | COCO bbox mAP@[.5:.95] | {d['map']:.3f} | |",
             f"| pose | PCK@{p['pck_thr']} (box size) | {p['pck']:.3f} | "
             f"{p['mean_pose_pck']:.3f} (mean pose in the box) |",
             f"| pose | COCO keypoint AP | {p['ap']:.3f} | |"]
    e = res.get("end_to_end")
    if e:
        lines += [f"| end to end | top-1, features from the MP4s | {e['top1']:.3f} | "
                  f"{e['majority_top1']:.3f} (majority) |",
                  f"| end to end | macro F1, features from the MP4s | {e['macro_f1']:.3f} | |",
                  f"| (reference) | top-1, features from the annotations | "
                  f"{e['annotations_top1']:.3f} | |",
                  f"| (reference) | macro F1, features from the annotations | "
                  f"{e['annotations_macro_f1']:.3f} | |", "",
                  f"{e['windows']} windows of {e['clips']} test clips; extraction "
                  f"{e['extraction_frames']} frames at "
                  f"{e['extraction_frames_per_s']:.1f} frames/s (Ray Data pipeline, 2 actors)."]
    lines += ["", "Detector AP per class: " + ", ".join(
        f"{k} {v:.3f}" for k, v in d["per_class_ap"].items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pixels", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data/workcell"),
                   help="rendered built-in dataset with coco/ (default: %(default)s)")
    p.add_argument("--table", type=Path, default=None,
                   help="its annotation feature table (default: <data>/features)")
    p.add_argument("--detector", type=Path, default=Path("trained_models/detector"))
    p.add_argument("--pose", type=Path, default=Path("trained_models/pose"))
    p.add_argument("--recognizer", type=Path, default=Path("trained_models/workcell"))
    p.add_argument("--extraction-config", default="model/configs/extraction/workcell.py")
    p.add_argument("--extracted", type=Path, default=None,
                   help="feature table of the extracted test clips (default: "
                        "<data>/extracted-test-clips; resumed when present)")
    p.add_argument("--frozen-test-set", type=Path,
                   default=Path("benchmarks/workcell_test_set.json"))
    p.add_argument("--clips", default="*_clip*",
                   help="test videos of the end-to-end figure (shell pattern on the video id; "
                        "default: every trimmed test clip)")
    p.add_argument("--skip-end-to-end", action="store_true",
                   help="only the detector and pose figures (minutes instead of the "
                        "extraction of every test clip)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="run with uncommitted code changes (recorded as <sha>+dirty)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/pixels"),
                   help="results stem (.json and .md)")
    args = p.parse_args(argv)
    commit = code_commit(args.allow_dirty)
    data = args.data
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = {"detector": detector_figures(args.detector, data, work),
                   "pose": pose_figures(args.pose, data, work)}
        if not args.skip_end_to_end:
            results["end_to_end"] = end_to_end_figures(
                args.recognizer, data, args.table or data / "features",
                args.extraction_config, args.extracted or data / "extracted-test-clips",
                work, args.frozen_test_set, args.clips)
    results["commit"] = commit
    results["environment"] = environment()
    write_report(args.out, results, markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
