"""The deployable model package: one folder with everything needed to run the recognizer.

  config.py         MMEngine config (model, pipelines, data settings) used for training
  weights.pth       plain state dict of the best epoch (loads with weights_only=True)
  classes.json      action and object class names, in label order
  input_spec.json   what the model expects: clip length, clips, persons, joints, objects
  metrics.json      validation metrics of the best epoch and the training history
  model.onnx        ONNX export (batch size dynamic); export_check.json: parity with PyTorch
  logs/             metrics.csv and TensorBoard events of every epoch
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from mmengine.config import Config

from model.builders import build_model, pipeline_step
from model.datasets.coco_keypoints import KEYPOINT_LAYOUT, NUM_KEYPOINTS
from model.transforms.objects import OBJECT_FEATURES, TRACK_FEATURES

CONFIG, WEIGHTS, CLASSES, INPUT_SPEC, METRICS = ("config.py", "weights.pth", "classes.json",
                                                 "input_spec.json", "metrics.json")
# The per-object features each object encoder of the test pipeline writes.
_ENCODED_FEATURES = {"EncodeObjects": OBJECT_FEATURES, "EncodeObjectTracks": TRACK_FEATURES}


@dataclass
class ModelPackage:
    folder: Path
    cfg: Config
    model: torch.nn.Module
    action_classes: list[str]
    object_classes: list[str]
    input_spec: dict


def input_spec(cfg: Config, max_objects: int) -> dict:
    """What the packaged model takes, read from its test pipeline (streams it does not use are
    left out: a pose-only model names no object features)."""
    sampler = pipeline_step(cfg.test_pipeline, "UniformSampleFrames")
    packer = pipeline_step(cfg.test_pipeline, "PackActionInputs")
    steps = {step["type"]: step for step in cfg.test_pipeline}
    encoder = next((name for name in _ENCODED_FEATURES if name in steps), None)
    return {
        "keypoint_layout": KEYPOINT_LAYOUT, "num_joints": NUM_KEYPOINTS,
        "clip_len": sampler["clip_len"], "num_clips": sampler["num_clips"],
        "num_person": steps["FormatGCNInput"]["num_person"] if "FormatGCNInput" in steps else 0,
        "max_objects": max_objects if encoder else 0,
        "object_features": list(_ENCODED_FEATURES[encoder]) if encoder else [],
        "window_s": cfg.dataset.get("window_s"), "stride_s": cfg.dataset.get("stride_s"),
        "inputs": list(packer["collect_keys"]),
        "note": "inputs are produced by the config's test_pipeline from feature-table windows",
    }


def write_package(folder: str | Path, cfg: Config, weights: dict, action_classes: list[str],
                  object_classes: list[str], max_objects: int, metrics: dict,
                  logs: Path | None) -> Path:
    """Write the package into ``folder``, replacing whatever an earlier run left there."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    cfg.dump(str(folder / CONFIG))
    torch.save(weights, folder / WEIGHTS)
    (folder / CLASSES).write_text(json.dumps(
        {"action_classes": list(action_classes), "object_classes": list(object_classes)},
        indent=1) + "\n")
    (folder / INPUT_SPEC).write_text(json.dumps(input_spec(cfg, max_objects), indent=1) + "\n")
    (folder / METRICS).write_text(json.dumps(metrics, indent=1) + "\n")
    if logs is not None:
        shutil.copytree(logs, folder / "logs")
    return folder


def load_package(folder: str | Path, device: torch.device | str = "cpu") -> ModelPackage:
    """Build the packaged recognizer with its trained weights, ready for ``test_step``."""
    folder = Path(folder)
    missing = [n for n in (CONFIG, WEIGHTS, CLASSES, INPUT_SPEC) if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder}: not a model package, missing {missing}")
    cfg = Config.fromfile(str(folder / CONFIG))
    model = build_model(cfg)
    model.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
    classes = json.loads((folder / CLASSES).read_text())
    return ModelPackage(folder, cfg, model.to(device).eval(), classes["action_classes"],
                        classes["object_classes"],
                        json.loads((folder / INPUT_SPEC).read_text()))
