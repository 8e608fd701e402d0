"""Search the recognizer's hyperparameters with Ray Tune: each trial is a jobs.train run.

The search space is an MMEngine config file (default model/configs/tuning/workcell_fusion.py:
fusion mode, learning rate, weight decay, dropout, window length, augmentation strengths,
model width), each trial trains its draw with the same training loop and configs as jobs.train
for the file's budget (``trial_options``), ASHA stops trials whose validation macro-F1 falls
behind (``--no-early-stopping``: every trial runs its budget). An interrupted sweep (Ctrl-C, a
lost head) continues with ``--resume`` (``Tuner.restore``).

Writes to --work-dir: trials.csv / trials.md (one row per trial), progress.png (the best
validation metric against time and trials), tune.json (summary) and best_config.py, the best
trial's recognizer config, which jobs.train takes as it is:
  python -m jobs.train --config <work-dir>/best_config.py --table ... --work-dir ...

Examples:
  python -m jobs.tune --table data/workcell/features --work-dir outputs/tune
  python -m jobs.tune ... --resume                          # continue an interrupted sweep
  python -m jobs.tune ... --cfg-options num_samples=32 trial_options.train_cfg.max_epochs=8
  ray job submit --working-dir . -- python -m jobs.tune --table s3://bucket/features \\
      --storage-path s3://bucket/tune --num-workers 2 --gpus-per-worker 1 ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyarrow.fs as pafs
from mmengine.config import DictAction

from jobs.train import _storage
from model.cli import command_parser, refuse
from model.cluster import init_ray
from tuning.report import write_reports
from tuning.space import SweepError, load_search
from tuning.sweep import (
    TRAIN_RUNS,
    TrialResources,
    build_tuner,
    experiment_exists,
    experiment_path,
    interrupt_recorded,
)

DEFAULT_SPACE = "model/configs/tuning/workcell_fusion.py"
EXPERIMENT = "tune"   # the sweep's folder in --storage-path (default: --work-dir)


def tune_sweep(table: str, work_dir: str, *, space: str = DEFAULT_SPACE,
               options: dict | None = None, storage_path: str | None = None,
               name: str = EXPERIMENT, resources: TrialResources | None = None,
               early_stopping: bool = True, concurrent: int | None = None,
               trial_retries: int = 0, resume: bool = False, overwrite: bool = False) -> dict:
    """Run (or resume) the sweep and write its reports; returns tune.json's summary."""
    search = load_search(space, options)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    storage = storage_path or str(work.resolve())
    init_ray()
    if not resume and experiment_exists(storage, name) and not overwrite:
        raise SystemExit(f"{storage}/{name} holds an earlier sweep: pass --resume to continue "
                         "it or --overwrite to start again")
    if not resume and overwrite:
        _clear(storage, name)
    tuner = build_tuner(search, table, storage, name, resources or TrialResources(),
                        early_stopping=early_stopping, concurrent=concurrent,
                        trial_retries=trial_retries, resume=resume)
    with interrupt_recorded() as interrupted:
        results = tuner.fit()
    # A trial with no config never reported: Tune stopped it before its first epoch.
    unfinished = max(len(results) - results.num_terminated - results.num_errors,
                     sum(r.config is None for r in results))
    if interrupted.is_set() or unfinished or len(results) < search.num_samples:
        # Tune returns after Ctrl-C (or a lost driver) with the sweep's state saved.
        raise SystemExit(f"the sweep stopped with {max(unfinished, 1)} trials unfinished: "
                         f"continue it with --resume ({experiment_path(storage, name)})")
    return write_reports(results, search, table, work, early_stopping,
                         train_runs=f"{experiment_path(storage, name)}/{TRAIN_RUNS}")


def _clear(storage: str, name: str) -> None:
    fs, root = _storage(storage)
    if fs.get_file_info(f"{root}/{name}").type != pafs.FileType.NotFound:
        fs.delete_dir(f"{root}/{name}")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("jobs.tune", __doc__)
    p.add_argument("--table", required=True, help="Parquet feature table (jobs.ingest --out)")
    p.add_argument("--work-dir", required=True, help="the sweep's reports and best config")
    p.add_argument("--space", default=DEFAULT_SPACE, help="search space file (MMEngine config)")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   help="override keys of the search space file, e.g. num_samples=32")
    p.add_argument("--no-early-stopping", action="store_true",
                   help="run every trial to its budget (FIFO) instead of ASHA")
    p.add_argument("--num-workers", type=int, default=1, help="Ray Train workers per trial")
    p.add_argument("--cpus-per-worker", type=int, default=1)
    p.add_argument("--gpus-per-worker", type=float, default=None,
                   help="default: 1 when the cluster has a GPU per worker, else 0")
    p.add_argument("--worker-resources", type=json.loads, default={}, metavar="JSON",
                   help="custom Ray resources per worker, e.g. '{\"trainer_node\": 1}'")
    p.add_argument("--max-concurrent", type=int,
                   help="trials at a time (default: as many as the cluster holds)")
    p.add_argument("--max-failures", type=int, default=0,
                   help="Ray Train restarts of a trial's workers from its last checkpoint")
    p.add_argument("--trial-retries", type=int, default=0,
                   help="Tune restarts of a failed trial (it resumes its training run)")
    p.add_argument("--storage-path", help="where Tune and the trials' training runs keep "
                                          "their state (local path or URI such as "
                                          "s3://bucket/tune); default --work-dir")
    p.add_argument("--name", default=EXPERIMENT, help="the sweep's folder in the storage path")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    p.add_argument("--overwrite", action="store_true", help="discard an earlier sweep")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    resources = TrialResources(args.num_workers, args.cpus_per_worker, args.gpus_per_worker,
                               args.worker_resources, args.max_failures)
    try:
        facts = tune_sweep(args.table, args.work_dir, space=args.space,
                           options=args.cfg_options, storage_path=args.storage_path,
                           name=args.name, resources=resources,
                           early_stopping=not args.no_early_stopping,
                           concurrent=args.max_concurrent, trial_retries=args.trial_retries,
                           resume=args.resume, overwrite=args.overwrite)
    except SweepError as exc:
        return refuse(exc)
    except KeyboardInterrupt:
        # Outside Tune's run loop (starting, or writing the reports): the sweep's state on
        # storage is whole, and --resume writes the reports again from it.
        print(f"interrupted: continue with --resume ({args.storage_path or args.work_dir})",
              file=sys.stderr)
        return 130
    metric = next(k for k in facts if k.startswith("best_val"))
    print(f"{facts['trials']} trials in {facts['wall_s']:.0f} s; {metric} "
          f"{facts[metric]:.4f} after {facts['time_to_best_s']:.0f} s")
    print(f"best config: {facts['best_config_file']}; trials: "
          f"{Path(args.work_dir) / 'trials.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
