"""Score ensembles of model packages (e.g. joint, bone and motion streams of one skeleton).

An ensemble folder holds ``ensemble.json`` and one model package per member:

    ensemble.json   {"members": {"j": "j", "b": "b"}, "weights": {"j": 1.0, "b": 1.0}}
    j/              a model package (model.inference.package)
    b/              ...

Each member runs its own test pipeline (its own features) on the same samples; the ensemble's
class probabilities are the weighted mean of the members', as MMAction2's multi-stream
skeleton recipes fuse joint / bone / motion streams.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.builders import build_dataset, load_config, pipeline_step
from model.device import local_device
from model.inference.package import CLASSES, ModelPackage, load_package
from model.inference.predict import predict_dataset

ENSEMBLE_FILE = "ensemble.json"


@dataclass
class Ensemble:
    folder: Path
    members: dict[str, ModelPackage]
    weights: dict[str, float]

    @property
    def action_classes(self) -> list[str]:
        return next(iter(self.members.values())).action_classes

    @property
    def object_classes(self) -> list[str]:
        return next(iter(self.members.values())).object_classes


def is_ensemble(folder: str | Path) -> bool:
    return (Path(folder) / ENSEMBLE_FILE).exists()


def check_weights(members, weights: dict[str, float], where: str) -> dict[str, float]:
    """One finite, non-negative weight per member, summing to more than 0 (a zero sum would
    make every score NaN and every prediction class 0)."""
    if set(weights) != set(members):
        raise ValueError(f"{where}: weights {sorted(weights)} do not match the members "
                         f"{sorted(members)}")
    bad = {k: w for k, w in weights.items()
           if not isinstance(w, (int, float)) or isinstance(w, bool) or not math.isfinite(w)
           or w < 0}
    if bad:
        raise ValueError(f"{where}: weights must be finite numbers >= 0, got {bad}")
    if sum(weights.values()) <= 0:
        raise ValueError(f"{where}: weights sum to 0; at least one member needs a positive "
                         "weight")
    return {k: float(w) for k, w in weights.items()}


def write_ensemble(folder: str | Path, members: dict[str, str],
                   weights: dict[str, float]) -> Path:
    """Describe an ensemble of packages stored in sub-folders ``members[name]``."""
    folder = Path(folder)
    weights = check_weights(members, weights, str(folder / ENSEMBLE_FILE))
    missing = [m for m in members.values() if not (folder / m / "config.py").exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: member packages {missing} are missing")
    (folder / ENSEMBLE_FILE).write_text(json.dumps({"members": members, "weights": weights},
                                                   indent=1) + "\n")
    return folder


def load_ensemble(folder: str | Path, device: torch.device | str = "cpu") -> Ensemble:
    folder = Path(folder)
    spec = json.loads((folder / ENSEMBLE_FILE).read_text())
    weights = check_weights(spec["members"], spec["weights"], str(folder / ENSEMBLE_FILE))
    members = {name: load_package(folder / sub, device) for name, sub in spec["members"].items()}
    classes = {(tuple(m.action_classes), tuple(m.object_classes)) for m in members.values()}
    if len(classes) != 1:
        raise ValueError(f"{folder}: members disagree on the classes: {classes}")
    return Ensemble(folder, members, weights)


def load_members(package_dir: str | Path) -> tuple[dict, dict[str, float]]:
    """Member packages and their weights, of a package or an ensemble folder."""
    device = local_device()
    if is_ensemble(package_dir):
        ensemble = load_ensemble(package_dir, device)
        return ensemble.members, ensemble.weights
    return {"model": load_package(package_dir, device)}, {"model": 1.0}


def package_classes(package_dir: str | Path) -> tuple[list[str], list[str]]:
    """The action and object classes of a package or ensemble, read without building the
    models."""
    folder = Path(package_dir)
    if is_ensemble(folder):
        first = next(iter(json.loads((folder / ENSEMBLE_FILE).read_text())["members"].values()))
        folder = folder / first
    classes = json.loads((folder / CLASSES).read_text())
    return classes["action_classes"], classes["object_classes"]


def predict_members(packages: dict[str, ModelPackage], table: str | Path, split: str,
                    batch_size: int, progress=None, num_clips: int | None = None,
                    **dataset_options) -> tuple[dict[str, np.ndarray], np.ndarray, list[dict]]:
    """Each package's class probabilities on the same samples of ``split``; ``num_clips``
    overrides the clips its test pipeline samples per window."""
    scores, labels, metas = {}, None, None
    for name, package in packages.items():
        cfg = load_config(package.folder / "config.py", table=table)
        if num_clips is not None:
            pipeline_step(cfg.test_pipeline, "UniformSampleFrames")["num_clips"] = num_clips
        dataset = build_dataset(cfg, split, "test_pipeline", **dataset_options)
        member_scores, member_labels, member_metas = predict_dataset(
            package.model, dataset, batch_size, progress)
        keys = [(m["video_id"], tuple(m["frame_range"])) for m in member_metas]
        if metas is not None and keys != [(m["video_id"], tuple(m["frame_range"]))
                                          for m in metas]:
            raise ValueError(f"member {name} cuts other samples than the first member; "
                             "ensemble members need the same dataset settings")
        scores[name], labels, metas = member_scores, member_labels, member_metas
    return scores, labels, metas


def combine(scores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted mean of the members' class probabilities."""
    weights = check_weights(scores, weights, "ensemble")
    total = sum(weights.values())
    return sum(weights[name] * s for name, s in scores.items()) / total
