"""Per-step recognizer features of whole videos: the input of the temporal model.

At every step (``step_s``) the recognizer package runs on the causal window of ``window_s``
that ends at that frame (``FeatureTableDataset`` mode ``causal``), and its fused features are
pooled as its ``GCNHead`` pools them, next to those of the window's newest temporal position;
several window lengths give one feature vector each, concatenated. The same features feed the
offline temporal model (which looks at later steps too) and the online one (which does not),
so one extraction serves both.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from mmengine.runner import set_random_seed

from model.builders import build_dataloader, build_dataset, load_config, pipeline_step
from model.datasets.feature_table import read_feature_table
from model.datasets.window_dataset import VideoArrays, causal_windows
from model.inference.package import ModelPackage

# The recipe of the features (sampler, readout); part of the cache key, changed with it.
FEATURE_RECIPE = "causal-sampler/pooled+newest/v1"


@dataclass
class StepFeatures:
    """One video: ``features`` (S, C) and recognizer ``probs`` (S, K) at the frames ``steps``
    (S,), the true ``labels`` of all its frames (T,), and its frame rate."""
    features: np.ndarray
    probs: np.ndarray
    steps: np.ndarray
    labels: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        return len(self.labels)

    @property
    def step_frames(self) -> int:
        """Frames between steps (steps are 0, stride, 2 stride, ...)."""
        return int(self.steps[1]) if len(self.steps) > 1 else 1

    def step_labels(self) -> np.ndarray:
        return self.labels[self.steps]


def step_pipeline(cfg: Config, augmented: bool = False) -> list[dict]:
    """The package's test pipeline with ``CausalSampleFrames`` in place of its sampler: one
    clip per window (five would cost five times as much per step), in time order with the
    newest frame last. ``augmented``: its training pipeline instead (random flips, affine,
    keypoint noise, joint and object dropout per window) without the speed jitter, which
    would move the window's end."""
    source = cfg.train_pipeline if augmented else cfg.test_pipeline
    pipeline = [step for step in copy.deepcopy(source) if step["type"] != "TemporalSpeedJitter"]
    sampler = pipeline_step(pipeline, "UniformSampleFrames")
    pipeline[pipeline.index(sampler)] = dict(type="CausalSampleFrames",
                                             clip_len=sampler["clip_len"])
    return pipeline


def check_embeddable(model: torch.nn.Module) -> None:
    head = getattr(model, "cls_head", None)
    if head is None or not hasattr(head, "fc"):
        raise ValueError(f"{type(model).__name__}: per-step features need a recognizer whose "
                         "head is a GCNHead (one fused feature tensor)")


