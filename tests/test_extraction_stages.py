"""The pieces of the extraction pipeline on inline inputs: decoding shards, choosing and
padding detections, the tracker, the subject, manifests and the checkpoint policy."""

import cv2
import numpy as np
import pytest

from actors.detector import DROPPED, PERSON, class_targets, select_detections
from actors.openmmlab_models import MissingCheckpointError, choose_model
from actors.video_decode import DecodeShard, VideoError, plan_shards, probe_video
from actors.video_features import choose_subjects, track
from jobs.extract import load_config
from model.datasets.video_manifest import ManifestError, read_manifest, videos_in_folder

LIGHT = "model/configs/extraction/light.py"


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """40 frames whose pixels encode their index (a bright bar at x = 4 * index)."""
    path = tmp_path_factory.mktemp("video") / "bars.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(40):
        frame = np.zeros((120, 160, 3), np.uint8)
        frame[:, 4 * i: 4 * i + 4] = 255
        writer.write(frame)
    writer.release()
    return path


def _bar(frame: np.ndarray) -> int:
    return int(np.argmax(frame[60, :, 0] > 128)) // 4


def test_shards_put_together_are_the_whole_video(video):
    info = probe_video(video)
    assert (info.num_frames, info.width, info.height, info.fps) == (40, 160, 120, 10)
    for stride in (1, 3):
        shards = plan_shards("bars", info, shard_frames=16, stride=stride)
        assert len(shards) > 1 and all(s["start"] % stride == 0 for s in shards)
        rows = [r for s in shards for r in DecodeShard(batch_frames=5)(s)]
        indices = np.concatenate([r["frame_indices"] for r in rows])
        np.testing.assert_array_equal(indices, np.arange(0, 40, stride))
        # The pixels are those of the frame the index names: seeking is exact.
        assert [_bar(f) for r in rows for f in r["frames"]] == list(range(0, 40, stride))
        assert sum(r["last_in_shard"] for r in rows) == len(shards)
        # The last row of each shard says how many rows the shard gave.
        for shard in shards:
            mine = [r for r in rows if r["shard"] == shard["shard"]]
            assert [r["shard_rows"] for r in mine] == [0] * (len(mine) - 1) + [len(mine)]
        assert all(len(r["frames"]) <= 5 and not r["error"] for r in rows)


def test_resize_records_the_scale(video):
    shard = plan_shards("bars", probe_video(video), 100, 1)[0]
    row = next(iter(DecodeShard(batch_frames=4, resize=(80, 60))(shard)))
    assert row["frames"].shape == (4, 60, 80, 3)
    np.testing.assert_allclose(row["scale"], [0.5, 0.5])


def test_a_video_that_ends_early_yields_an_error_row(video):
    shard = plan_shards("bars", probe_video(video), 100, 1)[0]
    shard["end"] = 50  # the container "declares" 50 frames, the file has 40
    rows = list(DecodeShard(batch_frames=8)(shard))
    assert sum(len(r["frame_indices"]) for r in rows) == 40
    assert rows[-1]["last_in_shard"] and "frame 40: could not be decoded" in rows[-1]["error"]
    assert str(video) in rows[-1]["error"]


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 5000)
    with pytest.raises(VideoError, match="junk.mp4"):
        probe_video(junk)


def test_class_targets_map_by_name_and_by_the_map():
    targets, notes = class_targets(
        ("person", "cup", "scissors", "car", "cell_phone"), ("cup", "screwdriver", "scanner"),
        {"scissors": "screwdriver", "car": "truck", "dog": "cup", "cell phone": "scanner"})
    assert targets.tolist() == [PERSON, 0, 1, DROPPED, 2]
    assert any("'dog' is not a class of the detector" in n for n in notes)
    assert any("'truck' is neither" in n for n in notes)
    # Random weights: every class not mapped onto an object counts as a person.
    targets, _ = class_targets(("car", "cup"), ("cup",), {}, unmapped="person")
    assert targets.tolist() == [PERSON, 0]
    with pytest.raises(ValueError, match="unmapped_classes"):
        class_targets(("car",), ("cup",), {}, unmapped="keep")


def test_select_detections_filters_sorts_and_pads():
    targets = np.array([PERSON, 0, DROPPED])
    boxes = np.array([[0, 0, 50, 80], [10, 10, 60, 90], [5, 5, 6, 6], [0, 0, 20, 20],
                      [0, 0, 30, 30], [np.nan, 0, 10, 10], [-20, -5, 500, 300]], np.float32)
    scores = np.array([0.9, 0.95, 0.99, 0.8, 0.7, 0.99, 0.6], np.float32)
    labels = np.array([0, 0, 0, 1, 2, 1, 1])
    out = select_detections(boxes, scores, labels, targets, width=200, height=100,
                            score_thr=0.5, min_box_px=2.0, max_persons=1, max_objects=3)
    # The tiny box and the NaN box are dropped, persons keep the top one, class 2 is dropped.
    assert out["num_persons"] == 1 and out["person_scores"][0] == pytest.approx(0.95)
    assert out["num_objects"] == 2
    np.testing.assert_allclose(out["object_scores"], [0.8, 0.6, 0])
    np.testing.assert_allclose(out["object_boxes"][1], [0, 0, 200, 100])  # clipped
    assert out["object_classes"].tolist() == [0, 0, -1]


