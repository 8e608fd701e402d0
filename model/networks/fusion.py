"""Fusion necks: combine the pose features (N, M, C, T, V) and object features (N, 1, C, T, 1).

Both return the (N, 1, C, T, 1) layout so that MMAction2's ``GCNHead`` (pooling, dropout,
linear classifier) classifies the fused features. Late fusion of scores is a head instead:
``model.networks.late_fusion_head.LateFusionHead``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import nn


def pose_tokens(x: torch.Tensor) -> torch.Tensor:
    """(N, M, C, T, V) -> (N, C, T): mean over persons and joints."""
    return x.mean(dim=(1, 4))


def object_tokens(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, C, T, 1) -> (N, C, T)."""
    return x[:, 0, :, :, 0]


def _as_head_input(x: torch.Tensor) -> torch.Tensor:
    """(N, C, T) -> (N, 1, C, T, 1)."""
    return x[:, None, :, :, None]


@MODELS.register_module()
class ConcatFusion(BaseModule):
    """Concatenate the pose and object channels at each time step of the pose stream.

    The object stream (full frame rate) is average-pooled to the pose stream's length.
    Output channels: pose channels + object channels.
    """

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        pose = pose_tokens(feats["pose"])
        objects = F.adaptive_avg_pool1d(object_tokens(feats["objects"]), pose.shape[-1])
        return _as_head_input(torch.cat([pose, objects], dim=1))


def time_encoding(length: int, dim: int, device: torch.device,
                  max_cycles: float = 16.0) -> torch.Tensor:
    """Sinusoidal encoding of the relative time (t + 0.5) / length, shape (length, dim).

    Relative time lets streams of different lengths (the pose stream is downsampled in time)
    share one clock. Frequencies go geometrically from half a cycle to ``max_cycles`` cycles
    per clip: faster ones would alias on the pose stream's few time steps.
    """
    t = (torch.arange(length, device=device, dtype=torch.float32) + 0.5) / length
    half = (dim + 1) // 2
    cycles = 0.5 * (2 * max_cycles) ** (torch.arange(half, device=device, dtype=torch.float32)
                                        / max(half - 1, 1))
    angles = 2 * math.pi * t[:, None] * cycles[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)[:, :dim]


@MODELS.register_module()
class CrossAttentionFusion(BaseModule):
    """Pose features attend to object features over time.

    Queries are the pose stream's time steps, keys and values every frame of the object
    stream, both with a relative-time encoding; a transformer-style block (attention, feed-
    forward, residuals, layer norms) gives each pose step the object context it needs. The
    output joins the pose channels with the attended context and, with
    ``with_object_features``, the object stream's own features average-pooled to the pose
    stream's length (as ``ConcatFusion``), so that what the objects say on their own (a part
    that vanishes into a box) reaches the head whatever the pose queries attend to.

    Output channels: ``pose_channels + embed_dim`` (``+ object_channels`` with
    ``with_object_features``).
    """

    def __init__(self, pose_channels: int, object_channels: int, embed_dim: int = 128,
                 num_heads: int = 4, dropout: float = 0.1, with_object_features: bool = False,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg=init_cfg)
        self.with_object_features = with_object_features
        self.query = nn.Linear(pose_channels, embed_dim)
        self.key_value = nn.Linear(object_channels, embed_dim)
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout,
                                               batch_first=True)
        self.norm1 = nn.LayerNorm(embed_dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(embed_dim, 2 * embed_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(2 * embed_dim, embed_dim))
        self.norm2 = nn.LayerNorm(embed_dim)
        self.embed_dim = embed_dim

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        pose = pose_tokens(feats["pose"]).transpose(1, 2)            # (N, Tp, Cp)
        objects = object_tokens(feats["objects"]).transpose(1, 2)    # (N, To, Co)
        q = self.query(pose) + time_encoding(pose.shape[1], self.embed_dim, pose.device)
        kv = self.key_value(objects) + time_encoding(objects.shape[1], self.embed_dim,
                                                     objects.device)
        attended, _ = self.attention(q, kv, kv, need_weights=False)
        h = self.norm1(q + attended)
        h = self.norm2(h + self.feed_forward(h))
        fused = [pose.transpose(1, 2), h.transpose(1, 2)]
        if self.with_object_features:
            fused.append(F.adaptive_avg_pool1d(objects.transpose(1, 2), pose.shape[1]))
        return _as_head_input(torch.cat(fused, dim=1))
