"""What a benchmark ran on, recorded beside its figures (the reports print only what is here)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

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


# Results and reports: not code. Committing them does not change the code a run measures.
NOT_CODE = ("benchmarks/results/", "docs/")


def code_commit(allow_dirty: bool = False) -> str:
    """The commit of the code the benchmark runs: the last commit that changed anything but
    results and reports (so that a resumable run keeps its rows while the reports of its
    finished rows are committed). Every row of a results file must come from one commit, so
    uncommitted changes to code refuse the run (``allow_dirty``: record them as
    "<sha>+dirty" instead, for trial runs)."""
    root = Path(__file__).parents[1]
    sha = subprocess.run(["git", "log", "-1", "--format=%H", "--", ".",
                          *(f":(exclude){path}" for path in NOT_CODE)],
                         cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                            cwd=root, capture_output=True, text=True, check=True).stdout
    changed = [line[3:] for line in status.splitlines() if not line[3:].startswith(NOT_CODE)]
    if not changed:
        return sha
    if not allow_dirty:
        raise SystemExit(f"uncommitted changes to {changed}: commit them first, so that the "
                         "results name the code that made them (or pass --allow-dirty)")
    return f"{sha}+dirty"
