"""Pieces of benchmarks/pixels.py on inputs whose answers are known."""

import json

import pytest

from benchmarks.performance_report import (
    PIXELS_LEVERS,
    _committed_results,
    decomposition_lines,
    lever_rows,
)
from model.perception.coco_metrics import per_class_ap50


def test_per_class_ap50_counts_each_class_on_its_own(tmp_path):
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100} for i in (1, 2)]
    truth = {"images": images, "categories": [{"id": 1, "name": "part"},
                                              {"id": 2, "name": "wrench"},
                                              {"id": 3, "name": "cup"}],
             "annotations": [
                 {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20],
                  "area": 400, "iscrowd": 0},
                 {"id": 2, "image_id": 2, "category_id": 1, "bbox": [50, 50, 20, 20],
                  "area": 400, "iscrowd": 0},
                 {"id": 3, "image_id": 1, "category_id": 2, "bbox": [60, 10, 30, 8],
                  "area": 240, "iscrowd": 0}]}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    detections = [  # both parts found; the wrench box is elsewhere (IoU 0)
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [51, 50, 20, 20], "score": 0.8},
        {"image_id": 2, "category_id": 2, "bbox": [0, 80, 30, 8], "score": 0.7}]
    (tmp_path / "dets.json").write_text(json.dumps(detections))
    ap = per_class_ap50(tmp_path / "truth.json", tmp_path / "dets.json")
    assert ap == {"part": pytest.approx(1.0), "wrench": 0.0}   # no cup in the truth: left out


def test_the_decomposition_table_names_each_rows_sources_and_the_baseline():
    scores = {"a": {"top1": 0.5, "macro_f1": 0.4}, "b": {"top1": 0.7, "macro_f1": 0.6}}
    dec = {"rows": {"extracted_pose+annotation_objects": scores},
           "subject": {"matched": 9, "frames": 10, "no_subject": 1, "fraction": 0.9},
           "keypoints": {"pck_thr": 0.1, "pck": 0.8, "median_error": 0.03,
                         "joints_compared": 100, "missing_in_extracted": 0.1,
                         "pck_per_joint": {"left_wrist": 0.7, "nose": None}},
           "min_iou": 0.5, "object_recall": {"part": 0.5}, "object_precision": {"part": None},
           "annotated": {"part": 4}, "extracted": {"part": 0},
           "object_tracks_per_video": {"annotated": 2.0, "extracted": 5.5}}
    e = {"majority_class": "idle", "majority_top1": 0.1, "majority_macro_f1": 0.02}
    text = "\n".join(decomposition_lines(e, dec, ["a", "b"]))
    assert "| extracted | annotation | 0.500 | 0.400 | 0.700 | 0.600 |" in text
    assert "always idle (most frequent training label) | | 0.100 | 0.020 | 0.100 | 0.020 |" \
        in text
    assert "9 of 10 labelled frames (0.900)" in text and "left_wrist 0.700, nose n/a" in text
    assert "| part | 0.500 | n/a | 4 | 0 |" in text


def test_decompose_writes_four_tables_of_the_same_frames_and_scores_the_extraction(tmp_path):
    """An "extraction" that is the annotation with every object lost: the subject and the
    keypoints agree fully, no object is recalled, and each mixed table takes its streams
    from the right source."""
    import numpy as np

    from benchmarks.pixels import ROWS, decompose
    from model.datasets.feature_table import read_feature_table, tensor_column, write_split_file
    from model.datasets.frame_rows import annotation_to_arrays
    from tests.factories import SPEC, annotation

    ids = ["v1", "v2"]
    for name in ("annotated", "extracted"):
        for video in ids:
            rows = annotation_to_arrays(annotation(video), SPEC, 2, 4)
            if name == "extracted":
                rows.num_objects[:] = 0
                rows.object_track_ids[:] = rows.object_classes[:] = -1
            write_split_file(tmp_path / name, "test", f"{video}.parquet", rows.to_table(
                list(SPEC.action_classes), list(SPEC.object_classes)))
    tables, facts = decompose(tmp_path / "annotated", tmp_path / "extracted", ids,
                              tmp_path / "mixed", SPEC)
    assert set(tables) == set(ROWS)
    assert facts["subject_match"] == 1.0 and facts["keypoints"]["pck"] == 1.0
    assert facts["object_recall"]["part"] == 0.0 and facts["object_precision"]["part"] is None
    for row, (_, objects) in ROWS.items():
        rows, _ = read_feature_table(tables[row], ["test"])
        assert rows.num_rows == 24
        assert (rows.column("num_objects").to_numpy() > 0).all() == (objects == "annotation")
        assert (tensor_column(rows, "keypoint_scores") > 0).any()
    assert np.array_equal(
        read_feature_table(tables["annotation_pose+annotation_objects"], ["test"])[0]
        .column("label").to_numpy(), np.full(24, 1))


def test_each_lever_row_is_read_from_its_own_committed_run():
    levers = json.loads(PIXELS_LEVERS.read_text())["levers"]
    rows = lever_rows(levers)[2:]
    assert len(rows) == len(levers)
    for lever, row in zip(levers, rows, strict=True):
        run = _committed_results(lever["results_commit"], "pixels.json")
        scored = run.get("decomposition", {}).get("rows", {}).get(
            "extracted_pose+extracted_objects", {}).get(lever["recognizer"], run["end_to_end"])
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[0] == lever["lever"]
        assert cells[-2:] == [f"{scored['top1']:.3f}", f"{scored['macro_f1']:.3f}"]
