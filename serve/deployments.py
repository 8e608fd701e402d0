"""The model deployments of the Serve graph: Detector, PoseEstimator and Recognizer.

Each wraps the code the offline jobs run, in its own replica process, so that the stages of
consecutive frames overlap and each scales on its own (``num_replicas``, ``num_cpus`` /
``num_gpus`` in serve/config.yaml): the detector and the pose model are jobs.extract's
``DetectorStage`` and ``PoseStage``, the recognizer is the package the timeline head was
trained on. Requests of several streams are merged by ``@serve.batch``; every answer carries
the replica's compute time in ms, so that a client can tell compute from queueing.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from ray import serve

import model  # noqa: F401  (the MMAction2 packaging fix precedes any mmaction import)
from actors.detector import DetectorStage, select_detections
from actors.openmmlab_models import choose_model, set_inference_threads
from actors.pose import PoseStage
from jobs.extract import load_config, model_stage_arguments
from jobs.infer import person_timelines
from model.datasets.window_dataset import STREAMS, VideoArrays
from model.device import local_device
from model.inference.export import StepEmbedder
from model.inference.onnx_network import onnx_copy
from model.inference.package import load_package
from model.inference.step_features import embed, step_pipeline
from serve.features import example_window
from serve.settings import ServingSettings


def decode_frame(encoded: bytes) -> np.ndarray:
    """A BGR frame from the JPEG/PNG bytes the ingress checked. Frames travel between
    replicas encoded: 20-40 KB instead of 0.5 MB of pixels through the object store."""
    return cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1e3


def _configure_batching(method, settings: dict) -> None:
    method.set_max_batch_size(int(settings["max_batch_size"]))
    method.set_batch_wait_timeout_s(float(settings["batch_wait_timeout_s"]))


def _stage_arguments(settings: ServingSettings, threads: int) -> dict[str, dict]:
    config = load_config(settings.extraction_config, settings.extraction_options)
    choices = {kind: choose_model(config, kind, random_weights=False)
               for kind in ("detector", "pose")}
    return model_stage_arguments(config, choices, tuple(settings.object_classes), threads)


@serve.deployment
class Detector:
    """Frames -> the persons and objects of each (``select_detections``, frame pixels)."""

    def __init__(self, settings: ServingSettings):
        self.stage = DetectorStage(**_stage_arguments(settings,
                                                      settings.threads["detector"])["detector"])
        _configure_batching(self.detect, settings.batching["detector"])

    @serve.batch
    async def detect(self, encoded: list[bytes]) -> list[tuple[dict, float]]:
        """Encoded frames (checked by the ingress) -> their detections."""
        started = time.perf_counter()
        frames = [decode_frame(e) for e in encoded]
        stage = self.stage
        out = [select_detections(boxes, scores, labels, stage.targets, frame.shape[1],
                                 frame.shape[0], stage.score_thr, stage.min_box_px,
                                 stage.max_persons, stage.max_objects)
               for frame, (boxes, scores, labels) in zip(frames, stage.detect(frames),
                                                         strict=True)]
        took = _ms(started)
        return [(o, took) for o in out]

    def rows(self, row: dict) -> dict:
        """jobs.extract's detector stage on one frame-batch row (the clip endpoint)."""
        return self.stage(row)


