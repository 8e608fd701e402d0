"""Export a recognizer to ONNX and check the export against PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch import nn

from model.inference.step_features import check_embeddable, neck_features, readout


class ClipScorer(nn.Module):
    """Tensors in, class probabilities out: the recognizer without MMAction2's data samples.

    Inputs are the packed streams (batch, num_clips, ...) named by ``input_keys``; the output
    is (batch, num_classes), softmax averaged over the clips as MMAction2's ``average_clip``
    ('prob') does.
    """

    def __init__(self, recognizer: nn.Module, input_keys: tuple[str, ...]):
        super().__init__()
        self.recognizer = recognizer
        self.input_keys = input_keys

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        inputs = dict(zip(self.input_keys, tensors, strict=True))
        batch, num_clips = tensors[0].shape[:2]
        logits, _ = self.recognizer.extract_feat(inputs, stage="head")
        return logits.softmax(dim=-1).reshape(batch, num_clips, -1).mean(dim=1)


def export_onnx(recognizer: nn.Module, example: dict[str, torch.Tensor],
                path: str | Path) -> dict:
    """Write ``path`` (batch size dynamic) and return the max |ONNX - PyTorch| on ``example``
    and on a batch of a different size."""
    keys = tuple(example)
    scorer = ClipScorer(recognizer.cpu().eval(), keys).eval()
    args = tuple(example[k].cpu() for k in keys)
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.onnx.export(scorer, args, str(path), dynamo=True, external_data=False,
                      input_names=list(keys),
                      output_names=["probs"],
                      dynamic_shapes=(tuple({0: batch} for _ in keys),),  # one *tensors arg
                      verbose=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for repeat in (1, 3):
        tensors = tuple(t.repeat((repeat,) + (1,) * (t.dim() - 1)) for t in args)
        with torch.no_grad():
            expected = scorer(*tensors).numpy()
        got = session.run(None, {k: t.numpy() for k, t in zip(keys, tensors, strict=True)})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    return {"onnx_file": Path(path).name, "inputs": list(keys), "max_abs_diff": worst}


class StepEmbedder(nn.Module):
    """Tensors in, (step features, class probabilities) out: ``step_features.embed`` without
    MMAction2's data samples, for the one-clip windows of the timeline head."""

    def __init__(self, recognizer: nn.Module, input_keys: tuple[str, ...]):
        super().__init__()
        check_embeddable(recognizer)
        self.recognizer = recognizer
        self.input_keys = input_keys

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = dict(zip(self.input_keys, tensors, strict=True))
        return readout(neck_features(self.recognizer, inputs), self.recognizer.cls_head.fc)

