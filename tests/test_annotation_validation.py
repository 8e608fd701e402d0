"""Each kind of bad annotation gets an error naming the file, the frame and the field."""

import json

import pytest

from model.datasets.annotation import AnnotationError, DatasetSpec, load_annotation
from tests.factories import SPEC, annotation, modified, person


def _issues(tmp_path, doc_or_text, name="bad.json"):
    path = tmp_path / name
    text = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text)
    path.write_text(text)
    with pytest.raises(AnnotationError) as info:
        load_annotation(path, SPEC)
    return path, info.value.issues


def test_valid_document_passes(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(annotation("v1")))
    doc = load_annotation(path, SPEC)
    assert doc["video"]["id"] == "v1"


def test_malformed_json_names_line_and_column(tmp_path):
    path, issues = _issues(tmp_path, '{"format": "workcell-annotation", "version": 1,,}')
    assert len(issues) == 1
    assert str(path) in str(issues[0]) and "line 1 column" in issues[0].message


def test_missing_field(tmp_path):
    doc = modified(annotation("v1"), lambda d: d["video"].pop("fps"))
    _, issues = _issues(tmp_path, doc)
    assert issues[0].field == "video" and issues[0].message == "must contain ['fps'] properties"


def test_keypoints_of_wrong_shape_name_frame_and_field(tmp_path):
    def edit(d):
        d["frames"][7]["persons"][0]["keypoints"] = d["frames"][7]["persons"][0]["keypoints"][:15]
    path, issues = _issues(tmp_path, modified(annotation("v1"), edit))
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.frame, issue.field) == (7, "frames[7].persons[0].keypoints")
    assert "expected at least 17 items, got 15" in issue.message
    assert str(issue).startswith(f"{path}: frame 7: frames[7].persons[0].keypoints:")


def test_keypoint_triple_of_wrong_length(tmp_path):
    def edit(d):
        d["frames"][2]["persons"][0]["keypoints"][4] = [1.0, 2.0]
    _, issues = _issues(tmp_path, modified(annotation("v1"), edit))
    assert issues[0].field == "frames[2].persons[0].keypoints[4]"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_inf_keypoints(tmp_path, literal):
    text = json.dumps(annotation("v1"))
    doc = json.loads(text)
    doc["frames"][3]["persons"][0]["keypoints"][9][1] = "__BAD__"
    text = json.dumps(doc).replace('"__BAD__"', literal)
    _, issues = _issues(tmp_path, text)
    assert len(issues) == 1
    assert (issues[0].frame, issues[0].field) == (3, "frames[3].persons[0].keypoints[9][1]")
    assert "NaN or infinite" in issues[0].message


def test_box_outside_the_frame(tmp_path):
    def edit(d):
        d["frames"][5]["objects"][0]["box"] = [300.0, 100.0, 400.0, 130.0]  # width is 320
    _, issues = _issues(tmp_path, modified(annotation("v1"), edit))
    assert (issues[0].frame, issues[0].field) == (5, "frames[5].objects[0].box")
    assert "outside the 320x240 frame" in issues[0].message


def test_inverted_box(tmp_path):
    def edit(d):
        d["frames"][1]["persons"][0]["box"] = [60.0, 60.0, 50.0, 160.0]
    _, issues = _issues(tmp_path, modified(annotation("v1"), edit))
    assert issues[0].field == "frames[1].persons[0].box" and "x1 < x2" in issues[0].message


def test_unknown_object_class_and_action(tmp_path):
    def edit(d):
        d["frames"][4]["objects"][0]["class"] = "banana"
        d["clip_label"]["label"] = "juggle"
    _, issues = _issues(tmp_path, modified(annotation("v1"), edit))
    messages = {(i.frame, i.field): i.message for i in issues}
    assert messages[(4, "frames[4].objects[0].class")] == "unknown object class 'banana'"
    assert messages[(None, "clip_label.label")] == "unknown action class 'juggle'"


def test_segment_past_the_end(tmp_path):
    doc = annotation("v1", frames=12, segments=[
        {"start_frame": 0, "end_frame": 6, "label": "idle", "person_track_id": 1},
        {"start_frame": 6, "end_frame": 20, "label": "reach", "person_track_id": 1}])
    _, issues = _issues(tmp_path, doc)
    assert [(i.field, i.message) for i in issues] == [
        ("segments[1].end_frame",
         "segment ends at frame 20, past the end of the video (frame_count 12)")]


