"""Train the workcell detector (person + object classes) and write its package.

  python -m jobs.train_detector --data data/workcell            # about 28 min on 2 CPU cores
  python -m jobs.train_detector --max-iters 3 --package /tmp/det  # a smoke run
"""

import sys

from jobs.train_perception import PerceptionJob, run

JOB = PerceptionJob("train_detector", "the workcell detector (MMDetection)",
                    "model/configs/perception/detector_rtmdet_nano.py",
                    "trained_models/detector", "classes")

if __name__ == "__main__":
    sys.exit(run(JOB))
