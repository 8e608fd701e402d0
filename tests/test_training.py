"""Ray Train with two CPU workers, checkpoint resume, the model package, export, evaluation."""

import json
import shutil

import numpy as np
import onnxruntime
import pytest
import torch
from mmengine.dataset import pseudo_collate

from jobs import evaluate, train
from model.builders import build_dataset, load_config
from model.datasets.feature_table import content_checksum
from model.inference.ensemble import write_ensemble
from model.inference.package import load_package, write_package
from model.training.loop import META_FILE, SELECTED_WEIGHTS_FILE

pytestmark = pytest.mark.slow

CONFIG = "model/configs/workcell/fusion_xattn_stgcnpp.py"
# Small and fast: a few epochs, no early stop, batches of 8 so each worker takes steps.
EPOCHS, FIRST_RUN_EPOCHS = 6, 3
OPTIONS = {"train_cfg.max_epochs": EPOCHS, "train_cfg.batch_size": 8,
           "train_cfg.early_stop_patience": 100}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, workcell_table):
    """Two workers, interrupted after 3 of 6 epochs, then resumed. The package of the first
    3 epochs is kept beside the run (``early_package``): a second, different model."""
    work = tmp_path_factory.mktemp("run")
    train.train(CONFIG, str(workcell_table), str(work), num_workers=2, cpus_per_worker=1,
                options=OPTIONS, epochs_this_run=FIRST_RUN_EPOCHS)
    first = json.loads((work / "package" / "metrics.json").read_text())
    shutil.copytree(work / "package", work / "early_package")
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
    assert [row["epoch"] for row in first["history"]] == list(range(1, FIRST_RUN_EPOCHS + 1))
    assert [row["epoch"] for row in metrics["history"]] == list(range(1, EPOCHS + 1))
    # The resumed run keeps the first run's epochs as they were.
    assert metrics["history"][:FIRST_RUN_EPOCHS] == first["history"]
    # and records where each epoch's run started: afresh, then from the saved epoch.
    assert [row["resumed_from_epoch"] for row in metrics["history"]] == \
        [0] * FIRST_RUN_EPOCHS + [FIRST_RUN_EPOCHS] * (EPOCHS - FIRST_RUN_EPOCHS)
    assert metrics["epochs_run"] == EPOCHS


def test_resume_refuses_another_config(trained, workcell_table):
    work, _, _ = trained
    with pytest.raises(SystemExit, match="config differs"):
        train.train(CONFIG, str(workcell_table), str(work), options={**OPTIONS,
                    "train_cfg.max_epochs": EPOCHS + 3}, resume=True)
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
    selected = metrics["selected_epoch"]
    assert metrics["selection"] == "best_val"
    assert metrics["selected_val_macro_f1"] == max(r["val_macro_f1"] for r in metrics["history"])
    assert metrics["history"][selected - 1]["val_macro_f1"] == metrics["selected_val_macro_f1"]
    assert loaded.action_classes[0] == "idle"


def test_a_new_package_replaces_everything_an_earlier_one_left(trained, tmp_path):
    work, _, metrics = trained
    folder = tmp_path / "package"
    shutil.copytree(work / "package", folder)
    (folder / "logs" / "tensorboard" / "events.out.tfevents.stale").write_text("old run")
    (folder / "stale.txt").write_text("old run")
    package = load_package(work / "package")
    write_package(folder, package.cfg, package.model.state_dict(), package.action_classes,
                  package.object_classes, 16, metrics, work / "package" / "logs")
    assert not (folder / "stale.txt").exists()
    assert len(list((folder / "logs" / "tensorboard").iterdir())) == 1


def test_evaluate_writes_the_report(trained, workcell_table, tmp_path):
    work, _, _ = trained
    frozen = tmp_path / "frozen.json"
    frozen.write_text(json.dumps({"content_sha256": content_checksum(workcell_table, "test")}))
    result = evaluate.evaluate(work / "package", workcell_table, tmp_path / "eval",
                               frozen_test_set=str(frozen), timeline_stride_s=1.0)
    clips = result["clips"]
    # The report's figures are those of its own predictions.
    predictions = result["predictions"]
    assert clips["num_clips"] == len(predictions) > 0
    assert clips["top1"] == pytest.approx(np.mean([p["label"] == p["predicted"]
                                                   for p in predictions]))
    assert np.asarray(clips["confusion_matrix"]).sum() == len(predictions)
    assert sum(c["support"] for c in clips["per_class"].values()) == len(predictions)
    assert result["timeline"]["frames"] > 0
    for name in ("metrics.json", "metrics.md", "confusion_matrix.png", "timelines.png"):
        assert (tmp_path / "eval" / name).exists(), name
    assert "matches frozen.json" in (tmp_path / "eval" / "metrics.md").read_text()


def test_the_evaluated_model_is_the_trained_one(trained):
    """The package holds, tensor for tensor, the weights of the epoch training selected as the
    run's last checkpoint saved them (what jobs.evaluate then loads; that it scores the
    package it is given is shown by two packages scoring apart, below)."""
    work, _, metrics = trained
    last = max((work / "train").glob(f"checkpoint_*/{META_FILE}"),
               key=lambda f: json.loads(f.read_text())["epoch"]).parent
    meta = json.loads((last / META_FILE).read_text())
    assert (meta["epoch"], meta["selected_epoch"]) == (EPOCHS, metrics["selected_epoch"])
    trained_weights = torch.load(last / SELECTED_WEIGHTS_FILE, map_location="cpu",
                                 weights_only=True)
    packaged = load_package(work / "package").model.state_dict()
    assert packaged.keys() == trained_weights.keys()
    assert all(torch.equal(packaged[k].cpu(), v) for k, v in trained_weights.items())


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


def _predictions(result: dict) -> list[int]:
    return [p["predicted"] for p in result["predictions"]]


def test_ensemble_weights_decide_between_two_different_models(trained, workcell_table,
                                                              tmp_path):
    work, _, _ = trained
    ensemble = tmp_path / "ensemble"
    shutil.copytree(work / "early_package", ensemble / "early")
    shutil.copytree(work / "package", ensemble / "late")
    alone = {m: evaluate.evaluate(ensemble / m, workcell_table, tmp_path / m, timeline=False,
                                  num_clips=1) for m in ("early", "late")}
    assert _predictions(alone["early"]) != _predictions(alone["late"])   # two different models
    for weights, follows in (({"early": 1.0, "late": 0.0}, "early"),
                             ({"early": 0.0, "late": 2.0}, "late")):
        write_ensemble(ensemble, {"early": "early", "late": "late"}, weights)
        both = evaluate.evaluate(ensemble, workcell_table, tmp_path / "both", timeline=False,
                                 num_clips=1)
        assert _predictions(both) == _predictions(alone[follows])
        assert both["members"]["early"]["top1"] == alone["early"]["clips"]["top1"]


def test_evaluate_refuses_a_table_of_other_object_classes(trained, workcell_table, tmp_path):
    work, _, _ = trained
    package = tmp_path / "package"
    shutil.copytree(work / "package", package)
    classes = json.loads((package / "classes.json").read_text())
    classes["object_classes"] = classes["object_classes"][::-1]
    (package / "classes.json").write_text(json.dumps(classes))
    with pytest.raises(ValueError, match="has object classes .* names and order must match"):
        evaluate.evaluate(package, workcell_table, tmp_path / "eval")
