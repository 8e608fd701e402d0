"""The workcell-synth generator: determinism, valid documents, operator splits, videos, and the
class construction (which pairs share a motion, which share the object in the hand)."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from jobs.make_dataset import main as make_dataset_main
from model.datasets.annotation import DatasetSpec, load_annotation
from model.datasets.splits import load_split_file
from model.datasets.synthetic import (
    ACTION_CLASSES,
    DEFAULT_CONFIG,
    OBJECT_CLASSES,
    SAME_MOTION_PAIRS,
    SAME_OBJECT_PAIRS,
    generate_dataset,
)
from model.datasets.synthetic.generator import GENERATOR_VERSION, load_config, plan_videos
from model.datasets.synthetic.motions import PROGRAMS, Workspace
from model.datasets.synthetic.objects import HELD, LYING
from model.datasets.synthetic.scene import sample_operator, simulate_video
from tests.factories import SMALL, tiny_config


def dataset_bytes(root: Path) -> dict[str, bytes]:
    files = [root / "dataset.json", root / "splits.json", *sorted(root.glob("annotations/*"))]
    return {str(f.relative_to(root)): f.read_bytes() for f in files}


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("workcell") / "seed3"
    generate_dataset(out, seed=3, config=tiny_config(), workers=1, render=False, **SMALL)
    return out


def test_same_seed_gives_identical_files_whatever_the_workers(tiny_dataset, tmp_path):
    generate_dataset(tmp_path, seed=3, config=tiny_config(), workers=2, render=False, **SMALL)
    first, second = dataset_bytes(tiny_dataset), dataset_bytes(tmp_path)
    assert len(first) == 2 + 4 * (len(ACTION_CLASSES) + 1)
    assert first == second


def test_another_seed_gives_other_data(tiny_dataset, tmp_path):
    generate_dataset(tmp_path, seed=4, config=tiny_config(), workers=1, render=False, **SMALL)
    first, second = dataset_bytes(tiny_dataset), dataset_bytes(tmp_path)
    assert first.keys() == second.keys()
    differing = [k for k in first if k.startswith("annotations/") and first[k] != second[k]]
    assert len(differing) == len(first) - 2


def test_every_annotation_is_valid(tiny_dataset):
    spec = DatasetSpec.load(tiny_dataset / "dataset.json")
    assert spec.action_classes == ACTION_CLASSES and spec.object_classes == OBJECT_CLASSES
    generator = json.loads((tiny_dataset / "dataset.json").read_text())["generator"]
    assert (generator["name"], generator["version"], generator["seed"]) == (
        "workcell-synth", GENERATOR_VERSION, 3)
    assert generator["config"]["operators"] == {"train": 2, "val": 1, "test": 1}
    for path in sorted(tiny_dataset.glob("annotations/*.json")):
        doc = load_annotation(path, spec)
        assert doc["video"]["file"] == f"videos/{path.stem}.mp4"
        assert [f["index"] for f in doc["frames"]] == list(range(doc["video"]["frame_count"]))
        if "segments" in doc:
            bounds = [(s["start_frame"], s["end_frame"]) for s in doc["segments"]]
            assert bounds[0][0] == 0 and bounds[-1][1] == doc["video"]["frame_count"]
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
            assert doc["segments"][0]["label"] == "idle"


def test_splits_are_by_operator(tiny_dataset):
    assignment = load_split_file(tiny_dataset / "splits.json")
    assert len(assignment) == len(list(tiny_dataset.glob("annotations/*.json")))
    splits_of: dict[str, set[str]] = {}
    for video_id, split in assignment.items():
        splits_of.setdefault(video_id.split("_")[0], set()).add(split)
    assert all(len(s) == 1 for s in splits_of.values())
    operators = {split: {op for op, s in splits_of.items() if split in s}
                 for split in ("train", "val", "test")}
    assert [len(operators[s]) for s in ("train", "val", "test")] == [2, 1, 1]
    assert not operators["test"] & operators["train"]


def test_scale_multiplies_operators_in_every_split():
    tasks = plan_videos(load_config(DEFAULT_CONFIG), seed=0, scale=5)
    operators = {split: {t.operator for t in tasks if t.split == split}
                 for split in ("train", "val", "test")}
    config = load_config(DEFAULT_CONFIG)
    assert [len(operators[s]) for s in ("train", "val", "test")] == \
        [5 * config["operators"][s] for s in ("train", "val", "test")]
    videos_per_operator = (config["clips_per_class"] * len(ACTION_CLASSES)
                           + config["sequences_per_operator"])
    assert len(tasks) == 5 * sum(config["operators"].values()) * videos_per_operator
    assert tasks[0].video_id == "op000_clip000"  # 300 operators: three digits


def test_videos_match_their_annotations(tmp_path):
    generate_dataset(tmp_path, seed=1, config=tiny_config(1, 0, 0), workers=2, **SMALL)
    for path in sorted(tmp_path.glob("annotations/*.json")):
        video = json.loads(path.read_text())["video"]
        capture = cv2.VideoCapture(str(tmp_path / video["file"]))
        assert capture.isOpened(), video["file"]
        frames = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            assert frame.shape == (video["height"], video["width"], 3)
            frames += 1
        assert frames == video["frame_count"]
        assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == video["frame_count"]


def test_cli_writes_a_dataset(tmp_path, capsys):
    config = tmp_path / "tiny.py"
    config.write_text(Path(DEFAULT_CONFIG).read_text()
                      + "\noperators = dict(train=1, val=0, test=1)\nclips_per_class = 1\n"
                          + "sequences_per_operator = 2\n")
    out = tmp_path / "out"
    assert make_dataset_main(["--out", str(out), "--config", str(config), "--no-video",
                              "--workers", "1", "--fps", "10", "--width", "160",
                              "--height", "120"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["videos"] == 2 * (len(ACTION_CLASSES) + 2)
    assert json.loads((out / "summary.json").read_text())["splits"]["val"]["videos"] == 0
    assert not list((out / "videos").iterdir())
    with pytest.raises(SystemExit) as exit_info:
        make_dataset_main(["--help"])
    assert exit_info.value.code == 0


def workspace(speed: float = 1.0) -> Workspace:
    return Workspace(rest_dom=np.array([0.17, 0.33, 1.0]), rest_non=np.array([-0.17, 0.33, 1.0]),
                     bench_z=0.96, edge_y=0.23, shoulder_z=1.43, fps=15.0, speed=speed,
                     amplitude=1.0, keyframe_shift=0.0, keyframe_jitter=0.03)


def describe(plans: list) -> list[tuple]:
    return [(p.cls, p.lying_at is not None, p.attach, p.release, p.after_release) for p in plans]


@pytest.mark.parametrize("pair", SAME_MOTION_PAIRS)
def test_same_motion_pairs_move_the_wrists_identically(pair):
    cfg = load_config(DEFAULT_CONFIG)["motions"]
    for seed in range(5):
        a, b = (PROGRAMS[label](np.random.default_rng(seed), workspace(0.8 + 0.1 * seed), 45, cfg)
                for label in pair)
        np.testing.assert_array_equal(a.dom, b.dom)
        np.testing.assert_array_equal(a.non, b.non)
        assert describe(a.objects) != describe(b.objects)


def held_and_lying(label: str, seed: int) -> tuple[set[str], list]:
    """Classes held in a clip of ``label``, and the object tracks of the clip."""
    cfg = load_config(DEFAULT_CONFIG)
    operator = sample_operator(np.random.default_rng([seed, 0]), cfg)
    truth = simulate_video(np.random.default_rng([seed, 1]), cfg, operator, label, 10, 160, 120)
    return {o.cls for o in truth.objects if (o.state == HELD).any()}, truth.objects


HELD_BY_ACTION = {"idle": set(), "reach": set(), "pick_part": {"part"}, "place_part": {"part"},
                  "pack_box": {"part"}, "inspect_part": {"part"}, "scan_barcode": {"scanner"},
                  "fasten_screwdriver": {"screwdriver"}, "drill": {"power_drill"},
                  "tighten_wrench": {"wrench"}, "hammer": {"hammer"}}


def test_held_objects_follow_the_class_construction():
    assert set(HELD_BY_ACTION) == set(ACTION_CLASSES)
    for seed in range(3):
        held = {label: held_and_lying(label, seed)[0] for label in ACTION_CLASSES}
        assert held == HELD_BY_ACTION
        for a, b in SAME_OBJECT_PAIRS:
            assert held[a] == held[b] == {"part"}
        for a, b in SAME_MOTION_PAIRS:
            if (a, b) != ("place_part", "pack_box"):
                assert held[a] != held[b]


def test_place_and_pack_differ_by_the_box_at_the_release_spot():
    for seed in range(3):
        for label, part_stays in (("place_part", True), ("pack_box", False)):
            _, objects = held_and_lying(label, seed)
            part = next(o for o in objects if (o.state == HELD).any())
            released = np.flatnonzero(part.state == HELD)[-1] + 1
            assert (part.state[released:] == LYING).all() == part_stays
            boxes = [o for o in objects if o.cls == "box"
                     and np.linalg.norm(o.center[0, :2] - part.center[released - 1, :2]) < 0.1]
            assert bool(boxes) == (not part_stays)
