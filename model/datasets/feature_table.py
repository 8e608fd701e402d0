"""The feature table: per-frame pose and object features in Parquet (docs/data-format.md).

One row per (video, frame). Persons and objects are padded to fixed counts so that every
tensor column has a fixed shape (Arrow's canonical ``fixed_shape_tensor`` extension type);
``num_persons`` / ``num_objects`` say how many slots are filled. Slot 0 holds the labelled
person (the subject) when the frame has one. The table is partitioned by split (Hive layout,
``split=train/...``) and every file carries the schema version and the class lists in its
Arrow schema metadata, so a file read on its own is still self-describing. The metadata also
says where the features came from (``workcell.feature_source``: the annotations, or the
detector and pose models of an extraction run, random weights included), so a table built
from untrained models can never pass for a real one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from model.datasets.coco_keypoints import KEYPOINT_LAYOUT, NUM_KEYPOINTS

SCHEMA_VERSION = 1
SPLITS = ("train", "val", "test")
_META_VERSION = b"workcell.schema_version"
_META_ACTIONS = b"workcell.action_classes"
_META_OBJECTS = b"workcell.object_classes"
_META_LAYOUT = b"workcell.keypoint_layout"
_META_SOURCE = b"workcell.feature_source"


class FeatureTableError(ValueError):
    """A feature table is missing, of another schema version, or inconsistent."""


def _tensor(dtype: pa.DataType, shape: list[int]) -> pa.DataType:
    return pa.fixed_shape_tensor(dtype, shape)


def feature_schema(max_persons: int, max_objects: int, action_classes: list[str],
                   object_classes: list[str], source: dict | None = None) -> pa.Schema:
    """The Arrow schema of the table, its metadata included (without the split column).

    ``source`` describes where the features came from (JSON-serialisable; default: the
    annotations)."""
    m, n, v = max_persons, max_objects, NUM_KEYPOINTS
    fields = [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("frame_index", pa.int32(), nullable=False),
        pa.field("fps", pa.float32(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("num_persons", pa.int16(), nullable=False),
        pa.field("person_track_ids", _tensor(pa.int32(), [m]), nullable=False),
        pa.field("person_boxes", _tensor(pa.float32(), [m, 4]), nullable=False),
        pa.field("keypoints", _tensor(pa.float32(), [m, v, 2]), nullable=False),
        pa.field("keypoint_scores", _tensor(pa.float32(), [m, v]), nullable=False),
        pa.field("num_objects", pa.int16(), nullable=False),
        pa.field("object_track_ids", _tensor(pa.int32(), [n]), nullable=False),
        pa.field("object_classes", _tensor(pa.int16(), [n]), nullable=False),
        pa.field("object_boxes", _tensor(pa.float32(), [n, 4]), nullable=False),
        pa.field("object_scores", _tensor(pa.float32(), [n]), nullable=False),
        pa.field("subject_track_id", pa.int32(), nullable=False),
        pa.field("label", pa.int16(), nullable=False),
        pa.field("segment_index", pa.int32(), nullable=False),
    ]
    metadata = {
        _META_VERSION: str(SCHEMA_VERSION).encode(),
        _META_ACTIONS: json.dumps(list(action_classes)).encode(),
        _META_OBJECTS: json.dumps(list(object_classes)).encode(),
        _META_LAYOUT: KEYPOINT_LAYOUT.encode(),
        _META_SOURCE: json.dumps(source or {"kind": "annotations"}, sort_keys=True).encode(),
    }
    return pa.schema(fields, metadata=metadata)


@dataclass(frozen=True)
class FeatureTableInfo:
    """What the metadata of a feature table says about it."""

    schema_version: int
    action_classes: tuple[str, ...]
    object_classes: tuple[str, ...]
    max_persons: int
    max_objects: int
    source_json: str = '{"kind": "annotations"}'

    @property
    def source(self) -> dict:
        """Where the features came from (see ``feature_schema``)."""
        return json.loads(self.source_json)

    @property
    def from_random_weights(self) -> bool:
        return bool(self.source.get("random_weights", False))

    @classmethod
    def from_schema(cls, schema: pa.Schema, source: str) -> FeatureTableInfo:
        meta = schema.metadata or {}
        if _META_VERSION not in meta:
            raise FeatureTableError(f"{source}: not a workcell feature table "
                                    f"(no {_META_VERSION.decode()} in the Parquet metadata)")
        version = int(meta[_META_VERSION])
        if version != SCHEMA_VERSION:
            raise FeatureTableError(
                f"{source}: feature table schema version {version}, this code reads version "
                f"{SCHEMA_VERSION}; re-run `python -m jobs.ingest` to rebuild it")
        # Tables written before the source key existed were all built from annotations.
        source = meta.get(_META_SOURCE, b'{"kind": "annotations"}').decode()
        return cls(version, tuple(json.loads(meta[_META_ACTIONS])),
                   tuple(json.loads(meta[_META_OBJECTS])),
                   schema.field("person_track_ids").type.shape[0],
                   schema.field("object_classes").type.shape[0], source)


def _dataset(root: str | Path) -> pads.Dataset:
    root = Path(root)
    files = sorted(str(p) for p in root.glob("split=*/*.parquet"))
    if not files:
        raise FeatureTableError(f"{root}: no feature table here (expected split=*/ *.parquet; "
                                "run `python -m jobs.ingest`)")
    # An explicit file list: the table folder also holds the ingest reports and splits.json.
    return pads.dataset(files, format="parquet", partitioning="hive",
                        partition_base_dir=str(root))


def read_info(root: str | Path) -> FeatureTableInfo:
    """Check every file's schema version and class lists; return the table's description."""
    dataset = _dataset(root)
    infos = {FeatureTableInfo.from_schema(f.physical_schema, f.path)
             for f in dataset.get_fragments()}
    if len(infos) != 1:
        raise FeatureTableError(f"{root}: files disagree on schema or class lists: {infos}")
    return infos.pop()


def read_feature_table(root: str | Path, splits: list[str] | None = None,
                       columns: list[str] | None = None) -> tuple[pa.Table, FeatureTableInfo]:
    """Read (part of) the table after checking its version; rows ordered by video and frame."""
    info = read_info(root)
    dataset = _dataset(root)
    flt = pads.field("split").isin(splits) if splits else None
    keys = ["video_id", "frame_index"]
    wanted = None if columns is None else list(dict.fromkeys(keys + list(columns)))
    table = dataset.to_table(columns=wanted, filter=flt).sort_by([(k, "ascending") for k in keys])
    if columns is not None:
        table = table.select(list(columns))
    return table, info


def write_split_file(root: str | Path, split: str, name: str, rows: pa.Table) -> Path:
    """Write ``rows`` as the file ``name`` of ``split`` of the table at ``root``. The split is
    the folder name (Hive layout), so the ``split`` column of rows read from a table is left
    out of the file."""
    folder = Path(root) / f"split={split}"
    folder.mkdir(parents=True, exist_ok=True)
    if "split" in rows.column_names:
        rows = rows.drop_columns(["split"])
    pq.write_table(rows, folder / name)
    return folder / name


def tensor_column(table: pa.Table, name: str) -> np.ndarray:
    """A fixed-shape tensor column as one (rows, *shape) NumPy array."""
    column = table.column(name).combine_chunks()
    return column.to_numpy_ndarray()


def content_checksum(root: str | Path, split: str) -> str:
    """SHA-256 of a split's content: every column's values, rows sorted by video and frame.

    It ignores how the rows are spread over files (Ray names them at random), so the same
    data ingested twice gives the same checksum; any changed value changes it.
    """
    table, _ = read_feature_table(root, splits=[split])
    if table.num_rows == 0:
        raise FeatureTableError(f"{root}: split {split!r} is empty")
    digest = hashlib.sha256()
    for name in table.schema.names:
        if name == "split":
            continue
        column = table.column(name).combine_chunks()
        digest.update(name.encode())
        if isinstance(column.type, pa.FixedShapeTensorType):
            digest.update(column.to_numpy_ndarray().tobytes())
        elif pa.types.is_string(column.type):
            digest.update("\x00".join(column.to_pylist()).encode())
        else:
            digest.update(column.to_numpy().tobytes())
    return digest.hexdigest()
