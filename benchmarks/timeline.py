"""Action timelines of the built-in untrimmed test videos, offline and online, against the
alternatives.

    python -m benchmarks.timeline [--package trained_models/workcell]

Everything is measured on the 48 untrimmed test videos of the frozen test split (its checksum
is checked first), which neither the recognizer nor its timeline head saw. Every setting was
chosen on the validation split: the head's epoch and decoder settings by jobs.train_timeline,
and here the decoder settings of the alternatives that have one. Rows:

  * trivial baseline: the most frequent frame class of the training videos everywhere;
  * summed windows: the timeline before the head (1.5 s windows every 0.25 s, 5 clips, each
    frame takes the class of the summed probabilities of the windows covering it);
  * the recognizer's own per-step probabilities (no temporal model), argmax and decoded;
  * the MS-TCN's, argmax and decoded (the shipped head: MS-TCN + Viterbi offline, causal
    MS-TCN + forward filter online).

Next to them: the timelines when the features of the same videos come from their MP4s
through the shipped detector and pose model (``--pixels-table``, jobs.extract with
model/configs/extraction/workcell.py; extracted here when absent, resumable), for the package
made for raw video (``--pixels-package``: recognizer and head trained with extracted
features) and for ``--package``, and the video package's on the annotation features; the
clip top-1 of ``--package`` on the frozen test clips (the head changes no weight of the
recognizer), and the per-person check: the operator's timelines when every other person's
pose is removed from the videos with a passer-by, against the timelines with the passer-by
present.

Writes benchmarks/results/timeline.{json,md} and benchmarks/results/timeline.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks.environment import code_commit, environment
from benchmarks.performance_report import timeline_pixels_table, timeline_table
from jobs.evaluate import check_frozen, check_table_classes
from model.cli import command_parser
from model.datasets.feature_table import read_feature_table
from model.device import local_device
from model.evaluation.metrics import classification_metrics
from model.evaluation.report import timeline_png
from model.evaluation.segmentation import segmentation_metrics
from model.evaluation.timeline import (
    background_classes,
    frame_timelines,
    subject_only_copy,
    untrimmed_videos,
)
from model.inference.ensemble import predict_members
from model.inference.package import load_package
from model.inference.step_cache import step_features
from model.inference.timeline_head import load_timeline_head, step_probs
from model.reports import write_report
from model.training.timeline import (
    choose_offline,
    choose_online,
    offline_figures,
    online_figures,
)

SUMMED_WINDOW_S, SUMMED_STRIDE_S = 1.5, 0.25   # the timeline of jobs.evaluate before the head


def majority_row(table, videos, test, background) -> dict:
    train, _ = read_feature_table(table, splits=["train"], columns=["label"])
    majority = int(np.bincount(train.column("label").to_numpy()).argmax())
    return segmentation_metrics([test[v].labels for v in videos],
                                [np.full(test[v].num_frames, majority) for v in videos],
                                background)


def decoder_rows(val, test, val_scores, test_scores, head_cfg, background, name) -> list[dict]:
    """Argmax and decoded rows of one kind of step scores, offline and online; the decoder
    settings chosen on ``val``."""
    penalty, _ = choose_offline(val, val_scores, head_cfg.decoder.offline.switch_penalties,
                                background)
    switch, _ = choose_online(val, val_scores, head_cfg.decoder.online.switch_probs, background,
                              head_cfg.decoder.online.max_median_delay_s)
    return [
        {"mode": "offline", "method": f"{name}, argmax",
         **offline_figures(test, test_scores, 0.0, background)},
        {"mode": "offline", "method": f"{name}, Viterbi (switch penalty {penalty}, on val)",
         "switch_penalty": penalty, **offline_figures(test, test_scores, penalty, background)},
        {"mode": "online", "method": f"{name}, argmax",
         **online_figures(test, test_scores, None, background)},
        {"mode": "online", "method": f"{name}, forward filter (switch prob {switch}, on val)",
         "switch_prob": switch, **online_figures(test, test_scores, switch, background)},
    ]


def summed_windows_row(package, table, videos, background, batch_size) -> dict:
    with tqdm(desc="summed windows", unit="window") as bar:
        scores, _, metas = predict_members({"model": package}, table, "test", batch_size,
                                           bar.update,
                                           mode="sliding", window_s=SUMMED_WINDOW_S,
                                           stride_s=SUMMED_STRIDE_S, video_ids=videos)
    summary, _ = frame_timelines(table, "test", videos, scores["model"], metas,
                                 SUMMED_WINDOW_S, SUMMED_STRIDE_S, background)
    return {"mode": "offline", "method": f"summed windows ({SUMMED_WINDOW_S} s every "
            f"{SUMMED_STRIDE_S} s, 5 clips; before the head)", **summary}


def clip_top1(package, table, batch_size) -> dict:
    with tqdm(desc="test clips", unit="clip") as bar:
        scores, labels, _ = predict_members({"model": package}, table, "test", batch_size,
                                            bar.update)
    m = classification_metrics(labels, scores["model"], package.action_classes)
    return {"top1": m["top1"], "macro_f1": m["macro_f1"], "clips": m["num_clips"]}


def per_person_check(package, head, table, videos, test, batch_size) -> dict:
    """How much of the operator's timeline changes when the other persons are removed."""
    with tempfile.TemporaryDirectory() as tmp:
        alone, crowded = subject_only_copy(table, "test", videos, Path(tmp) / "alone")
        feats = step_features(package, alone, "test", crowded, head.windows_s, head.step_s,
                              batch_size)
    changed = {"offline": 0, "online": 0}
    frames = 0
    for v in crowded:
        frames += test[v].num_frames
        changed["offline"] += int((head.offline_timeline(feats[v])[0] !=
                                   head.offline_timeline(test[v])[0]).sum())
        changed["online"] += int((head.online_timeline(feats[v])[0] !=
                                  head.online_timeline(test[v])[0]).sum())
    return {"videos_with_others": len(crowded), "frames": frames,
            "offline_changed_fraction": changed["offline"] / frames,
            "online_changed_fraction": changed["online"] / frames}


