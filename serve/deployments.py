"""The model deployments of the Serve graph: Detector, PoseEstimator, Recognizer and Clips.

Each wraps the classes the offline jobs run, in its own replica process, so that the stages of
consecutive frames overlap and each scales on its own (``num_replicas``, ``num_cpus`` /
``num_gpus`` in serve/config.yaml): the detector and the pose model are the frame path's
``DetectionStage`` and ``PoseStage`` (model/frame_path, as in jobs.extract and jobs.infer), the
recognizer is the package the timeline head was trained on. Requests of several streams are
merged by ``@serve.batch``; every answer carries the replica's compute time in ms, so that a
client can tell compute from queueing.

Frames reach the model replicas decoded: the ingress decodes each frame once (it must, to
check it) and hands the pixels over; a 480x360 frame through a handle costs about 2 ms more
than its JPEG bytes (docs/serving.md), and saves each replica a decode of its own.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope
from ray import serve

import model  # noqa: F401  (the MMAction2 packaging fix precedes any mmaction import)
from model.datasets.frame_rows import FrameArrays
from model.datasets.window_dataset import STREAMS, VideoArrays
from model.device import local_device
from model.frame_path.chain import DetectionStage, FramePath, PoseStage
from model.frame_path.models import set_inference_threads
from model.frame_path.video import probe_video
from model.inference.annotated_video import write_annotated_video
from model.inference.export import StepEmbedder
from model.inference.onnx_network import onnx_copy
from model.inference.package import load_package
from model.inference.person_timelines import person_timelines
from model.inference.step_features import embed, step_pipeline
from serve.features import example_window
from serve.settings import ServingSettings


def start_replica(settings: ServingSettings, stage: str) -> int:
    """A replica's process takes its stage's share of the cores: its intra-op threads, and its
    scheduling priority (``niceness``: a process can lower its own priority, not raise it).
    Returns the threads."""
    threads = int(settings.threads[stage])
    set_inference_threads(threads)
    os.nice(int(settings.niceness[stage]))
    return threads


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1e3


def _configure_batching(method, settings: dict) -> None:
    method.set_max_batch_size(int(settings["max_batch_size"]))
    method.set_batch_wait_timeout_s(float(settings["batch_wait_timeout_s"]))


@serve.deployment
class Detector:
    """Frames -> the persons and objects of each (``select_detections``, frame pixels)."""

    def __init__(self, settings: ServingSettings):
        self.stage = DetectionStage(settings.frame_path, start_replica(settings, "detector"))
        _configure_batching(self.detect, settings.batching["detector"])

    @serve.batch
    async def detect(self, frames: list[np.ndarray]) -> list[tuple[dict, float]]:
        """Decoded frames (checked by the ingress) -> their detections, one dict per frame."""
        started = time.perf_counter()
        stacked = self.stage(frames)
        took = _ms(started)
        return [({k: v[i] for k, v in stacked.items()}, took) for i in range(len(frames))]


def timed_poses(stage: PoseStage, items: list[tuple[np.ndarray, np.ndarray]]
                ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    started = time.perf_counter()
    poses = stage.per_frame([frame for frame, _ in items], [boxes for _, boxes in items])
    took = _ms(started)
    return [(keypoints, scores, took) for keypoints, scores in poses]


class IngressPose:
    """The pose stage inside the ingress's process (``pose_placement="ingress"``), with the
    calls of the PoseEstimator deployment. A frame's pose is on its critical path, and a call
    through a deployment handle costs a few ms of latency and more of CPU in both processes
    (docs/serving.md); the model runs on a worker thread (ONNX Runtime and OpenCV release the
    GIL), so the event loop goes on reading sockets meanwhile."""

    def __init__(self, settings: ServingSettings):
        # The ingress's process: its priority, the pose model's threads.
        self.stage = PoseStage(settings.frame_path, int(settings.threads["pose"]))
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="pose")

    async def estimate(self, item: tuple[np.ndarray, np.ndarray]
                       ) -> tuple[np.ndarray, np.ndarray, float]:
        """As ``PoseEstimator.estimate``, for one frame."""
        poses = await asyncio.get_running_loop().run_in_executor(
            self.worker, timed_poses, self.stage, [item])
        return poses[0]


@serve.deployment
class PoseEstimator:
    """(frame, person boxes) -> keypoints (P, 17, 2) and their scores (P, 17)."""

    def __init__(self, settings: ServingSettings):
        self.stage = PoseStage(settings.frame_path, start_replica(settings, "pose"))
        _configure_batching(self.estimate, settings.batching["pose"])

    @serve.batch
    async def estimate(self, items: list[tuple[np.ndarray, np.ndarray]]
                       ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """(decoded frame, person boxes (P, 4)) -> keypoints and their scores per person, in
        the table's terms (``PoseStage``'s calibration), and the compute time in ms; the
        persons of every frame of the batch go through the network together."""
        return timed_poses(self.stage, items)


@serve.deployment
class Recognizer:
    """The recognizer package: step features of the online timeline (batched over persons and
    streams), class scores of a window (the features endpoint), and the timeline of a whole
    clip (the clip endpoint, jobs.infer's code)."""

    def __init__(self, settings: ServingSettings):
        threads = start_replica(settings, "recognizer")
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
            window = VideoArrays.from_frames(example_window(settings, seed=seed),
                                             self.num_person, self.streams)
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

    def classify(self, window: FrameArrays) -> list[float]:
        """Class probabilities of one window (feature rows of one video, its subject in
        ``subject_track_id``) through the package's test pipeline, as jobs.evaluate scores a
        window."""
        video = VideoArrays.from_frames(window, self.num_person, self.streams)
        sample = video.sample(0, window.num_frames, -1)
        sample.update(modality="Pose", start_index=0)
        with DefaultScope.overwrite_default_scope("mmaction"), torch.no_grad():
            result = self.package.model.test_step(pseudo_collate([self.test_pipeline(sample)]))
        return result[0].pred_score.float().cpu().numpy().tolist()


@serve.deployment
class Clips:
    """Whole video files (the clip endpoint) -> jobs.infer's per-person timelines, with a
    frame path and recognizer of its own: a clip is seconds of work, which in the stages of the
    live streams would stall their frames (the detector and pose replicas, or the ingress's
    event loop while it decodes). Shipped at the lowest CPU priority and reserving no CPU, it
    takes what the streams leave; ``max_ongoing_requests`` and ``max_queued_requests`` bound
    the clips at a time (the ingress answers 429 beyond them)."""

    def __init__(self, settings: ServingSettings):
        threads = start_replica(settings, "clips")
        self.settings = settings
        self.frame_path = FramePath(settings.frame_path, threads)
        self.package = load_package(settings.package, local_device())

    def ping(self) -> bool:
        """Answers once the replica is up with its models (the readiness probe)."""
        return True

    def timeline(self, data: bytes, video_id: str, online: bool,
                 annotated: bool = False) -> dict:
        """The encoded video's timelines; ``VideoError`` when it does not decode. With
        ``annotated``, also the video with its boxes, skeletons and actions drawn, as
        jobs.infer writes it (VP8 WebM bytes, under ``annotated_video``)."""
        with tempfile.TemporaryDirectory(prefix="clip-") as work:
            path = Path(work) / f"{video_id}.mp4"
            path.write_bytes(data)
            rows = self.frame_path.video(path, video_id, probe_video(path))
            doc = person_timelines(rows.arrays, self.settings.package, online=online,
                                   loaded=self.package)
            if annotated:
                out = Path(work) / "annotated.webm"
                frames = write_annotated_video(path, rows.arrays, doc["persons"],
                                               self.settings.object_classes, out,
                                               float(self.settings.stream["keypoint_thr"]))
                doc["annotated_video"] = {"frames": frames, "webm": out.read_bytes()}
        return doc
