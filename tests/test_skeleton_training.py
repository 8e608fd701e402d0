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
    records = [_clip(f"{CLASSES[c]}_{i:02d}", c, rng) for c in range(3) for i in range(10)]
    root = tmp_path_factory.mktemp("skeleton")
    pkl = root / "clips.pkl.gz"
    ids = [r["frame_dir"] for r in records]
    val_ids = [i for i in ids if i.endswith(("_07", "_08", "_09"))]
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


def test_pose_only_config_trains_and_evaluates_a_pkl(skeleton_data):
    root, pkl, val_ids = skeleton_data
    options = {"num_classes": 3, "model.cls_head.num_classes": 3, "train_cfg.max_epochs": 2}
    metrics = train.train(CONFIG, str(root / "features"), str(root / "run"), options=options)
    assert len(metrics["history"]) == 2
    package = root / "run" / "package"
    assert json.loads((package / "classes.json").read_text())["action_classes"] == CLASSES
    with pytest.raises(PickleNotAllowedError):
        evaluate.evaluate_pkl(package, pkl, root / "eval", allow_pickle=False)
    result = evaluate.evaluate_pkl(package, pkl, root / "eval", allow_pickle=True,
                                   num_clips=2)
    assert result["clips"]["num_clips"] == 30
    assert result["num_clips_per_window"] == 2
    for name in ("metrics.json", "metrics.md", "confusion_matrix.png"):
        assert (root / "eval" / name).exists()
    assert 0.0 <= result["clips"]["top1"] <= 1.0