def _frames(person_boxes, object_boxes, object_classes):
    t = len(person_boxes)
    return {"person_boxes": np.asarray(person_boxes, np.float32),
            "person_scores": np.full((t, len(person_boxes[0])), 0.9, np.float32),
            "num_persons": np.full(t, len(person_boxes[0]), np.int16),
            "object_boxes": np.asarray(object_boxes, np.float32),
            "object_scores": np.full((t, len(object_boxes[0])), 0.9, np.float32),
            "object_classes": np.asarray(object_classes, np.int16),
            "num_objects": np.full(t, len(object_boxes[0]), np.int16)}


def test_the_library_tracker_keeps_ids_across_frames():
    cfg = load_config(LIGHT, None).tracker.to_dict()
    t = 12
    walkers = [[[10 + 3 * i, 10, 60 + 3 * i, 110], [150 - 2 * i, 20, 190 - 2 * i, 110]]
               for i in range(t)]
    tools = [[[100, 50, 120, 60], [100, 50, 120, 60]] for _ in range(t)]
    person_ids, object_ids = track(_frames(walkers, tools, [[0, 1]] * t), cfg)
    assert (person_ids >= 0).all() and (object_ids >= 0).all()
    # One id per walker for the whole clip, two different ones; same-box objects of two
    # classes are two tracks (the tracker matches by category).
    assert len(set(person_ids[:, 0])) == 1 and len(set(person_ids[:, 1])) == 1
    assert person_ids[0, 0] != person_ids[0, 1]
    assert len({*object_ids[:, 0]}) == 1 and object_ids[0, 0] != object_ids[0, 1]


def test_the_subject_is_the_track_over_the_annotated_box():
    person_ids = np.array([[4, 7]] * 3 + [[4, 7]] * 3, np.int32)
    boxes = np.array([[[0, 0, 10, 10], [50, 50, 90, 90]]] * 6, np.float32)
    doc = {"frames": [{"index": i, "persons": [{"track_id": 1, "box": [52, 50, 90, 92]}]}
                      for i in range(6)]}
    segment = np.array([0, 0, 0, 1, 1, 1])
    annotated = np.array([1, 1, 1, 3, 3, 3])  # segment 1 names a person nobody sees
    subject, found, named = choose_subjects(person_ids, boxes, np.arange(6), annotated,
                                            segment, doc, min_iou=0.3)
    assert subject.tolist() == [7, 7, 7, -1, -1, -1] and (found, named) == (1, 2)


def test_the_checkpoint_policy():
    cfg = load_config(LIGHT, None)
    with pytest.raises(MissingCheckpointError, match="rtmpose-t.*download.openmmlab.com"):
        choose_model(cfg, "pose", random_weights=False)
    assert choose_model(cfg, "pose", random_weights=True).checkpoint is None
    cfg.merge_from_dict({"detector.checkpoint": "official"})
    choice = choose_model(cfg, "detector", random_weights=False)
    assert choice.checkpoint == choice.official_checkpoint and \
        choice.checkpoint.startswith("https://download.openmmlab.com/mmdetection/")
    with pytest.raises(ValueError, match="exclude each other"):
        choose_model(cfg, "detector", random_weights=True)
    cfg.merge_from_dict({"detector.model": "yolo-huge"})
    with pytest.raises(ValueError, match="unknown model 'yolo-huge'"):
        choose_model(cfg, "detector", random_weights=True)


@pytest.mark.parametrize("text, message", [
    ("video,split\n,train\n", "row 1: video: missing"),
    ("video,split\na.mp4,holdout\n", "row 1: split: 'holdout'"),
    ("video\na.mp4\nsub/a.mp4\n", "row 2: video id 'a' repeats row 1"),
    ("video\n", "lists no video"),
])
def test_manifest_errors_name_the_row_and_field(tmp_path, text, message):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(ManifestError, match=message):
        read_manifest(path)


def test_a_json_manifest_resolves_paths_beside_it(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('[{"video": "v/a.mp4", "annotation": "ann/a.json", "split": "val"}]')
    (item,) = read_manifest(path)
    assert (item.video_id, item.path, item.annotation, item.split) == \
        ("a", str(tmp_path / "v/a.mp4"), str(tmp_path / "ann/a.json"), "val")


def test_a_folder_with_two_videos_of_one_stem_is_refused(tmp_path):
    (tmp_path / "cam0.mp4").write_bytes(b"")
    (tmp_path / "cam0.avi").write_bytes(b"")
    with pytest.raises(ManifestError, match="video id 'cam0' is also cam0.avi"):
        videos_in_folder(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("detector, pose", [("rtmdet-tiny", "rtmpose-t"),
                                            ("yolox-tiny", "hrnet-w32"),
                                            ("faster-rcnn", "rtmpose-t")])
def test_every_zoo_model_builds_and_runs_on_a_frame(video, detector, pose):
    from actors.detector import DetectorStage
    from actors.pose import PoseStage

    cfg = load_config(LIGHT, {"detector.model": detector, "pose.model": pose})
    frames = next(iter(DecodeShard(batch_frames=2)(
        plan_shards("bars", probe_video(video), 100, 1)[0])))["frames"]
    stage = DetectorStage(choose_model(cfg, "detector", True), ("cup",), {}, 0.0, 0.0, 2, 4)
    (boxes, scores, labels), _ = stage.detect(frames)
    assert boxes.shape[1] == 4 and len(boxes) == len(scores) == len(labels)
    keypoints, kp_scores = PoseStage(choose_model(cfg, "pose", True)).estimate(
        frames, np.array([[[10, 10, 90, 110], [0, 0, 0, 0]]] * 2, np.float32),
        np.array([1, 0]))
    assert keypoints.shape == (2, 2, 17, 2) and kp_scores.shape == (2, 2, 17)
    assert np.isfinite(keypoints[:, 0]).all() and (keypoints[:, 1] == 0).all()
