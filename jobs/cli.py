"""Pieces every job shares: joining or starting Ray, and writing JSON + Markdown reports."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import ray


def init_ray() -> None:
    """Join the cluster named by RAY_ADDRESS (set by `ray job submit`) or start a local one."""
    if ray.is_initialized():
        return
    # Ray Train re-routes print() in its workers through a logger that shows each line twice
    # on the console; the training loop's one progress line per epoch needs plain print().
    # The dashboard stays on: Ray Train's placement-group cleaner polls the state API it
    # serves, and without it logs a warning every second of a training run.
    ray.init(address=os.environ.get("RAY_ADDRESS"), configure_logging=True,
             logging_level="WARNING",
             runtime_env={"env_vars": {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0"}})


def write_report(stem: str | Path, data: dict[str, Any], markdown: str) -> None:
    """Write ``<stem>.json`` for machines and ``<stem>.md`` for people."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown)
