"""Per-epoch metrics as CSV and TensorBoard files."""

from __future__ import annotations

import csv
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


def write_history(history: list[dict], log_dir: str | Path) -> None:
    """Write ``metrics.csv`` and a TensorBoard event file holding every epoch so far.

    Both are rewritten whole at every epoch and travel inside each checkpoint, so the logs of
    a run are wherever its checkpoints are (local disk or cloud storage), resumes included.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for row in history for k in row))
    with open(log_dir / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
    with SummaryWriter(str(log_dir / "tensorboard")) as tb:
        for row in history:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    tb.add_scalar(key, value, global_step=row["epoch"])
