"""The workcell-synth generator: determinism, valid documents, operator splits, videos, and the
class construction (which pairs share a motion, which share the object in the hand, and that
tools lie on the bench whatever the action)."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from jobs.make_dataset import main as make_dataset_main
from model.datasets.annotation import DatasetSpec, load_annotation
from model.datasets.splits import load_split_file
from tests.factories import SMALL
from workcell_synth import (
    ACTION_CLASSES,
    DEFAULT_CONFIG,
    OBJECT_CLASSES,
    SAME_MOTION_PAIRS,
    SAME_OBJECT_PAIRS,
    generate_dataset,
    tiny_config,
)
from workcell_synth.annotate import annotate
from workcell_synth.classes import MOVED_TOOL_PAIRS, STATION_TOOLS, TOOL_OF_ACTION
from workcell_synth.generator import GENERATOR_VERSION, load_config, plan_videos
from workcell_synth.motions import PROGRAMS, Workspace
from workcell_synth.objects import ABSENT, HELD, LYING
from workcell_synth.scene import sample_operator, simulate_video


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


def test_the_exported_coco_frames_change_no_video(tmp_path):
    """More training frames in coco/ leave every video and the other splits' COCO files as
    they were: the detector's training set can grow without re-freezing the test set."""
    for folder, train_frames in (("a", 3), ("b", 6)):
        cfg = tiny_config(1, 1, 0)
        cfg["coco"] = dict(cfg["coco"], frames_per_video=dict(cfg["coco"]["frames_per_video"],
                                                              train=train_frames))
        generate_dataset(tmp_path / folder, seed=2, config=cfg, workers=1, **SMALL)
    videos = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").glob("videos/*"))
    assert videos
    for video in videos:
        assert (tmp_path / "a" / video).read_bytes() == (tmp_path / "b" / video).read_bytes()
    coco = "coco/detection_{}.json"
    train_a, train_b = (json.loads((tmp_path / d / coco.format("train")).read_text())
                        for d in "ab")
    assert len(train_b["images"]) == 2 * len(train_a["images"])
    assert ((tmp_path / "a" / coco.format("val")).read_bytes()
            == (tmp_path / "b" / coco.format("val")).read_bytes())


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


def workspace(speed: float = 1.0, spare_tools: tuple = STATION_TOOLS) -> Workspace:
    return Workspace(rest_dom=np.array([0.17, 0.33, 1.0]), rest_non=np.array([-0.17, 0.33, 1.0]),
                     bench_z=0.96, edge_y=0.23, shoulder_z=1.43, fps=15.0, speed=speed,
                     amplitude=1.0, keyframe_shift=0.0, keyframe_jitter=0.03,
                     spare_tools=spare_tools)


def describe(plans: list) -> list[tuple]:
    return [(p.cls, p.role, p.attach, p.release, p.after_release) for p in plans]


@pytest.mark.parametrize("pair", SAME_MOTION_PAIRS)
def test_same_motion_pairs_move_the_wrists_identically(pair):
    cfg = load_config(DEFAULT_CONFIG)["motions"]
    for seed in range(8):
        a, b = (PROGRAMS[label](np.random.default_rng(seed), workspace(0.8 + 0.05 * seed), 60,
                                cfg) for label in pair)
        np.testing.assert_array_equal(a.dom, b.dom)
        np.testing.assert_array_equal(a.non, b.non)
        assert describe(a.objects) != describe(b.objects)


def simulated(label: str, seed: int):
    """A trimmed clip of ``label`` (10 fps, 160x120)."""
    cfg = load_config(DEFAULT_CONFIG)
    operator = sample_operator(np.random.default_rng([seed, 0]), cfg)
    return simulate_video(np.random.default_rng([seed, 1]), cfg, operator, label, 10, 160, 120)


USED_BY_ACTION = {"idle": set(), "reach": set(), "pick_part": {"part"}, "place_part": {"part"},
                  "pack_box": {"part"}, "inspect_part": {"part"}, "scan_barcode": {"scanner"},
                  "fasten_screwdriver": {"screwdriver"}, "drill": {"power_drill"},
                  "tighten_wrench": {"wrench"}, "hammer": {"hammer"}}


def held_classes(truth, role: str) -> set[str]:
    return {o.cls for o in truth.objects if o.role == role and (o.state == HELD).any()}


def test_used_objects_follow_the_class_construction():
    assert set(USED_BY_ACTION) == set(ACTION_CLASSES)
    assert {b for _, b in MOVED_TOOL_PAIRS} == set(TOOL_OF_ACTION)
    for seed in range(3):
        used = {label: held_classes(simulated(label, seed), "used") for label in ACTION_CLASSES}
        assert used == USED_BY_ACTION
        for a, b in SAME_OBJECT_PAIRS:
            assert used[a] == used[b] == {"part"}
        for a, b in SAME_MOTION_PAIRS:
            if (a, b) != ("place_part", "pack_box"):
                assert used[a] != used[b]


def test_every_tool_lies_on_the_bench_whatever_the_action():
    """The giveaway of generator v2: a tool existed only while its action lasted."""
    for seed in range(3):
        for label in ACTION_CLASSES:
            truth = simulated(label, seed)
            for frame in (0, -1):
                present = {o.cls for o in truth.objects if o.state[frame] == LYING}
                assert set(STATION_TOOLS) <= present, (label, seed, frame)
            tools = [o for o in truth.objects if o.cls in STATION_TOOLS]
            assert sorted(o.cls for o in tools) == sorted(STATION_TOOLS)  # one of each


def test_used_objects_are_taken_from_the_bench_and_put_down_again():
    returned = moved = 0
    for seed in range(6):
        for label in ACTION_CLASSES:
            truth = simulated(label, seed)
            for obj in truth.objects:
                held = np.flatnonzero(obj.state == HELD)
                if not held.size:
                    continue
                assert (obj.state[:held[0]] == LYING).all() and held[0] > 0
                assert (np.diff(held) == 1).all()              # held once, without a break
                after = obj.state[held[-1] + 1:]
                if label == "pack_box":
                    assert (after == ABSENT).all()             # inside the box
                    continue
                assert (after == LYING).all() and after.size > 0
                distance = np.linalg.norm(obj.center[0, :2] - obj.center[-1, :2])
                returned += distance < 0.08
                moved += distance > 0.15
    assert returned > 5 and moved > 5       # put down where it was, or somewhere else


def test_spare_tools_are_sometimes_moved_aside_in_idle_and_reach():
    moved = {"idle": 0, "reach": 0}
    for seed in range(12):
        for label in moved:
            truth = simulated(label, seed)
            aside = held_classes(truth, "moved")
            assert aside <= set(STATION_TOOLS) and len(aside) <= 1
            moved[label] += bool(aside)
            assert not held_classes(truth, "used")
    assert all(0 < n < 12 for n in moved.values()), moved


def test_place_and_pack_differ_by_the_box_at_the_release_spot():
    for seed in range(3):
        for label, part_stays in (("place_part", True), ("pack_box", False)):
            objects = simulated(label, seed).objects
            part = next(o for o in objects if o.role == "used")
            released = np.flatnonzero(part.state == HELD)[-1] + 1
            assert (part.state[released:] == LYING).all() == part_stays
            boxes = [o for o in objects if o.cls == "box" and o.role == "static"
                     and np.linalg.norm(o.center[0, :2] - part.center[released - 1, :2]) < 0.1]
            assert bool(boxes) == (not part_stays)


def test_the_hand_hides_held_objects_in_runs():
    """A held part goes missing for runs of frames; the same part lying only now and then."""
    cfg = load_config(DEFAULT_CONFIG)
    held_missed = held = lying_missed = lying = longest = 0
    for seed in range(6):
        truth = simulated("inspect_part", seed)
        doc = annotate(np.random.default_rng(seed), truth, cfg, "v", "v.mp4", 10, 160, 120,
                       trimmed=True)
        part = next(o for o in truth.objects if o.role == "used")
        seen = np.array([any(o.get("track_id") == part.track_id for o in f["objects"])
                         for f in doc["frames"]])
        is_held = part.state == HELD
        held_missed += (~seen & is_held).sum()
        held += is_held.sum()
        lying_missed += (~seen & ~is_held).sum()
        lying += (~is_held).sum()
        missing = np.concatenate([[0], (~seen & is_held).astype(int), [0]])
        edges = np.flatnonzero(np.diff(missing))
        longest = max(longest, int(np.diff(edges)[::2].max(initial=0)))
    assert held_missed / held > 0.3 > 0.15 > lying_missed / lying
    assert longest >= 3
