"""The raw-video path: jobs.extract with real MMDetection / MMPose architectures on rendered
videos, the table it writes, failures, reruns, a crash and its resume."""

import json
import re
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from jobs import extract, train
from jobs.ingest import ingest_annotations
from model.datasets.annotation import DatasetSpec, load_annotation
from model.datasets.feature_table import read_feature_table, read_info, tensor_column
from model.datasets.frame_rows import frame_labels
from tests.factories import SMALL
from workcell_synth import generate_dataset, tiny_config

pytestmark = pytest.mark.slow

RANDOM = "model/configs/extraction/light_random_weights.py"
# Short shards, so that every clip is cut into several and put back together; every other
# frame, to keep the test short.
STRIDE = 2
OPTIONS = ["video.shard_frames=16", f"video.stride={STRIDE}"]
# Training needs every class: all the clips of one operator; one clip each for val and test.
VIDEOS = {**{f"op00_clip{i:03d}": "train" for i in range(11)}, "op01_clip000": "val",
          "op02_clip000": "test"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A tiny rendered dataset (MP4 + annotations) and a manifest of four of its clips."""
    root = tmp_path_factory.mktemp("rendered")
    generate_dataset(root / "data", seed=5, config=tiny_config(train=1, val=1, test=1),
                     workers=2, render=True, **SMALL)
    manifest = root / "manifest.csv"
    manifest.write_text("video,annotation,split\n" + "".join(
        f"data/videos/{v}.mp4,data/annotations/{v}.json,{s}\n" for v, s in VIDEOS.items()))
    return root


def _run(rendered, out, *extra) -> int:
    return extract.main(["--manifest", str(rendered / "manifest.csv"), "--spec",
                         str(rendered / "data" / "dataset.json"), "--out", str(out),
                         "--config", RANDOM, "--random-weights", "--no-progress",
                         "--cfg-options", *OPTIONS, *extra])


@pytest.fixture(scope="module")
def extracted(rendered, ray_local):
    out = rendered / "extracted"
    assert _run(rendered, out, "--actors", "2") == 0
    return out


def test_the_table_has_the_ingest_schema_and_says_random_weights(rendered, extracted):
    ingested = rendered / "ingested"
    ingest_annotations(rendered / "data", ingested, max_persons=2, max_objects=16, workers=1)
    ours = pq.read_schema(next(extracted.glob("split=train/*.parquet")))
    theirs = pq.read_schema(next(ingested.glob("split=train/*.parquet")))
    assert [(f.name, f.type) for f in ours] == [(f.name, f.type) for f in theirs]
    info, reference = read_info(extracted), read_info(ingested)
    assert (info.schema_version, info.action_classes, info.object_classes) == \
        (reference.schema_version, reference.action_classes, reference.object_classes)
    assert reference.source == {"kind": "annotations"} and not reference.from_random_weights
    assert info.from_random_weights and info.source["kind"] == "extraction"
    assert info.source["detector"]["model"] == "yolox-tiny"
    assert info.source["pose"]["checkpoint"] == "random weights"


def test_every_frame_is_a_row_with_the_annotation_labels(rendered, extracted):
    spec = DatasetSpec.load(rendered / "data" / "dataset.json")
    table, _ = read_feature_table(extracted)
    assert set(table.column("video_id").to_pylist()) == set(VIDEOS)
    for video_id, split in VIDEOS.items():
        rows = table.filter(table.column("video_id").to_numpy(zero_copy_only=False) == video_id)
        doc = load_annotation(rendered / "data" / "annotations" / f"{video_id}.json", spec)
        assert rows.num_rows == len(range(0, doc["video"]["frame_count"], STRIDE))
        assert rows.column("frame_index").to_pylist() == list(range(rows.num_rows))
        assert set(rows.column("split").to_pylist()) == {split}
        assert set(rows.column("fps").to_pylist()) == {doc["video"]["fps"] / STRIDE}
        np.testing.assert_array_equal(rows.column("label").to_numpy(),
                                      frame_labels(doc, spec)[0][::STRIDE])
        # Random detections still give every stage its work: poses and tracked objects.
        persons = rows.column("num_persons").to_numpy()
        assert (persons == 2).all()
        ids = tensor_column(rows, "person_track_ids")
        assert (ids[:, :2] >= 0).all()
        kp = tensor_column(rows, "keypoints")
        assert np.isfinite(kp).all() and (kp != 0).any()
        objects = rows.column("num_objects").to_numpy()
        assert (objects > 0).mean() > 0.5
        classes = tensor_column(rows, "object_classes")
        filled = np.arange(classes.shape[1]) < objects[:, None]
        assert (classes[filled] >= 0).all() and (classes[~filled] == -1).all()
    report = json.loads((extracted / "extract_report.json").read_text())
    assert report["videos_written"] == len(VIDEOS) and not report["failures"]
    assert json.loads((extracted / "splits.json").read_text())["val"] == ["op01_clip000"]


def test_one_epoch_trains_on_the_extracted_table(extracted, tmp_path):
    metrics = train.train("model/configs/workcell/fusion_xattn_stgcnpp.py", str(extracted),
                          str(tmp_path / "run"), num_workers=1,
                          options={"train_cfg.max_epochs": 1, "train_cfg.batch_size": 4})
    assert metrics["epochs_run"] == 1
    assert np.isfinite(metrics["selected_epoch_metrics"]["train_loss"])
    assert (tmp_path / "run" / "package" / "weights.pth").exists()


def test_a_rerun_skips_what_is_written(rendered, extracted):
    started = time.perf_counter()
    assert _run(rendered, extracted) == 0
    report = json.loads((extracted / "extract_report.json").read_text())
    assert report["videos_skipped"] == len(VIDEOS) and report["videos_written"] == 0
    assert time.perf_counter() - started < 30


def test_a_rerun_with_other_settings_is_refused(rendered, extracted, capsys):
    assert _run(rendered, extracted, "video.stride=3") == 2
    assert re.search("other settings.*video", capsys.readouterr().err)


def test_without_a_checkpoint_it_refuses(rendered, tmp_path, capsys):
    out = tmp_path / "out"
    code = extract.main(["--manifest", str(rendered / "manifest.csv"), "--spec",
                         str(rendered / "data" / "dataset.json"), "--out", str(out),
                         "--config", "model/configs/extraction/light.py"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "--random-weights" in err
    assert "https://download.openmmlab.com/" in err
    assert not out.exists()


def _bad_videos(rendered, folder):
    """A corrupt file, a truncated MP4, a video without frames, and one good clip."""
    folder.mkdir()
    good = rendered / "data" / "videos" / "op02_clip000.mp4"
    shutil.copy(good, folder / "good.mp4")
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(20_000))
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    writer = cv2.VideoWriter(str(folder / "empty.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                             (160, 120))
    writer.release()


def test_bad_videos_fail_alone_and_are_reported(rendered, tmp_path, ray_local):
    _bad_videos(rendered, tmp_path / "videos")
    out = tmp_path / "out"
    code = extract.main(["--videos", str(tmp_path / "videos"), "--spec",
                         str(rendered / "data" / "dataset.json"), "--out", str(out),
                         "--config", RANDOM, "--random-weights", "--no-progress"])
    assert code == 1
    report = json.loads((out / "extract_report.json").read_text())
    failed = {f["video_id"]: f["error"] for f in report["failures"]}
    assert set(failed) == {"corrupt", "truncated", "empty"}
    for video_id, error in failed.items():
        assert f"{video_id}.mp4" in error
    assert "failed" in (out / "extract_report.md").read_text()
    table, _ = read_feature_table(out)
    assert set(table.column("video_id").to_pylist()) == {"good"}
    assert set(table.column("split").to_pylist()) == {"test"}
    assert (table.column("label").to_numpy() == -1).all()


def test_a_crash_mid_job_resumes_and_the_plain_loop_writes_the_actors_table(rendered, extracted,
                                                                            tmp_path):
    """The plain loop (``--executor sequential``) killed mid-job, then run again: it skips
    the videos written, writes the others, and the table equals the one the Ray Data actors
    wrote."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "jobs.extract", "--manifest",
               str(rendered / "manifest.csv"), "--spec", str(rendered / "data" / "dataset.json"),
               "--out", str(out), "--config", RANDOM, "--random-weights", "--no-progress",
               "--executor", "sequential", "--cpus-per-actor", "1", "--cfg-options", *OPTIONS]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(out.glob("split=*/*.parquet")) and time.monotonic() < deadline:
        assert job.poll() is None, "the job ended before it could be killed"
        time.sleep(0.2)
    job.send_signal(signal.SIGKILL)
    job.wait()
    first = {p.name for p in out.glob("split=*/*.parquet")}
    assert 1 <= len(first) < len(VIDEOS)
    assert subprocess.run(command, capture_output=True).returncode == 0
    report = json.loads((out / "extract_report.json").read_text())
    assert report["videos_skipped"] == len(first)
    assert report["videos_written"] == len(VIDEOS) - len(first)
    table, _ = read_feature_table(out, columns=["video_id"])
    assert sorted(set(table.column("video_id").to_pylist())) == sorted(VIDEOS)
    spec = DatasetSpec.load(rendered / "data" / "dataset.json")
    assert table.num_rows == sum(
        len(range(0, load_annotation(rendered / "data" / "annotations" / f"{v}.json", spec)[
            "video"]["frame_count"], STRIDE)) for v in VIDEOS)
    # One inference thread, as in each actor: the same arithmetic, so the same table (with
    # random weights every score is near 1e-4, and rounding would flip the tracker's ties).
    ours, _ = read_feature_table(out)
    theirs, _ = read_feature_table(extracted)
    assert ours.num_rows == theirs.num_rows
    for name in ("person_track_ids", "object_track_ids", "object_classes"):
        np.testing.assert_array_equal(tensor_column(ours, name), tensor_column(theirs, name),
                                      err_msg=name)
    np.testing.assert_array_equal(ours.column("num_persons").to_numpy(),
                                  theirs.column("num_persons").to_numpy())
    np.testing.assert_allclose(tensor_column(ours, "keypoints"),
                               tensor_column(theirs, "keypoints"), atol=1e-3)
