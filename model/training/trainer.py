"""The Ray Train trainer of one training run: what jobs.train runs and every Ray Tune trial
(tuning/sweep.py) runs, with the same loop and configs."""

from __future__ import annotations

from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from model.builders import to_plain
from model.device import gpus_per_worker
from model.training.loop import train_loop_per_worker


def build_trainer(cfg, run_name: str, storage: str, *, num_workers: int = 1,
                  cpus_per_worker: int = 2, gpus: float | None = None,
                  worker_resources: dict | None = None, max_failures: int = 0,
                  epochs_this_run: int | None = None, callbacks: list | None = None
                  ) -> TorchTrainer:
    """The ``TorchTrainer`` of one training run of ``cfg`` (jobs.train and every Tune trial).

    ``worker_resources``: custom Ray resources each worker needs besides CPUs and GPUs (e.g.
    ``{"trainer_node": 1}`` to keep workers on the nodes that offer it); ``max_failures``: how
    many times Ray Train restarts the worker group from the last checkpoint after a worker or
    node is lost.
    """
    gpu = gpus_per_worker(gpus, num_workers)
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"cfg": to_plain(cfg), "cpus_per_worker": cpus_per_worker,
                           "epochs_this_run": epochs_this_run},
        scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=gpu > 0,
                                     resources_per_worker={"CPU": cpus_per_worker,
                                                           "GPU": gpu,
                                                           **(worker_resources or {})}),
        run_config=RunConfig(name=run_name, storage_path=storage,
                             checkpoint_config=CheckpointConfig(num_to_keep=2),
                             failure_config=FailureConfig(max_failures=max_failures),
                             logging_config=LoggingConfig(log_level="WARNING"),
                             callbacks=callbacks))
