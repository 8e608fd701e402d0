"""The baselines: a bag of object classes learns what object classes tell, and nothing else."""

import json

import numpy as np
import pytest

from jobs.ingest import ingest_annotations
from model.evaluation.baselines import bag_of_classes, run_baseline
from tests.factories import SPEC, annotation, modified, write_dataset

CONFIG = "model/configs/workcell/fusion_xattn_stgcnpp.py"


def test_bag_of_classes_counts_visible_classes_per_frame():
    classes = np.array([[0, 1, -1], [0, 0, -1], [1, -1, -1], [-1, -1, -1]])
    scores = np.array([[0.9, 0.9, 0.0], [0.9, 0.9, 0.0], [0.01, 0.0, 0.0], [0.0, 0.0, 0.0]])
    features = bag_of_classes({"object_classes": classes, "object_scores": scores}, 3)
    # Class 0 in frames 0 and 1 (twice in frame 1); class 1 in frame 0 only (frame 2's
    # detection is below the score threshold); class 2 never.
    np.testing.assert_allclose(features, [0.5, 0.25, 0.0, 0.75, 0.25, 0.0])


def _tool_video(video_id: str, label: str, cls: str | None) -> dict:
    """A clip whose only object (if any) says the label; the person does the same thing."""
    def edit(doc):
        for frame in doc["frames"]:
            frame["objects"] = [] if cls is None else [dict(frame["objects"][0], **{"class": cls})]
    return modified(annotation(video_id, frames=16, label=label), edit)


@pytest.fixture(scope="module")
def object_table(tmp_path_factory, ray_local):
    """idle: no object; reach: a part; pick_part: a screwdriver. 8 videos of each."""
    root = tmp_path_factory.mktemp("objects")
    docs, splits = [], {"train": [], "val": [], "test": []}
    for label, cls in (("idle", None), ("reach", "part"), ("pick_part", "screwdriver")):
        for i in range(8):
            docs.append(_tool_video(f"{label}{i}", label, cls))
            splits["train" if i < 4 else "val" if i < 6 else "test"].append(f"{label}{i}")
    write_dataset(root, docs, SPEC)
    (root / "splits.json").write_text(json.dumps(splits))
    report = ingest_annotations(root, root / "features", workers=1)
    assert report.ok, report.rejected
    return root / "features"


def test_bag_of_classes_learns_what_the_object_classes_tell(object_table):
    result = run_baseline("bag_of_classes", object_table, CONFIG)
    assert result["clips"]["top1"] == 1.0 and result["val"]["top1"] == 1.0
    assert result["train_windows"] == 12 and result["clips"]["num_clips"] == 6


def test_majority_predicts_the_most_frequent_training_class(workcell_table):
    result = run_baseline("majority", workcell_table, CONFIG)
    labels = np.array([p["label"] for p in result["predictions"]])
    predicted = {p["predicted"] for p in result["predictions"]}
    assert len(predicted) == 1
    assert result["clips"]["top1"] == pytest.approx(np.mean(labels == predicted.pop()))
    assert 0 < result["timeline"]["frame_accuracy"] < 1
    with pytest.raises(ValueError, match="unknown baseline"):
        run_baseline("oracle", workcell_table, CONFIG)
