"""Import of MMAction2's 2D skeleton .pkl, on a small file written here."""

import gzip
import json
import pickle

import numpy as np
import pytest

from jobs import ingest
from model.datasets.feature_table import read_feature_table, tensor_column
from model.datasets.mmaction_pkl import PickleNotAllowedError, load_skeleton_pkl

CLASSES = ["wave", "jump", "sit"]


def _record(name, label, frames, shape=(360, 480), people=1, seed=0):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0, min(shape), size=(people, frames, 17, 2)).astype(np.float32)
    score = np.ones((people, frames, 17), np.float32)
    score[:, :, 1:5] = 0.0  # eyes and ears always missing, as in Penn Action
    return {"frame_dir": name, "label": label, "img_shape": shape, "original_shape": shape,
            "total_frames": frames, "keypoint": kp, "keypoint_score": score}


@pytest.fixture(scope="module")
def skeleton_pkl(tmp_path_factory):
    out_of_frame = _record("out_of_frame", 1, 30, seed=1)
    out_of_frame["keypoint"][0, :, 9] = [700.0, -50.0]  # a wrist far outside the 480x360 frame
    invisible = _record("invisible", 2, 25, shape=(480, 640), seed=2)
    invisible["keypoint_score"][0, 10] = 0.0  # a frame with no visible joint
    invisible["keypoint"][0, 10] = np.nan      # whose (missing) coordinates are NaN
    wrong_shape = _record("wrong_shape", 0, 20)
    wrong_shape["keypoint"] = wrong_shape["keypoint"][:, :, :15]
    nan_visible = _record("nan_visible", 0, 20)
    nan_visible["keypoint"][0, 4, 7, 0] = np.nan
    records = [_record("a", 0, 40), _record("two_people", 0, 30, people=3, seed=3),
               out_of_frame, invisible, wrong_shape, nan_visible, _record("b", 2, 50)]
    doc = {"split": {"xsub_train": ["a", "two_people", "out_of_frame", "wrong_shape",
                                    "nan_visible"],
                     "xsub_val": ["invisible", "b"]},
           "annotations": records}
    path = tmp_path_factory.mktemp("pkl") / "skeleton.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(doc, f)
    return path


def test_pickle_needs_explicit_opt_in(skeleton_pkl):
    with pytest.raises(PickleNotAllowedError, match="allow-pickle"):
        load_skeleton_pkl(skeleton_pkl, allow_pickle=False)


def test_import_keeps_missing_and_out_of_frame_joints(skeleton_pkl, tmp_path, ray_local):
    report = ingest.ingest_mmaction_pkl(
        skeleton_pkl, tmp_path / "t", classes=CLASSES, allow_pickle=True,
        split_map={"xsub_train": "train", "xsub_val": "test"}, max_persons=2)
    rejected = {r["file"].split("#")[1]: r["issues"][0] for r in report.rejected}
    assert set(rejected) == {"annotations[4]", "annotations[5]"}
    assert "annotations[4](wrong_shape).keypoint: expected shape (M, 20, 17, 2)" in \
        rejected["annotations[4]"]
    assert "annotations[5](nan_visible).keypoint[0][4][7]" in rejected["annotations[5]"]
    assert report.videos == {"train": 3, "test": 2}
    assert report.dropped_persons == 30  # the third person of two_people, 30 frames

    table, info = read_feature_table(tmp_path / "t")
    assert info.action_classes == tuple(CLASSES) and info.max_objects == 1
    by_video = {v: table.filter(table.column("video_id").to_numpy(zero_copy_only=False) == v)
                for v in ("out_of_frame", "invisible", "two_people")}
    wrist = tensor_column(by_video["out_of_frame"], "keypoints")[:, 0, 9]
    np.testing.assert_allclose(wrist, [[700.0, -50.0]] * 30)
    invisible = by_video["invisible"]
    assert invisible.column("width")[0].as_py() == 640
    scores = tensor_column(invisible, "keypoint_scores")
    assert scores[10, 0].max() == 0.0 and np.isfinite(tensor_column(invisible, "keypoints")).all()
    assert tensor_column(invisible, "person_boxes")[10, 0].tolist() == [0.0] * 4
    assert (scores[:, 0, 1:5] == 0).all()
    two = by_video["two_people"]
    assert two.column("num_persons").to_pylist() == [2] * 30
    assert tensor_column(two, "person_track_ids")[0].tolist() == [0, 1]


def test_clips_missing_from_the_split_file_are_rejected_as_in_the_annotation_path(
        skeleton_pkl, tmp_path, ray_local):
    split_file = tmp_path / "split.json"
    split_file.write_text(json.dumps({"train": ["a", "two_people"], "test": ["b"]}))
    report = ingest.ingest_mmaction_pkl(skeleton_pkl, tmp_path / "t", classes=CLASSES,
                                        allow_pickle=True, split_file=str(split_file))
    rejected = {r["file"].split("#")[1]: r["issues"][0] for r in report.rejected}
    assert "annotations[2]" in rejected and "annotations[3]" in rejected
    assert f"clip 'out_of_frame' is not listed in {split_file}" in rejected["annotations[2]"]
    assert report.videos == {"train": 2, "test": 1}
    only = ingest.ingest_mmaction_pkl(skeleton_pkl, tmp_path / "u", classes=CLASSES,
                                      allow_pickle=True, split_file=str(split_file),
                                      video_ids=["a", "b"])
    assert only.ok and only.videos == {"train": 1, "test": 1}
