"""Reading an MMEngine config with its dotted overrides: the one way every job, benchmark and
the service reads a config file (``--cfg-options`` on the command line, ``cfg_options`` of a
Serve application or a model section)."""

from __future__ import annotations

from pathlib import Path

from mmengine.config import Config


def read_config(path: str | Path, options: dict | None = None) -> Config:
    """The config at ``path`` (a file, or ``mmdet::...`` for a config shipped inside an
    installed OpenMMLab package) with ``options`` (``{"key.path": value}``) applied."""
    path = str(path)
    if "::" in path:
        from mmengine.hub import get_config

        cfg = get_config(path)
    else:
        cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    return cfg