def extracted_test_videos(data: Path, table: Path, config: str, videos: list[str]) -> Path:
    """The untrimmed test videos' features from their MP4s (resumed when ``table`` exists)."""
    from actors.extraction import extract, select_inputs
    from model.cluster import init_ray
    from model.config_files import read_config
    from model.datasets.annotation import DatasetSpec
    from model.datasets.video_manifest import videos_in_folder

    spec = DatasetSpec.load(data / "dataset.json")
    inputs = [v for v in select_inputs(videos_in_folder(data / "videos", data / "annotations",
                                                        data / "splits.json"),
                                       ["test"], "*", "test") if v.video_id in set(videos)]
    init_ray()
    report = extract(inputs, spec, table, config=read_config(config, None), executor="ray",
                     actors=2, source=str(data))
    if report.failures:
        raise SystemExit(f"extraction failed: {report.failures}")
    return table


def head_figures(package, head, table: Path, videos: list[str], background,
                 batch_size: int) -> dict:
    """A package's head (its chosen decoders) on the test videos of ``table``."""
    test = list(step_features(package, table, "test", videos, head.windows_s, head.step_s,
                              batch_size).values())
    return {
        "offline": offline_figures(test, [step_probs(head.offline, v.features) for v in test],
                                   head.cfg.decoder.offline.switch_penalty, background),
        "online": online_figures(test, [step_probs(head.online, v.features) for v in test],
                                 head.cfg.decoder.online.switch_prob, background,
                                 head.lag_steps)}


def from_pixels(video: tuple, annotation: tuple, pixels_table: Path, annotation_table: Path,
                videos: list[str], background, batch_size: int) -> dict:
    """The video package's timelines from the extracted features (the headline), the
    annotation package's on the same features, and the video package's on the annotation
    features (it must stay good on clean input). ``video`` and ``annotation``: (folder,
    loaded package, timeline head)."""
    return {**head_figures(*video[1:], pixels_table, videos, background, batch_size),
            "package": str(video[0]), "table": str(pixels_table),
            "annotation_trained": {
                **head_figures(*annotation[1:], pixels_table, videos, background, batch_size),
                "package": str(annotation[0])},
            "on_annotations": head_figures(*video[1:], annotation_table, videos, background,
                                           batch_size)}


