"""The settings of one Serve graph, read once from its MMEngine config (model/configs/serving/)
and handed to every deployment (a plain, picklable dataclass)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.config_files import read_config
from model.frame_path.chain import FramePathSettings
from model.inference.ensemble import package_classes
from model.inference.timeline_head import TIMELINE_DIR, has_timeline_head

DEFAULT_CONFIG = "model/configs/serving/workcell.py"


@dataclass(frozen=True)
class ServingSettings:
    config_file: str
    extraction_config: str
    extraction_options: dict
    package: str
    action_classes: list[str]
    object_classes: list[str]
    stream: dict
    limits: dict
    auth: dict          # token_env, loopback_without_token (serve/auth.py)
    recognizer: dict
    batching: dict
    deployments: dict
    threads: dict
    niceness: dict      # scheduling priority of each replica's process
    pose_placement: str     # "ingress" (in the ingress's process) or "deployment"
    frame_path: FramePathSettings   # the detector, pose model and tracker of every stream
    extraction: dict    # the extraction config's sections, as the versions endpoint reports
                        # them

    @property
    def max_persons(self) -> int:
        return self.frame_path.max_persons

    @property
    def max_objects(self) -> int:
        return self.frame_path.max_objects


def load_settings(config_file: str = DEFAULT_CONFIG, options: dict | None = None
                  ) -> ServingSettings:
    """Read and check a serving config (``options``: dotted overrides)."""
    cfg = read_config(config_file, options)
    package = Path(cfg.package)
    if not has_timeline_head(package):
        raise FileNotFoundError(f"{config_file}: package {package} has no {TIMELINE_DIR}/ head, "
                                f"which streams need for the online action; train one with "
                                f"python -m jobs.train_timeline --package {package}")
    actions, objects = package_classes(package)
    extraction = read_config(cfg.extraction_config, cfg.extraction_options.to_dict() or None)
    stream = cfg.stream.to_dict()
    if cfg.pose_placement not in ("ingress", "deployment"):
        raise ValueError(f"{config_file}: pose_placement must be 'ingress' or 'deployment', "
                         f"got {cfg.pose_placement!r}")
    for key in ("detect_every", "recognize_every", "max_streams", "max_streams_per_client"):
        if int(stream[key]) < 1:
            raise ValueError(f"{config_file}: stream.{key} must be a positive integer, got "
                             f"{stream[key]}")
    return ServingSettings(
        config_file=str(config_file), extraction_config=str(cfg.extraction_config),
        extraction_options=cfg.extraction_options.to_dict(), package=str(package),
        action_classes=list(actions), object_classes=list(objects), stream=stream,
        limits=cfg.limits.to_dict(), auth=cfg.auth.to_dict(), recognizer=cfg.recognizer.to_dict(),
        batching=cfg.batching.to_dict(), deployments=cfg.deployments.to_dict(),
        threads=cfg.threads.to_dict(), niceness=cfg.niceness.to_dict(),
        pose_placement=str(cfg.pose_placement),
        frame_path=FramePathSettings.from_config(extraction, tuple(objects)),
        extraction={k: extraction[k].to_dict() for k in ("detector", "pose", "tracker",
                                                         "video", "table")})
