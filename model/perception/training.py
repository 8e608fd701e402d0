"""Train an MMDetection or MMPose model-zoo config with MMEngine's runner; package the result.

Both perception jobs (jobs.train_detector, jobs.train_pose) are this module with their toolbox:
the config's datasets and evaluators are pointed at a generated dataset's COCO files, the
toolbox's own ``Runner`` trains (its logger prints progress, loss, ETA; its EMA, checkpoint and
scheduler hooks run as configured), validates once at the end, and the package gets the merged
config and the last checkpoint's (EMA) weights without the optimizer state. The extraction
actors load such a package through their ordinary path: ``init_detector`` / ``init_model``
with config + checkpoint.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

PACKAGE_CONFIG = "config.py"
PACKAGE_WEIGHTS = "weights.pth"
PACKAGE_METRICS = "metrics.json"


class CocoDataError(ValueError):
    """A COCO file is missing or does not fit the config."""


def _evaluators(cfg: Config) -> list:
    evaluators = []
    for key in ("val_evaluator", "test_evaluator"):
        value = cfg.get(key)
        evaluators += value if isinstance(value, list) else [value]
    return [e for e in evaluators if e is not None]


def point_at_dataset(cfg: Config, data_root: Path) -> list[Path]:
    """Set every dataloader's ``data_root`` and every COCO metric's ``ann_file`` to files of
    ``data_root``; return the annotation files the config reads, each checked to exist."""
    files = []
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        dataset = cfg[key].dataset
        dataset.data_root = str(data_root)
        files.append(data_root / dataset.ann_file)
    for evaluator in _evaluators(cfg):
        if "ann_file" in evaluator:
            evaluator.ann_file = str(data_root / Path(evaluator.ann_file))
            files.append(Path(evaluator.ann_file))
    for path in files:
        if not path.is_file():
            raise CocoDataError(f"{path}: COCO annotation file not found (generate the dataset "
                                "with its videos: python -m jobs.make_dataset --out ...)")
    return sorted(set(files))


def check_categories(path: Path, classes: tuple[str, ...]) -> None:
    """The file's categories, by id, must be the config's classes in order."""
    doc = json.loads(path.read_text())
    names = tuple(c["name"] for c in sorted(doc.get("categories", []), key=lambda c: c["id"]))
    if names != tuple(classes):
        raise CocoDataError(f"{path}: field 'categories' is {list(names)}; the config's "
                            f"classes are {list(classes)}")


def _copy_logs(work_dir: Path, package: Path) -> None:
    """The runner's text log and scalars (one folder per run, named by its timestamp)."""
    runs = sorted(p for p in work_dir.iterdir() if p.is_dir() and (p / "vis_data").is_dir())
    if not runs:
        return
    logs = package / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for path in [*runs[-1].glob("*.log"), runs[-1] / "vis_data" / "scalars.json"]:
        if path.is_file():
            shutil.copy2(path, logs / path.name)


