"""What a benchmark ran on, recorded beside its figures (the reports print only what is here)."""

from __future__ import annotations

import os
import platform

import mmaction
import mmcv
import mmdet
import mmengine
import mmpose
import ray
import sklearn
import torch


def environment() -> dict:
    """Device, CPU count and the versions of the libraries that produced the figures."""
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "device": gpu or f"CPU ({platform.machine()})", "gpu": gpu,
        "cpu_count": os.cpu_count(), "python": platform.python_version(),
        "versions": {"torch": torch.__version__, "mmaction2": mmaction.__version__,
                     "mmengine": mmengine.__version__, "mmcv": mmcv.__version__,
                     "mmdet": mmdet.__version__, "mmpose": mmpose.__version__,
                     "ray": ray.__version__, "scikit-learn": sklearn.__version__},
    }
