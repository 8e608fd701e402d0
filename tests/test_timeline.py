"""The timeline head: training it on a package, evaluating offline and online timelines, the
online mode fed one frame at a time, and the per-person rule (a passer-by does not change the
subject's timeline). The shipped recognizer package gives real features; the head is trained
for a few epochs on the tiny generated table."""

import json
import shutil

import numpy as np
import pyarrow.compute as pc
import pytest
import torch
from mmaction.datasets.transforms import UniformSampleFrames
from mmengine.dataset import pseudo_collate

from jobs import evaluate, train_timeline
from model.builders import build_dataset, load_config
from model.datasets.feature_table import read_feature_table, write_split_file
from model.datasets.frame_rows import FrameArrays
from model.datasets.window_dataset import STREAMS, VideoArrays
from model.evaluation.timeline import subject_only_copy, untrimmed_videos
from model.inference.online import OnlineTimeline
from model.inference.package import load_package
from model.inference.step_cache import step_features
from model.inference.step_features import embed, video_step_features, window_step_features
from model.inference.timeline_head import TIMELINE_DIR, load_timeline_head, step_probs
from model.networks.ms_tcn import CausalTCNStream, MultiStageTCN
from model.transforms.temporal import CausalSampleFrames

SHIPPED = "trained_models/workcell"
EPOCHS = 3
# Steps of 2 frames at the tiny table's 10 fps (the default 0.13 s would be every frame).
HEAD_OPTIONS = {"train_cfg.epochs": EPOCHS, "features.step_s": 0.2}


def test_the_streamed_causal_tcn_equals_the_whole_sequence_recomputed():
    """One column per layer per step gives, at every step, the network's output over the
    whole sequence so far, past its receptive field (the rings wrap) and after a reset."""
    torch.manual_seed(0)
    net = MultiStageTCN(12, 5, num_stages=3, num_layers=4, channels=8, dropout=0.5,
                        feature_noise=0.3, causal=True)
    features = np.random.default_rng(0).normal(size=(2 * net.receptive_field, 12))
    stream = CausalTCNStream(CausalTCNStream.weights_of(net))
    streamed = np.stack([stream.step(f) for f in features])
    np.testing.assert_allclose(streamed, step_probs(net, features), atol=1e-6)
    stream.reset()
    np.testing.assert_allclose(stream.step(features[5]), step_probs(net, features[5:6])[0],
                               atol=1e-6)
    with pytest.raises(ValueError, match="causal"):
        CausalTCNStream.weights_of(MultiStageTCN(12, 5, causal=False))


@pytest.fixture(scope="module")
def head_package(tmp_path_factory, workcell_table):
    """A copy of the shipped recognizer with a timeline head trained on the tiny table."""
    folder = tmp_path_factory.mktemp("pkg") / "workcell"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns(TIMELINE_DIR, "model.onnx"))
    metrics = train_timeline.train_timeline(folder, workcell_table, cfg_options=HEAD_OPTIONS,
                                            cache_dir=tmp_path_factory.mktemp("cache"))
    return folder, metrics


def test_causal_windows_end_at_their_step(workcell_table):
    cfg = load_config(f"{SHIPPED}/config.py", table=workcell_table)
    video = untrimmed_videos(workcell_table, "test")[0]
    ds = build_dataset(cfg, "test", "test_pipeline", mode="causal", window_s=1.0, stride_s=0.2,
                       video_ids=[video])
    rows, _ = read_feature_table(workcell_table, splits=["test"], columns=["video_id", "label"])
    labels = rows.filter(pc.equal(rows.column("video_id"), video)).column("label").to_numpy()
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    fps = infos[0]["fps"]
    ends = [info["frame_range"][1] - 1 for info in infos]
    assert ends == list(range(0, len(labels), round(0.2 * fps)))
    for info in infos:
        start, end = info["frame_range"]
        assert end - start == min(end, round(1.0 * fps))
        assert info["label"] == labels[end - 1]


