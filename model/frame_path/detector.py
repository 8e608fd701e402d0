"""The detector of the frame path: frames -> (boxes, scores, labels) per frame, in frame pixels.

Two backends give the same detections (the parity test holds them to IoU >= 0.99):

* "onnx": the model's test-time resize and pad in NumPy/OpenCV, the network in ONNX Runtime
  (``networks.export_image_network``), and the head's decoding in NumPy with MMCV's batched
  NMS op. MMDetection's own path costs several milliseconds per frame in its per-image
  pipeline and InstanceData bookkeeping, more than the network itself on a small model; this
  one reproduces exactly what its test pipeline and ``predict_by_feat`` compute, for the
  single-stage heads written here (RTMDet's, YOLOX's).
* "torch": MMDetection's test pipeline and ``test_step`` (any architecture: Faster R-CNN
  too), on the GPU when there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import mmcv
import numpy as np
import torch
from mmcv.ops import batched_nms
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from model.device import local_device
from model.frame_path.models import ModelChoice, example_frame, load_detector
from model.frame_path.networks import export_image_network, resolve_backend

Detections = tuple[np.ndarray, np.ndarray, np.ndarray]   # boxes (K, 4), scores (K,), labels (K,)


@dataclass(frozen=True)
class ResizePad:
    """The test pipeline's ``Resize`` and ``Pad`` (MMDetection / MMCV semantics): keep-ratio
    or exact resize to ``scale`` (w, h), then padding at the bottom and right to a square, a
    multiple of ``size_divisor`` or a fixed ``size`` (w, h), filled with ``pad_value``."""

    scale: tuple[int, int] | None
    keep_ratio: bool
    pad_to_square: bool
    size_divisor: int | None
    size: tuple[int, int] | None
    pad_value: tuple[float, float, float]

    @classmethod
    def from_pipeline(cls, pipeline: Sequence[dict]) -> ResizePad:
        """Read from a test pipeline config; ``ValueError`` for steps this class does not do
        (the toolbox's own pipeline, backend "torch", does them)."""
        handled = {"LoadImageFromFile", "LoadImageFromNDArray", "LoadAnnotations",
                   "PackDetInputs", "Resize", "Pad"}
        types = [str(step["type"]).split(".")[-1] for step in pipeline]
        others = [t for t in types if t not in handled]
        if others:
            raise ValueError(f"the test pipeline has {others}; the NumPy path does Resize "
                             "and Pad only")
        steps = {str(step["type"]).split(".")[-1]: step for step in pipeline}
        resize, pad = steps.get("Resize", {}), steps.get("Pad", {})
        if "scale_factor" in resize:
            raise ValueError("Resize by scale_factor: the NumPy path resizes to a scale")
        value = pad.get("pad_val", 0)
        value = value.get("img", 0) if isinstance(value, dict) else value
        value = tuple(float(v) for v in value) if isinstance(value, Sequence) \
            else (float(value),) * 3
        return cls(scale=tuple(resize["scale"]) if "scale" in resize else None,
                   keep_ratio=bool(resize.get("keep_ratio", False)),
                   pad_to_square=bool(pad.get("pad_to_square", False)),
                   size_divisor=pad.get("size_divisor"),
                   size=tuple(pad["size"]) if pad.get("size") is not None else None,
                   pad_value=value)

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of a frame after the resize (``mmcv.rescale_size`` semantics)."""
        if self.scale is None:
            return width, height
        if self.keep_ratio:
            return mmcv.rescale_size((width, height), self.scale)
        return int(self.scale[0]), int(self.scale[1])

    def padded(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the padded network input of a resized frame."""
        if self.pad_to_square:
            width = height = max(width, height)
        if self.size_divisor is not None:
            d = int(self.size_divisor)
            return int(np.ceil(width / d)) * d, int(np.ceil(height / d)) * d
        if self.size is not None:
            return int(self.size[0]), int(self.size[1])
        return width, height

    def __call__(self, frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Frames of one size -> (batch (B, H, W, 3) uint8, scale factors (w, h))."""
        height, width = frames[0].shape[:2]
        new_w, new_h = self.resized(width, height)
        pad_w, pad_h = self.padded(new_w, new_h)
        batch = np.empty((len(frames), pad_h, pad_w, 3), np.uint8)
        batch[:] = np.asarray(self.pad_value, np.float32).astype(np.uint8)
        for image, frame in zip(batch, frames, strict=True):
            if (new_w, new_h) == (width, height):
                image[:new_h, :new_w] = frame
            else:
                # mmcv.imresize: cv2.resize with bilinear interpolation.
                cv2.resize(frame, (new_w, new_h), dst=image[:new_h, :new_w],
                           interpolation=cv2.INTER_LINEAR)
        return batch, np.array([new_w / width, new_h / height], np.float32)


def _flatten_levels(levels: Sequence[np.ndarray]) -> np.ndarray:
    """Per-level head outputs (B, C, H, W) -> (B, sum of H * W, C), rows in (y, x) order as
    MMDetection's ``permute(1, 2, 0).reshape(-1, C)`` lays them out."""
    return np.concatenate([lv.reshape(lv.shape[0], lv.shape[1], -1).transpose(0, 2, 1)
                           for lv in levels], 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class DenseDecoder:
    """``predict_by_feat`` of a single-stage head in NumPy: priors, sigmoid scores, candidate
    selection, box decoding, rescaling to frame pixels, NMS by class (MMCV's ``batched_nms``:
    the op MMDetection calls) and the per-image cap. ``kind``: "distance" (RTMDet's
    ``BaseDenseHead`` path with a distance-point coder) or "yolox"."""

    def __init__(self, head: torch.nn.Module, test_cfg: dict, kind: str):
        self.head, self.kind = head, kind
        self.num_levels = len(head.prior_generator.strides)
        self.score_thr = float(test_cfg.get("score_thr", 0.0))
        self.nms_pre = int(test_cfg.get("nms_pre", -1))
        self.min_bbox_size = float(test_cfg.get("min_bbox_size", -1))
        self.max_per_img = test_cfg.get("max_per_img")
        self.nms = dict(test_cfg["nms"])
        self._priors: dict[tuple, list[np.ndarray]] = {}

    @classmethod
    def for_model(cls, model: torch.nn.Module) -> DenseDecoder:
        """The decoder of ``model``'s head, or ``ValueError`` saying why there is none."""
        from mmdet.models.dense_heads import YOLOXHead
        from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
        from mmdet.models.task_modules.coders import DistancePointBBoxCoder

        head = getattr(model, "bbox_head", None)
        if head is None or hasattr(model, "roi_head"):
            raise ValueError(f"{type(model).__name__} is not a single-stage detector")
        test_cfg = dict(model.cfg.model.test_cfg)
        if isinstance(head, YOLOXHead):
            return cls(head, test_cfg, "yolox")
        plain = (type(head).predict_by_feat is BaseDenseHead.predict_by_feat and
                 type(head)._predict_by_feat_single is BaseDenseHead._predict_by_feat_single
                 and isinstance(head.bbox_coder, DistancePointBBoxCoder)
                 and head.use_sigmoid_cls and not getattr(head.loss_cls, "custom_cls_channels",
                                                          False))
        if not plain or "nms" not in test_cfg:
            raise ValueError(f"{type(head).__name__}: the NumPy decoding covers RTMDet-style "
                             "heads (distance-point boxes, sigmoid classes, no score factors) "
                             "and YOLOX")
        return cls(head, test_cfg, "distance")

    def priors(self, shapes: tuple[tuple[int, int], ...]) -> list[np.ndarray]:
        """Per level, the head's prior points (N, 2), or (N, 4) with strides for YOLOX, from
        its own prior generator (cached per input size)."""
        if shapes not in self._priors:
            with torch.no_grad():
                priors = self.head.prior_generator.grid_priors(
                    list(shapes), dtype=torch.float32, device="cpu",
                    with_stride=self.kind == "yolox")
            self._priors[shapes] = [p.numpy() for p in priors]
        return self._priors[shapes]

    def __call__(self, outputs: list[np.ndarray], scale: np.ndarray,
                 image_shape: tuple[int, int]) -> list[Detections]:
        """The raw outputs of a batch (per level: class scores, then boxes, then YOLOX's
        objectness) -> per image (boxes, scores, labels) in frame pixels; ``scale``: the
        resize factors (w, h); ``image_shape``: (h, w) of the padded input."""
        levels = [outputs[i * self.num_levels:(i + 1) * self.num_levels]
                  for i in range(len(outputs) // self.num_levels)]
        priors = self.priors(tuple(lv.shape[-2:] for lv in levels[0]))
        decode = self._distance if self.kind == "distance" else self._yolox
        return [self._post_process(*decode([[lv[b] for lv in kind] for kind in levels],
                                           priors, image_shape), scale)
                for b in range(len(outputs[0]))]

    def _distance(self, levels: list[list[np.ndarray]], priors: list[np.ndarray],
                  image_shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
        """``BaseDenseHead._predict_by_feat_single`` up to its post-processing."""
        boxes, scores, labels = [], [], []
        for cls_score, bbox_pred, prior in zip(*levels, priors, strict=True):
            score = _sigmoid(cls_score.reshape(cls_score.shape[0], -1).T)
            pred = bbox_pred.reshape(4, -1).T
            # filter_scores_and_topk: (prior, class) pairs above the threshold, top nms_pre.
            rows, classes = np.nonzero(score > self.score_thr)
            values = score[rows, classes]
            order = np.argsort(-values, kind="stable")
            if self.nms_pre > 0:
                order = order[:self.nms_pre]
            rows, classes, values = rows[order], classes[order], values[order]
            p, d = prior[rows], pred[rows]
            # distance2bbox, clamped to the padded input as the coder's max_shape does.
            box = np.stack([p[:, 0] - d[:, 0], p[:, 1] - d[:, 1], p[:, 0] + d[:, 2],
                            p[:, 1] + d[:, 3]], 1)
            height, width = image_shape
            box = np.clip(box, 0, [width, height, width, height])
            boxes.append(box)
            scores.append(values)
            labels.append(classes)
        return np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)

    def _yolox(self, levels: list[list[np.ndarray]], priors: list[np.ndarray],
               image_shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
        """``YOLOXHead.predict_by_feat`` up to its post-processing."""
        cls_score, bbox_pred, objectness = (
            np.concatenate([lv.reshape(lv.shape[0], -1).T for lv in kind]) for kind in levels)
        prior = np.concatenate(priors)
        xy = bbox_pred[:, :2] * prior[:, 2:] + prior[:, :2]
        wh = np.exp(bbox_pred[:, 2:]) * prior[:, 2:]
        box = np.concatenate([xy - wh / 2, xy + wh / 2], 1)
        score = _sigmoid(cls_score)
        labels = score.argmax(1)
        best = score[np.arange(len(score)), labels] * _sigmoid(objectness[:, 0])
        keep = best >= self.score_thr
        return box[keep], best[keep], labels[keep]

    def _post_process(self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                      scale: np.ndarray) -> Detections:
        boxes = (boxes / np.tile(scale, 2)).astype(np.float32)
        if self.kind == "distance" and self.min_bbox_size >= 0:
            keep = ((boxes[:, 2] - boxes[:, 0]) > self.min_bbox_size) & \
                ((boxes[:, 3] - boxes[:, 1]) > self.min_bbox_size)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        if len(boxes):
            kept, index = batched_nms(torch.from_numpy(boxes),
                                      torch.from_numpy(scores.astype(np.float32)),
                                      torch.from_numpy(labels.astype(np.int64)), self.nms)
            index = index.numpy()
            if self.kind == "distance" and self.max_per_img is not None:
                index = index[:int(self.max_per_img)]
            boxes, scores, labels = boxes[index], kept[:len(index), -1].numpy(), labels[index]
        return boxes, scores.astype(np.float32), labels.astype(np.int64)


class Detector:
    """An MMDetection model (``ModelChoice``) on batches of BGR frames; see the module doc.
    ``threads``: intra-op threads of its backend (this process's share of the cores)."""

    def __init__(self, choice: ModelChoice, backend: str = "auto", threads: int = 1):
        device = local_device()
        # The ONNX path exports from a CPU copy; whether it can run the model depends on the
        # model's test pipeline and head.
        cpu_model, pipeline, self.classes = load_detector(choice, torch.device("cpu"))
        try:
            resize_pad = ResizePad.from_pipeline(cpu_model.cfg.test_dataloader.dataset.pipeline)
            decoder = DenseDecoder.for_model(cpu_model)
            support = None
        except ValueError as exc:
            support = str(exc)
        self.backend = resolve_backend(backend, support, "detector")
        if self.backend == "torch":
            self.model, self.pipeline, _ = (cpu_model, pipeline, self.classes) \
                if device.type == "cpu" else load_detector(choice, device)
            return
        self.resize_pad, self.decoder = resize_pad, decoder
        example, _ = resize_pad([example_frame()])
        self.network = export_image_network(cpu_model, "bbox_head", "mmdet", example,
                                            dynamic_size=True, threads=threads)

    def __call__(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """(boxes (K, 4) x1 y1 x2 y2, scores (K,), labels (K,)) of each frame, as the model's
        test pipeline and head give them (before any class mapping or threshold of ours)."""
        if not len(frames):
            return []
        if self.backend == "torch":
            return self._toolbox(frames)
        out: list[Detections | None] = [None] * len(frames)
        # One network call per frame size (a batch of several streams may mix sizes).
        by_size: dict[tuple, list[int]] = {}
        for i, frame in enumerate(frames):
            by_size.setdefault(frame.shape, []).append(i)
        for indices in by_size.values():
            batch, scale = self.resize_pad([frames[i] for i in indices])
            outputs = self.network.run(batch)
            for i, result in zip(indices, self.decoder(outputs, scale, batch.shape[1:3]),
                                 strict=True):
                out[i] = result
        return out

    def _toolbox(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        with DefaultScope.overwrite_default_scope("mmdet"), torch.no_grad():
            data = pseudo_collate([self.pipeline(dict(img=f, img_id=i))
                                   for i, f in enumerate(frames)])
            results = self.model.test_step(data)
        return [(r.pred_instances.bboxes.cpu().numpy(), r.pred_instances.scores.cpu().numpy(),
                 r.pred_instances.labels.cpu().numpy()) for r in results]
