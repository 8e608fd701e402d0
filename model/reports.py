"""Reports of jobs and benchmarks: the same figures as JSON for machines and Markdown for
people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_report(stem: str | Path, data: dict[str, Any], markdown: str) -> None:
    """Write ``<stem>.json`` for machines and ``<stem>.md`` for people."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown)