def test_the_causal_sampler_keeps_time_order_and_ends_on_the_newest_frame():
    sampler = CausalSampleFrames(clip_len=6)
    short = sampler({"total_frames": 4})
    assert short["frame_inds"].tolist() == [0, 0, 0, 1, 2, 3]
    long = sampler({"total_frames": 11, "start_index": 0})
    assert long["frame_inds"].tolist() == [0, 2, 4, 6, 8, 10]
    assert long["num_clips"] == 1 and long["clip_len"] == 6
    # MMAction2's sampler loops a short window: its last frame is not the newest.
    looped = UniformSampleFrames(clip_len=6, num_clips=1, test_mode=True)(
        {"total_frames": 4, "start_index": 0})
    assert looped["frame_inds"][-1] != 3


def test_training_writes_a_head_chosen_on_val(head_package):
    folder, metrics = head_package
    head = load_timeline_head(folder)
    assert head.offline.causal is False and head.online.causal is True
    grid = head.cfg.decoder
    assert grid.offline.switch_penalty in grid.offline.switch_penalties
    assert grid.online.switch_prob in grid.online.switch_probs
    for mode in ("offline", "online"):
        assert 1 <= metrics[mode]["best_epoch"] <= EPOCHS
        assert len(metrics[mode]["history"]) == EPOCHS
        assert 0 <= metrics[mode]["val"]["frame_accuracy"] <= 1
    saved = json.loads((folder / TIMELINE_DIR / "metrics.json").read_text())
    assert saved["offline"]["val"] == metrics["offline"]["val"]
    assert (folder / TIMELINE_DIR / "metrics.md").exists()


def test_the_head_is_chosen_without_test_data(head_package, workcell_table, tmp_path):
    """Trained again from a copy of the table without its test split, the head is the same,
    weights and decoder settings: neither its training nor the choices made on validation read
    a test row."""
    folder, _ = head_package
    table = tmp_path / "without_test"
    shutil.copytree(workcell_table, table, ignore=shutil.ignore_patterns("split=test"))
    again = tmp_path / "pkg"
    shutil.copytree(SHIPPED, again, ignore=shutil.ignore_patterns(TIMELINE_DIR, "model.onnx"))
    train_timeline.train_timeline(again, table, cfg_options=HEAD_OPTIONS,
                                  cache_dir=tmp_path / "cache")
    first, second = load_timeline_head(folder), load_timeline_head(again)
    assert first.cfg.decoder.to_dict() == second.cfg.decoder.to_dict()
    for mode in ("offline", "online"):
        a, b = getattr(first, mode).state_dict(), getattr(second, mode).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), mode


def test_evaluate_reports_offline_and_online_timelines(head_package, workcell_table,
                                                       tmp_path):
    folder, _ = head_package
    result = evaluate.evaluate(folder, workcell_table, tmp_path / "eval")
    timeline = result["timeline"]
    assert timeline["method"] == "timeline head"
    for mode in ("offline", "online"):
        assert {"frame_accuracy", "edit", "f1_10", "f1_25", "f1_50"} <= set(timeline[mode])
    assert "median_delay_frames" in timeline["online"]
    video = next(iter(result["timeline_videos"].values()))
    assert len(video["labels"]) == len(video["offline"]) == len(video["online"])
    # The report's accuracy is that of its own per-frame predictions.
    pairs = [(np.array(v["labels"]), np.array(v["offline"]))
             for v in result["timeline_videos"].values()]
    right = sum(int((t == p).sum()) for t, p in pairs)
    assert timeline["offline"]["frame_accuracy"] == pytest.approx(
        right / sum(len(t) for t, _ in pairs))
    assert (tmp_path / "eval" / "timelines.png").exists()
    assert "online (causal)" in (tmp_path / "eval" / "metrics.md").read_text()


def _truncated_table(table, split, video, frames, out):
    rows, _ = read_feature_table(table, splits=[split])
    rows = rows.filter(pc.equal(rows.column("video_id"), video))
    rows = rows.filter(pc.less(rows.column("frame_index"), frames))
    write_split_file(out, split, "rows.parquet", rows)
    return out


