"""The search space file of a sweep (model/configs/tuning/) and what a trial's draw means.

The file is an MMEngine config whose ``space`` maps recognizer config keys to Ray Tune
sampling functions (see model/configs/tuning/workcell_fusion.py); a trial's draw is turned
into the recognizer config jobs.train would build with the same ``--cfg-options``.
"""

from __future__ import annotations

from pathlib import Path

from mmengine.config import Config
from ray import tune

from model.builders import load_config
from model.config_files import read_config

CONFIG_KEY = "config"   # the space entry choosing the recognizer config file (fusion mode)
# Tune's sampling functions a space entry may name (``type``).
SAMPLERS = ("uniform", "quniform", "loguniform", "qloguniform", "randint", "qrandint",
            "choice", "grid_search")


class SearchSpaceError(ValueError):
    """The search space file names something that does not exist; the message says what."""


class SweepError(RuntimeError):
    """A sweep that cannot start, go on or be reported; the message says what to do."""


def load_search(path: str | Path, options: dict | None = None) -> Config:
    """Read a search space file, apply ``key=value`` overrides and check its entries."""
    search = read_config(path, options)
    for key in ("space", "trial_options", "num_samples", "metric", "mode", "scheduler"):
        if key not in search:
            raise SearchSpaceError(f"{path}: no `{key}`")
    for key, entry in search.space.items():
        if entry.get("type") not in SAMPLERS:
            raise SearchSpaceError(f"{path}: space[{key!r}].type must be one of {SAMPLERS}, "
                                   f"got {entry.get('type')!r}")
    if CONFIG_KEY not in search.space and "base_config" not in search:
        raise SearchSpaceError(f"{path}: neither space[{CONFIG_KEY!r}] nor `base_config` "
                               "names the recognizer config")
    # Trials run in their own working directories: recognizer config files by absolute path.
    if "base_config" in search:
        search.base_config = _existing(search.base_config, path, "base_config")
    if CONFIG_KEY in search.space:
        entry = search.space[CONFIG_KEY]
        if entry["type"] != "choice":
            raise SearchSpaceError(f"{path}: space[{CONFIG_KEY!r}] must be a choice of files")
        entry["categories"] = [_existing(c, path, f"space[{CONFIG_KEY!r}]")
                               for c in entry["categories"]]
    return search


def _existing(config_file: str, path: str | Path, field: str) -> str:
    if not Path(config_file).is_file():
        raise SearchSpaceError(f"{path}: {field}: no config file {config_file}")
    return str(Path(config_file).resolve())


def param_space(search: Config) -> dict:
    """Tune's ``param_space``: each entry becomes the Tune sampler it names."""
    space = {}
    for key, entry in search.space.items():
        kwargs = {k: v for k, v in entry.items() if k != "type"}
        sampler = getattr(tune, entry["type"])
        space[key] = sampler(kwargs["values"]) if entry["type"] == "grid_search" \
            else sampler(**kwargs)
    return space


def _resolve_key(cfg: Config, key: str) -> str:
    """``train_pipeline.RandomAffine2D.rotate_deg`` -> ``train_pipeline.6.rotate_deg``.

    MMEngine's ``merge_from_dict`` addresses list items by index only; a step named by its
    type stays right when the pipeline gains or loses a step before it.
    """
    node, parts = cfg, []
    for part in key.split("."):
        if isinstance(node, list) and not part.isdigit():
            matches = [i for i, step in enumerate(node)
                       if isinstance(step, dict) and step.get("type") == part]
            if len(matches) != 1:
                raise SearchSpaceError(f"{key}: {'no' if not matches else 'more than one'} "
                                       f"step of type {part} in {'.'.join(parts)}")
            part = str(matches[0])
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError) as exc:
            raise SearchSpaceError(f"{key}: {cfg.filename} has no key "
                                   f"{'.'.join([*parts, part])}") from exc
        parts.append(part)
    return ".".join(parts)


def trial_config(search: Config, draw: dict, table: str | Path) -> tuple[str, Config, dict]:
    """The recognizer config of a trial: (config file, config, the ``--cfg-options`` that
    turn that file into it). Every drawn key must already be a key of the config, so that a
    misspelt key fails the trial instead of being added and ignored."""
    config_file = draw.get(CONFIG_KEY, search.get("base_config"))
    base = load_config(config_file)
    options = {_resolve_key(base, key): value for key, value in draw.items()
               if key != CONFIG_KEY}
    cfg = load_config(config_file, table=table, options=options)
    cfg.merge_from_dict(search.trial_options.to_dict())
    return config_file, cfg, {**options, **_flatten(search.trial_options.to_dict())}


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
