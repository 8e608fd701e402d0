"""The per-worker training loop run by Ray Train's ``TorchTrainer``.

Ray Train starts the workers and the process group; the model, optimizer, schedules and the
train step are MMEngine's / MMAction2's (``train_step``, ``OptimWrapper``, param schedulers,
``MMDistributedDataParallel``), driven by a plain epoch loop: MMEngine's ``Runner`` was about
30 % slower per iteration on the 2-core development machine's CPUs and does not know Ray Train's
checkpoints.

The data are MMAction2 datasets reading the Parquet feature table (``FeatureTableDataset``),
sharded over the workers by a ``DistributedSampler``: windows are cut and augmented per sample
and per epoch in the configured pipeline, which Ray Data's ``get_dataset_shard`` (a stream of
fixed rows) would have to re-implement.
"""

from __future__ import annotations

import json
import logging
import resource
import tempfile
import time
from pathlib import Path

import ray.train
import ray.train.torch
import torch
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.runner import load_checkpoint, set_random_seed

from model.builders import build_dataloader, build_dataset, build_model, dataset_labels
from model.evaluation.metrics import classification_metrics
from model.inference.predict import predict_dataset
from model.training.history import write_history
from model.training.optim import build_optimizer, build_schedulers, class_weights

STATE_FILE = "state.pth"
SELECTED_WEIGHTS_FILE = "selected_model.pth"
# train_cfg.selection: which epoch's weights the package gets.
#   best_val: the best validation macro-F1, with early stopping after early_stop_patience epochs
#             without a better one (the validation split then picks the epoch: report on test);
#   last:     the last epoch of a fixed schedule; validation is only logged, nothing is chosen
#             on it, so its figures may be reported.
SELECTIONS = ("best_val", "last")
META_FILE = "meta.json"


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _TrainState:
    """What a checkpoint holds besides the weights."""

    def __init__(self):
        self.epoch = 0                  # epochs completed
        self.best_f1 = -1.0
        self.best_epoch = 0
        self.selected_epoch = 0
        self.epochs_without_gain = 0
        self.history: list[dict] = []
        self.selected_weights: dict | None = None

    def to_dict(self) -> dict:
        return dict(epoch=self.epoch, best_f1=self.best_f1, best_epoch=self.best_epoch,
                    selected_epoch=self.selected_epoch,
                    epochs_without_gain=self.epochs_without_gain, history=self.history)

    def load(self, data: dict) -> None:
        for key, value in data.items():
            setattr(self, key, value)


def _save_checkpoint(path: Path, model, optim_wrapper, schedulers, state: _TrainState,
                     epoch_length: int) -> None:
    torch.save({"model": model.state_dict(), "optimizer": optim_wrapper.state_dict(),
                "schedulers": [s.state_dict() for s in schedulers], "state": state.to_dict(),
                "epoch_length": epoch_length},
               path / STATE_FILE)
    torch.save(state.selected_weights, path / SELECTED_WEIGHTS_FILE)
    (path / META_FILE).write_text(json.dumps(
        {"epoch": state.epoch, "selected_epoch": state.selected_epoch,
         "best_epoch": state.best_epoch, "best_val_macro_f1": state.best_f1}))
    write_history(state.history, path / "logs")


def _restore(checkpoint: ray.train.Checkpoint, model, optim_wrapper, schedulers,
             state: _TrainState, epoch_length: int) -> None:
    with checkpoint.as_directory() as folder:
        # Plain containers of tensors and numbers only: safe with weights_only=True.
        saved = torch.load(Path(folder) / STATE_FILE, map_location="cpu", weights_only=True)
        state.selected_weights = torch.load(Path(folder) / SELECTED_WEIGHTS_FILE,
                                            map_location="cpu", weights_only=True)
    if saved["epoch_length"] != epoch_length:
        # The schedules advance per iteration: another number of iterations per epoch (other
        # batch size or number of workers) would not continue the same schedule.
        raise ValueError(f"the checkpoint was made with {saved['epoch_length']} iterations per "
                         f"epoch, this run has {epoch_length}: resume with the same batch size "
                         "and number of workers")
    model.load_state_dict(saved["model"])
    optim_wrapper.load_state_dict(saved["optimizer"])
    for scheduler, sched_state in zip(schedulers, saved["schedulers"], strict=True):
        scheduler.load_state_dict(sched_state)
    state.load(saved["state"])


def _train_one_epoch(wrapper, loader, optim_wrapper, schedulers) -> dict:
    wrapper.train()
    totals: dict[str, float] = {}
    batches = 0
    for data in loader:
        log_vars = wrapper.train_step(data, optim_wrapper)
        for scheduler in schedulers:
            if not scheduler.by_epoch:
                scheduler.step()
        for key, value in log_vars.items():
            totals[key] = totals.get(key, 0.0) + torch.as_tensor(value).detach().item()
        batches += 1
    for scheduler in schedulers:
        if scheduler.by_epoch:
            scheduler.step()
    return {key: value / batches for key, value in totals.items()}


def _validate(model, val_set, batch_size: int, rank: int, world_size: int) -> dict:
    """Rank 0 scores the validation split and shares the metrics, so that every worker takes
    the same early-stopping decision (diverging decisions would hang DDP)."""
    shared = [None]
    if rank == 0:
        scores, labels, _ = predict_dataset(model, val_set, batch_size)
        shared[0] = classification_metrics(labels, scores, list(val_set.metainfo["classes"]))
    if world_size > 1:
        torch.distributed.broadcast_object_list(shared, src=0)
    return shared[0]


