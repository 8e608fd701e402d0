"""A multi-stage temporal convolutional network over per-step recognizer features (MS-TCN,
Farha & Gall, CVPR 2019), offline (centred convolutions) or online (causal convolutions).

MMAction2 ships no temporal action segmentation model, so this is written here, after the
paper's reference implementation: each stage is a 1x1 input projection, dilated residual
layers (dilation 2^i, kernel 3) and a 1x1 classifier; later stages refine the softmax of the
previous one. With ``causal=True`` every convolution pads on the left only, so the output at
step t depends on steps <= t; its receptive field is ``receptive_field`` steps.
``CausalTCNStream`` runs a causal network one step at a time at the cost of one column per
layer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import nn


class _DilatedResidual(nn.Module):
    def __init__(self, channels: int, dilation: int, dropout: float, causal: bool):
        super().__init__()
        self.pad = (2 * dilation, 0) if causal else (dilation, dilation)
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation)
        self.out = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv(F.pad(x, self.pad)))
        return x + self.dropout(self.out(y))


class _Stage(nn.Module):
    def __init__(self, in_channels: int, channels: int, num_classes: int, num_layers: int,
                 dropout: float, causal: bool):
        super().__init__()
        self.inp = nn.Conv1d(in_channels, channels, 1)
        self.layers = nn.ModuleList(_DilatedResidual(channels, 2 ** i, dropout, causal)
                                    for i in range(num_layers))
        self.cls = nn.Conv1d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.inp(x)
        for layer in self.layers:
            x = layer(x)
        return self.cls(x)


@MODELS.register_module()
class MultiStageTCN(nn.Module):
    """(N, C, S) step features -> list of (N, K, S) logits, one per stage (the last is the
    prediction; all are supervised).

    Args:
        in_channels: feature channels per step.
        num_classes: action classes.
        num_stages: the first stage plus refinement stages.
        num_layers: dilated residual layers per stage.
        channels: hidden channels.
        dropout: dropout inside the residual layers.
        input_dropout: channel dropout on the input features (training only).
        feature_noise: std of Gaussian noise added to the normalised features (training
            only): the recognizer's features of its own training videos are cleaner than of
            unseen ones, and the temporal model learns from the former.
        causal: left-only padding (online mode).

    The input features are layer-normalised per step (which keeps the model causal).
    """

    def __init__(self, in_channels: int, num_classes: int, num_stages: int = 2,
                 num_layers: int = 8, channels: int = 64, dropout: float = 0.3,
                 input_dropout: float = 0.0, feature_noise: float = 0.0,
                 causal: bool = False):
        super().__init__()
        self.causal, self.num_layers, self.num_stages = causal, num_layers, num_stages
        self.feature_noise = feature_noise
        self.norm = nn.LayerNorm(in_channels)
        self.input_dropout = nn.Dropout1d(input_dropout)
        self.stages = nn.ModuleList(
            [_Stage(in_channels, channels, num_classes, num_layers, dropout, causal)] +
            [_Stage(num_classes, channels, num_classes, num_layers, dropout, causal)
             for _ in range(num_stages - 1)])

    @property
    def receptive_field(self) -> int:
        """Steps an output depends on (per stage 1 + 2 (2^L - 1), stages chained)."""
        return self.num_stages * 2 * (2 ** self.num_layers - 1) + 1

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        if self.training and self.feature_noise > 0:
            x = x + self.feature_noise * torch.randn_like(x)
        out = self.stages[0](self.input_dropout(x))
        outputs = [out]
        for stage in self.stages[1:]:
            out = stage(F.softmax(out, dim=1))
            outputs.append(out)
        return outputs


class CausalTCNStream:
    """A causal ``MultiStageTCN`` fed one step at a time: each dilated layer keeps the last
    2 x dilation inputs it saw in a ring buffer, so a step costs one column per layer instead
    of a pass over the whole receptive field (1021 steps for 2 stages of 8 layers). ``step``
    returns what the network gives at that step over the whole sequence so far (the buffers
    start as the convolutions' zero padding). PyTorch has no streaming convolution, hence the
    layers' weights are applied here by hand, in eval mode (no dropout, no feature noise)."""

    def __init__(self, weights: dict):
        self.norm, self.stages = weights["norm"], weights["stages"]
        self.reset()

    @staticmethod
    @torch.no_grad()
    def weights_of(net: MultiStageTCN) -> dict:
        """The network's weights in the form ``step`` applies them; derive them once per
        network and share them between its streams (they are read, never written)."""
        if not net.causal:
            raise ValueError("CausalTCNStream needs a causal MultiStageTCN (causal=True)")
        net.eval()

        def pointwise(conv: nn.Conv1d) -> tuple[torch.Tensor, torch.Tensor]:
            return conv.weight[:, :, 0], conv.bias

        stages = []
        for stage in net.stages:
            # Taps of the left-padded kernel-3 convolution at step t: t - 2d, t - d, t.
            layers = [dict(dilation=layer.conv.dilation[0], bias=layer.conv.bias,
                           taps=layer.conv.weight.permute(0, 2, 1).reshape(
                               layer.conv.out_channels, -1),
                           out=pointwise(layer.out)) for layer in stage.layers]
            stages.append(dict(inp=pointwise(stage.inp), layers=layers, cls=pointwise(stage.cls)))
        return dict(norm=net.norm, stages=stages)

    def reset(self) -> None:
        """Forget every step (a new sequence starts)."""
        self.steps = 0
        self.buffers = [[torch.zeros(2 * layer["dilation"], layer["taps"].shape[0])
                         for layer in stage["layers"]] for stage in self.stages]

    @torch.no_grad()
    def step(self, feature: np.ndarray) -> np.ndarray:
        """(K,) class probabilities of the last stage at this step, from feature (C,)."""
        x = self.norm(torch.as_tensor(feature, dtype=torch.float32))
        for stage, buffers in zip(self.stages, self.buffers, strict=True):
            weight, bias = stage["inp"]
            h = weight @ x + bias
            for layer, ring in zip(stage["layers"], buffers, strict=True):
                d = layer["dilation"]
                slot = self.steps % (2 * d)   # written 2d steps ago; slot + d: d steps ago
                y = F.relu(layer["taps"] @ torch.cat((ring[slot], ring[(slot + d) % (2 * d)], h))
                           + layer["bias"])
                ring[slot] = h
                weight, bias = layer["out"]
                h = h + weight @ y + bias
            weight, bias = stage["cls"]
            x = torch.softmax(weight @ h + bias, dim=0)   # the next stage refines it
        self.steps += 1
        return x.numpy()


def segmentation_loss(outputs: list[torch.Tensor], targets: torch.Tensor, mask: torch.Tensor,
                      smooth_weight: float, smooth_clip: float,
                      class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """MS-TCN's loss, summed over stages: cross-entropy per step plus ``smooth_weight`` x the
    truncated (at ``smooth_clip``) squared difference of consecutive log-probabilities, which
    discourages over-segmentation. ``targets`` (N, S) ints, ``mask`` (N, S) the real steps."""
    total = 0.0
    steps = mask.sum().clamp(min=1)
    pair_mask = (mask[:, 1:] * mask[:, :-1]).unsqueeze(1)
    for logits in outputs:
        ce = F.cross_entropy(logits, targets.clamp(min=0), weight=class_weight,
                             reduction="none")
        total = total + (ce * mask).sum() / steps
        logp = F.log_softmax(logits, dim=1)
        diff = (logp[:, :, 1:] - logp[:, :, :-1].detach()) ** 2
        smooth = torch.clamp(diff, max=smooth_clip ** 2) * pair_mask
        total = total + smooth_weight * smooth.sum() / (pair_mask.sum().clamp(min=1) *
                                                        logits.shape[1])
    return total
