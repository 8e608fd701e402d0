"""Perception trained on the rendered workcell: the COCO export, the two training jobs and the
packages they write (loaded by the extraction actors), and the whole chain (jobs.infer) on a
rendered test video with the shipped packages."""

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from mmengine.config import Config
from scipy.stats import binom

from jobs import choose_detector_scale, extract, infer
from jobs.evaluate import evaluate
from jobs.train_detector import JOB as DETECTOR_JOB
from jobs.train_perception import run
from jobs.train_pose import JOB as POSE_JOB
from model.config_files import read_config
from model.datasets.annotation import DatasetSpec, load_annotation
from model.datasets.frame_rows import FrameArrays
from model.datasets.splits import load_split_file
from model.frame_path.boxes import box_iou
from model.frame_path.detector import Detector
from model.frame_path.keypoint_scores import CALIBRATION_FILE, KeypointScores
from model.frame_path.models import choose_model
from model.frame_path.pose import PoseEstimator
from model.inference.person_timelines import person_timelines
from model.perception.calibration import calibrate_package
from model.perception.input_scale import native_size, with_test_scale
from model.perception.training import CocoDataError
from tests.factories import SMALL
from workcell_synth import OBJECT_CLASSES, generate_dataset, tiny_config
from workcell_synth.coco import detection_file, keypoint_file

WORKCELL = "model/configs/extraction/workcell.py"
PIXELS_RESULTS = Path("benchmarks/results/pixels.json")
# A chain as good as the benchmark says fails the floor below with this probability.
FLOOR_RISK = 0.01


def _coco(root, split):
    return (json.loads(detection_file(root, split).read_text()),
            json.loads(keypoint_file(root, split).read_text()))


def test_each_split_has_its_own_coco_frames(rendered):
    splits = load_split_file(rendered / "splits.json")
    seen = {}
    for split in ("train", "val", "test"):
        det, kpt = _coco(rendered, split)
        assert [c["name"] for c in det["categories"]] == ["person", *OBJECT_CLASSES]
        assert kpt["categories"][0]["keypoints"][0] == "nose"
        assert len(kpt["categories"][0]["keypoints"]) == 17
        assert det["images"] == kpt["images"] and det["images"]
        for image in det["images"]:
            assert splits[image["video_id"]] == split
            assert (rendered / "coco" / image["file_name"]).is_file()
            seen[image["file_name"]] = split
        ids = {i["id"] for i in det["images"]}
        assert {a["image_id"] for a in det["annotations"]} <= ids
    assert len(seen) == sum(len(_coco(rendered, s)[0]["images"]) for s in ("train", "val",
                                                                              "test"))


def test_rendering_and_coco_export_are_deterministic(tmp_path):
    """Same seed, same pixels and COCO files, whatever the number of worker processes."""
    for name, workers in (("one", 1), ("two", 2)):
        generate_dataset(tmp_path / name, seed=2, config=tiny_config(1, 1, 0), workers=workers,
                         **SMALL)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*")
                   if p.is_file() and (p.suffix in (".mp4", ".jpg") or p.parent.name == "coco"))
    assert any(f.suffix == ".mp4" for f in files) and any(f.suffix == ".jpg" for f in files)
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f