def test_online_mode_never_reads_a_future_frame(head_package, workcell_table, tmp_path):
    """Frame by frame through OnlineTimeline gives the batch online timeline of the whole
    video, and the batch online timeline of the video cut at frame t gives the same labels
    for the frames answered by t: no answer depends on a frame after the newest."""
    folder, _ = head_package
    package, head = load_package(folder), load_timeline_head(folder)
    video = untrimmed_videos(workcell_table, "test")[0]
    whole = step_features(package, workcell_table, "test", [video], head.windows_s,
                          head.step_s)[video]
    batch_labels, batch_beliefs = head.online_timeline(whole)
    rows, _ = read_feature_table(workcell_table, splits=["test"])
    rows = FrameArrays.from_table(rows.filter(pc.equal(rows.column("video_id"), video)))
    stream = OnlineTimeline(package, head, fps=whole.fps)
    answers = {}
    for t in range(rows.num_frames):
        frame, label, belief = stream.push(rows, t)
        if frame is not None:
            # The answer is about a frame at most the lag before the newest, never later.
            assert t - stream.lag_frames - stream.step < frame <= t - stream.lag_frames
            answers[frame] = label, belief
    assert stream.lag_frames > 0
    frames = sorted(answers)
    assert frames == [int(s) for s in whole.steps if s + stream.lag_frames < whole.num_frames]
    assert [answers[f][0] for f in frames] == batch_labels[frames].tolist()
    assert np.allclose(np.stack([answers[f][1] for f in frames]), batch_beliefs[frames],
                       atol=1e-4)
    cut = whole.num_frames // 2
    short = _truncated_table(workcell_table, "test", video, cut, tmp_path / "short")
    prefix = step_features(package, short, "test", [video], head.windows_s,
                           head.step_s)[video]
    # The frames the cut video has answered (the last ones wait for frames it lacks).
    answered = int(prefix.steps[prefix.steps + stream.lag_frames < cut][-1]) + stream.step
    assert answered > cut // 2
    assert (head.online_timeline(prefix)[0][:answered] == batch_labels[:answered]).all()


def _first_test_video(head_package, workcell_table):
    """The package, its head and the rows of the first untrimmed test video."""
    folder, _ = head_package
    package, head = load_package(folder), load_timeline_head(folder)
    video = untrimmed_videos(workcell_table, "test")[0]
    rows, _ = read_feature_table(workcell_table, splits=["test"])
    return package, head, FrameArrays.from_table(
        rows.filter(pc.equal(rows.column("video_id"), video)))


def test_a_held_frame_keeps_the_streams_time_without_running_the_recognizer(head_package,
                                                                            workcell_table):
    """A dropped frame of a live stream is held (the last row again): no recognizer input is
    asked for, its step reuses the last features, and the answers keep naming frames of the
    stream's own numbering."""
    package, head, rows = _first_test_video(head_package, workcell_table)
    plain = OnlineTimeline(package, head, fps=rows.fps)
    held = OnlineTimeline(package, head, fps=rows.fps)
    dropped = range(40, 40 + 3 * plain.step)       # three steps' frames
    recognized = 0
    for t in range(60):
        plain.push(rows, t)
        if t in dropped:    # the last processed frame's row again
            assert held.add_row(rows, dropped[0] - 1, held=True) is None
        else:
            samples = held.add_row(rows, t)
            if samples is not None:
                recognized += 1
                held.complete(embed(package.model, pseudo_collate(samples))[0])
        if t < dropped[0]:
            assert held.answer[:2] == plain.answer[:2]
    assert recognized == plain.steps_seen - 3
    assert held.frames_seen == plain.frames_seen == 60
    assert held.answer[0] == plain.answer[0] == 60 - 2 - plain.lag_frames   # the newest step


def test_an_abandoned_step_reuses_the_last_features_and_keeps_the_streams_time(
        head_package, workcell_table):
    """A step whose recognizer run failed or came too late (the service gives it up) advances
    the timeline with the last features, as a held frame's step does: the same answers as
    handing those features back, and the answers keep naming the stream's frames."""
    package, head, rows = _first_test_video(head_package, workcell_table)
    given_up = OnlineTimeline(package, head, fps=rows.fps)
    handed_back = OnlineTimeline(package, head, fps=rows.fps)
    abandoned = 0
    for t in range(60):
        samples = given_up.add_row(rows, t)
        assert (samples is None) == (handed_back.add_row(rows, t) is None)
        if samples is None:
            continue
        if t >= 30 and abandoned < 2:
            abandoned += 1
            given_up.abandon()
            handed_back.complete(handed_back.last_feature)
        else:
            features = embed(package.model, pseudo_collate(samples))[0]
            given_up.complete(features)
            handed_back.complete(features)
        assert given_up.answer[:2] == handed_back.answer[:2]
        if given_up.answer[2] is not None:
            np.testing.assert_allclose(given_up.answer[2], handed_back.answer[2], rtol=1e-6)
    assert abandoned == 2
    assert given_up.answer[0] == 60 - 2 - given_up.lag_frames    # the newest step


