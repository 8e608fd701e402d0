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