def test_coco_ground_truth_matches_the_annotations(rendered):
    """The annotations are the true geometry plus pose-estimator and detector noise: each COCO
    person's visible keypoints lie within that noise of the annotated person's, and most COCO
    objects have an annotated detection of the same track and class on top of them."""
    spec = DatasetSpec.load(rendered / "dataset.json")
    det, kpt = _coco(rendered, "train")
    images = {i["id"]: i for i in det["images"]}
    docs = {}
    errors, matched, objects = [], 0, 0
    for ann in kpt["annotations"]:
        image = images[ann["image_id"]]
        doc = docs.setdefault(image["video_id"], load_annotation(
            rendered / "annotations" / f"{image['video_id']}.json", spec))
        frame = doc["frames"][image["frame"]]
        person = next(p for p in frame["persons"] if p["track_id"] == ann["track_id"])
        truth = np.array(ann["keypoints"]).reshape(17, 3)
        noisy = np.array(person["keypoints"])
        visible = (truth[:, 2] == 2) & (noisy[:, 2] >= 0.6)
        x, y, w, h = ann["bbox"]
        assert ((truth[visible, :2] >= [x - 1, y - 1]) & (truth[visible, :2] <= [x + w + 1,
                                                                                y + h + 1])).all()
        errors += (np.linalg.norm(truth[visible, :2] - noisy[visible, :2], axis=1) / h).tolist()
    for ann in det["annotations"]:
        if ann["category_id"] == 1:
            continue
        image = images[ann["image_id"]]
        frame = docs.get(image["video_id"]) or load_annotation(
            rendered / "annotations" / f"{image['video_id']}.json", spec)
        frame = frame["frames"][image["frame"]]
        x, y, w, h = ann["bbox"]
        cls = det["categories"][ann["category_id"] - 1]["name"]
        objects += 1
        matched += any(o.get("track_id") == ann["track_id"] and o["class"] == cls
                       and box_iou(np.array(o["box"]), np.array([x, y, x + w, y + h]))[0, 0] > 0.3
                       for o in frame["objects"])
    assert errors and np.median(errors) < 0.03
    assert objects and matched / objects > 0.7


def _package_choice(kind, package):
    name = "workcell-rtmdet-nano" if kind == "detector" else "workcell-rtmpose-t"
    zoo = "detectors" if kind == "detector" else "pose_models"
    cfg = read_config(WORKCELL, {f"{zoo}.{name}.config": str(package / "config.py"),
                                 f"{zoo}.{name}.checkpoint": str(package / "weights.pth")})
    return choose_model(cfg, kind, random_weights=False)


def _frame(rendered, split="test"):
    image = _coco(rendered, split)[0]["images"][0]
    return cv2.imread(str(rendered / "coco" / image["file_name"]))


@pytest.mark.slow
def test_detector_training_writes_a_package_the_extraction_actor_loads(rendered, tmp_path):
    package = tmp_path / "detector"
    assert run(DETECTOR_JOB, ["--data", str(rendered), "--max-iters", "2", "--package",
                              str(package), "--work-dir", str(tmp_path / "work"),
                              "--cfg-options", "train_dataloader.batch_size=2"]) == 0
    metrics = json.loads((package / "metrics.json").read_text())
    assert metrics["iterations"] == 2 and "coco/bbox_mAP_50" in metrics["val"]
    assert (package / "logs" / "scalars.json").is_file()
    detector = Detector(_package_choice("detector", package))
    assert detector.backend == "onnx" and detector.classes == ("person", *OBJECT_CLASSES)
    [(boxes, scores, labels)] = detector([_frame(rendered)])
    assert boxes.shape[1] == 4 and len(boxes) == len(scores) == len(labels)


@pytest.mark.slow
def test_pose_training_writes_a_package_the_extraction_actor_loads(rendered, workcell_table,
                                                                   tmp_path):
    package = tmp_path / "pose"
    assert run(POSE_JOB, ["--data", str(rendered), "--max-iters", "2", "--package",
                          str(package), "--work-dir", str(tmp_path / "work"),
                          "--no-calibration",
                          "--cfg-options", "train_dataloader.batch_size=4"]) == 0
    metrics = json.loads((package / "metrics.json").read_text())
    assert metrics["iterations"] == 2 and {"PCK", "coco/AP"} <= set(metrics["val"])
    assert not (package / CALIBRATION_FILE).exists()
    # A continuation from the package into itself: both runs listed, the scores calibrated.
    assert run(POSE_JOB, ["--data", str(rendered), "--max-iters", "3", "--package",
                          str(package), "--work-dir", str(tmp_path / "work2"),
                          "--resume-from", str(package),
                          "--calibration-table", str(workcell_table),
                          "--cfg-options", "train_dataloader.batch_size=4"]) == 0
    metrics = json.loads((package / "metrics.json").read_text())
    assert [r["iterations"] for r in metrics["lineage"]] == [2, 3]
    assert metrics["total_iterations"] == 5
    assert metrics["lineage"][1]["started_from"].endswith("pose/weights.pth")
    assert (package / CALIBRATION_FILE).is_file()
    estimator = PoseEstimator(_package_choice("pose", package))
    assert estimator.backend == "onnx"
    [(keypoints, scores)] = estimator([_frame(rendered)],
                                      [np.array([[100.0, 50.0, 220.0, 330.0]], np.float32)])
    assert keypoints.shape == (1, 17, 2) and scores.shape == (1, 17)
    assert np.isfinite(keypoints).all()


