"""Load the detector and the pose model of a frame-path config through their toolboxes' APIs.

A model is named in the config (``detector.model`` / ``pose.model``: a key of
``model/configs/extraction/model_zoo.py``), which gives its model-zoo config inside the mmdet /
mmpose wheel, or the config file of a model package (jobs.train_detector / jobs.train_pose);
the weights come from ``checkpoint`` (a path or URL, loaded by MMEngine's
checkpoint loader). Without a checkpoint the model is only built with ``random_weights``: the
architecture's own initialisation (``init_weights``, where a training from scratch starts).

MMDetection and MMPose each set MMEngine's default scope when their models and transforms are
built, so every build and every forward here runs inside its own toolbox's scope; that is what
lets a detector, a pose model and the MMAction2 recognizer share one process.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from model.config_files import read_config

# Random weights are drawn from this seed, so that every actor of a run (and the sequential
# loop it is compared with) holds the same untrained model.
RANDOM_WEIGHTS_SEED = 0


class MissingCheckpointError(ValueError):
    """A model has no checkpoint and random weights were not asked for."""


@dataclass(frozen=True)
class ModelChoice:
    """One model of an extraction run: its zoo name, config and weights."""

    kind: str                  # "detector" or "pose"
    name: str
    config: str                # model-zoo config ("mmdet::..." / "mmpose::...") or a file
    checkpoint: str | None     # None: random weights
    official_checkpoint: str
    cfg_options: dict

    def describe(self) -> dict:
        return {"model": self.name, "config": self.config,
                "checkpoint": self.checkpoint or "random weights",
                "cfg_options": dict(self.cfg_options)}


def choose_model(cfg: Config, kind: str, random_weights: bool) -> ModelChoice:
    """The ``detector`` or ``pose`` model of an extraction config, its checkpoint checked."""
    section, zoo = (cfg.detector, cfg.detectors) if kind == "detector" \
        else (cfg.pose, cfg.pose_models)
    name = section.model
    if name not in zoo:
        raise ValueError(f"{kind}.model: unknown model {name!r}; choose one of {sorted(zoo)}")
    checkpoint = section.checkpoint
    if checkpoint == "official":
        checkpoint = zoo[name].checkpoint
    if checkpoint is None and not random_weights:
        raise MissingCheckpointError(
            f"{kind} {name!r} has no checkpoint: pass one (a path or URL; the official COCO "
            f"weights are {zoo[name].checkpoint}), or --random-weights to run the "
            "architecture untrained (tests and benchmarks only: its features mean nothing)")
    if checkpoint is not None and random_weights:
        raise ValueError(f"{kind} {name!r}: --random-weights and a checkpoint ({checkpoint}) "
                         "exclude each other")
    return ModelChoice(kind, name, zoo[name].config, checkpoint, zoo[name].checkpoint,
                       dict(section.get("cfg_options", {})))


def _model_config(choice: ModelChoice) -> Config:
    return read_config(choice.config, choice.cfg_options)


@contextmanager
def _quiet_mmengine():
    """``init_weights`` logs a line per parameter; keep only errors meanwhile."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _build(choice: ModelChoice, init, device: torch.device) -> torch.nn.Module:
    """``init`` (init_detector / init_model) with the checkpoint, or random weights: the
    architecture's own initialisation, from RANDOM_WEIGHTS_SEED (layers draw their first
    weights when built and ``init_weights`` redraws some, so the seed precedes both)."""
    if choice.checkpoint is None:
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
    model = init(_model_config(choice), choice.checkpoint, device=str(device))
    if choice.checkpoint is None:
        with _quiet_mmengine():
            model.init_weights()
    return model.eval()


def set_inference_threads(num_cpus: float) -> int:
    """One thread per CPU this process was given (at least one), for PyTorch's intra-op pool
    and for OpenCV (resizes and affine warps): actors and replicas sharing a machine must not
    each start a thread per core. Returns the thread count (ONNX Runtime sessions take it
    too)."""
    threads = max(1, int(num_cpus))
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    return threads


def load_detector(choice: ModelChoice, device: torch.device):
    """(model, test pipeline for in-memory BGR frames, class names of the model's output)."""
    from mmdet.apis import init_detector
    from mmdet.utils import get_test_pipeline_cfg

    with DefaultScope.overwrite_default_scope("mmdet"):
        model = _build(choice, init_detector, device)
        pipeline_cfg = get_test_pipeline_cfg(model.cfg.copy())
        pipeline_cfg[0].type = "mmdet.LoadImageFromNDArray"
        pipeline = Compose(pipeline_cfg)
    return model, pipeline, tuple(model.dataset_meta["classes"])


def load_pose_model(choice: ModelChoice, device: torch.device):
    """(model, top-down test pipeline)."""
    from mmpose.apis import init_model

    with DefaultScope.overwrite_default_scope("mmpose"):
        model = _build(choice, init_model, device)
        pipeline = Compose(model.cfg.test_dataloader.dataset.pipeline)
    num_keypoints = model.dataset_meta["num_keypoints"]
    if num_keypoints != 17:
        raise ValueError(f"pose model {choice.name!r} predicts {num_keypoints} keypoints; "
                         "the feature table holds COCO-17")
    return model, pipeline


def example_frame(width: int = 480, height: int = 360) -> np.ndarray:
    """A seeded noise frame: the example an ONNX export is checked on (a constant frame
    drives the networks into a regime where float rounding differences are amplified)."""
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
