"""The ingest job on real Ray Data and real Parquet files: good files land, bad ones are named."""

import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from jobs import ingest
from model.datasets.feature_table import (
    SCHEMA_VERSION,
    FeatureTableError,
    read_feature_table,
    read_info,
    tensor_column,
)
from tests.factories import SPEC, annotation, modified, write_dataset


def _bad_shape(d):
    d["frames"][3]["persons"][0]["keypoints"].pop()


def _nan(d):
    d["frames"][2]["persons"][0]["keypoints"][0][0] = float("nan")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, ray_local):
    root = tmp_path_factory.mktemp("dataset")
    good = [annotation(f"good{i}", frames=10 + i, label=SPEC.action_classes[i % 3])
            for i in range(6)]
    untrimmed = annotation("seq0", frames=20, segments=[
        {"start_frame": 0, "end_frame": 8, "label": "idle", "person_track_id": 1},
        {"start_frame": 12, "end_frame": 20, "label": "pick_part", "person_track_id": 1}])
    bad = [modified(annotation("bad_shape"), _bad_shape), modified(annotation("bad_nan"), _nan)]
    duplicate = annotation("good0", frames=10)
    docs = good + [untrimmed] + bad
    write_dataset(root, docs, raw={"dup_of_good0.json": json.dumps(duplicate),
                                   "truncated.json": '{"format": "workcell-annota'})
    splits = {"train": ["good0", "good1", "good2", "seq0"], "val": ["good3"],
              "test": ["good4", "good5", "bad_nan", "bad_shape"]}
    (root / "splits.json").write_text(json.dumps(splits))
    out = root / "features"
    report = ingest.ingest_annotations(root, out, max_persons=2, max_objects=3)
    return root, out, report


def test_bad_files_are_named_and_the_rest_ingested(ingested):
    root, out, report = ingested
    rejected = {r["file"].split("/")[-1]: r["issues"] for r in report.rejected}
    assert set(rejected) == {"bad_shape.json", "bad_nan.json", "truncated.json",
                             "good0.json", "dup_of_good0.json"}
    assert "frame 3: frames[3].persons[0].keypoints: expected at least 17" in \
        rejected["bad_shape.json"][0]
    assert "frame 2: frames[2].persons[0].keypoints[0][0]" in rejected["bad_nan.json"][0]
    assert "malformed JSON" in rejected["truncated.json"][0]
    assert "duplicate video id 'good0'" in rejected["good0.json"][0]
    assert not report.ok
    assert report.videos == {"train": 3, "val": 1, "test": 2}
    summary = json.loads((out / "ingest_report.json").read_text())
    assert len(summary["rejected"]) == 5
    assert "## Rejected files (5)" in (out / "ingest_report.md").read_text()


def test_parquet_round_trip(ingested):
    _, out, _ = ingested
    info = read_info(out)
    assert info.schema_version == SCHEMA_VERSION
    assert info.action_classes == SPEC.action_classes
    assert (info.max_persons, info.max_objects) == (2, 3)
    table, _ = read_feature_table(out, splits=["train"])
    assert sorted(set(table.column("video_id").to_pylist())) == ["good1", "good2", "seq0"]
    seq = table.filter(pc.equal(table.column("video_id"), "seq0"))
    assert seq.column("frame_index").to_pylist() == list(range(20))
    labels = seq.column("label").to_numpy()
    assert labels[:8].tolist() == [0] * 8 and labels[8:12].tolist() == [-1] * 4
    assert labels[12:].tolist() == [2] * 8
    assert seq.column("segment_index").to_numpy()[12] == 1
    keypoints = tensor_column(seq, "keypoints")
    assert keypoints.shape == (20, 2, 17, 2) and keypoints.dtype == np.float32
    # The subject moves one pixel right per frame (see annotation_factory.person).
    np.testing.assert_allclose(keypoints[5, 0, 0], [75.0, 65.0])
    assert tensor_column(seq, "person_track_ids")[:, 0].tolist() == [1] * 20
    assert tensor_column(seq, "object_classes")[0].tolist() == [0, -1, -1]


