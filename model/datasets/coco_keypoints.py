"""COCO-17 keypoint names and limbs, as MMPose's COCO dataset description gives them."""

from __future__ import annotations

from functools import cache
from pathlib import Path

# The one keypoint layout of this project's annotations, tables, models and service (the
# schemas in model/schemas name it too): MMPose's COCO order of 17 joints.
KEYPOINT_LAYOUT = "coco17"
NUM_KEYPOINTS = 17


@cache
def coco_pose_metainfo() -> dict:
    """MMPose's parsed metainfo of configs/_base_/datasets/coco.py (inside the mmpose wheel):
    ``keypoint_id2name``, ``skeleton_links`` (0-based), ``flip_indices``, ``sigmas``, ..."""
    import mmpose
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    path = Path(mmpose.__file__).parent / ".mim" / "configs" / "_base_" / "datasets" / "coco.py"
    return parse_pose_metainfo(dict(from_file=str(path)))
