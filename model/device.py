"""Where computation runs: the one place that decides between GPU and CPU."""

from __future__ import annotations

import ray
import torch


def local_device() -> torch.device:
    """The GPU of this process when there is one, else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() \
        else torch.device("cpu")


def gpus_per_worker(requested: float | None, num_workers: int) -> float:
    """GPUs per Ray Train worker: as requested, or 1 when the cluster has one per worker."""
    if requested is not None:
        return requested
    return 1.0 if ray.cluster_resources().get("GPU", 0) >= num_workers else 0.0
