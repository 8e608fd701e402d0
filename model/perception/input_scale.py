"""The detector's test-time input scale, chosen on validation images.

The workcell's small tools are a few pixels wide at the camera's resolution; enlarging the
frame before the detector (the test pipeline's ``Resize``) shows them larger to a network
trained on 0.8-1.25x scale jitter, at a cost in time that grows with the pixels. Which factor
pays is measured, not assumed: each candidate is evaluated with the toolbox's runner and COCO
metric on a split the detector did not train on, and the package's config gets the factor with
the best bbox mAP@0.5 (ties: the smaller, cheaper input); its ``metrics.json`` records every
candidate's figures under ``test_scale``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from mmengine.config import Config

from model.perception.coco_metrics import per_class_ap50
from model.perception.training import (
    PACKAGE_CONFIG,
    PACKAGE_METRICS,
    CocoDataError,
    evaluate_package,
)


def native_size(coco_file: Path) -> tuple[int, int]:
    """(width, height) of the images of a COCO file (the camera's frame); ``CocoDataError``
    when they differ or there are none."""
    sizes = {(int(im["width"]), int(im["height"]))
             for im in json.loads(coco_file.read_text()).get("images", [])}
    if len(sizes) != 1:
        raise CocoDataError(f"{coco_file}: images: expected one frame size, found "
                            f"{sorted(sizes) or 'none'}")
    return sizes.pop()


def with_test_scale(cfg: Config, scale: tuple[int, int]) -> Config:
    """A copy of a detector config whose test-time ``Resize`` (the test pipeline and the
    val/test dataloaders' pipelines, which the frame path and the evaluators read) goes to
    ``scale`` (w, h), keeping the ratio."""
    out = copy.deepcopy(cfg)
    pipelines = [out.test_pipeline] + [out[k].dataset.pipeline
                                       for k in ("val_dataloader", "test_dataloader")]
    for pipeline in pipelines:
        resizes = [step for step in pipeline if step["type"].split(".")[-1] == "Resize"]
        if len(resizes) != 1:
            raise ValueError(f"test pipeline with {len(resizes)} Resize steps; expected one")
        resizes[0].update(scale=tuple(int(v) for v in scale), keep_ratio=True)
    return out


def choose_test_scale(package: Path, data_root: Path, ann_file: str, factors: list[float],
                      work_dir: Path) -> dict:
    """Evaluate ``package`` on ``data_root/ann_file`` at each factor of the native frame
    size, write the best into the package's config and its facts into ``metrics.json``;
    return the facts."""
    if not factors or min(factors) <= 0:
        raise ValueError(f"factors must be positive, got {factors}")
    truth = data_root / ann_file
    if not truth.is_file():
        raise CocoDataError(f"{truth}: COCO annotation file not found")
    width, height = native_size(truth)
    base = Config.fromfile(str(package / PACKAGE_CONFIG))
    candidates = []
    for factor in sorted(set(factors)):
        scale = (int(round(width * factor)), int(round(height * factor)))
        work = work_dir / f"x{factor:g}"
        metrics = evaluate_package(package, data_root, ann_file, work,
                                   results_prefix=work / "detections",
                                   cfg=with_test_scale(base, scale))
        candidates.append({"factor": factor, "scale": list(scale),
                           "map50": metrics["coco/bbox_mAP_50"], "map": metrics["coco/bbox_mAP"],
                           "map_small": metrics["coco/bbox_mAP_s"],
                           "per_class_ap50": per_class_ap50(truth,
                                                            work / "detections.bbox.json")})
    best = max(candidates, key=lambda c: (c["map50"], -c["factor"]))
    with_test_scale(base, tuple(best["scale"])).dump(str(package / PACKAGE_CONFIG))
    facts = {"factor": best["factor"], "scale": best["scale"], "chosen_on": str(truth),
             "criterion": "bbox mAP@0.5 (ties: the smaller factor)", "candidates": candidates}
    metrics_path = package / PACKAGE_METRICS
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics["test_scale"] = facts
    metrics_path.write_text(json.dumps(metrics, indent=1))
    return facts
