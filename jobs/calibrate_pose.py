"""Calibrate a pose package's keypoint scores to the feature table's [0, 1] confidences.

  python -m jobs.calibrate_pose --package trained_models/pose --data data/workcell

Runs the package's pose model on the persons of a COCO keypoint file it was not trained on
(default: the validation split), fits P(joint right | raw score) with isotonic regression,
sets the missing-joint threshold so that as many joints are marked missing as the annotation
table's train split leaves out, and writes keypoint_calibration.json (with its facts) beside the
weights, where extraction configs with pose.calibration="package" find it. Prints the facts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from model.cli import command_parser
from model.perception.calibration import calibrate_package


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("jobs.calibrate_pose", __doc__)
    p.add_argument("--package", type=Path, default=Path("trained_models/pose"),
                   help="pose package (jobs.train_pose) (default: %(default)s)")
    p.add_argument("--data", type=Path, default=Path("data/workcell"),
                   help="dataset folder holding coco/ (default: %(default)s)")
    p.add_argument("--ann-file", default="coco/keypoints_val.json",
                   help="persons to fit on, relative to --data; not the pose model's "
                        "training persons (default: %(default)s)")
    p.add_argument("--pck-thr", type=float, default=0.1,
                   help="a joint is right within this fraction of its box size "
                        "(default: %(default)s)")
    p.add_argument("--table", type=Path, default=None,
                   help="annotation feature table whose train split's missing-joint rate the "
                        "threshold reproduces (default: <data>/features)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    facts = calibrate_package(args.package, args.data, args.ann_file, args.pck_thr,
                              args.table or args.data / "features")
    print(json.dumps(facts, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
