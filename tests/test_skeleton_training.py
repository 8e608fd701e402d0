"""A pose-only model trained and evaluated on MMAction2 skeleton .pkl data written here."""

import gzip
import json
import pickle

import numpy as np
import pytest

from jobs import evaluate, ingest, train
from model.datasets.feature_table import read_feature_table
from model.datasets.mmaction_pkl import PickleNotAllowedError

pytestmark = pytest.mark.slow

CLASSES = ["wave", "squat", "still"]
CONFIG = "model/configs/skeleton/stgcnpp_j_pose_only.py"
CLIPS_PER_CLASS, VAL_PER_CLASS = 20, 6
NUM_CLIPS = 3 * CLIPS_PER_CLASS


def _clip(name: str, label: int, rng: np.random.Generator) -> dict:
    frames = int(rng.integers(30, 50))
    height, width = [(360, 480), (480, 640), (270, 480)][int(rng.integers(3))]
    t = np.linspace(0, 2 * np.pi, frames)[:, None]
    base = np.array([[width / 2 + (j % 3 - 1) * 20, height * 0.2 + j * 12] for j in range(17)])
    kp = np.repeat(base[None], frames, 0)
    if label == 0:
        kp[:, 10, 0] += 40 * np.sin(3 * t[:, 0])               # right wrist waves
    elif label == 1:
        kp[:, :, 1] += 30 * (1 - np.cos(t))                    # the whole body goes down, up
    kp += rng.normal(0, 1.5, kp.shape)
    score = np.ones((1, frames, 17), np.float32)
    score[..., 1:5] = 0.0                                       # eyes and ears never visible
    return {"frame_dir": name, "label": label, "img_shape": (height, width),
            "original_shape": (height, width), "total_frames": frames,
            "keypoint": kp[None].astype(np.float32), "keypoint_score": score}


@pytest.fixture(scope="module")
def skeleton_data(tmp_path_factory, ray_local):
    rng = np.random.default_rng(0)
    records = [_clip(f"{CLASSES[c]}_{i:02d}", c, rng) for c in range(3)
               for i in range(CLIPS_PER_CLASS)]
    root = tmp_path_factory.mktemp("skeleton")
    pkl = root / "clips.pkl.gz"
    ids = [r["frame_dir"] for r in records]
    val_ids = [i for i in ids if int(i.rsplit("_", 1)[1]) >= CLIPS_PER_CLASS - VAL_PER_CLASS]
    with gzip.open(pkl, "wb") as f:
        pickle.dump({"split": {"train": ids}, "annotations": records}, f)
    split_file = root / "split.json"
    split_file.write_text(json.dumps({"train": [i for i in ids if i not in val_ids],
                                      "val": val_ids}))
    (root / "classes.txt").write_text("\n".join(CLASSES))
    assert ingest.main(["--mmaction-pkl", str(pkl), "--allow-pickle", "--classes",
                        str(root / "classes.txt"), "--split-file", str(split_file),
                        "--out", str(root / "features")]) == 0
    return root, pkl, val_ids


def test_the_validation_id_list_is_honoured(skeleton_data):
    root, _, val_ids = skeleton_data
    table, _ = read_feature_table(root / "features", splits=["val"], columns=["video_id"])
    assert sorted(set(table.column("video_id").to_pylist())) == sorted(val_ids)
    train_table, _ = read_feature_table(root / "features", splits=["train"],
                                        columns=["video_id"])
    assert not set(train_table.column("video_id").to_pylist()) & set(val_ids)


