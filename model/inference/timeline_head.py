"""The timeline head of a recognizer package: the temporal models and decoders that turn the
package's per-step features into action timelines, offline and online.

It lives in the package's ``timeline/`` folder (written by ``jobs.train_timeline``), because
it was trained on that recognizer's features and means nothing with another's:

  timeline/config.py     MMEngine config: features (window, step), both models, the decoders
                         with the settings chosen on the validation split
  timeline/offline.pth   MultiStageTCN, centred convolutions (state dict)
  timeline/online.pth    MultiStageTCN, causal convolutions (state dict)
  timeline/metrics.json  validation figures, training history, decoder selection (and .md)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from model.inference.decoding import ForwardFilter, lagged_online_labels, viterbi
from model.inference.step_features import StepFeatures, to_frames
from model.networks.ms_tcn import CausalTCNStream

TIMELINE_DIR = "timeline"
_FILES = ("config.py", "offline.pth", "online.pth")


def build_tcn(model_cfg: dict, in_channels: int, num_classes: int) -> torch.nn.Module:
    from mmaction.registry import MODELS

    import model.registry  # noqa: F401  (registers MultiStageTCN)

    model_cfg = copy.deepcopy(dict(model_cfg))
    model_cfg.update(in_channels=in_channels, num_classes=num_classes)
    with DefaultScope.overwrite_default_scope("mmaction"):
        return MODELS.build(model_cfg)


@torch.no_grad()
def step_probs(net: torch.nn.Module, features: np.ndarray) -> np.ndarray:
    """(S, K) class probabilities of the last stage of ``net`` over features (S, C)."""
    net.eval()
    x = torch.as_tensor(features, dtype=torch.float32).T.unsqueeze(0)
    return torch.softmax(net(x)[-1][0], dim=0).T.numpy()


@dataclass
class TimelineHead:
    folder: Path
    cfg: Config
    offline: torch.nn.Module
    online: torch.nn.Module

    @property
    def windows_s(self) -> list[float]:
        return [float(w) for w in self.cfg.features["windows_s"]]

    @property
    def step_s(self) -> float:
        return float(self.cfg.features["step_s"])

    @property
    def lag_steps(self) -> int:
        """Steps the online mode waits before it names a step (its fixed lag)."""
        return int(round(self.cfg.decoder["online"]["lag_s"] / self.step_s))

    @cached_property
    def online_stream_weights(self) -> dict:
        """The causal network's weights for ``CausalTCNStream``, shared by every stream."""
        return CausalTCNStream.weights_of(self.online)

    def online_filter(self) -> ForwardFilter:
        return ForwardFilter(self.cfg.online_model["num_classes"],
                             self.cfg.decoder["online"]["switch_prob"])

    def offline_timeline(self, video: StepFeatures) -> tuple[np.ndarray, np.ndarray]:
        """(label per frame, probabilities per frame (T, K)) using the whole video."""
        probs = step_probs(self.offline, video.features)
        labels = viterbi(probs, self.cfg.decoder["offline"]["switch_penalty"])
        return (to_frames(labels, video.steps, video.num_frames),
                to_frames(probs, video.steps, video.num_frames))

    def online_timeline(self, video: StepFeatures) -> tuple[np.ndarray, np.ndarray]:
        """(label per frame, filtered posterior per frame): a frame's from the frames up to
        ``lag_steps`` steps after it only (answered that much later)."""
        labels, beliefs = lagged_online_labels(step_probs(self.online, video.features),
                                               self.cfg.decoder["online"]["switch_prob"],
                                               self.lag_steps)
        return (to_frames(labels, video.steps, video.num_frames),
                to_frames(beliefs, video.steps, video.num_frames))


def has_timeline_head(package_dir: str | Path) -> bool:
    return (Path(package_dir) / TIMELINE_DIR / "config.py").exists()


def write_timeline_head(package_dir: str | Path, cfg: Config, offline: dict,
                        online: dict) -> Path:
    folder = Path(package_dir) / TIMELINE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    cfg.dump(str(folder / "config.py"))
    torch.save(offline, folder / "offline.pth")
    torch.save(online, folder / "online.pth")
    return folder


def load_timeline_head(package_dir: str | Path) -> TimelineHead:
    folder = Path(package_dir) / TIMELINE_DIR
    missing = [n for n in _FILES if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: no timeline head (missing {missing}); train one "
                                f"with python -m jobs.train_timeline --package {package_dir}")
    cfg = Config.fromfile(str(folder / "config.py"))
    nets = {}
    for mode in ("offline", "online"):
        spec = cfg[f"{mode}_model"]
        net = build_tcn(spec, spec["in_channels"], spec["num_classes"])
        net.load_state_dict(torch.load(folder / f"{mode}.pth", map_location="cpu",
                                       weights_only=True))
        nets[mode] = net.eval()
    return TimelineHead(folder, cfg, nets["offline"], nets["online"])
