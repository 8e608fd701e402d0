"""The networks of the detector and the pose model run by ONNX Runtime on NumPy frames.

The exported graph takes uint8 images (B, H, W, 3) in BGR order, as OpenCV decodes them, and
holds the toolbox's data preprocessing (channel order, mean and std of the model's
``data_preprocessor``) in front of backbone, neck and head: what is left outside is resizing,
padding or cropping into a uint8 buffer, and the decoding of the head's raw outputs. The
export is cached per weights (``model.inference.onnx_network.onnx_copy``) and checked against
PyTorch on an example when it is loaded.

Which backend a model runs on: ``resolve_backend``. "onnx" is this module; "torch" is the
toolbox's own test pipeline and ``test_step`` (any architecture, and a GPU when present).
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import torch
from mmengine.registry import DefaultScope
from torch import nn

from model.inference.onnx_network import OnnxModule, onnx_copy

BACKENDS = ("auto", "onnx", "torch")


def resolve_backend(backend: str, onnx_support: str | None, what: str) -> str:
    """"onnx" or "torch" for a model whose ONNX path is supported unless ``onnx_support``
    says why not. "auto" takes ONNX Runtime, unless the model needs PyTorch or the process has
    a GPU that the installed ORT build cannot use (then PyTorch runs on it)."""
    if backend not in BACKENDS:
        raise ValueError(f"{what}.backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "onnx" and onnx_support is not None:
        raise ValueError(f"{what}.backend 'onnx': {onnx_support}; use backend 'torch'")
    if backend != "auto":
        return backend
    gpu_only_for_torch = torch.cuda.is_available() and \
        "CUDAExecutionProvider" not in onnxruntime.get_available_providers()
    return "torch" if onnx_support is not None or gpu_only_for_torch else "onnx"


class ImageNetwork(nn.Module):
    """uint8 BGR images (B, H, W, 3) -> the head's raw outputs, the model's data preprocessor
    (an MMEngine ``ImgDataPreprocessor``: channel flip, mean, std) folded in."""

    def __init__(self, model: nn.Module, head: str):
        super().__init__()
        pre = model.data_preprocessor
        self.model, self.head = model, getattr(model, head)
        self.flip = bool(pre._channel_conversion)
        self.normalize = bool(pre._enable_normalize)
        if self.normalize:
            self.register_buffer("mean", pre.mean.detach().clone()[None].float(), False)
            self.register_buffer("std", pre.std.detach().clone()[None].float(), False)

    def forward(self, images: torch.Tensor):
        x = images.permute(0, 3, 1, 2).float()
        if self.flip:
            x = x[:, [2, 1, 0]]
        if self.normalize:
            x = (x - self.mean) / self.std
        return self.head(self.model.extract_feat(x))


def export_image_network(model: nn.Module, head: str, scope: str, example: np.ndarray,
                         dynamic_size: bool, threads: int) -> OnnxModule:
    """The ORT twin of ``ImageNetwork(model, head)`` (exported once per weights and cached),
    checked on ``example`` (B, H, W, 3) uint8; ``dynamic_size``: any image height and width
    (a detector's), else only the batch size varies (a pose model's fixed crops)."""
    axes = {0: "batch", 1: "height", 2: "width"} if dynamic_size else {0: "batch"}
    with DefaultScope.overwrite_default_scope(scope):
        return onnx_copy(ImageNetwork(model, head).eval(), (torch.from_numpy(example),),
                         {0: axes}, threads)
