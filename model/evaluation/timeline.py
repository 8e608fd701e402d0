"""Action timelines of untrimmed videos: with a package's timeline head (offline and online), or
without one from the summed scores of overlapping windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from mmengine.config import Config

from model.datasets.feature_table import read_feature_table, tensor_column, write_split_file
from model.evaluation.segmentation import delay_summary, detection_delays, segmentation_metrics
from model.inference.package import ModelPackage
from model.inference.step_cache import step_features
from model.inference.step_features import report_times
from model.inference.timeline import summed_frame_scores
from model.inference.timeline_head import TimelineHead

# The background classes of the segment metrics when no timeline head names them.
DEFAULT_TIMELINE_CONFIG = Path(__file__).parents[2] / "model/configs/timeline/mstcn.py"


def background_classes(classes: list[str], names: list[str] | None = None) -> list[int]:
    """Indices of the background classes ``names`` (default: the default timeline config's)
    that ``classes`` has."""
    if names is None:
        names = Config.fromfile(str(DEFAULT_TIMELINE_CONFIG)).background
    return [classes.index(n) for n in names if n in classes]


def untrimmed_videos(table: str | Path, split: str) -> list[str]:
    """Videos of ``split`` with more than one labelled segment."""
    rows, _ = read_feature_table(table, splits=[split], columns=["video_id", "segment_index"])
    grouped = rows.group_by("video_id").aggregate([("segment_index", "max")])
    mask = pc.greater(grouped.column("segment_index_max"), 0)
    return sorted(grouped.filter(mask).column("video_id").to_pylist())


def frame_timelines(table: str | Path, split: str, videos: list[str], scores: np.ndarray,
                    metas: list[dict], window_s: float, stride_s: float,
                    background: list[int]) -> tuple[dict, dict]:
    """Each frame takes the class with the highest summed probability over the sliding windows
    (``scores`` (W, K), ``metas`` with ``video_id`` and ``frame_range``) that cover it.

    Returns the segmentation metrics (``background`` classes left out of the segments) and,
    per video, the true and predicted label of every frame."""
    rows, _ = read_feature_table(table, splits=[split], columns=["video_id", "label"])
    timelines = {}
    for video in videos:
        labels = rows.filter(pc.equal(rows.column("video_id"), video)).column("label").to_numpy()
        predictions = summed_frame_scores(scores, metas, video, len(labels)).argmax(axis=1)
        timelines[video] = {"labels": labels.tolist(), "predictions": predictions.tolist()}
    summary = segmentation_metrics([t["labels"] for t in timelines.values()],
                                   [t["predictions"] for t in timelines.values()], background)
    summary.update(method="summed sliding windows", window_s=window_s, stride_s=stride_s)
    return summary, timelines


def head_timelines(head: TimelineHead, package: ModelPackage, table: str | Path, split: str,
                   videos: list[str], background: list[int], batch_size: int = 64,
                   cache_dir: str | Path | None = None) -> tuple[dict, dict]:
    """Offline and online timelines of ``videos`` from the package's timeline head.

    Returns {"offline": metrics, "online": metrics + detection delays} and, per video, the
    true labels and both predicted timelines."""
    feats = step_features(package, table, split, videos, head.windows_s, head.step_s,
                          batch_size, cache_dir)
    timelines = {v: {"labels": f.labels.tolist(),
                     "offline": head.offline_timeline(f)[0].tolist(),
                     "online": head.online_timeline(f)[0].tolist()} for v, f in feats.items()}
    truths = [t["labels"] for t in timelines.values()]
    summary = {"method": "timeline head", "head": str(head.folder), "windows_s": head.windows_s,
               "step_s": head.step_s}
    for mode in ("offline", "online"):
        summary[mode] = segmentation_metrics(truths, [t[mode] for t in timelines.values()],
                                             background)
    delays = [d for v, t in timelines.items()
              for d in detection_delays(t["labels"], t["online"], background,
                                        report_times(feats[v], head.lag_steps))]
    summary["online"].update(delay_summary(delays, next(iter(feats.values())).fps))
    return summary, timelines


def subject_only_copy(table: str | Path, split: str, videos: list[str],
                      out: Path) -> tuple[Path, list[str]]:
    """A feature table at ``out`` holding ``videos`` of ``split`` with every person but the
    subject removed (track id -1, keypoints and scores 0), and which of the videos had
    anyone else in view: the input of the check that a passer-by does not change the
    subject's timeline."""
    rows, _ = read_feature_table(table, splits=[split])
    rows = rows.filter(pc.is_in(rows.column("video_id"), pa.array(videos)))
    ids = tensor_column(rows, "person_track_ids")
    subject = rows.column("subject_track_id").to_numpy()
    crowded = sorted(set(rows.column("video_id").to_numpy(zero_copy_only=False)[
        ((ids >= 0).sum(1) > 1)]))
    # A subject of -1 is the largest person, in slot 0 (FeatureTableDataset's rule).
    is_subject = np.where(subject[:, None] >= 0, ids == subject[:, None],
                          np.arange(ids.shape[1]) == 0)
    other = (ids >= 0) & ~is_subject
    columns = {"person_track_ids": np.where(other, -1, ids),
               "person_boxes": np.where(other[..., None], 0.0,
                                        tensor_column(rows, "person_boxes")),
               "keypoints": np.where(other[..., None, None], 0.0,
                                     tensor_column(rows, "keypoints")),
               "keypoint_scores": np.where(other[..., None], 0.0,
                                           tensor_column(rows, "keypoint_scores"))}
    for name, values in columns.items():
        i = rows.schema.get_field_index(name)
        rows = rows.set_column(i, rows.schema.field(i),
                               pa.FixedShapeTensorArray.from_numpy_ndarray(
                                   np.ascontiguousarray(values)))
    i = rows.schema.get_field_index("num_persons")
    rows = rows.set_column(i, rows.schema.field(i),
                           pa.array((columns["person_track_ids"] >= 0).sum(1).astype(np.int16)))
    write_split_file(out, split, "rows.parquet", rows)
    return out, crowded
