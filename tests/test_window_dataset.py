"""Windows cut from the feature table, and the subject-first person order."""

import numpy as np
import pytest

from model.datasets.window_dataset import FeatureTableDataset, subject_first_order, window_starts


def test_window_starts_cover_the_span():
    assert window_starts(10, 20, 5) == [0]
    assert window_starts(20, 20, 5) == [0]
    assert window_starts(47, 20, 10) == [0, 10, 20, 27]


def test_subject_first_order_never_takes_a_passer_by_for_the_subject():
    track_ids = np.array([[1, 2, -1], [2, -1, -1], [2, 1, -1], [5, 7, -1]])
    subject = np.array([1, 1, 1, -1])
    order = subject_first_order(track_ids, subject)
    assert order[0].tolist() == [0, 1, 2]
    assert order[1, 0] == 3          # subject absent: the padding slot, not track 2
    assert order[2].tolist() == [1, 0, 2]
    assert order[3, 0] == 0          # unlabelled frame: the largest person (slot 0)


def test_segment_windows_and_sliding_windows(workcell_table):
    segments = FeatureTableDataset(str(workcell_table), pipeline=[], split="train",
                                   window_s=2.0, stride_s=1.0)
    infos = [segments.get_data_info(i) for i in range(len(segments))]
    fps = infos[0]["fps"]
    assert all(i["label"] >= 0 for i in infos)
    assert max(i["total_frames"] for i in infos) == round(2.0 * fps)
    assert all(i["keypoint"].shape == (1, i["total_frames"], 17, 2) for i in infos)
    assert all(i["object_boxes"].shape[0] == i["total_frames"] for i in infos)
    assert segments.metainfo["classes"][0] == "idle"
    video = next(i["video_id"] for i in infos if "seq" in i["video_id"])
    sliding = FeatureTableDataset(str(workcell_table), pipeline=[], split="train",
                                  mode="sliding", window_s=2.0, stride_s=1.0,
                                  video_ids=[video])
    ranges = [sliding.get_data_info(i)["frame_range"] for i in range(len(sliding))]
    assert ranges[0][0] == 0 and ranges[-1][1] > ranges[-2][1]
    assert {sliding.get_data_info(i)["video_id"] for i in range(len(sliding))} == {video}


def test_samples_hold_only_the_configured_streams(workcell_table):
    pose = FeatureTableDataset(str(workcell_table), pipeline=[], split="val", streams=("pose",))
    objects = FeatureTableDataset(str(workcell_table), pipeline=[], split="val",
                                  streams=("objects",))
    both = FeatureTableDataset(str(workcell_table), pipeline=[], split="val")
    assert len(pose) == len(objects) == len(both)
    info = pose.get_data_info(0)
    assert "keypoint" in info and not [k for k in info if k.startswith("object_")]
    info = objects.get_data_info(0)
    assert "object_boxes" in info and "keypoint" not in info and "keypoint_score" not in info
    np.testing.assert_array_equal(info["object_boxes"], both.get_data_info(0)["object_boxes"])
    with pytest.raises(ValueError, match="streams must be a non-empty subset"):
        FeatureTableDataset(str(workcell_table), pipeline=[], split="val", streams=("depth",))


def test_extra_tables_add_their_windows_of_the_same_split(workcell_table, tmp_path):
    """A second table of the same classes (here: the val split's rows filed as train) adds
    its windows; one without the split adds none; other classes are refused; a config's
    extra tables join only the training loop's train and validation sets, never a test and
    never a dataset built for one named table (evaluation, step features)."""
    from model.builders import build_dataset, load_config
    from model.datasets.feature_table import read_feature_table, write_split_file

    rows, _ = read_feature_table(workcell_table, ["val"])
    write_split_file(tmp_path / "more", "train", "val_as_train.parquet", rows)
    plain = FeatureTableDataset(str(workcell_table), pipeline=[], split="train")
    val = FeatureTableDataset(str(workcell_table), pipeline=[], split="val")
    both = FeatureTableDataset(str(workcell_table), pipeline=[], split="train",
                               extra_tables=[str(tmp_path / "more")])
    assert len(both) == len(plain) + len(val)
    only_val = FeatureTableDataset(str(workcell_table), pipeline=[], split="val",
                                   extra_tables=[str(tmp_path / "more")])
    assert len(only_val) == len(val)
    cfg = load_config("model/configs/workcell/fusion_xattn_stgcnpp.py")
    cfg.feature_table = str(workcell_table)
    cfg.dataset.extra_tables = [str(tmp_path / "more")]
    assert len(build_dataset(cfg, "test", "test_pipeline", extra_tables=True)) == len(
        FeatureTableDataset(str(workcell_table), pipeline=[], split="test"))
    assert len(build_dataset(cfg, "train", "train_pipeline", extra_tables=True)) == len(both)
    assert len(build_dataset(cfg, "train", "val_pipeline")) == len(plain)