def test_pose_only_config_learns_separable_clips_and_evaluates_a_pkl(skeleton_data):
    """Waving, squatting and standing still are separable from the joints: trained a few
    epochs, the model scores the held-out clips far above chance (1/3)."""
    root, pkl, val_ids = skeleton_data
    # Batches of 4 over 42 training clips: 11 steps an epoch, so that BatchNorm's running
    # statistics (used at evaluation) follow the weights; with 21 clips in batches of 16 (2 steps
    # an epoch) the evaluated model predicted one class while training accuracy was perfect.
    # The config's network at half width on windows of 48 frames (its 100 would repeat these
    # 30-50 frame clips' frames): the same architecture and pipeline, less compute (161 -> 72 s).
    options = {"num_classes": 3, "model.cls_head.num_classes": 3, "train_cfg.max_epochs": 8,
               "train_cfg.batch_size": 4, "train_cfg.early_stop_patience": 100,
               "model.backbone.pose.base_channels": 32, "model.cls_head.in_channels": 128,
               **{f"{pipeline}.0.clip_len": 48
                  for pipeline in ("train_pipeline", "val_pipeline", "test_pipeline")}}
    metrics = train.train(CONFIG, str(root / "features"), str(root / "run"), options=options)
    assert len(metrics["history"]) == 8
    package = root / "run" / "package"
    assert json.loads((package / "classes.json").read_text())["action_classes"] == CLASSES
    with pytest.raises(PickleNotAllowedError):
        evaluate.evaluate_pkl(package, pkl, root / "eval", allow_pickle=False)
    # The file's only split is "train": those are the clips scored, and it says so.
    result = evaluate.evaluate_pkl(package, pkl, root / "eval", allow_pickle=True,
                                   num_clips=2)
    assert result["clips"]["num_clips"] == NUM_CLIPS
    assert result["ingest"]["scored"] == \
        f"split 'train' (the file's only split): {NUM_CLIPS} clips"
    assert result["num_clips_per_window"] == 2
    for name in ("metrics.json", "metrics.md", "confusion_matrix.png"):
        assert (root / "eval" / name).exists()
    held_out = [p for p in result["predictions"] if p["video_id"] in val_ids]
    assert np.mean([p["label"] == p["predicted"] for p in held_out]) >= 0.8
    assert result["clips"]["top1"] >= 0.8


@pytest.fixture(scope="module")
def two_split_pkl(skeleton_data):
    """The clips with a train/test split, and one broken clip in the test split."""
    root, pkl, val_ids = skeleton_data
    with gzip.open(pkl, "rb") as f:
        doc = pickle.load(f)  # noqa: S301 - written by this test module
    broken = dict(doc["annotations"][0], frame_dir="broken")
    broken["keypoint"] = broken["keypoint"][:, :, :15]
    doc["annotations"].append(broken)
    doc["split"] = {"train": [i for i in doc["split"]["train"] if i not in val_ids],
                    "test": val_ids + ["broken"]}
    path = root / "two_splits.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(doc, f)
    return root, path, val_ids


def test_a_file_with_several_splits_needs_the_split_to_score(two_split_pkl):
    root, pkl, _ = two_split_pkl
    package = root / "run" / "package"
    with pytest.raises(SystemExit, match=r"has splits \['test', 'train'\]: choose .*--pkl-split"):
        evaluate.evaluate_pkl(package, pkl, root / "e", allow_pickle=True)
    every = evaluate.evaluate_pkl(package, pkl, root / "every", allow_pickle=True,
                                  all_clips=True, num_clips=1)
    assert every["clips"]["num_clips"] == NUM_CLIPS
    assert "every clip of the file, all its splits ['test', 'train'] included" in \
        every["ingest"]["scored"]


def test_rejected_clips_are_reported_and_set_the_exit_status(two_split_pkl, capsys):
    root, pkl, val_ids = two_split_pkl
    out = root / "test_eval"
    status = evaluate.main(["--package", str(root / "run" / "package"), "--mmaction-pkl",
                            str(pkl), "--allow-pickle", "--pkl-split", "test", "--out",
                            str(out), "--num-clips", "1"])
    assert status == 1
    err = capsys.readouterr().err
    assert "rejected, not scored" in err and f"annotations[{NUM_CLIPS}](broken).keypoint" in err
    report = (out / "metrics.md").read_text()
    assert "## Rejected clips (1): not in the figures below" in report
    assert "scored: split 'test'" in report
    assert json.loads((out / "metrics.json").read_text())["clips"]["num_clips"] == len(val_ids)
