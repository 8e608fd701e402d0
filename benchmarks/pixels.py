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
    the most frequent training label;
  * the loss stage by stage (model/evaluation/decomposition.py): the same windows with the
    pose stream and the object stream each taken from the annotations or from the extraction
    (four tables), scored by the shipped recognizer and the ones named with --compare; how
    often the extracted subject is the annotated operator; per object class, frame-level
    recall and precision of the objects that reach the features; the keypoint error that
    reaches them.

Writes benchmarks/results/pixels.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from tqdm import tqdm

from actors.extraction import extract, select_inputs
from benchmarks.environment import code_commit, environment
from benchmarks.performance_report import decomposition_lines
from jobs.evaluate import check_frozen, evaluate
from model.builders import build_dataset, dataset_labels
from model.builders import load_config as load_recognizer_config
from model.cli import command_parser
from model.cluster import init_ray
from model.config_files import read_config
from model.datasets.annotation import DatasetSpec
from model.datasets.feature_table import read_feature_table, write_split_file
from model.datasets.frame_rows import FrameArrays
from model.datasets.video_manifest import videos_in_folder
from model.evaluation.decomposition import (
    KeypointErrors,
    Mismatches,
    ObjectCounts,
    SubjectMatch,
    check_aligned,
    mix_streams,
)
from model.evaluation.metrics import classification_metrics
from model.perception.coco_metrics import per_class_ap50
from model.perception.training import evaluate_package
from model.reports import write_report

DETECTION_TEST = "coco/detection_test.json"
KEYPOINTS_TEST = "coco/keypoints_test.json"
KEYPOINTS_TRAIN = "coco/keypoints_train.json"
PCK_THR = 0.1


def _coco17_joints() -> tuple[str, ...]:
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    meta = parse_pose_metainfo(dict(from_file="configs/_base_/datasets/coco.py"))
    return tuple(meta["keypoint_id2name"][i] for i in range(meta["num_keypoints"]))


