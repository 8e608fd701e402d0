"""Penn Action: the pose stream on real, hand-annotated human motion (no objects).

    python -m benchmarks.penn_action [--pkl ../shared/data/penn_action_train_coco17.pkl.gz]

Steps, all through the product's own jobs:
  1. the validation split: cut once from the training clips (stratified by class, seed 0) and
     kept in benchmarks/penn_action_split.json, so it never changes; never trained on;
  2. ingest the MMAction2 .pkl as any user would (``jobs.ingest --mmaction-pkl``);
  3. train ST-GCN++ on each stream (joint, bone, joint motion, bone motion:
     model/configs/penn_action/stgcnpp_{j,b,jm,bm}.py) and evaluate each on the validation
     split, with 10 test clips (and the joint stream also with 1);
  4. score ensembles of the streams; the best configuration's packages go to
     models/penn_action/ (an ensemble folder ``jobs.evaluate --package`` accepts).
Writes benchmarks/results/penn_action.json ({"val": best, "variants": name -> top-1}) and the
best configuration's report to benchmarks/results/penn_action/.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import platform
import shutil
import time
from pathlib import Path

import torch

from jobs.evaluate import evaluate
from jobs.ingest import ingest_mmaction_pkl
from jobs.train import train
from model.datasets.splits import assign_splits, write_split_file
from model.training.ensemble import write_ensemble

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SPLIT_FILE = Path("benchmarks/penn_action_split.json")
CONFIGS = "model/configs/penn_action"
STREAMS = ("j", "b", "jm", "bm")
ENSEMBLES = {"j+b": ("j", "b"), "j+jm": ("j", "jm"), "j+b+jm+bm": STREAMS}
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.penn_action", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pkl", type=Path, default=SHARED / "penn_action_train_coco17.pkl.gz")
    p.add_argument("--data", type=Path, default=Path("data/penn_action"))
    p.add_argument("--work", type=Path, default=Path("outputs/penn_action"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument("--models", type=Path, default=Path("models/penn_action"))
    p.add_argument("--streams", nargs="+", default=list(STREAMS), choices=STREAMS)
    p.add_argument("--num-workers", type=int, default=1)
    p.add_argument("--cfg-options", nargs="+", default=[],
                   help="key=value overrides for every stream's config")
    args = p.parse_args(argv)
    options = dict(kv.split("=", 1) for kv in args.cfg_options)
    options = {k: json.loads(v) for k, v in options.items()}
    if not SPLIT_FILE.exists():
        make_split(args.pkl)
    table = ingest(args.pkl, args.data)
    variants, results, minutes = {}, {}, {}
    for stream in args.streams:
        work = args.work / stream
        started = time.perf_counter()
        train(f"{CONFIGS}/stgcnpp_{stream}.py", str(table), str(work),
              num_workers=args.num_workers, overwrite=True, options=options)
        minutes[stream] = (time.perf_counter() - started) / 60
        results[stream] = evaluate(work / "package", table, work / "eval", split="val")
        variants[f"{stream} (10 clips)"] = results[stream]["clips"]["top1"]
        if stream == "j":
            one = evaluate(work / "package", table, work / "eval_1clip", split="val",
                           num_clips=1)
            variants["j (1 clip)"] = one["clips"]["top1"]
    for name, members in ENSEMBLES.items():
        if not set(members) <= set(args.streams):
            continue
        folder = args.work / "ensembles" / name
        if folder.exists():
            shutil.rmtree(folder)
        for member in members:
            shutil.copytree(args.work / member / "package", folder / member)
        write_ensemble(folder, {m: m for m in members}, dict.fromkeys(members, 1.0))
        results[name] = evaluate(folder, table, args.work / "ensembles" / f"{name}_eval",
                                 split="val")
        variants[f"ensemble {name} (10 clips)"] = results[name]["clips"]["top1"]
    best = max(results, key=lambda n: (results[n]["clips"]["top1"],
                                       results[n]["clips"]["macro_f1"]))
    if args.models.exists():
        shutil.rmtree(args.models)
    members = ENSEMBLES.get(best, (best,))
    for member in members:
        shutil.copytree(args.work / member / "package", args.models / member)
    write_ensemble(args.models, {m: m for m in members}, dict.fromkeys(members, 1.0))
    report_dir = args.out / "penn_action"
    if report_dir.exists():
        shutil.rmtree(report_dir)
    best_eval = (args.work / "ensembles" / f"{best}_eval" if best in ENSEMBLES
                 else args.work / best / "eval")
    shutil.copytree(best_eval, report_dir)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else \
        f"CPU ({platform.processor() or platform.machine()})"
    doc = {"val": {"configuration": best, **summary(results[best])}, "variants": variants,
           "training_minutes": minutes, "device": device,
           "split_file": str(SPLIT_FILE), "options": options}
    (args.out / "penn_action.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
