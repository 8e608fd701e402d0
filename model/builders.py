"""Build datasets, data loaders and the model from a config: what training and inference share.

The jobs, serving, tuning and the tests build everything through these functions, from MMEngine
configs (model/configs/), with MMAction2's / MMEngine's registries. Training-only pieces
(optimizer, schedules, class weights) are in ``model.training.optim``.
"""

from __future__ import annotations

import copy
from functools import partial
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate, worker_init_fn
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from torch.utils.data import DataLoader, Dataset, DistributedSampler

import model.registry  # noqa: F401  (fills the registries the configs refer to)
from model.config_files import read_config
from model.datasets.feature_table import read_info


def load_config(path: str | Path, table: str | Path | None = None,
                options: dict | None = None) -> Config:
    """Read a config, point it at a feature table and apply ``key.path=value`` overrides.
    The paths it names (extra tables, ``load_from``) are made absolute here, relative to the
    working directory of the caller: Ray Train workers and Tune trials run elsewhere."""
    cfg = read_config(path)
    if table is not None:
        cfg.feature_table = str(table)
    if options:
        cfg.merge_from_dict(options)
    if cfg.get("dataset", {}).get("extra_tables"):
        cfg.dataset.extra_tables = [str(Path(t).resolve()) for t in cfg.dataset.extra_tables]
    if cfg.get("load_from"):
        cfg.load_from = str(Path(cfg.load_from).resolve())
    return cfg


def check_classes(cfg: Config) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The table's action and object classes, checked against the config's class counts."""
    info = read_info(cfg.feature_table)
    if len(info.action_classes) != cfg.num_classes:
        raise ValueError(f"{cfg.feature_table} has {len(info.action_classes)} action classes "
                         f"but the config expects num_classes={cfg.num_classes}")
    if cfg.get("num_object_classes") and len(info.object_classes) != cfg.num_object_classes:
        raise ValueError(f"{cfg.feature_table} has {len(info.object_classes)} object classes "
                         f"but the config expects {cfg.num_object_classes}")
    return info.action_classes, info.object_classes


def build_dataset(cfg: Config, split: str, pipeline: str, extra_tables: bool = False,
                  **overrides) -> Dataset:
    """The ``FeatureTableDataset`` of ``split`` with ``cfg.<pipeline>`` (e.g. test_pipeline).
    ``extra_tables``: add the windows of the config's ``dataset.extra_tables`` (the training
    loop's train and validation sets); otherwise the dataset is of the one table the caller
    names (evaluation, the timeline head's step features, baselines)."""
    from mmaction.registry import DATASETS

    ds_cfg = copy.deepcopy(cfg.dataset)
    ds_cfg.update(ann_file=cfg.feature_table, split=split, pipeline=cfg[pipeline],
                  test_mode=pipeline != "train_pipeline", **overrides)
    if not extra_tables or split == "test":
        ds_cfg.pop("extra_tables", None)
    with DefaultScope.overwrite_default_scope("mmaction"):
        return DATASETS.build(ds_cfg)


def dataset_labels(dataset) -> np.ndarray:
    """Labels of all samples, read from the annotations without running the pipeline."""
    return np.array([dataset.get_data_info(i)["label"] for i in range(len(dataset))])


def pipeline_step(pipeline: list[dict], kind: str) -> dict:
    """The first transform of type ``kind`` in a pipeline config (e.g. its frame sampler)."""
    for step in pipeline:
        if step["type"] == kind:
            return step
    raise KeyError(f"the pipeline has no {kind} step: {[s['type'] for s in pipeline]}")


def _set_loss_class_weights(node, weights: list[float]) -> None:
    """Give every classification head below ``node`` a class-weighted cross-entropy.

    Heads usually leave ``loss_cls`` to its default (MMAction2's ``CrossEntropyLoss``), so the
    loss config is added where it is missing.
    """
    if isinstance(node, dict):
        if str(node.get("type", "")).endswith("Head"):
            node.setdefault("loss_cls", dict(type="CrossEntropyLoss"))
        if node.get("type") == "CrossEntropyLoss":
            node["class_weight"] = weights
        for value in node.values():
            _set_loss_class_weights(value, weights)
    elif isinstance(node, list):
        for value in node:
            _set_loss_class_weights(value, weights)


def build_model(cfg: Config, weights: list[float] | None = None) -> torch.nn.Module:
    """The recognizer of ``cfg.model``, with class-balanced losses when weights are given."""
    from mmaction.registry import MODELS

    model_cfg = copy.deepcopy(cfg.model)
    if weights is not None:
        _set_loss_class_weights(model_cfg, weights)
    # MMEngine logs every initialised parameter at INFO level; keep its log to warnings.
    MMLogger.get_instance("workcell", log_level="WARNING")
    with DefaultScope.overwrite_default_scope("mmaction"):
        model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def build_dataloader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int,
                     num_workers: int = 0, world_size: int = 1, rank: int = 0) -> DataLoader:
    """A loader with MMEngine's ``pseudo_collate`` (the data preprocessor stacks the batch).

    Training loaders shard with a ``DistributedSampler`` (also for one worker) whose order
    depends on (seed, epoch) only: call ``loader.sampler.set_epoch(epoch)`` every epoch, and a
    resumed run shuffles as the uninterrupted one would. Loader processes are seeded with
    MMEngine's ``worker_init_fn``.
    """
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=seed) if shuffle else None
    init = partial(worker_init_fn, num_workers=num_workers, rank=rank, seed=seed) \
        if num_workers > 0 else None
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      num_workers=num_workers, collate_fn=pseudo_collate,
                      worker_init_fn=init, persistent_workers=num_workers > 0,
                      drop_last=False)


def to_plain(cfg: Config | ConfigDict) -> dict:
    """A picklable dict of a config (what Ray sends to the training workers)."""
    return cfg.to_dict() if isinstance(cfg, (Config, ConfigDict)) else dict(cfg)
