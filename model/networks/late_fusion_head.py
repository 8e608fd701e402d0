"""Late fusion: one classifier per stream, their class probabilities averaged."""

from __future__ import annotations

import torch
from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from torch import nn


@MODELS.register_module()
class LateFusionHead(BaseHead):
    """Average the class probabilities of per-stream heads (e.g. two ``GCNHead``).

    ``forward`` returns log(mean_s softmax(z_s)), the log-probabilities of the averaged
    prediction, so MMAction2's ``average_clip('prob')`` and cross-entropy apply unchanged.
    Each stream also gets its own cross-entropy (weight ``stream_loss_weight``), so that a
    stream cannot lean on the other and stay weak on its own.

    Args:
        num_classes: number of action classes.
        stream_heads: stream name (``pose`` / ``objects``) -> head config.
        stream_loss_weight: weight of each stream's own loss.
    """

    def __init__(self, num_classes: int, stream_heads: dict[str, dict],
                 stream_loss_weight: float = 0.5, average_clips: str = "prob", **kwargs):
        super().__init__(num_classes, in_channels=0, average_clips=average_clips, **kwargs)
        self.heads = nn.ModuleDict({name: MODELS.build(cfg) for name, cfg in stream_heads.items()})
        self.stream_loss_weight = stream_loss_weight

    def forward(self, feats: dict[str, torch.Tensor], **kwargs) -> torch.Tensor:
        probs = torch.stack([self.heads[name](feats[name]).softmax(dim=-1)
                             for name in self.heads])
        return probs.mean(dim=0).clamp_min(1e-12).log()

    def loss(self, feats: dict[str, torch.Tensor], data_samples, **kwargs) -> dict:
        losses = self.loss_by_feat(self(feats), data_samples)
        for name, head in self.heads.items():
            stream = head.loss_by_feat(head(feats[name]), data_samples)["loss_cls"]
            losses[f"loss_{name}"] = self.stream_loss_weight * stream
        return losses