def detector_figures(package: Path, data: Path, work: Path) -> dict:
    trained = evaluate_package(package, data, DETECTION_TEST, work / "detector", classwise=True,
                               results_prefix=work / "detections")
    untrained = evaluate_package(package, data, DETECTION_TEST, work / "detector_untrained",
                                 trained=False)
    per_class = {k.removeprefix("coco/").removesuffix("_precision"): v
                 for k, v in trained.items() if k.endswith("_precision")}
    return {"map50": trained["coco/bbox_mAP_50"], "map": trained["coco/bbox_mAP"],
            "map75": trained["coco/bbox_mAP_75"], "map_small": trained["coco/bbox_mAP_s"],
            "per_class_ap": per_class,
            "per_class_ap50": per_class_ap50(data / DETECTION_TEST,
                                             work / "detections.bbox.json"),
            # An untrained head may score no box above the test threshold: CocoMetric then
            # reports nothing, and an empty result has an AP of 0.
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


ROWS = {  # decomposition row -> (pose stream from, object stream from)
    "annotation_pose+annotation_objects": ("annotation", "annotation"),
    "extracted_pose+annotation_objects": ("extracted", "annotation"),
    "annotation_pose+extracted_objects": ("annotation", "extracted"),
    "extracted_pose+extracted_objects": ("extracted", "extracted"),
}
BOTH_EXTRACTED, BOTH_ANNOTATED = "extracted_pose+extracted_objects", \
    "annotation_pose+annotation_objects"


def _video_rows(table: Path, video_ids: list[str]) -> dict[str, FrameArrays]:
    rows, _ = read_feature_table(table, ["test"])
    ids = rows.column("video_id")
    out = {v: FrameArrays.from_table(rows.filter(pc.equal(ids, v))) for v in video_ids}
    empty = [v for v, a in out.items() if a.num_frames == 0]
    if empty:
        raise SystemExit(f"{table}: no rows of {len(empty)} test videos, e.g. {empty[0]}")
    return out


def decompose(annotations: Path, extracted: Path, video_ids: list[str], out: Path,
              spec: DatasetSpec) -> tuple[dict[str, Path], dict]:
    """The four tables of the decomposition (each stream from either table, the same frames
    and labels) and what the extracted rows get right against the annotated ones."""
    annotated, found = _video_rows(annotations, video_ids), _video_rows(extracted, video_ids)
    subject, objects, keypoints, mismatches = SubjectMatch(), \
        ObjectCounts(spec.object_classes), KeypointErrors(PCK_THR), Mismatches()
    tables = {row: out / row for row in ROWS}
    for video in tqdm(video_ids, desc="decomposition", unit="video"):
        source = {"annotation": annotated[video], "extracted": found[video]}
        check_aligned(source["annotation"], source["extracted"])
        subject.add(source["annotation"], source["extracted"])
        objects.add(source["annotation"], source["extracted"])
        keypoints.add(source["annotation"], source["extracted"], subject.matched_frames[video])
        mismatches.add(source["annotation"], source["extracted"], subject.matched_frames[video])
        for row, (pose, objs) in ROWS.items():
            rows = mix_streams(source[pose], source[objs])
            write_split_file(tables[row], "test", f"{video}.parquet", rows.to_table(
                list(spec.action_classes), list(spec.object_classes),
                {"kind": "decomposition", "pose": pose, "objects": objs}))
    facts = {"subject_match": subject.summary()["fraction"],
             "subject": subject.summary(), **objects.summary(),
             "keypoints": keypoints.summary(_coco17_joints()),
             "mismatches": mismatches.summary()}
    return tables, facts


def train_majority(recognizer: Path, table: Path) -> int:
    """The most frequent label of the training windows of the annotation table (the trivial
    baseline may know the training labels, never the test labels)."""
    cfg = load_recognizer_config(str(recognizer / "config.py"))
    cfg.feature_table = str(table)
    return int(np.bincount(dataset_labels(build_dataset(cfg, "train", "val_pipeline"))).argmax())


def _scores(result: dict, classes: list[str]) -> dict:
    rows = result["predictions"]
    labels = np.array([p["label"] for p in rows])
    m = classification_metrics(labels, np.eye(len(classes))[[p["predicted"] for p in rows]],
                               classes)
    return {"top1": m["top1"], "macro_f1": m["macro_f1"], "windows": len(rows)}


def _windows(result: dict) -> list[tuple]:
    return [(p["video_id"], tuple(p["frame_range"]), p["label"]) for p in result["predictions"]]


def end_to_end_figures(recognizers: dict[str, Path], data: Path, annotations_table: Path,
                       extraction_config: str, extracted: Path, work: Path,
                       frozen: Path, clips: str) -> dict:
    """Extract the test clips (resumed when the table is there), build the decomposition's
    tables and score each with each recognizer (the first is the shipped one)."""
    spec = DatasetSpec.load(data / "dataset.json")
    inputs = select_inputs(videos_in_folder(data / "videos", data / "annotations",
                                            data / "splits.json"), ["test"], clips, "test")
    init_ray()
    # The extraction benchmark's headline setting: the Ray Data pipeline, 2 actors.
    report = extract(inputs, spec, extracted, config=read_config(extraction_config, None),
                     executor="ray", actors=2, source=str(data))
    if report.failures:
        raise SystemExit(f"extraction failed: {report.failures}")
    video_ids = sorted(v.video_id for v in inputs)
    tables, facts = decompose(annotations_table, extracted, video_ids, work / "tables", spec)
    classes = list(spec.action_classes)
    rows: dict[str, dict] = {}
    windows = None
    for row, table in tables.items():
        rows[row] = {}
        for name, package in recognizers.items():
            result = evaluate(package, table, work / "scores" / name / row, timeline=False)
            if windows is None:
                windows = _windows(result)
            elif _windows(result) != windows:
                raise SystemExit(f"{row} scored by {name}: not the windows of the other rows")
            rows[row][name] = _scores(result, classes)
    shipped = next(iter(recognizers))
    majority = train_majority(recognizers[shipped], annotations_table)
    labels = np.array([w[2] for w in windows])
    baseline = classification_metrics(labels, np.eye(len(classes))[np.full(len(labels),
                                                                           majority)], classes)
    return {"end_to_end": {
                "top1": rows[BOTH_EXTRACTED][shipped]["top1"],
                "macro_f1": rows[BOTH_EXTRACTED][shipped]["macro_f1"],
                "clips": len(video_ids), "clip_pattern": clips, "windows": len(windows),
                "annotations_top1": rows[BOTH_ANNOTATED][shipped]["top1"],
                "annotations_macro_f1": rows[BOTH_ANNOTATED][shipped]["macro_f1"],
                "majority_class": classes[majority], "majority_top1": baseline["top1"],
                "majority_macro_f1": baseline["macro_f1"],
                "extraction_frames_per_s": report.frames_per_s,
                "extraction_frames": report.frames, "extraction_config": extraction_config,
                "recognizer": str(recognizers[shipped]),
                "annotations_test_set": check_frozen(annotations_table, "test", frozen),
                "extracted_table": str(extracted)},
            "recognizers": {name: str(p) for name, p in recognizers.items()},
            "decomposition": {"rows": rows, **facts}}


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
                  f"{e['majority_top1']:.3f} (always {e['majority_class']}) |",
                  f"| end to end | macro F1, features from the MP4s | {e['macro_f1']:.3f} | "
                  f"{e['majority_macro_f1']:.3f} |",
                  f"| (reference) | top-1, features from the annotations | "
                  f"{e['annotations_top1']:.3f} | |",
                  f"| (reference) | macro F1, features from the annotations | "
                  f"{e['annotations_macro_f1']:.3f} | |", "",
                  f"Recognizer `{e['recognizer']}`; {e['windows']} windows of {e['clips']} test "
                  f"clips; extraction {e['extraction_frames']} frames at "
                  f"{e['extraction_frames_per_s']:.1f} frames/s (Ray Data pipeline, 2 actors)."]
        lines += decomposition_lines(e, res["decomposition"], list(res["recognizers"]))
    lines += ["", "Detector AP@0.5 per class: " + ", ".join(
        f"{k} {v:.3f}" for k, v in d["per_class_ap50"].items())]
    return "\n".join(lines) + "\n"