@serve.deployment
class PoseEstimator:
    """(frame, person boxes) -> keypoints (P, 17, 2) and their scores (P, 17)."""

    def __init__(self, settings: ServingSettings):
        self.stage = PoseStage(**_stage_arguments(settings, settings.threads["pose"])["pose"])
        _configure_batching(self.estimate, settings.batching["pose"])

    @serve.batch
    async def estimate(self, items: list[tuple[bytes, np.ndarray]]
                       ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """(encoded frame, person boxes) -> keypoints and their scores per person."""
        started = time.perf_counter()
        frames = [decode_frame(e) for e, _ in items]
        counts = np.array([len(boxes) for _, boxes in items])
        boxes = np.zeros((len(items), max(1, counts.max()), 4), np.float32)
        for i, (_, b) in enumerate(items):
            boxes[i, :len(b)] = b
        keypoints, scores = self.stage.estimate(frames, boxes, counts)
        took = _ms(started)
        return [(keypoints[i, :n], scores[i, :n], took) for i, n in enumerate(counts)]

    def rows(self, row: dict) -> dict:
        """jobs.extract's pose stage on one frame-batch row (the clip endpoint)."""
        return self.stage(row)


@serve.deployment
class Recognizer:
    """The recognizer package: step features of the online timeline (batched over persons and
    streams), class scores of a window (the features endpoint), and the timeline of a whole
    clip (the clip endpoint, jobs.infer's code)."""

    def __init__(self, settings: ServingSettings):
        threads = int(settings.threads["recognizer"])
        set_inference_threads(threads)
        self.settings = settings
        self.package = load_package(settings.package, local_device())
        with DefaultScope.overwrite_default_scope("mmaction"):
            self.test_pipeline = Compose(self.package.cfg.test_pipeline)
            self.step_pipeline = Compose(step_pipeline(self.package.cfg))
        dataset = self.package.cfg.dataset
        self.num_person = dataset.get("num_person", 1)
        self.streams = tuple(dataset.get("streams", STREAMS))
        backend = settings.recognizer["backend"]
        if backend not in ("onnx", "torch"):
            raise ValueError(f"recognizer.backend must be 'onnx' or 'torch', got {backend!r}")
        self.onnx = self._onnx_embedder(settings, threads) if backend == "onnx" else None
        _configure_batching(self.embed, settings.batching["recognizer"])

    def _inputs(self, samples: list[dict]) -> dict[str, torch.Tensor]:
        return self.package.model.data_preprocessor(pseudo_collate(samples), False)["inputs"]

    def _onnx_embedder(self, settings: ServingSettings, threads: int):
        """The step embedder's ORT twin, checked on two random windows (an example batch of
        one would fix the batch size: the exporter specialises dimensions of size 1)."""
        samples = []
        for seed in (0, 1):
            window = VideoArrays(example_window(settings, seed=seed), self.num_person,
                                 self.streams)
            sample = window.sample(0, window.label.size, -1)
            sample.update(modality="Pose", start_index=0)
            samples.append(self.step_pipeline(sample))
        inputs = self._inputs(samples)
        self.input_keys = tuple(self.package.model.backbone.input_keys)
        return onnx_copy(StepEmbedder(self.package.model, self.input_keys),
                         tuple(inputs[k] for k in self.input_keys),
                         {i: {0: "batch"} for i in range(len(self.input_keys))}, threads,
                         dynamo=True, int8=bool(settings.recognizer["int8"]),
                         tolerance=float(settings.recognizer["tolerance"]))

    def _features(self, samples: list[dict]) -> np.ndarray:
        if self.onnx is None:
            return embed(self.package.model, pseudo_collate(samples))[0]
        inputs = self._inputs(samples)
        features, _ = self.onnx(*(inputs[k] for k in self.input_keys))
        return features.numpy()

    @serve.batch
    async def embed(self, requests: list[list[dict]]) -> list[tuple[np.ndarray, float]]:
        """Per request (the step samples of one stream's persons, already through the step
        pipeline): their features, one row per sample."""
        started = time.perf_counter()
        features = self._features([s for samples in requests for s in samples])
        took = _ms(started)
        bounds = np.cumsum([0] + [len(samples) for samples in requests])
        return [(features[a:b], took) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def classify(self, window: pa.Table) -> list[float]:
        """Class probabilities of one window (a feature table of one video, its subject in
        ``subject_track_id``) through the package's test pipeline, as jobs.evaluate scores a
        window."""
        video = VideoArrays(window, self.num_person, self.streams)
        sample = video.sample(0, window.num_rows, -1)
        sample.update(modality="Pose", start_index=0)
        with DefaultScope.overwrite_default_scope("mmaction"), torch.no_grad():
            result = self.package.model.test_step(pseudo_collate([self.test_pipeline(sample)]))
        return result[0].pred_score.float().cpu().numpy().tolist()

    def timeline(self, table: pa.Table, online: bool) -> dict:
        """jobs.infer's per-person timelines of one video's feature table."""
        with tempfile.TemporaryDirectory(prefix="clip-") as work:
            return person_timelines(table, Path(self.settings.package), Path(work),
                                    online=online, loaded=self.package)