def test_reading_another_schema_version_is_refused(ingested, tmp_path):
    _, out, _ = ingested
    source = next(out.glob("split=val/*.parquet"))
    table = pq.read_table(source)
    meta = dict(table.schema.metadata)
    meta[b"workcell.schema_version"] = b"99"
    (tmp_path / "split=val").mkdir()
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "split=val" / "x.parquet")
    with pytest.raises(FeatureTableError, match="schema version 99, this code reads version 1"):
        read_info(tmp_path)


def test_cli_exit_codes(ingested, tmp_path):
    root, _, _ = ingested
    assert ingest.main(["--dataset", str(root), "--out", str(tmp_path / "t")]) == 1
    clean = write_dataset(tmp_path / "clean", [annotation(f"c{i}") for i in range(4)])
    assert ingest.main(["--dataset", str(clean), "--out", str(tmp_path / "c"),
                        "--val-fraction", "0.25", "--test-fraction", "0.25"]) == 0
    splits = json.loads((tmp_path / "c" / "splits.json").read_text())
    assert sorted(len(v) for v in splits.values()) == [1, 1, 2]


def test_a_file_that_breaks_the_parser_or_is_too_large_rejects_only_itself(tmp_path, ray_local):
    """A pathologically nested document raises RecursionError in the JSON parser, not a JSON
    error; an oversized file is refused unread. The other files are ingested, the report is
    written."""
    good = [annotation(f"ok{i}", frames=10) for i in range(3)]
    root = write_dataset(tmp_path / "d", good, raw={
        "nested.json": "[" * 20_000 + "]" * 20_000,
        "huge.json": json.dumps(annotation("huge", frames=400))})
    limit = 60_000
    assert (root / "annotations" / "huge.json").stat().st_size > limit
    assert all((root / "annotations" / f"ok{i}.json").stat().st_size < limit for i in range(3))
    report = ingest.ingest_annotations(root, tmp_path / "t", val_fraction=0.0,
                                       test_fraction=0.34, max_annotation_bytes=limit)
    rejected = {r["file"].split("/")[-1]: r["issues"][0] for r in report.rejected}
    assert set(rejected) == {"nested.json", "huge.json"}
    assert "nested too deeply" in rejected["nested.json"]
    assert "over the 0.1 MB limit" in rejected["huge.json"]
    assert sum(report.videos.values()) == 3
    assert "nested.json" in (tmp_path / "t" / "ingest_report.md").read_text()


def _grouped(video_id: str, operator: str | None) -> dict:
    doc = annotation(video_id, frames=10)
    if operator is not None:
        doc["video"]["groups"] = {"operator": operator, "camera": "cam1"}
    return doc


def test_group_by_keeps_each_operator_in_one_split(tmp_path, ray_local):
    docs = [_grouped(f"{op}_v{i}", op) for op in ("ann", "bob", "cy", "dee", "eve", "fay")
            for i in range(3)]
    root = write_dataset(tmp_path / "d", docs + [_grouped("nobody", None)])
    report = ingest.ingest_annotations(root, tmp_path / "t", group_by="operator",
                                       val_fraction=0.2, test_fraction=0.2, seed=3)
    assert [r["file"].split("/")[-1] for r in report.rejected] == ["nobody.json"]
    assert "video.groups.operator: missing" in report.rejected[0]["issues"][0]
    splits = json.loads((tmp_path / "t" / "splits.json").read_text())
    split_of_operator = {}
    for split, ids in splits.items():
        for video_id in ids:
            split_of_operator.setdefault(video_id.split("_")[0], set()).add(split)
    assert all(len(s) == 1 for s in split_of_operator.values())
    assert {s for v in split_of_operator.values() for s in v} == {"train", "val", "test"}
    assert any("by video.groups.operator (6 groups" in note for note in report.notes)
