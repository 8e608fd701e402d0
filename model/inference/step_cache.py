"""A file cache of per-step features, keyed by what they depend on (the recognizer's weights,
the table's split content, the window and step, the feature recipe), so that re-training a
timeline head or re-running a benchmark does not re-run the recognizer over every video."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.datasets.feature_table import content_checksum
from model.inference.package import WEIGHTS, ModelPackage
from model.inference.step_features import (
    FEATURE_RECIPE,
    StepFeatures,
    merge_windows,
    video_step_features,
)


def cache_key(weights: Path, split_checksum: str, window_s: float, step_s: float,
              videos: list[str], augment_seed: int | None = None) -> str:
    digest = hashlib.sha256(weights.read_bytes())
    digest.update(json.dumps([FEATURE_RECIPE, split_checksum, window_s, step_s,
                              sorted(videos)] + ([] if augment_seed is None else
                                                 ["augmented", augment_seed])).encode())
    return digest.hexdigest()[:20]


def load(folder: Path, key: str) -> dict[str, StepFeatures] | None:
    path = folder / f"{key}.npz"
    if not path.exists():
        return None
    with np.load(path) as data:
        videos = json.loads(str(data["videos"]))
        return {v: StepFeatures(data[f"{v}/features"], data[f"{v}/probs"], data[f"{v}/steps"],
                                data[f"{v}/labels"], float(data[f"{v}/fps"]))
                for v in videos}


def save(folder: Path, key: str, features: dict[str, StepFeatures]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"videos": json.dumps(list(features))}
    for v, f in features.items():
        arrays.update({f"{v}/features": f.features, f"{v}/probs": f.probs,
                       f"{v}/steps": f.steps, f"{v}/labels": f.labels, f"{v}/fps": f.fps})
    path = folder / f"{key}.npz"
    np.savez_compressed(path, **arrays)
    return path


def step_features(package: ModelPackage, table: str | Path, split: str, videos: list[str],
                  windows_s: Sequence[float], step_s: float, batch_size: int = 64,
                  cache_dir: str | Path | None = None,
                  augment_seed: int | None = None) -> dict[str, StepFeatures]:
    """Per-step features of several window lengths, concatenated (``merge_windows``)."""
    return merge_windows([_one_window(package, table, split, videos, w, step_s, batch_size,
                                      cache_dir, augment_seed) for w in windows_s])


def _one_window(package: ModelPackage, table: str | Path, split: str, videos: list[str],
                window_s: float, step_s: float, batch_size: int,
                cache_dir: str | Path | None, augment_seed: int | None) -> dict[str, StepFeatures]:
    """``video_step_features`` with a progress bar, read from / written to ``cache_dir``."""
    key = None
    if cache_dir is not None:
        key = cache_key(package.folder / WEIGHTS, content_checksum(table, split), window_s,
                        step_s, videos, augment_seed)
        cached = load(Path(cache_dir), key)
        if cached is not None:
            return cached
    what = "" if augment_seed is None else f", augmented (seed {augment_seed})"
    with tqdm(desc=f"{split} step windows of {window_s} s{what}", unit="window") as bar:
        features = video_step_features(package, table, split, videos, window_s, step_s,
                                       batch_size, bar.update, augment_seed)
    if key is not None:
        save(Path(cache_dir), key, features)
    return features