def train_loop_per_worker(config: dict) -> None:
    """Ray Train entry point. ``config``: ``cfg`` (the MMEngine config as a dict),
    ``cpus_per_worker``, ``epochs_this_run`` (None: up to ``max_epochs``; else stop after that
    many epochs, for time-boxed jobs that resume later)."""
    # Ray Train logs every report at INFO level, partly through loggers named after their source
    # file (outside the "ray.train" tree): the worker keeps to warnings, and the console gets
    # our one line per epoch.
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("ray.train").setLevel(logging.WARNING)
    cfg = Config(config["cfg"])
    ctx = ray.train.get_context()
    rank, world_size = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    torch.set_num_threads(config["cpus_per_worker"])
    set_random_seed(cfg.seed)
    selection = cfg.train_cfg.selection
    if selection not in SELECTIONS:
        raise ValueError(f"train_cfg.selection must be one of {SELECTIONS}, got {selection!r}")
    patience = cfg.train_cfg.early_stop_patience if selection == "best_val" else None

    train_set = build_dataset(cfg, "train", "train_pipeline", extra_tables=True)
    val_set = build_dataset(cfg, "val", "val_pipeline", extra_tables=True)
    weights = class_weights(dataset_labels(train_set), cfg.num_classes,
                            cfg.train_cfg.class_balance_power)
    model = build_model(cfg, weights).to(device)
    wrapper = model
    if world_size > 1:
        wrapper = MMDistributedDataParallel(
            module=model, device_ids=[device.index] if device.type == "cuda" else None)
    optim_wrapper = build_optimizer(cfg, model, device.type == "cuda" and cfg.train_cfg.amp)
    loader = build_dataloader(train_set, cfg.train_cfg.batch_size, shuffle=True, seed=cfg.seed,
                              num_workers=cfg.train_cfg.num_workers, world_size=world_size,
                              rank=rank)
    schedulers = build_schedulers(cfg, optim_wrapper, len(loader))
    state = _TrainState()
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None and cfg.get("load_from"):
        # MMEngine's ``load_from``: start from these weights (e.g. a shipped package's, to
        # fine-tune it on new features); the optimizer and schedule start afresh.
        load_checkpoint(model, cfg.load_from, map_location="cpu", strict=True)
    if checkpoint is not None:
        _restore(checkpoint, model, optim_wrapper, schedulers, state, len(loader))
        if rank == 0:
            print(f"resumed after epoch {state.epoch} (selected epoch {state.selected_epoch}, "
                  f"best val macro-F1 {state.best_f1:.4f} at epoch {state.best_epoch})")

    last_epoch = cfg.train_cfg.max_epochs
    if config.get("epochs_this_run") is not None:
        last_epoch = min(last_epoch, state.epoch + config["epochs_this_run"])
    if patience is not None and state.epochs_without_gain >= patience:
        last_epoch = state.epoch  # the run had already stopped early
    resumed_from = state.epoch    # 0: this attempt started afresh
    for epoch in range(state.epoch, last_epoch):
        # Seeding from the epoch makes a resumed run draw what the uninterrupted one would.
        set_random_seed(cfg.seed * 1_000_003 + epoch * 1009 + rank)
        loader.sampler.set_epoch(epoch)
        started = time.perf_counter()
        train_logs = _train_one_epoch(wrapper, loader, optim_wrapper, schedulers)
        train_seconds = time.perf_counter() - started
        val = _validate(model, val_set, cfg.val_cfg.batch_size, rank, world_size)
        state.epoch = epoch + 1
        improved = val["macro_f1"] > state.best_f1
        if improved:
            state.best_f1, state.best_epoch = val["macro_f1"], state.epoch
            state.epochs_without_gain = 0
        else:
            state.epochs_without_gain += 1
        if selection == "last" or improved:
            state.selected_epoch = state.epoch
            state.selected_weights = {k: v.detach().cpu().clone()
                                      for k, v in model.state_dict().items()}
        metrics = {
            "epoch": state.epoch, "train_loss": train_logs["loss"],
            "train_top1": train_logs.get("top1_acc", float("nan")),
            "lr": optim_wrapper.get_lr()["lr"][0],
            "val_top1": val["top1"], "val_macro_f1": val["macro_f1"],
            "best_val_macro_f1": state.best_f1, "epoch_seconds": time.perf_counter() - started,
            "train_clips_per_s": len(train_set) / train_seconds,
            "peak_memory_mb": _peak_memory_mb(device), "world_size": world_size,
            # The run's own record of where the worker group that trained this epoch started:
            # a restart after a lost worker names the checkpoint's epoch here.
            "resumed_from_epoch": resumed_from,
        }
        state.history.append(metrics)
        stop = patience is not None and state.epochs_without_gain >= patience
        if rank == 0:
            print(f"epoch {state.epoch}/{cfg.train_cfg.max_epochs}  "
                  f"loss {metrics['train_loss']:.3f}  val top1 {val['top1']:.3f}  "
                  f"val macro-F1 {val['macro_f1']:.3f}"
                  f"{'  *best*' if improved and selection == 'best_val' else ''}  "
                  f"({metrics['epoch_seconds']:.1f} s, "
                  f"{metrics['train_clips_per_s']:.0f} clips/s)", flush=True)
            with tempfile.TemporaryDirectory() as folder:
                _save_checkpoint(Path(folder), model, optim_wrapper, schedulers, state,
                                 len(loader))
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
        else:
            ray.train.report(metrics, checkpoint=None)
        if stop:
            if rank == 0:
                print(f"early stop: no better validation macro-F1 for {patience} epochs")
            break
