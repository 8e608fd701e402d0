"""The object stream: a permutation-invariant encoder of each frame's object set, then time."""

from __future__ import annotations

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import nn

from model.transforms.objects import NUM_OBJECT_FEATURES


class _TemporalBlock(nn.Module):
    """Residual 1D convolution over time."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=dilation *
                              (kernel_size // 2), dilation=dilation)
        self.bn = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.drop(self.bn(self.conv(x))))


@MODELS.register_module()
class ObjectSetEncoder(BaseModule):
    """Encode the objects of every frame, then model them over time.

    Each object is its class embedding joined with its geometry relative to the subject
    (``model.transforms.objects.OBJECT_FEATURES``), passed through a shared MLP; max and
    mean pooling over the valid objects of a frame (a DeepSets encoder) make the frame vector
    independent of the order of the detections. Dilated residual convolutions then model time.

    Inputs: ``objects`` (N, T, K, F), ``classes`` (N, T, K) with -1 for empty slots.
    Output: (N, 1, C, T, 1), the (N, M, C, T, V) layout of MMAction2's GCN heads.

    Args:
        num_classes: number of object classes.
        in_features: geometric features per object.
        embed_dim: size of the class embedding.
        hidden_dim: width of the per-object MLP.
        out_channels: channels of the output.
        temporal_layers: residual temporal blocks (dilations 1, 2, 4, ...).
        kernel_size: temporal kernel size.
        dropout: dropout inside the temporal blocks.
    """

    def __init__(self, num_classes: int, in_features: int = NUM_OBJECT_FEATURES,
                 embed_dim: int = 16, hidden_dim: int = 64, out_channels: int = 128,
                 temporal_layers: int = 3, kernel_size: int = 5, dropout: float = 0.0,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.out_channels = out_channels
        self.embed = nn.Embedding(num_classes + 1, embed_dim, padding_idx=num_classes)
        self.point_mlp = nn.Sequential(
            nn.Linear(embed_dim + in_features, hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(inplace=True))
        self.frame_proj = nn.Linear(2 * hidden_dim + 1, out_channels)
        self.temporal = nn.Sequential(*[
            _TemporalBlock(out_channels, kernel_size, 2 ** i, dropout)
            for i in range(temporal_layers)])

    def forward(self, objects: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        valid = classes >= 0
        index = torch.where(valid, classes, torch.full_like(classes, self.num_classes))
        x = self.point_mlp(torch.cat([self.embed(index), objects], dim=-1))   # (N, T, K, H)
        mask = valid.unsqueeze(-1)
        count = mask.sum(dim=2)                                               # (N, T, 1)
        pooled_max = x.masked_fill(~mask, float("-inf")).amax(dim=2)
        pooled_max = torch.where(count > 0, pooled_max, torch.zeros_like(pooled_max))
        pooled_mean = (x * mask).sum(dim=2) / count.clamp(min=1)
        frame = torch.cat([pooled_max, pooled_mean, torch.log1p(count.to(x.dtype))], dim=-1)
        y = self.temporal(self.frame_proj(frame).transpose(1, 2))            # (N, C, T)
        return y[:, None, :, :, None]
