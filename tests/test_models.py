"""Every config builds; every fusion mode runs forward and backward on real pipeline output."""

from pathlib import Path

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.runner import load_checkpoint

from model.builders import build_dataset, build_model, load_config
from model.transforms.objects import NUM_OBJECT_FEATURES, NUM_TRACK_FEATURES

CONFIGS = sorted(Path("model/configs/workcell").glob("[!_]*.py"))
EXPERIMENTS = [c for c in CONFIGS if c.name != "workcell_base.py"]


def test_every_workcell_config_builds():
    assert {c.stem for c in EXPERIMENTS} == {
        "fusion_xattn_stgcnpp", "fusion_concat_stgcnpp", "fusion_late_stgcnpp",
        "pose_only_stgcnpp", "object_only"}
    for path in EXPERIMENTS:
        assert isinstance(build_model(load_config(path)), torch.nn.Module)


def test_object_encoders_take_as_many_features_as_their_pipeline_writes():
    for path in EXPERIMENTS:
        cfg = load_config(path)
        encoder = cfg.model.backbone.get("objects")
        if encoder is None:
            continue
        steps = {step["type"] for step in cfg.test_pipeline}
        expected = NUM_TRACK_FEATURES if "EncodeObjectTracks" in steps else NUM_OBJECT_FEATURES
        assert encoder["in_features"] == expected, path.name


def batches(config: str, table) -> tuple:
    cfg = load_config(f"model/configs/workcell/{config}.py", table=table)
    train = build_dataset(cfg, "train", "train_pipeline")
    test = build_dataset(cfg, "test", "test_pipeline")
    return (pseudo_collate([train[i] for i in range(4)]),
            pseudo_collate([test[i] for i in range(2)]))


@pytest.mark.parametrize("config", [c.stem for c in EXPERIMENTS])
def test_forward_backward_and_predict(config, workcell_table):
    torch.manual_seed(0)
    cfg = load_config(f"model/configs/workcell/{config}.py", table=workcell_table)
    model = build_model(cfg, [1.0] * cfg.num_classes)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    train_batch, test_batch = batches(config, workcell_table)
    model.train()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    log_vars = model.train_step(train_batch, optim)
    assert torch.isfinite(log_vars["loss"])
    changed = {k.split(".")[1] for k, v in model.named_parameters()
               if k.startswith("backbone.") and not torch.equal(before[k], v.detach())}
    assert changed == {s for s in ("pose", "objects") if getattr(model.backbone, s) is not None}
    model.eval()
    predictions = model.test_step(test_batch)
    assert len(predictions) == 2
    scores = torch.stack([p.pred_score for p in predictions])
    assert scores.shape == (2, cfg.num_classes)
    torch.testing.assert_close(scores.sum(dim=1), torch.ones(2))


def test_late_fusion_trains_each_stream_with_its_own_loss(workcell_table):
    cfg = load_config("model/configs/workcell/fusion_late_stgcnpp.py", table=workcell_table)
    model = build_model(cfg)
    losses = model.loss(*_preprocessed(model, batches("fusion_late_stgcnpp",
                                                      workcell_table)[0]))
    assert {"loss_cls", "loss_pose", "loss_objects"} <= set(losses)


def test_missing_stream_input_is_named(workcell_table):
    cfg = load_config("model/configs/workcell/fusion_concat_stgcnpp.py", table=workcell_table)
    model = build_model(cfg)
    inputs, samples = _preprocessed(model, batches("fusion_concat_stgcnpp", workcell_table)[0])
    inputs.pop("objects")
    with pytest.raises(KeyError, match=r"inputs lack \['objects'\]"):
        model.loss(inputs, samples)


def _preprocessed(model, batch):
    data = model.data_preprocessor(batch, training=True)
    return data["inputs"], data["data_samples"]


def test_the_finetune_config_starts_from_the_shipped_recognizer(workcell_table, tmp_path):
    """The perception fine-tune names its extracted table and the shipped weights by paths
    relative to the repository; load_config hands them on absolute (training workers run in
    other directories), and the weights fit the model it builds."""
    cfg = load_config("model/configs/workcell_finetune/fusion_xattn_stgcnpp_perception.py",
                      table=workcell_table)
    assert cfg.load_from == str(Path("trained_models/workcell/weights.pth").resolve())
    assert cfg.dataset.extra_tables == [str(Path("data/workcell/extracted-train-val").resolve())]
    model = build_model(cfg)
    load_checkpoint(model, cfg.load_from, map_location="cpu", strict=True)
    cfg.dataset.extra_tables = [str(workcell_table)]
    assert len(build_dataset(cfg, "train", "train_pipeline", extra_tables=True)) == \
        2 * len(build_dataset(cfg, "train", "train_pipeline"))
