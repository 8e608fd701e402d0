"""The pose + object recognizer: two stream backbones, a fusion neck, an MMAction2 head."""

from __future__ import annotations

import torch
from mmaction.models.recognizers import BaseRecognizer
from mmaction.registry import MODELS
from mmengine.model import BaseModule

POSE_INPUTS = ("keypoint",)
OBJECT_INPUTS = ("objects", "object_classes")


@MODELS.register_module()
class PoseObjectBackbone(BaseModule):
    """Runs the configured streams: ``pose`` (e.g. MMAction2's ``STGCN``) on ``keypoint``,
    ``objects`` (``ObjectSetEncoder``) on ``objects`` + ``object_classes``.

    Either stream may be None, which gives the pose-only and object-only models.
    Returns a dict of stream name -> features in the (N, M, C, T, V) layout.
    """

    def __init__(self, pose: dict | None = None, objects: dict | None = None,
                 init_cfg: dict | None = None):
        super().__init__(init_cfg=init_cfg)
        if pose is None and objects is None:
            raise ValueError("PoseObjectBackbone needs at least one of pose / objects")
        self.pose = MODELS.build(pose) if pose is not None else None
        self.objects = MODELS.build(objects) if objects is not None else None

    @property
    def input_keys(self) -> tuple[str, ...]:
        return (POSE_INPUTS if self.pose is not None else ()) + \
            (OBJECT_INPUTS if self.objects is not None else ())

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        feats = {}
        if self.pose is not None:
            feats["pose"] = self.pose(inputs["keypoint"])
        if self.objects is not None:
            feats["objects"] = self.objects(inputs["objects"], inputs["object_classes"])
        return feats


@MODELS.register_module()
class PoseObjectRecognizer(BaseRecognizer):
    """Recognizer over a dict of input streams, each shaped (batch, num_clips, ...).

    ``neck`` fuses the stream features into one (N, 1, C, T, 1) tensor for a ``GCNHead``;
    without a neck a single stream goes to the head as it is (pose-only: the plain ST-GCN++
    recognizer; object-only), and several streams go to the head as a dict (late fusion
    with ``LateFusionHead``).

    ``aux_heads`` (stream name -> head config) add a classifier per stream during training
    only, whose losses (``loss_aux_<stream>``, weighted by ``aux_loss_weight``) supervise each
    stream directly: the fast-learning object stream then does not wait for the slower pose
    stream before the fused head can use it. They are returned to MMAction2's ``BaseRecognizer``
    as ``loss_aux``, its mechanism for auxiliary losses.
    """

    def __init__(self, *args, aux_heads: dict[str, dict] | None = None,
                 aux_loss_weight: float = 0.5, **kwargs):
        super().__init__(*args, **kwargs)
        self.aux_heads = torch.nn.ModuleDict(
            {name: MODELS.build(cfg) for name, cfg in (aux_heads or {}).items()})
        self.aux_loss_weight = aux_loss_weight

    def _aux_losses(self, feats: dict[str, torch.Tensor], data_samples) -> dict:
        losses = {}
        for name, head in self.aux_heads.items():
            loss = head.loss_by_feat(head(feats[name]), data_samples)["loss_cls"]
            losses[f"loss_aux_{name}"] = self.aux_loss_weight * loss
        return losses

    def extract_feat(self, inputs: dict[str, torch.Tensor], stage: str = "neck",
                     data_samples=None, **kwargs) -> tuple:
        missing = [k for k in self.backbone.input_keys if k not in inputs]
        if missing:
            raise KeyError(f"{type(self).__name__}: inputs lack {missing}; the pipeline's "
                           "PackActionInputs(collect_keys=...) must provide them")
        flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in inputs.items()
                if k in self.backbone.input_keys}
        feats = self.backbone(flat)
        if stage == "backbone":
            return feats, {}
        extra = {}
        if data_samples is not None and self.aux_heads:  # the loss step
            extra["loss_aux"] = self._aux_losses(feats, data_samples)
        if self.with_neck:
            feats = self.neck(feats)
        elif len(feats) == 1:
            feats = next(iter(feats.values()))
        if stage == "neck":
            return feats, extra
        return self.cls_head(feats), extra
