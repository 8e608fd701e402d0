"""Choose a detector package's test-time input scale on validation images.

  python -m jobs.choose_detector_scale --package trained_models/detector --data data/workcell

Evaluates the package (MMDetection's runner and CocoMetric) on the validation split's COCO
file with the frame enlarged by each ``--factors`` value, writes the factor with the best
bbox mAP@0.5 into the package's config.py (the test pipeline's Resize, which the frame path
reads) and every candidate's figures into its metrics.json under ``test_scale``. Run it again
after jobs.train_detector; larger inputs cost detector time (docs/perception.md).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from model.cli import command_parser
from model.perception.input_scale import choose_test_scale


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("jobs.choose_detector_scale", __doc__)
    p.add_argument("--package", type=Path, default=Path("trained_models/detector"),
                   help="detector package (jobs.train_detector) (default: %(default)s)")
    p.add_argument("--data", type=Path, default=Path("data/workcell"),
                   help="dataset folder holding coco/ (default: %(default)s)")
    p.add_argument("--ann-file", default="coco/detection_val.json",
                   help="images to choose on, relative to --data; not the detector's "
                        "training images (default: %(default)s)")
    p.add_argument("--factors", type=float, nargs="+", default=[1.0, 1.25, 1.5],
                   help="candidate factors of the native frame size (default: %(default)s)")
    p.add_argument("--work-dir", type=Path, default=None,
                   help="runner logs and scored detections (default: a temporary folder)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        facts = choose_test_scale(args.package, args.data, args.ann_file, args.factors,
                                  args.work_dir or Path(tmp))
    print(json.dumps(facts, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