def _plain(value):
    """Numpy arrays (MMPose's dataset meta: sigmas, colours) as lists, so that the weights file
    loads with ``torch.load(weights_only=True)``, MMEngine's default."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value


def write_package(work_dir: Path, package: Path, cfg: Config, metrics: dict,
                  extra: dict) -> Path:
    """``package``: config.py, weights.pth (state dict + dataset meta), metrics.json, logs/."""
    checkpoint_path = Path((work_dir / "last_checkpoint").read_text().strip())
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    cfg.dump(str(package / PACKAGE_CONFIG))
    # The EMA hook has already put the averaged weights under 'state_dict' for deployment.
    torch.save({"meta": _plain({k: checkpoint["meta"][k] for k in ("dataset_meta", "iter")
                                if k in checkpoint["meta"]}),
                "state_dict": checkpoint["state_dict"]}, package / PACKAGE_WEIGHTS)
    (package / PACKAGE_METRICS).write_text(json.dumps(
        {"val": {k: float(v) for k, v in metrics.items()}, **extra}, indent=2) + "\n")
    _copy_logs(work_dir, package)
    return package


def lineage_of(package: Path) -> list[dict]:
    """The runs that made a package's weights, oldest first (a package written before runs
    were listed counts as one run)."""
    path = package / PACKAGE_METRICS
    if not path.is_file() or not (package / PACKAGE_WEIGHTS).is_file():
        raise CocoDataError(f"{package}: not a model package (no {PACKAGE_METRICS} and "
                            f"{PACKAGE_WEIGHTS}) to resume from")
    doc = json.loads(path.read_text())
    return doc.get("lineage") or [{k: doc.get(k) for k in ("iterations", "train_seconds",
                                                           "device", "val")}]


def train_and_package(cfg: Config, data_root: Path, work_dir: Path, package: Path,
                      classes: tuple[str, ...] | None = None,
                      lineage: list[dict] | None = None) -> dict:
    """Train ``cfg`` on ``data_root``'s COCO files in ``work_dir`` (from ``cfg.load_from``'s
    weights when set: a continuation of the runs in ``lineage``), validate, write ``package``;
    return the package's metrics document."""
    files = point_at_dataset(cfg, data_root)
    if classes is not None:
        for path in files:
            check_categories(path, classes)
    cfg.work_dir = str(work_dir)
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_seconds = time.perf_counter() - start
    metrics = runner.val()
    generator = {}
    if (data_root / "dataset.json").is_file():
        generator = {k: v for k, v in json.loads((data_root / "dataset.json").read_text())
                     .get("generator", {}).items() if k != "config"}
    run = {"iterations": cfg.train_cfg.max_iters, "train_seconds": round(train_seconds, 1),
           "device": str(next(runner.model.parameters()).device),
           "started_from": cfg.get("load_from") or "scratch",
           "val": {k: float(v) for k, v in metrics.items()}}
    runs = [*(lineage or []), run]
    extra = {**{k: run[k] for k in ("iterations", "train_seconds", "device")},
             "total_iterations": sum(r["iterations"] or 0 for r in runs), "lineage": runs,
             "data": str(data_root), "generator": generator,
             "annotation_files": [str(p) for p in files]}
    write_package(work_dir, package, cfg, metrics, extra)
    return json.loads((package / PACKAGE_METRICS).read_text())


def evaluate_package(package: Path, data_root: Path, ann_file: str, work_dir: Path, *,
                     trained: bool = True, classwise: bool = False,
                     results_prefix: Path | None = None, cfg: Config | None = None) -> dict:
    """The package config's test evaluators on ``data_root/ann_file`` (e.g. the test split's
    COCO file), through the toolbox's runner. ``trained=False`` evaluates the architecture as
    built, without the package's weights (the floor a trained model is compared with);
    ``results_prefix``: where CocoMetric writes the detections it scored
    (``<prefix>.bbox.json``); ``cfg``: a variant of the package's config to evaluate instead
    (changed here)."""
    cfg = cfg if cfg is not None else Config.fromfile(str(package / PACKAGE_CONFIG))
    path = data_root / ann_file
    if not path.is_file():
        raise CocoDataError(f"{path}: COCO annotation file not found")
    cfg.test_dataloader.dataset.update(data_root=str(data_root), ann_file=ann_file)
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
        else [cfg.test_evaluator]
    for evaluator in evaluators:
        if "ann_file" in evaluator:
            evaluator.ann_file = str(path)
        if classwise and evaluator.type == "CocoMetric" and "metric" in evaluator:
            evaluator.classwise = True
        if results_prefix is not None and evaluator.type == "CocoMetric":
            evaluator.outfile_prefix = str(results_prefix)
    cfg.test_evaluator = evaluators
    cfg.load_from = str(package / PACKAGE_WEIGHTS) if trained else None
    cfg.work_dir = str(work_dir)
    metrics = Runner.from_cfg(cfg).test()
    return {k: float(v) if isinstance(v, int | float) else v for k, v in metrics.items()}
