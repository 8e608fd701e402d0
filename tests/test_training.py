"""Ray Train with two CPU workers, checkpoint resume, the model package, export, evaluation."""

import json
import shutil

import numpy as np
import onnxruntime
import pytest
import torch
from mmengine.dataset import pseudo_collate

from jobs import evaluate, train
from model.datasets.feature_table import content_checksum
from model.training.builders import build_dataset, load_config
from model.training.ensemble import write_ensemble
from model.training.package import load_package

pytestmark = pytest.mark.slow

CONFIG = "model/configs/workcell/fusion_xattn_stgcnpp.py"
# Small and fast: a few epochs, no early stop, batches of 8 so each worker takes steps.
OPTIONS = {"train_cfg.max_epochs": 6, "train_cfg.batch_size": 8,
           "train_cfg.early_stop_patience": 100}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, workcell_table):
    """Two workers, interrupted after 3 of 6 epochs, then resumed."""
    work = tmp_path_factory.mktemp("run")
    train.train(CONFIG, str(workcell_table), str(work), num_workers=2, cpus_per_worker=1,
                options=OPTIONS, epochs_this_run=3)
    first = json.loads((work / "package" / "metrics.json").read_text())
    metrics = train.train(CONFIG, str(workcell_table), str(work), num_workers=2,
                          cpus_per_worker=1, options=OPTIONS, resume=True)
    return work, first, metrics


def test_two_workers_train_and_the_loss_falls(trained):
    _, _, metrics = trained
    losses = [row["train_loss"] for row in metrics["history"]]
    assert all(row["world_size"] == 2 for row in metrics["history"])
    assert np.mean(losses[-2:]) < losses[0]


def test_resume_continues_from_the_saved_epoch(trained):
    work, first, metrics = trained
    assert [row["epoch"] for row in first["history"]] == [1, 2, 3]
    assert [row["epoch"] for row in metrics["history"]] == [1, 2, 3, 4, 5, 6]
    # The resumed run keeps the first run's epochs as they were.
    assert metrics["history"][:3] == first["history"]
    assert metrics["epochs_run"] == 6


def test_resume_refuses_another_config(trained, workcell_table):
    work, _, _ = trained
    with pytest.raises(SystemExit, match="config differs"):
        train.train(CONFIG, str(workcell_table), str(work), options={**OPTIONS,
                    "train_cfg.max_epochs": 9}, resume=True)
    with pytest.raises(SystemExit, match="holds an earlier run"):
        train.train(CONFIG, str(workcell_table), str(work), options=OPTIONS)


def test_package_holds_a_deployable_model(trained):
    work, _, metrics = trained
    package = work / "package"
    for name in ("config.py", "weights.pth", "classes.json", "input_spec.json",
                 "metrics.json", "model.onnx", "export_check.json", "logs/metrics.csv"):
        assert (package / name).exists(), name
    assert list((package / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    spec = json.loads((package / "input_spec.json").read_text())
    assert spec["inputs"] == ["keypoint", "objects", "object_classes"]
    assert spec["clip_len"] == 48 and spec["num_joints"] == 17
    loaded = load_package(package)
    best = metrics["best_epoch"]
    assert metrics["best_val_macro_f1"] == max(r["val_macro_f1"] for r in metrics["history"])
    assert metrics["history"][best - 1]["val_macro_f1"] == metrics["best_val_macro_f1"]
    assert loaded.action_classes[0] == "idle"


def test_onnx_export_matches_pytorch(trained):
    work, _, _ = trained
    check = json.loads((work / "package" / "export_check.json").read_text())
    assert check["max_abs_diff"] < 1e-4


def test_evaluate_writes_the_report(trained, workcell_table, tmp_path):
    work, _, _ = trained
    frozen = tmp_path / "frozen.json"
    frozen.write_text(json.dumps({"content_sha256": content_checksum(workcell_table, "test")}))
    result = evaluate.evaluate(work / "package", workcell_table, tmp_path / "eval",
                               frozen_test_set=str(frozen), timeline_stride_s=1.0)
    clips = result["clips"]
    for key in ("top1", "top5", "macro_precision", "macro_recall", "macro_f1"):
        assert 0.0 <= clips[key] <= 1.0
    assert clips["num_clips"] == len(result["predictions"]) > 0
    assert 0.0 <= result["timeline"]["frame_accuracy"] <= 1.0
    for name in ("metrics.json", "metrics.md", "confusion_matrix.png", "timelines.png"):
        assert (tmp_path / "eval" / name).exists(), name
    assert "matches frozen.json" in (tmp_path / "eval" / "metrics.md").read_text()


def test_evaluate_refuses_another_test_set(trained, workcell_table, tmp_path):
    work, _, _ = trained
    frozen = tmp_path / "frozen.json"
    frozen.write_text(json.dumps({"content_sha256": "0" * 64}))
    with pytest.raises(evaluate.TestSetMismatch, match="content checksum"):
        evaluate.evaluate(work / "package", workcell_table, tmp_path / "eval",
                          frozen_test_set=str(frozen))
    assert not (tmp_path / "eval").exists()


def test_loaded_package_and_onnx_agree_on_test_clips(trained, workcell_table):
    work, _, _ = trained
    package = load_package(work / "package")
    cfg = load_config(work / "package" / "config.py", table=workcell_table)
    dataset = build_dataset(cfg, "test", "test_pipeline")
    batch = pseudo_collate([dataset[i] for i in range(3)])
    with torch.no_grad():
        predictions = package.model.test_step(batch)
    expected = torch.stack([s.pred_score for s in predictions]).numpy()
    inputs = package.model.data_preprocessor(batch)["inputs"]
    session = onnxruntime.InferenceSession(str(work / "package" / "model.onnx"))
    got = session.run(None, {k: inputs[k].numpy() for k in package.input_spec["inputs"]})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_ensemble_of_packages_is_evaluated_like_a_package(trained, workcell_table, tmp_path):
    work, _, _ = trained
    for member in ("a", "b"):
        shutil.copytree(work / "package", tmp_path / "ensemble" / member)
    write_ensemble(tmp_path / "ensemble", {"a": "a", "b": "b"}, {"a": 1.0, "b": 3.0})
    single = evaluate.evaluate(work / "package", workcell_table, tmp_path / "single",
                               timeline=False, num_clips=1)
    both = evaluate.evaluate(tmp_path / "ensemble", workcell_table, tmp_path / "both",
                             timeline=False, num_clips=1)
    assert both["clips"]["top1"] == single["clips"]["top1"]
    assert both["members"]["a"]["top1"] == single["clips"]["top1"]
    assert [p["predicted"] for p in both["predictions"]] == \
        [p["predicted"] for p in single["predictions"]]