@pytest.mark.slow
def test_the_shipped_pose_scores_are_calibrated_into_the_tables_terms(rendered, workcell_table,
                                                                      tmp_path):
    """On persons of another generator seed: raw SimCC scores run past 1; the calibrated ones
    are closer to the truth of "this joint is right" (Brier score), and the threshold marks
    about as many joints missing as the annotation table leaves out."""
    package = tmp_path / "pose"
    package.mkdir()
    for name in ("config.py", "weights.pth"):
        (package / name).symlink_to(Path("trained_models/pose", name).resolve())
    facts = calibrate_package(package, rendered, "coco/keypoints_val.json", 0.1,
                              workcell_table, progress=False)
    assert facts["persons"] >= 10 and facts["raw_score_max"] > 1
    assert facts["brier_calibrated"] < facts["brier_raw_clipped"]
    assert abs(facts["marked_missing_fraction"] - facts["annotation_missing_fraction"]) < 0.1
    scoring = KeypointScores.load(package / CALIBRATION_FILE, None)
    assert scoring.missing_below == facts["missing_below"]
    assert 0 <= min(scoring.calibrated) and max(scoring.calibrated) <= 1


@pytest.mark.slow
def test_the_detector_scale_chosen_on_validation_is_what_the_frame_path_runs(rendered, tmp_path):
    """Each factor evaluated on the val COCO file; the best mAP@0.5 goes into the package's
    test pipeline, which the frame path's detector reads; every candidate is recorded."""
    package = tmp_path / "detector"
    package.mkdir()
    (package / "weights.pth").symlink_to(Path("trained_models/detector/weights.pth").resolve())
    base = Config.fromfile("trained_models/detector/config.py")
    with_test_scale(base, (480, 360)).dump(str(package / "config.py"))
    assert choose_detector_scale.main(["--package", str(package), "--data", str(rendered),
                                       "--factors", "1.25", "1", "--work-dir",
                                       str(tmp_path / "work")]) == 0
    facts = json.loads((package / "metrics.json").read_text())["test_scale"]
    by_factor = {c["factor"]: c for c in facts["candidates"]}
    assert sorted(by_factor) == [1.0, 1.25] and by_factor[1.25]["scale"] == [600, 450]
    best = max(facts["candidates"], key=lambda c: (c["map50"], -c["factor"]))
    assert facts["factor"] == best["factor"] and facts["scale"] == best["scale"]
    assert set(best["per_class_ap50"]) <= {"person", *OBJECT_CLASSES}
    detector = Detector(_package_choice("detector", package))
    assert detector.resize_pad.scale == tuple(best["scale"])
    [(boxes, _, _)] = detector([_frame(rendered, "val")])
    assert (boxes[:, 2] <= 480 + 1e-3).all() and (boxes[:, 3] <= 360 + 1e-3).all()


def test_the_detector_scale_needs_one_frame_size_and_a_test_resize(tmp_path):
    coco = tmp_path / "val.json"
    coco.write_text(json.dumps({"images": [{"id": 1, "width": 480, "height": 360},
                                           {"id": 2, "width": 640, "height": 480}]}))
    with pytest.raises(CocoDataError, match="val.json: images: expected one frame size"):
        native_size(coco)
    cfg = Config.fromfile("trained_models/detector/config.py")
    cfg.test_pipeline = [step for step in cfg.test_pipeline if step["type"] != "Resize"]
    with pytest.raises(ValueError, match="0 Resize steps"):
        with_test_scale(cfg, (600, 450))


def test_training_refuses_a_dataset_without_coco_files(tmp_path, capsys):
    assert run(DETECTOR_JOB, ["--data", str(tmp_path), "--max-iters", "1", "--package",
                              str(tmp_path / "p")]) == 2
    assert "coco/detection_train.json" in capsys.readouterr().err


