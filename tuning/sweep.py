"""A Ray Tune sweep over jobs.train's training run: the trainable, the Tuner, its restore.

API followed: Ray 2.x's "Hyperparameter Tuning with Ray Tune" guide for Ray Train V2
(docs.ray.io/en/latest/train/user-guides/hyperparameter-optimization.html). Train V2 (the
default in Ray 2.60) deprecates handing a ``TorchTrainer`` to ``Tuner``; instead each trial
is a Tune *function trainable* (the "driver") that builds the trial's ``TorchTrainer`` and
calls ``fit()``, and ``ray.tune.integration.ray_train.TuneReportCallback`` forwards every
``ray.train.report`` of the workers to Tune, so the scheduler (ASHA) sees each epoch's
validation macro-F1 and can stop the trial. The driver itself does no training: it asks for no
CPU (``tune.with_resources``), the workers' resources come from the trial's
``ScalingConfig``, and ``max_concurrent_trials`` keeps Tune from starting more drivers than
the cluster can give workers to.

Each trial's training run lives at ``<storage>/<experiment>/train_runs/<trial id>``: when Tune
retries a failed trial (``FailureConfig.max_failures``), the new driver finds that run and Ray
Train resumes it from its last checkpoint, so the scheduler's ``time_attr`` is the training
loop's own ``epoch``, not Tune's count of reports (which a retried trial starts again).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ray
from mmengine.config import Config
from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.schedulers import FIFOScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator

from model.builders import check_classes
from model.training.trainer import build_trainer
from tuning.space import SweepError, param_space, trial_config

TRAIN_RUNS = "train_runs"
DRIVER_MEMORY = 2**26   # bytes of Ray's memory resource a trial's driver asks for


@dataclass
class TrialResources:
    """What one trial's training run asks the cluster for (jobs.tune's flags)."""
    num_workers: int = 1
    cpus_per_worker: int = 1
    gpus_per_worker: float | None = None
    worker_resources: dict = field(default_factory=dict)
    max_failures: int = 0          # Ray Train restarts of a trial's worker group


def run_trial(draw: dict, sweep: dict) -> None:
    """Tune's function trainable: train one draw of the search space with jobs.train's
    trainer. ``sweep``: what every trial shares (``tune.with_parameters``)."""
    search = Config(sweep["search"])
    _, cfg, _ = trial_config(search, draw, sweep["table"])
    check_classes(cfg)
    res: TrialResources = sweep["resources"]
    trainer = build_trainer(
        cfg, tune.get_context().get_trial_id(), sweep["train_storage"],
        num_workers=res.num_workers, cpus_per_worker=res.cpus_per_worker,
        gpus=res.gpus_per_worker, worker_resources=res.worker_resources,
        max_failures=res.max_failures, callbacks=[TuneReportCallback()])
    result = trainer.fit()
    if result.error is not None:
        raise result.error


def build_scheduler(search: Config, early_stopping: bool):
    """ASHA (or the scheduler the file names) on the file's metric; FIFO without early
    stopping: every trial runs its whole budget."""
    if not early_stopping:
        return FIFOScheduler()
    kwargs = {k: v for k, v in search.scheduler.items() if k != "type"}
    scheduler_cls = getattr(tune.schedulers, search.scheduler["type"])
    return scheduler_cls(max_t=search.trial_options.train_cfg.max_epochs, **kwargs)


def _trainable(sweep: dict):
    # The driver only waits on its trainer: no CPU of its own (see the module doc). Tune
    # refuses an all-zero request, so it asks for a token amount of memory instead: a CPU
    # fraction would leave the last trial's workers one fraction short of a CPU.
    return tune.with_resources(tune.with_parameters(run_trial, sweep=sweep),
                               {"cpu": 0, "memory": DRIVER_MEMORY})


def max_concurrent(resources: TrialResources, requested: int | None) -> int:
    """As many trials as the cluster has CPUs (and GPUs) for their workers, or fewer."""
    cluster = ray.cluster_resources()
    fits = int(cluster.get("CPU", 1) // (resources.num_workers * resources.cpus_per_worker))
    gpus = resources.gpus_per_worker or 0
    if gpus:
        fits = min(fits, int(cluster.get("GPU", 0) // (resources.num_workers * gpus)))
    for name, amount in resources.worker_resources.items():
        fits = min(fits, int(cluster.get(name, 0) // (resources.num_workers * amount)))
    if fits < 1:
        raise SweepError(f"the cluster ({cluster}) cannot hold one trial's "
                         f"{resources.num_workers} workers ({resources})")
    return min(fits, requested) if requested else fits


def _train_storage(storage: str, name: str) -> str:
    if "://" in storage:
        return f"{storage.rstrip('/')}/{name}/{TRAIN_RUNS}"
    return str(Path(storage).resolve() / name / TRAIN_RUNS)


def experiment_path(storage: str, name: str) -> str:
    return _train_storage(storage, name).rsplit("/", 1)[0]


def experiment_exists(storage: str, name: str) -> bool:
    return tune.Tuner.can_restore(experiment_path(storage, name))


def build_tuner(search: Config, table: str, storage: str, name: str,
                resources: TrialResources, *, early_stopping: bool = True,
                concurrent: int | None = None, trial_retries: int = 0,
                resume: bool = False) -> tune.Tuner:
    """The sweep's ``Tuner``, or (``resume``) the interrupted one at <storage>/<name>,
    restored with its unfinished and errored trials run again (``Tuner.restore``)."""
    shared = {"search": search.to_dict(), "table": str(Path(table).resolve()),
              "train_storage": _train_storage(storage, name), "resources": resources}
    trainable = _trainable(shared)
    if resume:
        path = experiment_path(storage, name)
        if not experiment_exists(storage, name):
            raise SweepError(f"--resume: no sweep at {path}")
        return tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True,
                                  resume_errored=True)
    concurrent = max_concurrent(resources, concurrent)
    return tune.Tuner(
        trainable,
        param_space=param_space(search),
        tune_config=tune.TuneConfig(
            metric=search.metric, mode=search.mode,
            scheduler=build_scheduler(search, early_stopping),
            # An explicit search algorithm ignores TuneConfig.max_concurrent_trials.
            search_alg=BasicVariantGenerator(random_state=search.get("seed", 0),
                                             max_concurrent=concurrent),
            num_samples=search.num_samples, trial_dirname_creator=_trial_folder),
        run_config=tune.RunConfig(
            name=name, storage_path=storage,
            failure_config=tune.FailureConfig(max_failures=trial_retries),
            verbose=1))


def _trial_folder(trial) -> str:
    # Tune's default folder name spells out every drawn value: too long for some filesystems.
    return f"trial_{trial.trial_id}"


@contextmanager
def interrupt_recorded() -> Iterator[threading.Event]:
    """Ctrl-C during ``Tuner.fit`` stops the sweep through Tune's own graceful stop and is
    remembered in the event this yields.

    Tune's SIGINT handler saves the state and returns a ``ResultGrid`` that does not say it was
    interrupted: a trial stopped before its first report then looks errored, and the sweep
    looks complete. So SIGINT is ours and forwarded as SIGUSR1, the other signal Tune stops on.
    Before Tune has installed that handler (the sweep not started), Ctrl-C raises as usual.
    Outside the main thread (a sweep run from a worker thread) signals cannot be handled
    there, Tune installs no handler either, and nothing is changed."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return

    def forward(sig: int, frame) -> None:
        if signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, signal.SIG_IGN, None):
            raise KeyboardInterrupt
        interrupted.set()
        signal.signal(signal.SIGINT, previous)   # a second Ctrl-C ends at once
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGINT, forward)
    disabled = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
        if disabled is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER")
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = disabled
