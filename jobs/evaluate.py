"""Evaluate a model package (or an ensemble of packages) and write JSON, Markdown and PNG.

Data: a split of a Parquet feature table, or an MMAction2 2D skeleton .pkl (a user's own test
clips; unpickling runs code from the file, so it needs ``--allow-pickle``).
Reports top-1/top-5 accuracy, macro and per-class precision/recall/F1 (scikit-learn), the
confusion matrix, and for untrimmed videos the frame-level accuracy of the action timeline.
With ``--frozen-test-set`` the split's content checksum must match the recorded one before
anything is reported.

Examples:
  python -m jobs.evaluate --package outputs/fused/package --table data/workcell/features \\
      --out outputs/fused/eval --frozen-test-set benchmarks/workcell_test_set.json
  python -m jobs.evaluate --package trained_models/penn_action --mmaction-pkl my_clips.pkl \\
      --allow-pickle --pkl-split test --out outputs/penn_eval
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

from jobs.ingest import ingest_mmaction_pkl
from model.builders import pipeline_step
from model.cli import command_parser, refuse
from model.datasets.feature_table import content_checksum, read_info
from model.datasets.mmaction_pkl import load_skeleton_pkl
from model.evaluation.metrics import classification_metrics
from model.evaluation.report import (
    confusion_png,
    evaluation_markdown,
    timeline_lines,
    timeline_png,
)
from model.evaluation.timeline import (
    background_classes,
    frame_timelines,
    head_timelines,
    untrimmed_videos,
)
from model.inference.ensemble import combine, load_members, package_classes, predict_members
from model.inference.timeline_head import has_timeline_head, load_timeline_head
from model.reports import write_report


class TestSetMismatch(RuntimeError):
    """The split is not the frozen test set the figures are defined on."""


def check_frozen(table: str | Path, split: str, frozen_file: str | Path) -> str:
    frozen = json.loads(Path(frozen_file).read_text())
    actual = content_checksum(table, split)
    if actual != frozen["content_sha256"]:
        raise TestSetMismatch(
            f"{table} split {split!r} has content checksum {actual}, but {frozen_file} records "
            f"{frozen['content_sha256']} (generator {frozen.get('generator')}); regenerate and "
            "re-ingest the frozen test set before reporting")
    return f"matches {Path(frozen_file).name} (sha256 {actual[:16]}...)"


def check_table_classes(package_dir: str | Path, table: str | Path) -> list[str]:
    """The model's action classes, after checking that the table has the same action and
    object classes, in the same order (a class index means the same thing to both)."""
    actions, objects = package_classes(package_dir)
    info = read_info(table)
    for kind, ours, theirs in (("action", actions, info.action_classes),
                               ("object", objects, info.object_classes)):
        if list(theirs) != list(ours):
            raise ValueError(f"{table} has {kind} classes {list(theirs)}, the model "
                             f"{package_dir} was trained with {list(ours)}: names and order "
                             "must match")
    return actions


def _timeline(package_dir, members, weights, classes, table, split, videos: list[str],
              window_s: float, stride_s: float, batch_size: int) -> tuple[dict, dict, tuple]:
    """Timelines by the package's timeline head when it has one, else by summed sliding
    windows; returns the summary, the per-video timelines and the strips to plot."""
    if has_timeline_head(package_dir) and len(members) == 1:
        head = load_timeline_head(package_dir)
        summary, timelines = head_timelines(head, members["model"], table, split, videos,
                                            background_classes(classes, head.cfg.background),
                                            batch_size)
        return summary, timelines, ("offline", "online")
    background = background_classes(classes)
    with tqdm(desc="timeline windows", unit="window") as bar:
        scores, _, metas = predict_members(members, table, split, batch_size, bar.update,
                                           mode="sliding", window_s=window_s,
                                           stride_s=stride_s, video_ids=videos)
    summary, timelines = frame_timelines(table, split, videos, combine(scores, weights), metas,
                                         window_s, stride_s, background)
    return summary, timelines, ("predictions",)


def evaluate(package_dir: str | Path, table: str | Path, out: str | Path, *,
             split: str = "test", frozen_test_set: str | None = None, timeline: bool = True,
             timeline_window_s: float = 1.5, timeline_stride_s: float = 0.25,
             batch_size: int = 32, num_clips: int | None = None,
             extra: dict | None = None) -> dict:
    """Score ``split`` of ``table``; write metrics.json, metrics.md and the PNGs to ``out``.

    ``extra`` entries are added to the result (and so to metrics.json) as they are."""
    check = check_frozen(table, split, frozen_test_set) if frozen_test_set else "not requested"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    classes = check_table_classes(package_dir, table)
    members, weights = load_members(package_dir)
    with tqdm(desc=f"{split} clips", unit="clip") as bar:
        member_scores, labels, metas = predict_members(members, table, split, batch_size,
                                                       bar.update, num_clips=num_clips)
    scores = combine(member_scores, weights)
    clips = classification_metrics(labels, scores, classes)
    cfg = next(iter(members.values())).cfg
    sampler = pipeline_step(cfg.test_pipeline, "UniformSampleFrames")
    result = {"package": str(package_dir), "data": str(table), "split": split,
              "test_set_check": check, "window_s": cfg.dataset.get("window_s"),
              "clip_len": sampler["clip_len"],
              "num_clips_per_window": num_clips or sampler["num_clips"],
              "clips": clips,
              "predictions": [{"video_id": m["video_id"], "frame_range": list(m["frame_range"]),
                               "label": int(y), "predicted": int(s.argmax())}
                              for m, y, s in zip(metas, labels, scores, strict=True)]}
    if len(members) > 1:
        result["members"] = {name: {k: v for k, v in classification_metrics(
            labels, member_scores[name], classes).items() if k not in ("per_class",
                                                                        "confusion_matrix")}
            for name in members}
        result["weights"] = weights
    confusion_png(clips["confusion_matrix"], classes, out / "confusion_matrix.png",
                  f"{Path(package_dir).name}: {split}")
    videos = untrimmed_videos(table, split) if timeline else []
    if videos:
        result["timeline"], timelines, strips = _timeline(
            package_dir, members, weights, classes, table, split, videos, timeline_window_s,
            timeline_stride_s, batch_size)
        result["timeline_videos"] = timelines
        timeline_png({v: timelines[v] for v in videos[:6]}, classes, out / "timelines.png",
                     strips)
    result.update(extra or {})
    write_report(out / "metrics", result, evaluation_markdown(result))
    return result


def _pkl_clips(doc: dict, pkl: str | Path, pkl_split: str | None,
               all_clips: bool) -> tuple[list[str], str]:
    """The clips to score and a sentence saying which: a named split, the file's only split,
    or (only when asked for, if the file has several splits) every clip."""
    splits = doc.get("split", {})
    if pkl_split is not None:
        if pkl_split not in splits:
            raise SystemExit(f"{pkl}: no split {pkl_split!r} (has {sorted(splits)})")
        return [str(i) for i in splits[pkl_split]], f"split {pkl_split!r}"
    if len(splits) > 1 and not all_clips:
        raise SystemExit(f"{pkl} has splits {sorted(splits)}: choose the clips to score with "
                         "--pkl-split NAME, or pass --all-clips to score every clip of the file "
                         "(training clips included)")
    if len(splits) == 1 and not all_clips:
        name, ids = next(iter(splits.items()))
        return [str(i) for i in ids], f"split {name!r} (the file's only split)"
    every = [str(r["frame_dir"]) for r in doc["annotations"] if isinstance(r, dict)]
    which = f"every clip of the file, all its splits {sorted(splits)} included" if splits \
        else "every clip of the file (it has no split)"
    return every, which


def evaluate_pkl(package_dir: str | Path, pkl: str | Path, out: str | Path, *,
                 allow_pickle: bool, pkl_split: str | None = None, all_clips: bool = False,
                 fps: float = 30.0, batch_size: int = 32,
                 num_clips: int | None = None) -> dict:
    """Ingest the clips of an MMAction2 skeleton .pkl (``pkl_split``, the file's only split, or
    with ``all_clips`` every clip) into a temporary feature table and evaluate on it.

    Clips the ingest rejects are listed in ``result["ingest"]`` and in the Markdown report."""
    actions, _ = package_classes(package_dir)
    ids, scored = _pkl_clips(load_skeleton_pkl(pkl, allow_pickle), pkl, pkl_split, all_clips)
    with tempfile.TemporaryDirectory() as tmp:
        split_file = Path(tmp) / "split.json"
        split_file.write_text(json.dumps({"test": ids}))
        report = ingest_mmaction_pkl(pkl, Path(tmp) / "features", classes=actions,
                                     allow_pickle=allow_pickle, split_file=str(split_file),
                                     video_ids=ids, fps=fps)
        return evaluate(package_dir, Path(tmp) / "features", out, split="test",
                        timeline=False, batch_size=batch_size, num_clips=num_clips,
                        extra={"ingest": {"scored": f"{scored}: {len(ids)} clips",
                                          "rejected": report.rejected, "notes": report.notes}})


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("jobs.evaluate", __doc__)
    p.add_argument("--package", required=True, help="model package folder (jobs.train)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--table", help="Parquet feature table (jobs.ingest)")
    src.add_argument("--mmaction-pkl", help="MMAction2 2D skeleton .pkl[.gz] to score")
    p.add_argument("--split", default="test", choices=["train", "val", "test"],
                   help="split of --table")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow unpickling --mmaction-pkl (runs code from the file)")
    p.add_argument("--pkl-split", help="score the clips of this split of the .pkl (needed when "
                                       "the file has several splits)")
    p.add_argument("--all-clips", action="store_true",
                   help="score every clip of the .pkl, whatever its split (training clips "
                        "included)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the .pkl clips")
    p.add_argument("--out", required=True, help="report folder")
    p.add_argument("--frozen-test-set", help="JSON with the split's expected content_sha256")
    p.add_argument("--no-timeline", action="store_true", help="skip untrimmed-video timelines")
    p.add_argument("--timeline-window-s", type=float, default=1.5,
                   help="summed-window timelines (packages without a timeline head): window")
    p.add_argument("--timeline-stride-s", type=float, default=0.25,
                   help="summed-window timelines: stride")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-clips", type=int,
                   help="clips sampled per test window (default: the package's test pipeline)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.mmaction_pkl:
            result = evaluate_pkl(args.package, args.mmaction_pkl, args.out,
                                  allow_pickle=args.allow_pickle, pkl_split=args.pkl_split,
                                  all_clips=args.all_clips, fps=args.fps,
                                  batch_size=args.batch_size, num_clips=args.num_clips)
        else:
            result = evaluate(args.package, args.table, args.out, split=args.split,
                              frozen_test_set=args.frozen_test_set,
                              timeline=not args.no_timeline,
                              timeline_window_s=args.timeline_window_s,
                              timeline_stride_s=args.timeline_stride_s,
                              batch_size=args.batch_size, num_clips=args.num_clips)
    except TestSetMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (PermissionError, ValueError) as exc:
        return refuse(exc)
    clips = result["clips"]
    ingest = result.get("ingest", {})
    if ingest:
        print(f"scored: {ingest['scored']}")
    print(f"{args.split if not ingest else 'clips'}: top1 {clips['top1']:.4f}  "
          f"top5 {clips['top5']:.4f}  macro P/R/F1 {clips['macro_precision']:.4f}/"
          f"{clips['macro_recall']:.4f}/{clips['macro_f1']:.4f}  ({clips['num_clips']} clips)")
    if "timeline" in result:
        print("\n".join(timeline_lines(result["timeline"])))
    rejected = ingest.get("rejected", [])
    for r in rejected:
        print(f"rejected, not scored: {r['file']}: {'; '.join(r['issues'])}", file=sys.stderr)
    print(f"report: {Path(args.out) / 'metrics.md'}")
    if rejected:
        print(f"error: {len(rejected)} clip(s) were rejected and are not in the figures above",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
