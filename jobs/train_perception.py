"""The shared command line of jobs.train_detector and jobs.train_pose.

Each trains its model-zoo config from scratch (or, with ``--resume-from``, from an earlier
package's weights, so that a schedule longer than one sitting is possible) on a generated
dataset's COCO files with MMEngine's runner (a GPU when there is one) and writes a model package
(config.py, weights.pth, metrics.json with every run that led to the weights, logs/) that the
extraction config names. The pose job then calibrates the package's keypoint scores
(jobs.calibrate_pose) unless told not to. On a cluster it is an ordinary Ray job;
``--entrypoint-num-gpus 1`` puts it on a node with a GPU:

  ray job submit --working-dir . --entrypoint-num-gpus 1 -- \\
      python -m jobs.train_detector --data data/workcell --package trained_models/detector
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mmengine.config import Config, DictAction

from model.config_files import read_config
from model.perception.calibration import calibrate_package
from model.perception.training import CocoDataError, lineage_of, train_and_package


@dataclass(frozen=True)
class PerceptionJob:
    name: str                 # module name, for --help
    what: str
    config: str               # default config
    package: str              # default package folder
    classes_key: str | None   # config key with the class names the COCO files must have
    calibrates: bool = False  # fit the keypoint score calibration into the package afterwards


def parse_args(job: PerceptionJob, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m jobs.{job.name}", description=f"Train {job.what} on the COCO files "
        "of a generated dataset with MMEngine's runner and write a model package.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config", default=job.config, help="MMEngine config")
    parser.add_argument("--data", type=Path, default=Path("data/workcell"),
                        help="dataset folder holding coco/ (python -m jobs.make_dataset)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="runner logs and checkpoints (default: outputs/<job name>)")
    parser.add_argument("--package", type=Path, default=Path(job.package),
                        help="model package to write (replaced if present)")
    parser.add_argument("--max-iters", type=int, default=None,
                        help="training iterations (default: the config's)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                        help="overrides of the config, key=value (e.g. "
                             "train_dataloader.batch_size=4)")
    parser.add_argument("--resume-from", type=Path, default=None, metavar="PACKAGE",
                        help="start from this package's weights (its schedule runs again from "
                             "the warm-up; the package's metrics.json then lists every run); "
                             "may be --package itself")
    if job.calibrates:
        parser.add_argument("--no-calibration", action="store_true",
                            help="skip the keypoint score calibration (jobs.calibrate_pose) "
                                 "of the new package")
        parser.add_argument("--calibration-table", type=Path, default=None,
                            help="annotation feature table whose missing-joint rate the "
                                 "calibration reproduces (default: <data>/features)")
    return parser.parse_args(argv)


def _set_iterations(cfg: Config, max_iters: int) -> None:
    """Shorten or lengthen the schedule: the loop, the cosine phase, the final checkpoint."""
    warmup = min(cfg.warmup_iters, max(1, max_iters // 10))
    cfg.train_cfg.update(max_iters=max_iters, val_begin=max_iters + 1, val_interval=max_iters)
    cfg.param_scheduler[0].end = warmup
    cfg.param_scheduler[1].update(begin=warmup, end=max_iters, T_max=max(1, max_iters - warmup))
    cfg.default_hooks.checkpoint.interval = max_iters


def run(job: PerceptionJob, argv: list[str] | None = None) -> int:
    args = parse_args(job, argv)
    cfg = read_config(args.config, args.cfg_options)
    if args.max_iters is not None:
        _set_iterations(cfg, args.max_iters)
    work_dir = args.work_dir or Path("outputs") / job.name
    classes = tuple(cfg[job.classes_key]) if job.classes_key else ("person",)
    try:
        lineage = lineage_of(args.resume_from) if args.resume_from else []
        if args.resume_from:
            cfg.load_from = str(args.resume_from.resolve() / "weights.pth")
        metrics = train_and_package(cfg, args.data.resolve(), work_dir.resolve(),
                                    args.package, classes, lineage)
    except CocoDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(metrics["val"], indent=1))
    if job.calibrates and not args.no_calibration:
        table = args.calibration_table or args.data / "features"
        facts = calibrate_package(args.package, args.data, "coco/keypoints_val.json", 0.1, table)
        print(f"keypoint scores calibrated: {facts['marked_missing_fraction']:.3f} of the "
              f"validation joints marked missing (the annotations: "
              f"{facts['annotation_missing_fraction']:.3f})")
    print(f"package: {args.package}")
    return 0