def main(argv: list[str] | None = None) -> int:
    p = command_parser("benchmarks.timeline", __doc__)
    p.add_argument("--package", type=Path, default=Path("trained_models/workcell"),
                   help="recognizer package with a timeline head (default: %(default)s)")
    p.add_argument("--pixels-package", type=Path,
                   default=Path("trained_models/workcell_pixels"),
                   help="the package for raw video (recognizer and head trained with extracted "
                        "features), scored from pixels beside --package (default: %(default)s)")
    p.add_argument("--table", type=Path, default=Path("data/workcell/features"))
    p.add_argument("--frozen-test-set", type=Path,
                   default=Path("benchmarks/workcell_test_set.json"))
    p.add_argument("--cache-dir", type=Path, default=Path("outputs/step_cache"),
                   help="per-step feature cache (shared with jobs.train_timeline)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data", type=Path, default=Path("data/workcell"),
                   help="the rendered dataset whose test MP4s give --pixels-table")
    p.add_argument("--pixels-table", type=Path, default=Path("data/workcell/extracted-test-seqs"),
                   help="features of the untrimmed test videos from their MP4s (extracted "
                        "when absent, resumed when partial)")
    p.add_argument("--extraction-config", default="model/configs/extraction/workcell.py")
    p.add_argument("--skip-pixels", action="store_true",
                   help="leave out the figures from pixels (no extraction)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/timeline"),
                   help="results stem (.json, .md, .png)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="run with uncommitted code changes (recorded as <sha>+dirty)")
    args = p.parse_args(argv)
    commit = code_commit(args.allow_dirty)
    check = check_frozen(args.table, "test", args.frozen_test_set)
    classes = check_table_classes(args.package, args.table)
    package = load_package(args.package, local_device())
    head = load_timeline_head(args.package)
    background = background_classes(classes, head.cfg.background)
    data = {split: step_features(package, args.table, split,
                                 untrimmed_videos(args.table, split), head.windows_s,
                                 head.step_s, args.batch_size, args.cache_dir)
            for split in ("val", "test")}
    val, test = list(data["val"].values()), list(data["test"].values())
    videos = list(data["test"])
    rows = [{"mode": "both", "method": "trivial: the majority frame class of the training "
             "videos everywhere", **majority_row(args.table, videos, data["test"], background)},
            summed_windows_row(package, args.table, videos, background, args.batch_size)]
    rows += decoder_rows(val, test, [v.probs for v in val], [v.probs for v in test], head.cfg,
                         background, "recognizer per step")
    for mode, net in (("offline", head.offline), ("online", head.online)):
        kind = "MS-TCN" if mode == "offline" else f"causal MS-TCN (lag {head.lag_steps} steps)"
        scores = [step_probs(net, v.features) for v in test]
        if mode == "offline":
            rows.append({"mode": mode, "method": f"{kind}, argmax",
                         **offline_figures(test, scores, 0.0, background)})
        else:
            rows.append({"mode": mode, "method": f"{kind}, argmax",
                         **online_figures(test, scores, None, background, head.lag_steps)})
    shipped = {
        "offline": offline_figures(test, [step_probs(head.offline, v.features) for v in test],
                                   head.cfg.decoder.offline.switch_penalty, background),
        "online": online_figures(test, [step_probs(head.online, v.features) for v in test],
                                 head.cfg.decoder.online.switch_prob, background,
                                 head.lag_steps)}
    results = {
        "offline": {**shipped["offline"], "method": "MS-TCN + Viterbi (switch penalty "
                    f"{head.cfg.decoder.offline.switch_penalty}, chosen on val)"},
        "online": {**shipped["online"], "method": "causal MS-TCN + forward filter (switch "
                   f"prob {head.cfg.decoder.online.switch_prob}, chosen on val)"},
        "alternatives": rows,
        "clips": clip_top1(package, args.table, args.batch_size),
        **({} if args.skip_pixels else {"from_pixels": from_pixels(
            (args.pixels_package, load_package(args.pixels_package, local_device()),
             load_timeline_head(args.pixels_package)), (args.package, package, head),
            extracted_test_videos(args.data, args.pixels_table, args.extraction_config, videos),
            args.table, videos, background, args.batch_size)}),
        "per_person": per_person_check(package, head, args.table, videos, data["test"],
                                       args.batch_size),
        "test_set_check": check, "package": str(args.package), "head": str(head.folder),
        "commit": commit,
        "windows_s": head.windows_s, "step_s": head.step_s,
        "background": [classes[i] for i in background], "environment": environment()}
    shown = videos[:6]
    timeline_png({v: {"labels": data["test"][v].labels,
                      "offline": head.offline_timeline(data["test"][v])[0],
                      "online": head.online_timeline(data["test"][v])[0]} for v in shown},
                 classes, args.out.with_suffix(".png"), ("offline", "online"))
    write_report(args.out, results, markdown(results))
    print(markdown(results))
    return 0


def markdown(results: dict) -> str:
    off, on, clips, pp = (results["offline"], results["online"], results["clips"],
                          results["per_person"])
    lines = ["# Action timelines of the untrimmed test videos", "",
             f"{off['videos']} videos, {off['frames']} frames; {results['test_set_check']}. "
             f"Recognizer windows of {results['windows_s']} s every {results['step_s']} s; edit "
             f"and F1@k leave {results['background']} out of the segments (MS-TCN protocol).",
             "", *timeline_table(results), "",
             f"Online detection delay: from a true action's start to the first frame the online "
             f"timeline names it, over {on['segments']} actions ({on['missed']} never named).",
             "",
             f"Clip top-1 of the same recognizer on the {clips['clips']} frozen test clips: "
             f"{clips['top1']:.4f} (macro F1 {clips['macro_f1']:.4f}).", "",
             f"Per person: in the {pp['videos_with_others']} test videos with a second person, "
             "removing every other person's pose changes "
             f"{100 * pp['offline_changed_fraction']:.2f} % of the operator's offline timeline "
             "frames and "
             f"{100 * pp['online_changed_fraction']:.2f} % of the online ones "
             f"({pp['frames']} frames).", ""]
    if results.get("from_pixels"):
        lines += [*timeline_pixels_table(results["from_pixels"]), ""]
    lines += ["![timelines](timeline.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
