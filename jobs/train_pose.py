"""Train the workcell pose model (top-down COCO-17 keypoints) and write its package.

  python -m jobs.train_pose --data data/workcell                # about 25 min on 2 CPU cores
  python -m jobs.train_pose --max-iters 3 --package /tmp/pose --no-calibration  # a smoke run
  python -m jobs.train_pose --resume-from trained_models/pose      # 1500 more iterations
"""

import sys

from jobs.train_perception import PerceptionJob, run

JOB = PerceptionJob("train_pose", "the workcell pose model (MMPose)",
                    "model/configs/perception/pose_rtmpose_t.py", "trained_models/pose", None,
                    calibrates=True)

if __name__ == "__main__":
    sys.exit(run(JOB))