def _named_package(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PACKAGE, got {text!r}")
    return name, Path(path)


def main(argv: list[str] | None = None) -> int:
    p = command_parser("benchmarks.pixels", __doc__)
    p.add_argument("--data", type=Path, default=Path("data/workcell"),
                   help="rendered built-in dataset with coco/ (default: %(default)s)")
    p.add_argument("--table", type=Path, default=None,
                   help="its annotation feature table (default: <data>/features)")
    p.add_argument("--detector", type=Path, default=Path("trained_models/detector"))
    p.add_argument("--pose", type=Path, default=Path("trained_models/pose"))
    p.add_argument("--recognizer", type=Path, default=Path("trained_models/workcell_pixels"),
                   help="the shipped recognizer of raw video (the end-to-end figures are its; "
                        "default: %(default)s, fine-tuned on extracted features)")
    p.add_argument("--compare", type=_named_package, action="append", default=None,
                   metavar="NAME=PACKAGE",
                   help="more recognizers scored on the same tables, side by side "
                        "(default: annotation_trained=trained_models/workcell, the recognizer "
                        "trained on annotation features only)")
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
            compare = dict(args.compare or [
                ("annotation_trained", Path("trained_models/workcell"))])
            results.update(end_to_end_figures(
                {"shipped": args.recognizer, **compare}, data, args.table or data / "features",
                args.extraction_config, args.extracted or data / "extracted-test-clips",
                work, args.frozen_test_set, args.clips))
    results["commit"] = commit
    results["environment"] = environment()
    write_report(args.out, results, markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
