"""Ray Tune with ASHA against the same search without early stopping, on the built-in data.

    python -m benchmarks.tuning [--data data/workcell-tune] [--out benchmarks/results]

Steps: generate the built-in dataset with a third of the operators
(workcell_synth/configs/small.py, seed 0; annotations only) and ingest it unless present; run
the search of model/configs/tuning/workcell_fusion.py twice with the same draws (the search
seed), the same budget per trial (``trial_options``) and the same resources: once with ASHA on
validation macro-F1, once without early stopping; retrain each sweep's best config with
jobs.train from its best_config.py as written, and the shipped recognizer config with the same
budget, and score them on the test split (never seen by the sweeps), beside the majority-class
baseline. Writes ``<out>/tuning.json`` (``asha`` / ``no_early_stopping``: trials, wall_s,
time_to_best_s, best_val_macro_f1, the retrained best config's test figures),
``<out>/tuning.md`` and ``<out>/tuning.png``; the sweeps' own reports stay in --runs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mmengine.config import DictAction

from benchmarks.environment import environment
from jobs.evaluate import evaluate
from jobs.ingest import ingest_annotations
from jobs.train import train
from jobs.tune import DEFAULT_SPACE, tune_sweep
from model.cli import command_parser
from model.evaluation.baselines import run_baseline
from model.reports import write_report
from tuning.space import load_search
from tuning.sweep import TrialResources
from workcell_synth import generate_dataset

SMALL = Path("workcell_synth/configs/small.py")
SHIPPED_CONFIG = "model/configs/workcell/fusion_xattn_stgcnpp.py"
ARMS = {"asha": True, "no_early_stopping": False}
SEED = 0
TEST_KEYS = ("top1", "macro_f1", "macro_precision", "macro_recall")


def prepare_data(data: Path) -> Path:
    table = data / "features"
    if not (data / "dataset.json").exists():
        generate_dataset(data, seed=SEED, config=SMALL, render=False, progress=True)
    if not table.exists():
        report = ingest_annotations(data, table)
        if not report.ok:
            raise SystemExit(f"ingest rejected files: {report.rejected}")
    return table


def retrain_and_test(config: str, table: Path, work: Path, options: dict | None = None) -> dict:
    """jobs.train on ``config`` (the package keeps the best validation epoch), then the test
    split."""
    metrics = train(config, str(table), str(work), cpus_per_worker=2, overwrite=True,
                    options=options)
    clips = evaluate(work / "package", table, work / "eval", timeline=False)["clips"]
    return {"config": config, "val_macro_f1": metrics["selected_val_macro_f1"],
            "selected_epoch": metrics["selected_epoch"],
            **{f"test_{k}": clips[k] for k in TEST_KEYS}}


def markdown(result: dict) -> str:
    budget = result["asha"]["budget_per_trial"]["train_cfg"]["max_epochs"]
    lines = [
        "| search | trials | stopped early | epochs trained | wall (s) | time to best (s) | "
        "best val macro-F1 | retrained best: test top-1 | test macro-F1 |",
        "|---|---|---|---|---|---|---|---|---|"]
    for arm in ARMS:
        r = result[arm]
        lines.append(
            f"| {arm.replace('_', ' ')} | {r['trials']} | {r['trials_stopped_early']} | "
            f"{r['epochs_trained']} | {r['wall_s']:.0f} | {r['time_to_best_s']:.0f} | "
            f"{r['best_val_macro_f1']:.3f} | {r['retrained']['test_top1']:.3f} | "
            f"{r['retrained']['test_macro_f1']:.3f} |")
    shipped, trivial = result["shipped_config"], result["trivial_baseline"]
    lines += [
        f"| shipped config, same budget (no search) | 1 | - | {budget} | - | - | "
        f"{shipped['val_macro_f1']:.3f} | {shipped['test_top1']:.3f} | "
        f"{shipped['test_macro_f1']:.3f} |",
        f"| trivial: majority class | - | - | - | - | - | - | {trivial['test_top1']:.3f} | "
        f"{trivial['test_macro_f1']:.3f} |"]
    return "\n".join(lines) + "\n"


def plot(runs: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, (by_time, by_trials) = plt.subplots(1, 2, figsize=(10, 3.8))
    for arm in ARMS:
        reports = pd.read_csv(runs / arm / "progress.csv")
        by_time.step(reports["elapsed_s"], reports["best_so_far"], where="post", label=arm)
        done = reports.groupby("trials_done")["best_so_far"].max()
        by_trials.step(done.index, done.values, where="post", label=arm)
    by_time.set_xlabel("seconds since the sweep started")
    by_trials.set_xlabel("trials finished")
    for axis in (by_time, by_trials):
        axis.set_ylabel("best validation macro-F1 so far")
        axis.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = command_parser("benchmarks.tuning", __doc__)
    p.add_argument("--data", type=Path, default=Path("data/workcell-tune"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument("--runs", type=Path, default=Path("outputs/benchmarks/tuning"),
                   help="the sweeps' folders and the retrained packages (not committed)")
    p.add_argument("--space", default=DEFAULT_SPACE)
    p.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   help="search space overrides, e.g. num_samples=32")
    p.add_argument("--cpus-per-trial", type=int, default=1)
    args = p.parse_args(argv)
    options = args.cfg_options
    table = prepare_data(args.data)
    search = load_search(args.space, options)
    result = {"environment": environment(), "data": {
        "generator_config": str(SMALL), "seed": SEED, "table": str(table)},
        "space": args.space, "resources_per_trial": {"workers": 1,
                                                     "cpus": args.cpus_per_trial}}
    for arm, early_stopping in ARMS.items():
        facts = tune_sweep(str(table), str(args.runs / arm), space=args.space, options=options,
                           resources=TrialResources(cpus_per_worker=args.cpus_per_trial),
                           early_stopping=early_stopping, overwrite=True)
        facts["retrained"] = retrain_and_test(facts["best_config_file"], table,
                                              args.runs / f"{arm}_retrained")
        result[arm] = facts
    budget = {"train_cfg.max_epochs": search.trial_options.train_cfg.max_epochs,
              "train_cfg.early_stop_patience": search.trial_options.train_cfg.early_stop_patience}
    result["shipped_config"] = retrain_and_test(SHIPPED_CONFIG, table, args.runs / "shipped",
                                                budget)
    majority = run_baseline("majority", table, SHIPPED_CONFIG)["clips"]
    result["trivial_baseline"] = {"name": "majority", **{f"test_{k}": majority[k]
                                                         for k in TEST_KEYS}}
    write_report(args.out / "tuning", result, markdown(result))
    plot(args.runs, args.out / "tuning.png")
    for arm in ARMS:
        shutil.copy(args.runs / arm / "trials.md", args.out / f"tuning_{arm}_trials.md")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
