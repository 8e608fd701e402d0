"""Ingest annotations into the Parquet feature table (docs/data-format.md).

Two sources:
  * a dataset folder (``dataset.json`` + ``annotations/*.json``), e.g. from ``jobs.make_dataset``;
  * an MMAction2 2D skeleton annotation file (.pkl / .pkl.gz), only with ``--allow-pickle``.

Bad files are reported (file, frame, field) and left out; the others are still ingested, and the
job exits with status 1 when anything was rejected. Reports: ``<out>/ingest_report.{json,md}``.
Without a split file the split is drawn from ``--seed``: by video (stratified by label), or by
group with ``--group-by operator`` (a key of the annotations' ``video.groups``), so that all the
videos of one operator (camera, day, ...) land in the same split.

Examples:
  python -m jobs.ingest --dataset data/workcell --out data/workcell/features
  python -m jobs.ingest --mmaction-pkl ntu.pkl --allow-pickle --classes classes.txt \\
      --pkl-split xsub_train=train --pkl-split xsub_val=test --out data/ntu/features
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ray

from actors.annotation_ingest import AnnotationToRows, ValidateAnnotation, with_split
from model.cli import command_parser, refuse
from model.cluster import init_ray
from model.datasets.annotation import (
    DEFAULT_MAX_ANNOTATION_BYTES,
    AnnotationError,
    AnnotationIssue,
    DatasetSpec,
    load_annotation,
)
from model.datasets.feature_table import SPLITS, read_feature_table, read_info
from model.datasets.frame_rows import annotation_to_arrays
from model.datasets.mmaction_pkl import (
    load_skeleton_pkl,
    pkl_split_of,
    record_to_arrays,
    validate_record,
)
from model.datasets.splits import (
    assign_group_splits,
    assign_splits,
    load_split_file,
    write_split_file,
)
from model.reports import write_report


@dataclass
class IngestReport:
    out: str
    source: str
    videos: dict[str, int] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    rejected: list[dict] = field(default_factory=list)
    dropped_persons: int = 0
    dropped_objects: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.rejected

    def markdown(self) -> str:
        lines = ["# Ingest report\n", f"- source: `{self.source}`", f"- table: `{self.out}`",
                 f"- time: {self.seconds:.1f} s", "", "| split | videos | frames |",
                 "| --- | ---: | ---: |"]
        lines += [f"| {s} | {self.videos[s]} | {self.frames[s]} |" for s in self.videos]
        lines += ["", f"Detections beyond the table's slots (left out): "
                      f"{self.dropped_persons} persons, {self.dropped_objects} objects."]
        lines += [f"- note: {n}" for n in self.notes]
        if self.rejected:
            lines += ["", f"## Rejected files ({len(self.rejected)})", ""]
            for r in self.rejected:
                lines.append(f"- `{r['file']}`")
                lines += [f"  - {issue}" for issue in r["issues"]]
        return "\n".join(lines) + "\n"


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SystemExit(f"{out} is not empty; pass --overwrite to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _split_assignment(strata: dict[str, str], split_file: str | None, seed: int,
                      val_fraction: float, test_fraction: float, report: IngestReport,
                      groups: dict[str, str] | None = None,
                      group_by: str | None = None) -> dict[str, str]:
    if split_file is None and groups is not None:
        report.notes.append(f"splits drawn with seed {seed} by video.groups.{group_by} "
                            f"({len(set(groups.values()))} groups; val {val_fraction}, test "
                            f"{test_fraction} of the groups): no {group_by} is in two splits")
        return assign_group_splits(groups, val_fraction, test_fraction, seed)
    if split_file is None:
        report.notes.append(f"splits drawn with seed {seed} (val {val_fraction}, "
                            f"test {test_fraction}), stratified by main label where possible; "
                            "by video: pass --group-by to keep an operator's videos together")
        return assign_splits(strata, val_fraction, test_fraction, seed)
    given = load_split_file(split_file)
    unknown = sorted(set(given) - set(strata))
    if unknown:
        report.notes.append(f"{len(unknown)} video id(s) of {split_file} were not ingested "
                            f"(missing or rejected), e.g. {unknown[:3]}")
    return given


def ingest_annotations(dataset_dir: str | Path, out: str | Path, *, split_file: str | None = None,
                       seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15,
                       max_persons: int = 4, max_objects: int = 16,
                       box_tolerance_px: float = 2.0, workers: int = 2,
                       group_by: str | None = None,
                       max_annotation_bytes: int | None = DEFAULT_MAX_ANNOTATION_BYTES,
                       overwrite: bool = False) -> IngestReport:
    """Validate every ``annotations/*.json`` of a dataset folder and write the feature table.

    ``group_by`` draws the split by that key of ``video.groups`` (when there is no split file);
    files larger than ``max_annotation_bytes`` are rejected unread."""
    started = time.perf_counter()
    dataset_dir, out = Path(dataset_dir), Path(out)
    spec = DatasetSpec.load(dataset_dir / "dataset.json")
    files = sorted((dataset_dir / "annotations").glob("*.json"))
    if not files:
        raise SystemExit(f"{dataset_dir / 'annotations'}: no *.json annotation files")
    if split_file is None and (dataset_dir / "splits.json").exists():
        split_file = str(dataset_dir / "splits.json")
    _prepare_out(out, overwrite)
    report = IngestReport(out=str(out), source=str(dataset_dir))
    init_ray()
    reader = dict(spec_json=spec.to_json(), box_tolerance_px=box_tolerance_px,
                  max_persons=max_persons, max_objects=max_objects,
                  max_bytes=max_annotation_bytes)
    checked = (ray.data.from_items([{"path": str(p)} for p in files])
               .map(ValidateAnnotation, concurrency=workers,
                    fn_constructor_kwargs=dict(reader, group_by=group_by))
               .take_all())
    by_id: dict[str, list[dict]] = defaultdict(list)
    for row in checked:
        if len(row["issues"]):
            report.rejected.append({"file": row["path"], "issues": list(row["issues"])})
        else:
            by_id[row["video_id"]].append(row)
    accepted: dict[str, dict] = {}
    for video_id, rows in by_id.items():
        if len(rows) > 1:
            paths = [r["path"] for r in rows]
            for r in rows:
                others = ", ".join(p for p in paths if p != r["path"])
                report.rejected.append({"file": r["path"], "issues": [str(AnnotationIssue(
                    r["path"], "video.id", f"duplicate video id {video_id!r}, also in {others}"))]})
        else:
            accepted[video_id] = rows[0]
    splits = _split_assignment(
        {v: r["main_label"] for v, r in accepted.items()}, split_file, seed, val_fraction,
        test_fraction, report,
        groups={v: r["group"] for v, r in accepted.items()} if group_by else None,
        group_by=group_by)
    for video_id in sorted(set(accepted) - set(splits)):
        path = accepted.pop(video_id)["path"]
        report.rejected.append({"file": path, "issues": [str(AnnotationIssue(
            path, "video.id", f"video {video_id!r} is not listed in {split_file}"))]})
    if not accepted:
        raise SystemExit("no valid annotation file to ingest:\n" + report.markdown())

    items = [{"path": r["path"], "split": splits[v]} for v, r in sorted(accepted.items())]
    (ray.data.from_items(items)
     .map_batches(AnnotationToRows, batch_size=4, concurrency=workers, batch_format="numpy",
                  fn_constructor_kwargs=reader)
     .write_parquet(str(out), partition_cols=["split"]))
    _reject_unwritten(out, accepted, spec, box_tolerance_px, max_persons, max_objects,
                      max_annotation_bytes, report)
    for r in accepted.values():
        report.dropped_persons += int(r["dropped_persons"])
        report.dropped_objects += int(r["dropped_objects"])
    return _finish(report, out, {v: splits[v] for v in accepted},
                   {v: int(r["num_frames"]) for v, r in accepted.items()}, started)


def _reject_unwritten(out: Path, accepted: dict[str, dict], spec: DatasetSpec,
                      box_tolerance_px: float, max_persons: int, max_objects: int,
                      max_bytes: int | None, report: IngestReport) -> None:
    """Reject (and drop from ``accepted``) the videos the conversion pass did not write, with
    the error their conversion raises when repeated here."""
    table, _ = read_feature_table(out, columns=["video_id"])
    written = set(table.column("video_id").unique().to_pylist())
    for video_id in sorted(set(accepted) - written):
        path = accepted.pop(video_id)["path"]
        try:
            annotation_to_arrays(load_annotation(path, spec, box_tolerance_px, max_bytes), spec,
                                 max_persons, max_objects)
            reason = "not written by the conversion pass (see the job log)"
        except AnnotationError as exc:
            reason = "changed since validation: " + "; ".join(i.message for i in exc.issues)
        except Exception as exc:  # noqa: BLE001 - the report names what failed, nothing is hidden
            reason = f"conversion failed: {type(exc).__name__}: {exc}"
        report.rejected.append({"file": path, "issues": [f"{path}: (file): {reason}"]})


def ingest_mmaction_pkl(pkl_path: str | Path, out: str | Path, *, classes: list[str],
                        allow_pickle: bool, split_file: str | None = None,
                        split_map: dict[str, str] | None = None, seed: int = 0,
                        val_fraction: float = 0.15, test_fraction: float = 0.15,
                        fps: float = 30.0, max_persons: int = 2,
                        video_ids: Collection[str] | None = None,
                        overwrite: bool = False) -> IngestReport:
    """Import an MMAction2 skeleton .pkl (objects absent) into the feature table.

    ``video_ids`` restricts the import to those clips (``frame_dir``); the others are not
    looked at. A clip of the import that no split names is rejected, as in the annotation path.
    """
    started = time.perf_counter()
    out = Path(out)
    doc = load_skeleton_pkl(pkl_path, allow_pickle)
    _prepare_out(out, overwrite)
    report = IngestReport(out=str(out), source=str(pkl_path))
    valid: dict[str, dict] = {}
    index_of: dict[str, int] = {}
    seen = Counter(str(r.get("frame_dir", "")) for r in doc["annotations"] if isinstance(r, dict))
    wanted = None if video_ids is None else set(video_ids)
    for i, record in enumerate(doc["annotations"]):
        video_id = str(record.get("frame_dir", "")) if isinstance(record, dict) else ""
        if wanted is not None and video_id not in wanted:
            continue
        issues = validate_record(record, i, str(pkl_path), len(classes))
        if not issues and seen[video_id] > 1:
            issues = [AnnotationIssue(str(pkl_path), f"annotations[{i}].frame_dir",
                                      f"frame_dir {video_id!r} appears {seen[video_id]} times")]
        if issues:
            report.rejected.append({"file": f"{pkl_path}#annotations[{i}]",
                                    "issues": [str(x) for x in issues]})
        else:
            valid[video_id] = record
            index_of[video_id] = i
    if split_file is not None:
        splits = _split_assignment({v: "" for v in valid}, split_file, seed, 0, 0, report)
        where = f"not listed in {split_file}"
    elif doc.get("split"):
        splits = pkl_split_of(doc, split_map or {})
        bad = sorted({s for s in splits.values() if s not in SPLITS})
        if bad:
            raise SystemExit(f"{pkl_path}: split name(s) {bad} are not among {SPLITS}; "
                             "map them with --pkl-split NAME=train|val|test")
        report.notes.append(f"splits taken from the .pkl's own split dict ({split_map or {}})")
        where = "in no split of the .pkl" + (f" mapped by --pkl-split {split_map}"
                                             if split_map else "")
    else:
        splits = _split_assignment({v: str(r["label"]) for v, r in valid.items()}, None, seed,
                                   val_fraction, test_fraction, report)
        where = ""
    for video_id in sorted(set(valid) - set(splits)):
        index = index_of[video_id]
        report.rejected.append({"file": f"{pkl_path}#annotations[{index}]", "issues": [str(
            AnnotationIssue(str(pkl_path), f"annotations[{index}]({video_id}).frame_dir",
                            f"clip {video_id!r} is {where}"))]})
    videos = {v: r for v, r in valid.items() if v in splits}
    if not videos:
        raise SystemExit(f"{pkl_path}: no valid clip in any split")
    init_ray()
    # The records are already in memory and turning one into rows is a few NumPy calls, so the
    # conversion runs here; Ray Data parallelises the Parquet write.
    tables = []
    for video_id, record in sorted(videos.items()):
        # One (always empty) object slot: Arrow tensors cannot have a zero dimension.
        arrays = record_to_arrays(record, max_persons, 1, fps)
        report.dropped_persons += max(len(record["keypoint"]) - max_persons, 0) * \
            int(record["total_frames"])
        tables.append(with_split(arrays.to_table(classes, []), splits[video_id]))
    ray.data.from_arrow(tables).write_parquet(str(out), partition_cols=["split"])
    return _finish(report, out, {v: splits[v] for v in videos},
                   {v: int(r["total_frames"]) for v, r in videos.items()}, started)


def _finish(report: IngestReport, out: Path, splits: dict[str, str], frames: dict[str, int],
            started: float) -> IngestReport:
    read_info(out)  # fails loudly if the written files lost their schema version or classes
    write_split_file(out / "splits.json", splits)
    counts = Counter(splits.values())
    report.videos = {s: counts[s] for s in SPLITS if counts[s]}
    report.frames = {s: sum(f for v, f in frames.items() if splits[v] == s) for s in report.videos}
    report.seconds = time.perf_counter() - started
    write_report(out / "ingest_report", asdict(report), report.markdown())
    return report


def _parse_split_map(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, ours = pair.partition("=")
        if not sep or ours not in SPLITS:
            raise argparse.ArgumentTypeError(f"--pkl-split expects NAME=train|val|test, got {pair}")
        out[name] = ours
    return out


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("jobs.ingest", __doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="dataset folder with dataset.json and annotations/")
    src.add_argument("--mmaction-pkl", help="MMAction2 2D skeleton annotation .pkl[.gz]")
    p.add_argument("--out", required=True, help="output folder of the feature table")
    p.add_argument("--split-file", help="JSON {train|val|test: [video ids]}; default: the "
                                        "dataset's splits.json, the .pkl's split, or --seed")
    p.add_argument("--seed", type=int, default=0, help="seed of drawn splits")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--max-persons", type=int, default=None,
                   help="person slots per frame (default 4 for annotations, 2 for .pkl)")
    p.add_argument("--max-objects", type=int, default=16, help="object slots per frame")
    p.add_argument("--group-by", metavar="KEY",
                   help="draw the split by this key of the annotations' video.groups (e.g. "
                        "operator, camera, day): all videos of a group land in one split")
    p.add_argument("--max-annotation-mb", type=float,
                   default=DEFAULT_MAX_ANNOTATION_BYTES / 2**20,
                   help="annotation files larger than this are rejected unread (default "
                        "%(default).0f)")
    p.add_argument("--box-tolerance-px", type=float, default=2.0,
                   help="how far a box may reach past the frame border")
    p.add_argument("--workers", type=int, default=2, help="Ray Data actors per pass")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    pkl = p.add_argument_group("MMAction2 .pkl import")
    pkl.add_argument("--allow-pickle", action="store_true",
                     help="allow unpickling --mmaction-pkl (runs code from the file: trusted "
                          "files only)")
    pkl.add_argument("--classes", help="text file, one class name per line in label order")
    pkl.add_argument("--pkl-split", action="append", default=[], metavar="NAME=SPLIT",
                     help="map a split name of the .pkl to train/val/test (repeatable)")
    pkl.add_argument("--fps", type=float, default=30.0, help="frame rate of the .pkl clips")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.dataset:
            report = ingest_annotations(
                args.dataset, args.out, split_file=args.split_file, seed=args.seed,
                val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                max_persons=args.max_persons or 4, max_objects=args.max_objects,
                box_tolerance_px=args.box_tolerance_px, workers=args.workers,
                group_by=args.group_by,
                max_annotation_bytes=int(args.max_annotation_mb * 2**20),
                overwrite=args.overwrite)
        else:
            if not args.classes:
                raise SystemExit("--mmaction-pkl needs --classes (one class name per line)")
            if args.group_by:
                raise SystemExit("--group-by reads the annotations' video.groups: it applies "
                                 "to --dataset, not to --mmaction-pkl (use its split or "
                                 "--split-file)")
            classes = [c.strip() for c in Path(args.classes).read_text().splitlines() if c.strip()]
            report = ingest_mmaction_pkl(
                args.mmaction_pkl, args.out, classes=classes, allow_pickle=args.allow_pickle,
                split_file=args.split_file, split_map=_parse_split_map(args.pkl_split),
                seed=args.seed, val_fraction=args.val_fraction,
                test_fraction=args.test_fraction, fps=args.fps,
                max_persons=args.max_persons or 2, overwrite=args.overwrite)
    except (AnnotationError, PermissionError, ValueError) as exc:
        return refuse(exc)
    print(report.markdown())
    print(f"feature table: {report.out}  (report: {report.out}/ingest_report.md)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
