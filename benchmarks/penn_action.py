"""Penn Action: the pose stream on real, hand-annotated human motion (no objects).

    python -m benchmarks.penn_action [--pkl ../shared/data/penn_action_train_coco17.pkl.gz]

A fixed recipe, decided before the run, so that the validation figure it reports was not chosen
on: every stream trains the same fixed schedule and keeps its last epoch (``selection='last'``
in model/configs/penn_action/, no early stopping), and the result is the ensemble of all four
streams with equal weights. Nothing is selected on the validation clips.

Steps, all through the product's own jobs:
  1. the validation split: cut once from the training clips (stratified by class, seed 0) and
     kept in benchmarks/penn_action_split.json, so it never changes; the models train on the
     other clips;
  2. ingest the MMAction2 .pkl as any user would (``jobs.ingest --mmaction-pkl``);
  3. train ST-GCN++ on each stream (joint, bone, joint motion, bone motion:
     model/configs/penn_action/stgcnpp_{j,b,jm,bm}.py) and score each on the validation split;
  4. score the four-stream ensemble, ship it to trained_models/penn_action/ (an ensemble folder
     ``jobs.evaluate --package`` accepts) and report it.
Writes benchmarks/results/penn_action.json ({"val": the ensemble, "variants": name -> top-1,
...}) and the ensemble's report to benchmarks/results/penn_action/.
"""

from __future__ import annotations

import gzip
import json
import pickle
import shutil
import time
from pathlib import Path

from mmengine.config import DictAction

from benchmarks.environment import environment
from jobs.evaluate import evaluate
from jobs.ingest import ingest_mmaction_pkl
from jobs.train import train
from model.builders import load_config, pipeline_step
from model.cli import command_parser
from model.datasets.splits import assign_splits, load_split_file, write_split_file
from model.inference.ensemble import write_ensemble

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SPLIT_FILE = Path("benchmarks/penn_action_split.json")
CONFIGS = "model/configs/penn_action"
STREAMS = ("j", "b", "jm", "bm")
ENSEMBLE = "j+b+jm+bm"          # all four streams, equal weights: fixed before any run
VAL_FRACTION = 0.15


def make_split(pkl: Path) -> None:
    """Stratified by class, seed 0: written once; later runs reuse the file."""
    with gzip.open(pkl, "rb") as f:
        doc = pickle.load(f)  # noqa: S301 - the shared Penn file is trusted project data
    labels = {str(r["frame_dir"]): str(r["label"]) for r in doc["annotations"]}
    write_split_file(SPLIT_FILE, assign_splits(labels, VAL_FRACTION, 0.0, seed=0))


def ingest(pkl: Path, data: Path) -> Path:
    classes = (pkl.parent / "penn_action_classes.txt").read_text().split()
    report = ingest_mmaction_pkl(pkl, data / "features", classes=classes, allow_pickle=True,
                                 split_file=str(SPLIT_FILE), fps=30.0, max_persons=1,
                                 overwrite=True)
    if not report.ok:
        raise SystemExit(f"ingest rejected clips: {report.rejected}")
    return data / "features"


def summary(result: dict) -> dict:
    clips = result["clips"]
    return {k: clips[k] for k in ("top1", "top5", "macro_f1", "mean_class_accuracy",
                                  "macro_precision", "macro_recall")} | {
        "num_clips": clips["num_clips"]}


def recipe(options: dict) -> dict:
    """The fixed recipe, read from the stream configs as they were run."""
    cfg = load_config(f"{CONFIGS}/stgcnpp_j.py", options=options)
    return {"epochs": cfg.train_cfg.max_epochs, "selection": cfg.train_cfg.selection,
            "clips_per_sample": pipeline_step(cfg.test_pipeline,
                                              "UniformSampleFrames")["num_clips"],
            "clip_len": cfg.clip_len, "streams": list(STREAMS),
            "ensemble": f"{ENSEMBLE}, equal weights"}


def main(argv: list[str] | None = None) -> int:
    p = command_parser("benchmarks.penn_action", __doc__)
    p.add_argument("--pkl", type=Path, default=SHARED / "penn_action_train_coco17.pkl.gz")
    p.add_argument("--data", type=Path, default=Path("data/penn_action"))
    p.add_argument("--work", type=Path, default=Path("outputs/penn_action"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument("--models", type=Path, default=Path("trained_models/penn_action"))
    p.add_argument("--num-workers", type=int, default=1)
    p.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   help="override keys of every stream's config, e.g. train_cfg.max_epochs=5 "
                        "(the recipe changes: say so where the figure is reported)")
    args = p.parse_args(argv)
    if not SPLIT_FILE.exists():
        make_split(args.pkl)
    table = ingest(args.pkl, args.data)
    variants, minutes = {}, {}
    for stream in STREAMS:
        work = args.work / stream
        started = time.perf_counter()
        train(f"{CONFIGS}/stgcnpp_{stream}.py", str(table), str(work),
              num_workers=args.num_workers, overwrite=True, options=args.cfg_options)
        minutes[stream] = (time.perf_counter() - started) / 60
        result = evaluate(work / "package", table, work / "eval", split="val")
        variants[stream] = result["clips"]["top1"]
    if args.models.exists():
        shutil.rmtree(args.models)
    for stream in STREAMS:
        shutil.copytree(args.work / stream / "package", args.models / stream)
    write_ensemble(args.models, {s: s for s in STREAMS}, dict.fromkeys(STREAMS, 1.0))
    report_dir = args.out / "penn_action"
    if report_dir.exists():
        shutil.rmtree(report_dir)
    result = evaluate(args.models, table, report_dir, split="val")
    variants[f"ensemble {ENSEMBLE}"] = result["clips"]["top1"]
    split = load_split_file(SPLIT_FILE)
    doc = {"val": {"configuration": ENSEMBLE, **summary(result)}, "variants": variants,
           "training_minutes": minutes, "device": environment()["device"],
           "split_file": str(SPLIT_FILE), "options": args.cfg_options,
           "recipe": recipe(args.cfg_options), "environment": environment(),
           "data": {"train_clips": sum(s == "train" for s in split.values()),
                    "val_clips": sum(s == "val" for s in split.values()),
                    "source": args.pkl.name}}
    (args.out / "penn_action.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
