"""COCO figures that MMDetection's CocoMetric does not report."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path


def per_class_ap50(truth: Path, detections: Path) -> dict[str, float]:
    """COCO AP@0.5 of each category (pycocotools' COCOeval restricted to it), from the
    detections CocoMetric wrote; a class without boxes in ``truth`` is left out. CocoMetric's
    ``classwise`` table gives AP@[.5:.95] per class only."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO(str(truth))
    dt = gt.loadRes(str(detections))
    out = {}
    for cat in gt.loadCats(gt.getCatIds()):
        if not gt.getAnnIds(catIds=[cat["id"]]):
            continue
        ev = COCOeval(gt, dt, "bbox")
        ev.params.catIds = [cat["id"]]
        with contextlib.redirect_stdout(io.StringIO()):
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        out[cat["name"]] = float(max(ev.stats[1], 0.0))   # -1: no detection of it at all
    return out