def test_overlapping_segments_and_unknown_track(tmp_path):
    doc = annotation("v1", frames=12, segments=[
        {"start_frame": 0, "end_frame": 8, "label": "idle", "person_track_id": 1},
        {"start_frame": 6, "end_frame": 12, "label": "reach", "person_track_id": 1},
        {"start_frame": 0, "end_frame": 4, "label": "reach", "person_track_id": 9}])
    _, issues = _issues(tmp_path, doc)
    fields = {i.field: i.message for i in issues}
    assert fields["segments[1]"] == "overlaps segments[0]"
    assert fields["segments[2].person_track_id"] == "track 9 appears in no frame"


def test_overlapping_segments_of_two_persons_are_refused(tmp_path):
    doc = annotation("v1", frames=12, segments=[
        {"start_frame": 0, "end_frame": 8, "label": "idle", "person_track_id": 1}])
    doc["frames"][0]["persons"].append(person(2, 150, 60))
    doc["segments"].append({"start_frame": 4, "end_frame": 12, "label": "reach",
                            "person_track_id": 2})
    _, issues = _issues(tmp_path, doc)
    assert [(i.field, i.message) for i in issues] == [("segments[1]", "overlaps segments[0]")]


def test_nan_detection_score(tmp_path):
    text = json.dumps(annotation("v1")).replace('"score": 0.8', '"score": NaN', 1)
    _, issues = _issues(tmp_path, text)
    assert [(i.frame, i.field) for i in issues] == [(0, "frames[0].objects[0].score")]


def test_frame_index_past_the_end_and_repeated(tmp_path):
    def edit(d):
        d["frames"][10]["index"] = 3
        d["frames"][11]["index"] = 12
    _, issues = _issues(tmp_path, modified(annotation("v1", frames=12), edit))
    assert {(i.frame, i.field) for i in issues} == {(3, "frames[10].index"),
                                                   (12, "frames[11].index")}


def test_both_label_kinds_is_an_error(tmp_path):
    doc = annotation("v1")
    doc["segments"] = [{"start_frame": 0, "end_frame": 6, "label": "idle", "person_track_id": 1}]
    _, issues = _issues(tmp_path, doc)
    assert issues[0].message == "needs exactly one of 'clip_label' or 'segments'"


def test_dataset_manifest_with_duplicate_classes(tmp_path):
    path = tmp_path / "dataset.json"
    manifest = SPEC.to_json()
    manifest["action_classes"] = ["idle", "idle"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(AnnotationError, match="duplicate class names"):
        DatasetSpec.load(path)


def test_duplicate_object_track_in_one_frame(tmp_path):
    def edit(d):
        d["frames"][6]["objects"].append({"track_id": 5, "box": [10, 10, 30, 30],
                                          "class": "screwdriver", "score": 0.7})
        d["frames"][7]["objects"].append({"box": [10, 10, 30, 30], "class": "part",
                                          "score": 0.4})   # untracked: allowed
    _, issues = _issues(tmp_path, modified(annotation("v1"), edit))
    assert [(i.frame, i.field, i.message) for i in issues] == [
        (6, "frames[6].objects[1].track_id", "object track 5 appears twice in one frame")]


def test_groups_must_be_strings(tmp_path):
    doc = modified(annotation("v1"), lambda d: d["video"].update(groups={"operator": 7}))
    _, issues = _issues(tmp_path, doc)
    assert issues[0].field == "video.groups.operator" and "expected string" in issues[0].message
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(modified(annotation("v1"), lambda d: d["video"].update(
        groups={"operator": "op07", "day": "2026-11-30"}))))
    assert load_annotation(path, SPEC)["video"]["groups"]["operator"] == "op07"


def test_oversized_and_too_deeply_nested_files(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(annotation("v1")))
    with pytest.raises(AnnotationError, match=r"big.json: \(file\): .* over the .* limit"):
        load_annotation(path, SPEC, max_bytes=1000)
    _, issues = _issues(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert (issues[0].field, issues[0].message) == ("(document)", "JSON nested too deeply to parse")


def test_the_published_schemas_mmpose_and_the_code_name_one_keypoint_layout():
    """The schemas' layout is the constant the tables, packages and service write, and MMPose's
    COCO description (the pose models' order) has that many joints."""
    from importlib import resources

    from model.datasets.coco_keypoints import KEYPOINT_LAYOUT, NUM_KEYPOINTS, coco_pose_metainfo

    for name in ("annotation.schema.json", "dataset.schema.json"):
        schema = json.loads(resources.files("model.schemas").joinpath(name).read_text())
        assert schema["properties"]["keypoint_layout"] == {"const": KEYPOINT_LAYOUT}, name
    assert coco_pose_metainfo()["num_keypoints"] == NUM_KEYPOINTS
