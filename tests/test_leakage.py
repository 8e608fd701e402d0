"""Nothing leaks: no test operator or video in training, and an ablation's inputs hold nothing of
the other stream (changing the other stream's columns of the table leaves them unchanged)."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from mmengine.dataset import pseudo_collate

from model.builders import build_dataset, build_model, load_config
from model.datasets.feature_table import read_feature_table, tensor_column

CONFIGS = "model/configs/workcell"


def test_no_test_operator_or_video_is_in_training(workcell_table):
    table, _ = read_feature_table(workcell_table, columns=["video_id", "split"])
    videos = {split: set(table.filter(pa.compute.equal(table.column("split"), split))
                         .column("video_id").to_pylist()) for split in ("train", "val", "test")}
    operators = {split: {v.split("_")[0] for v in ids} for split, ids in videos.items()}
    assert all(videos.values())
    for held_out in ("val", "test"):
        assert not videos[held_out] & videos["train"]
        assert not operators[held_out] & operators["train"]
    assert not operators["val"] & operators["test"]


def _scrambled(table_dir, out_dir, columns: tuple[str, ...]):
    """A copy of the feature table with ``columns`` replaced by random values of their type."""
    rng = np.random.default_rng(0)
    for path in sorted(table_dir.glob("split=*/*.parquet")):
        table = pq.read_table(path)
        for name in columns:
            column = table.column(name)
            values = tensor_column(table, name)
            noise = (rng.uniform(0, 300, values.shape) if values.dtype.kind == "f"
                     else rng.integers(-1, 8, values.shape)).astype(values.dtype)
            array = pa.FixedShapeTensorArray.from_numpy_ndarray(noise)
            table = table.set_column(table.schema.get_field_index(name),
                                     table.schema.field(name), array.cast(column.type))
        target = out_dir / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target)
    return out_dir


POSE_COLUMNS = ("keypoints", "keypoint_scores")
OBJECT_COLUMNS = ("object_boxes", "object_classes", "object_scores", "object_track_ids")


def _inputs(config: str, table) -> dict[str, torch.Tensor]:
    """The packed test inputs of the first windows, as the model receives them."""
    cfg = load_config(f"{CONFIGS}/{config}.py", table=table)
    dataset = build_dataset(cfg, "test", "test_pipeline")
    model = build_model(cfg)
    batch = pseudo_collate([dataset[i] for i in range(0, len(dataset), max(1, len(dataset) // 6))])
    return model.data_preprocessor(batch)["inputs"]


@pytest.mark.parametrize(("config", "other_stream", "own_inputs"), [
    ("object_only", POSE_COLUMNS, {"objects", "object_classes"}),
    ("pose_only_stgcnpp", OBJECT_COLUMNS, {"keypoint"}),
])
def test_an_ablation_sees_nothing_of_the_other_stream(workcell_table, tmp_path, config,
                                                      other_stream, own_inputs):
    original = _inputs(config, workcell_table)
    assert set(original) == own_inputs
    changed = _inputs(config, _scrambled(workcell_table, tmp_path / "t", other_stream))
    for key in own_inputs:
        torch.testing.assert_close(changed[key], original[key], rtol=0, atol=0)


def test_the_fused_model_does_see_both_streams(workcell_table, tmp_path):
    """The check above can fail: scrambling the skeleton changes the fused model's objects
    (they are encoded relative to the body and the wrists)."""
    original = _inputs("fusion_xattn_stgcnpp", workcell_table)
    changed = _inputs("fusion_xattn_stgcnpp",
                      _scrambled(workcell_table, tmp_path / "t", POSE_COLUMNS))
    assert not torch.equal(changed["objects"], original["objects"])