def readout(feats: torch.Tensor, fc: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (B, 2 C), class probabilities (B, K)) of the neck's (B, M, C, T, V) fused
    features: pooled over the window as ``GCNHead`` pools them, then those of the newest
    temporal position alone (the last frames of the window: what localises a change in
    time)."""
    pooled = feats.mean(dim=(3, 4)).mean(dim=1)
    newest = feats[:, :, :, -1].mean(dim=(1, 3))
    return torch.cat([pooled, newest], dim=1), torch.softmax(fc(pooled), dim=1)


def neck_features(model: torch.nn.Module, inputs: dict) -> torch.Tensor:
    feats, _ = model.extract_feat(inputs, stage="neck")
    if not isinstance(feats, torch.Tensor) or feats.dim() != 5:
        raise ValueError(f"{type(model).__name__}: per-step features need one (N, M, C, T, V) "
                         "feature tensor from the neck (late-fusion models have none)")
    return feats


@torch.no_grad()
def embed(model: torch.nn.Module, data: dict) -> tuple[np.ndarray, np.ndarray]:
    """(features (B, 2 C), class probabilities (B, K)) of a collated batch of one-clip
    windows (see ``readout``)."""
    check_embeddable(model)
    model.eval()
    batch = model.data_preprocessor(data, False)
    features, probs = readout(neck_features(model, batch["inputs"]), model.cls_head.fc)
    return features.float().cpu().numpy(), probs.float().cpu().numpy()


def frame_labels(table: str | Path, split: str,
                 videos: list[str]) -> dict[str, tuple[np.ndarray, float]]:
    """Per video: the label of every frame and the frame rate."""
    rows, _ = read_feature_table(table, splits=[split], columns=["video_id", "label", "fps"])
    out = {}
    for v in videos:
        mine = rows.filter(pc.equal(rows.column("video_id"), v))
        out[v] = mine.column("label").to_numpy(), float(mine.column("fps")[0].as_py())
    return out


def video_step_features(package: ModelPackage, table: str | Path, split: str,
                        videos: list[str], window_s: float, step_s: float,
                        batch_size: int = 64, progress=None,
                        augment_seed: int | None = None) -> dict[str, StepFeatures]:
    """Step features of ``videos`` of ``split`` (``progress`` is called with windows done);
    with ``augment_seed``, of windows augmented by the training pipeline (seeded)."""
    cfg = load_config(package.folder / "config.py", table=table)
    pipeline = "test_pipeline" if augment_seed is None else "train_pipeline"
    cfg[pipeline] = step_pipeline(cfg, augmented=augment_seed is not None)
    dataset = build_dataset(cfg, split, pipeline, mode="causal", window_s=window_s,
                            stride_s=step_s, video_ids=videos)
    if augment_seed is not None:
        set_random_seed(augment_seed)
    feats, probs, ends, ids = [], [], [], []
    for data in build_dataloader(dataset, batch_size, shuffle=False, seed=0):
        f, p = embed(package.model, data)
        feats.append(f)
        probs.append(p)
        for sample in data["data_samples"]:
            ids.append(sample.metainfo["video_id"])
            ends.append(sample.metainfo["frame_range"][1] - 1)
        if progress is not None:
            progress(len(data["data_samples"]))
    feats, probs = np.concatenate(feats), np.concatenate(probs)
    ids, ends = np.array(ids), np.array(ends)
    labels = frame_labels(table, split, videos)
    return {v: StepFeatures(feats[ids == v], probs[ids == v], ends[ids == v], *labels[v])
            for v in videos}


def merge_windows(per_window: list[dict[str, StepFeatures]]) -> dict[str, StepFeatures]:
    """One video's step features of several window lengths (same steps) as one: features
    concatenated in the order given, recognizer probabilities averaged."""
    first = per_window[0]
    return {v: StepFeatures(np.concatenate([w[v].features for w in per_window], 1),
                            np.mean([w[v].probs for w in per_window], 0), f.steps, f.labels,
                            f.fps)
            for v, f in first.items()}


def to_frames(step_values: np.ndarray, steps: np.ndarray, num_frames: int) -> np.ndarray:
    """Per-frame values from per-step ones: a frame takes the value of the last step at or
    before it (what an online system knows at that frame)."""
    index = np.searchsorted(steps, np.arange(num_frames), side="right") - 1
    if index.min() < 0:
        raise ValueError(f"frames before the first step {steps[0]} have no value")
    return step_values[index]


def report_times(video: StepFeatures, lag: int) -> np.ndarray:
    """Per frame, the frame at which the online mode gives its answer: the step ``lag``
    steps after the frame's own step (the last step for the end of the video)."""
    answered_at = video.steps[np.minimum(np.arange(len(video.steps)) + lag,
                                         len(video.steps) - 1)]
    return to_frames(answered_at, video.steps, video.num_frames)


def window_step_features(package: ModelPackage, video: VideoArrays, window_s: float,
                         step_s: float, batch_size: int = 64) -> StepFeatures:
    """``video_step_features`` of one video held in memory (``VideoArrays``, e.g. of the
    frame path's rows with the person followed as the subject): the same causal windows
    (``causal_windows``), the same step pipeline and readout, without a table or a dataset."""
    with DefaultScope.overwrite_default_scope("mmaction"):
        pipeline = Compose(step_pipeline(package.cfg))
    windows = causal_windows(video, window_s, step_s)
    feats, probs = [], []
    for start in range(0, len(windows), batch_size):
        # What BaseActionDataset.get_data_info adds to every sample of the dataset path.
        batch = [pipeline({**w, "modality": "Pose", "start_index": 0})
                 for w in windows[start:start + batch_size]]
        f, p = embed(package.model, pseudo_collate(batch))
        feats.append(f)
        probs.append(p)
    steps = np.array([w["frame_range"][1] - 1 for w in windows])
    return StepFeatures(np.concatenate(feats), np.concatenate(probs), steps, video.label,
                        video.fps)
