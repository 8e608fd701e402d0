"""Score ensembles of model packages (e.g. joint, bone and motion streams of one skeleton).

An ensemble folder holds ``ensemble.json`` and one model package per member:

    ensemble.json   {"members": {"j": "j", "b": "b"}, "weights": {"j": 1.0, "b": 1.0}}
    j/              a model package (model.training.package)
    b/              ...

Each member runs its own test pipeline (its own features) on the same samples; the ensemble's
class probabilities are the weighted mean of the members', as MMAction2's multi-stream
skeleton recipes fuse joint / bone / motion streams.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.training.builders import build_dataset, load_config
from model.training.package import ModelPackage, load_package
from model.training.predict import predict_dataset

ENSEMBLE_FILE = "ensemble.json"


@dataclass
class Ensemble:
    folder: Path
    members: dict[str, ModelPackage]
    weights: dict[str, float]

    @property
    def action_classes(self) -> list[str]:
        return next(iter(self.members.values())).action_classes


def is_ensemble(folder: str | Path) -> bool:
    return (Path(folder) / ENSEMBLE_FILE).exists()


def write_ensemble(folder: str | Path, members: dict[str, str],
                   weights: dict[str, float]) -> Path:
    """Describe an ensemble of packages stored in sub-folders ``members[name]``."""
    folder = Path(folder)
    missing = [m for m in members.values() if not (folder / m / "config.py").exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: member packages {missing} are missing")
    (folder / ENSEMBLE_FILE).write_text(json.dumps({"members": members, "weights": weights},
                                                   indent=1) + "\n")
    return folder


def load_ensemble(folder: str | Path, device: torch.device | str = "cpu") -> Ensemble:
    folder = Path(folder)
    spec = json.loads((folder / ENSEMBLE_FILE).read_text())
    members = {name: load_package(folder / sub, device) for name, sub in spec["members"].items()}
    classes = {tuple(m.action_classes) for m in members.values()}
    if len(classes) != 1:
        raise ValueError(f"{folder}: members disagree on the classes: {classes}")
    return Ensemble(folder, members, {n: float(spec["weights"][n]) for n in members})


def predict_members(packages: dict[str, ModelPackage], table: str | Path, split: str,
                    batch_size: int, progress=None, num_clips: int | None = None,
                    **dataset_options) -> tuple[dict[str, np.ndarray], np.ndarray, list[dict]]:
    """Each package's class probabilities on the same samples of ``split``; ``num_clips``
    overrides the clips its test pipeline samples per window."""
    scores, labels, metas = {}, None, None
    for name, package in packages.items():
        cfg = load_config(package.folder / "config.py", table=table)
        if num_clips is not None:
            sampler = next(s for s in cfg.test_pipeline if s["type"] == "UniformSampleFrames")
            sampler["num_clips"] = num_clips
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
    total = sum(weights[name] for name in scores)
    return sum(weights[name] * s for name, s in scores.items()) / total