@pytest.mark.slow
def test_infer_writes_the_timeline_and_the_annotated_video_of_a_test_clip(rendered, tmp_path):
    splits = load_split_file(rendered / "splits.json")
    clip = next(v for v, s in sorted(splits.items()) if s == "test" and "_clip" in v)
    truth = json.loads((rendered / "annotations" / f"{clip}.json").read_text())
    out = tmp_path / "infer"
    assert infer.main(["--video", str(rendered / "videos" / f"{clip}.mp4"), "--out", str(out),
                       "--annotation", str(rendered / "annotations" / f"{clip}.json"),
                       "--no-progress"]) == 0
    doc = json.loads((out / "timeline.json").read_text())
    assert doc["frames"] == truth["video"]["frame_count"]
    # A clip is labelled in every frame; the operator is tracked on most of them.
    assert doc["operator"]["labelled_frames"] == doc["frames"]
    assert doc["operator"]["frames_with_operator_tracked"] > 0.8 * doc["frames"]
    assert 0 <= doc["operator"]["frame_accuracy"] <= 1
    assert doc["annotated_video"]["frames"] == doc["frames"]
    assert doc["models"]["detector"]["model"] == "workcell-rtmdet-nano"
    operator = max(doc["persons"], key=lambda p: p["frames_seen"])
    assert operator["frames_seen"] > 0.8 * doc["frames"]
    segments = operator["segments"]
    assert segments[0]["start_frame"] == operator["first_frame"]
    assert segments[-1]["end_frame"] == operator["last_frame"] + 1
    assert all(a["end_frame"] == b["start_frame"]
               for a, b in zip(segments, segments[1:], strict=False))
    assert all(0 <= s["score"] <= 1 and s["label"] in doc["classes"] for s in segments)
    assert doc["method"] == "timeline head, offline"
    # The online mode on the same rows: the same frames covered, from causal answers.
    rows = FrameArrays.from_table(pq.read_table(next((out / "features").glob("split=*/*"))))
    online = person_timelines(rows, infer.DEFAULT_PACKAGE, online=True)
    assert online["method"] == "timeline head, online"
    mine = next(p for p in online["persons"]
                if p["track_id"] == operator["track_id"])["segments"]
    assert mine[0]["start_frame"] == operator["first_frame"]
    assert mine[-1]["end_frame"] == operator["last_frame"] + 1
    capture = cv2.VideoCapture(str(out / "annotated.webm"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == doc["frames"]
    capture.release()


def benchmark_floor(windows: int, top1: float) -> int:
    """The fewest of ``windows`` test windows a chain whose top-1 is ``top1`` gets right with
    probability 1 - FLOOR_RISK (binomial quantile)."""
    return int(binom.ppf(FLOOR_RISK, windows, top1))


@pytest.mark.slow
def test_the_shipped_chain_recognises_test_clips_from_their_pixels(rendered, tmp_path):
    """Every test clip of the tiny dataset (one per class, another seed than training's)
    through the shipped detector, pose model and recognizer: at least the floor that the pixels
    benchmark's top-1 sets for this many windows, and above what one class for every window
    gets."""
    table = tmp_path / "extracted"
    assert extract.main(["--dataset", str(rendered), "--out", str(table), "--config", WORKCELL,
                         "--splits", "test", "--match", "*_clip*", "--executor", "sequential",
                         "--no-progress"]) == 0
    figures = json.loads(PIXELS_RESULTS.read_text())["end_to_end"]   # every test clip
    result = evaluate(Path(figures["recognizer"]), table, tmp_path / "eval", timeline=False)
    correct = [p["predicted"] == p["label"] for p in result["predictions"]]
    labels = [p["label"] for p in result["predictions"]]
    assert len({p["video_id"] for p in result["predictions"]}) == 11
    assert sum(correct) >= benchmark_floor(len(correct), figures["top1"])
    assert sum(correct) > max(labels.count(c) for c in set(labels))


def test_the_floor_is_the_binomial_quantile():
    assert benchmark_floor(20, 0.5) == 5                  # P(X <= 4) = 0.006, P(X <= 5) = 0.021
    assert benchmark_floor(20, 0.0) == 0 and benchmark_floor(20, 1.0) == 20


def test_infer_names_a_corrupt_video(tmp_path, capsys):
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"not a video" * 100)
    assert infer.main(["--video", str(video), "--out", str(tmp_path / "out"),
                       "--no-progress"]) == 2
    assert "broken.mp4" in capsys.readouterr().err
