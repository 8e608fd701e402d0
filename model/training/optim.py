"""Training-only pieces built from a config: class weights, optimizer, parameter schedules."""

from __future__ import annotations

import copy

import numpy as np
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import DefaultScope
from sklearn.utils.class_weight import compute_class_weight
from torch import nn


def class_weights(labels: np.ndarray, num_classes: int, power: float) -> list[float] | None:
    """scikit-learn's "balanced" weights N / (K * count_c), raised to ``power`` and normalised
    to mean 1; None (no weights) for power 0."""
    if power == 0:
        return None
    missing = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(f"classes {missing} have no training sample")
    weights = compute_class_weight("balanced", classes=np.arange(num_classes), y=labels) ** power
    return (weights / weights.mean()).tolist()


def build_optimizer(cfg: Config, model: nn.Module, use_amp: bool) -> OptimWrapper:
    """MMEngine's optimizer wrapper; ``AmpOptimWrapper`` (mixed precision) on a GPU."""
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if use_amp:
        optim_cfg["type"] = "AmpOptimWrapper"
    with DefaultScope.overwrite_default_scope("mmaction"):
        return build_optim_wrapper(model, optim_cfg)


def build_schedulers(cfg: Config, optim_wrapper: OptimWrapper, epoch_length: int) -> list:
    """MMEngine parameter schedulers (warm-up, cosine); by-epoch ones become per-iteration
    where the config says ``convert_to_iter_based``, as MMEngine's Runner does.

    Schedules end at ``max_epochs`` at the latest, and one that would begin after it is left
    out, so that short runs (tests, tuning trials) keep the config's schedule shape.
    """
    from mmaction.registry import PARAM_SCHEDULERS

    max_epochs = cfg.train_cfg.max_epochs
    out = []
    for sched in cfg.param_scheduler:
        sched = copy.deepcopy(sched)
        sched["end"] = min(sched.get("end", max_epochs), max_epochs)
        if sched.get("begin", 0) >= sched["end"]:
            continue
        with DefaultScope.overwrite_default_scope("mmaction"):
            out.append(PARAM_SCHEDULERS.build(sched, default_args=dict(
                optimizer=optim_wrapper, epoch_length=epoch_length)))
    return out