def test_step_features_of_rows_in_memory_are_the_datasets(head_package, workcell_table):
    """jobs.infer and the clip endpoint cut a video's causal windows from its rows in memory;
    the timeline head was trained on those the feature-table dataset cuts: same windows, same
    features."""
    folder, _ = head_package
    package, head = load_package(folder), load_timeline_head(folder)
    video = untrimmed_videos(workcell_table, "test")[0]
    window = head.windows_s[0]
    from_table = video_step_features(package, workcell_table, "test", [video], window,
                                     head.step_s)[video]
    rows, _ = read_feature_table(workcell_table, splits=["test"])
    arrays = FrameArrays.from_table(rows.filter(pc.equal(rows.column("video_id"), video)))
    dataset = package.cfg.dataset
    in_memory = window_step_features(
        package, VideoArrays.from_frames(arrays, dataset.get("num_person", 1),
                                         dataset.get("streams", STREAMS)), window,
        head.step_s, batch_size=7)
    np.testing.assert_array_equal(in_memory.steps, from_table.steps)
    np.testing.assert_array_equal(in_memory.labels, from_table.labels)
    np.testing.assert_allclose(in_memory.features, from_table.features, atol=1e-5)
    np.testing.assert_allclose(in_memory.probs, from_table.probs, atol=1e-6)


def _with_and_without_others(folder, table, out):
    """The step features of the first untrimmed video with a second person in view (of the
    first split that has one), by the package in ``folder``: as recorded, and with everyone but
    the subject removed. Returns (timeline head, with others, without)."""
    package, head = load_package(folder), load_timeline_head(folder)
    for split in ("test", "val", "train"):
        videos = untrimmed_videos(table, split)
        alone, crowded = subject_only_copy(table, split, videos, out / f"alone_{split}")
        if crowded:
            video = crowded[0]
            return head, *(step_features(package, t, split, [video], head.windows_s,
                                         head.step_s)[video] for t in (table, alone))
    pytest.fail("the tiny table has no untrimmed video with a second person")


def test_a_passer_by_does_not_change_the_subjects_timeline(head_package, workcell_table,
                                                           tmp_path):
    folder, _ = head_package
    head, with_others, without = _with_and_without_others(folder, workcell_table, tmp_path)
    assert (head.offline_timeline(with_others)[0] == head.offline_timeline(without)[0]).all()
    assert (head.online_timeline(with_others)[0] == head.online_timeline(without)[0]).all()


def test_the_passer_by_check_sees_a_second_person_who_reaches_the_input(
        head_package, workcell_table, tmp_path):
    """The check above holds because the recognizer's input is the subject alone
    (num_person=1), not because the comparison is blind: the same package given two persons
    per sample, so that the passer-by's pose reaches the ST-GCN, changes the subject's step
    features and the head's frame probabilities on the same video (this few-epoch head's
    labels may stay one class: the probabilities are what the labels are decoded from)."""
    folder, _ = head_package
    two_persons = tmp_path / "two_persons"
    shutil.copytree(folder, two_persons)
    cfg = load_config(folder / "config.py")
    assert cfg.dataset.num_person == 1
    cfg.dataset.num_person = 2
    for pipeline in ("train_pipeline", "val_pipeline", "test_pipeline"):
        for step in cfg[pipeline]:
            if step.type == "FormatGCNInput":
                step.num_person = 2
    cfg.dump(two_persons / "config.py")
    head, with_others, without = _with_and_without_others(two_persons, workcell_table, tmp_path)
    assert not np.allclose(with_others.features, without.features, atol=1e-4)
    for timeline in (head.offline_timeline, head.online_timeline):
        assert not np.allclose(timeline(with_others)[1], timeline(without)[1], atol=1e-4)


def test_a_package_without_a_head_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="jobs.train_timeline"):
        load_timeline_head(tmp_path)
