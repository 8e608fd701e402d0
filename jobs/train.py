"""Train a recognizer with Ray Train and write a deployable model package.

Runs the MMEngine config's model on the Parquet feature table with ``TorchTrainer`` (DDP over
``--num-workers``, a GPU per worker when the cluster has them, mixed precision on GPU), keeps
checkpoints in ``<work-dir>/train`` (or ``--storage-path``), and writes the package of the
selected epoch (``train_cfg.selection``: best validation macro-F1, or the last epoch of a fixed
schedule) to ``<work-dir>/package``, replacing any earlier package there.

Examples:
  python -m jobs.train --config model/configs/workcell/fusion_xattn_stgcnpp.py \\
      --table data/workcell/features --work-dir outputs/fused
  python -m jobs.train ... --resume            # continue from the latest checkpoint
  ray job submit --working-dir . -- python -m jobs.train --num-workers 4 ...
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import pyarrow.fs as pafs
import torch
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate

from model.builders import build_dataset, build_model, check_classes, load_config
from model.cli import command_parser
from model.cluster import init_ray
from model.datasets.feature_table import read_info
from model.device import gpus_per_worker
from model.inference.export import export_onnx
from model.inference.package import write_package
from model.training.loop import META_FILE, SELECTED_WEIGHTS_FILE
from model.training.trainer import build_trainer

RUN_CONFIG = "train_config.py"  # the config a run started with, checked on --resume


def _run_location(work_dir: Path, storage_path: str | None) -> tuple[str, str]:
    """(storage path, run name) for Ray Train: the run lives at <storage>/<name>.

    Ray Train restores any run it finds there, so each work directory gets its own run: named
    ``train`` inside the work directory, or after the work directory in shared storage.
    """
    if storage_path is None:
        return str(work_dir.resolve()), "train"
    return storage_path, work_dir.resolve().name


def _storage(storage: str) -> tuple[pafs.FileSystem, str]:
    if "://" in storage:
        return pafs.FileSystem.from_uri(storage)
    return pafs.LocalFileSystem(), str(Path(storage).resolve())


def _prepare_run(work_dir: Path, storage: str, name: str, cfg, resume: bool,
                 overwrite: bool) -> None:
    """Check --resume / --overwrite against what is there; a resumed run keeps its config."""
    fs, root = _storage(storage)
    run_path = f"{root}/{name}"
    run_exists = fs.get_file_info(run_path).type != pafs.FileType.NotFound
    started_with = work_dir / RUN_CONFIG
    if resume:
        if not (started_with.exists() and run_exists):
            raise SystemExit(f"--resume: no earlier run of {work_dir} in {storage}/{name}")
        if started_with.read_text() != cfg.pretty_text:
            raise SystemExit(f"--resume: the config differs from the one the run started with "
                             f"({started_with}); resume with the same config and options")
        return
    if started_with.exists() or run_exists:
        if not overwrite:
            raise SystemExit(f"{work_dir} holds an earlier run ({storage}/{name}): pass --resume "
                             "to continue it or --overwrite to start again")
        if run_exists:
            fs.delete_dir(run_path)
    started_with.write_text(cfg.pretty_text)


def _example_inputs(cfg, model) -> dict[str, torch.Tensor]:
    """One real validation sample through the test pipeline and the data preprocessor."""
    dataset = build_dataset(cfg, "val", "test_pipeline")
    data = model.data_preprocessor(pseudo_collate([dataset[0]]))
    keys = model.backbone.input_keys
    return {k: data["inputs"][k] for k in keys}


def train(config: str, table: str, work_dir: str, *, num_workers: int = 1,
          cpus_per_worker: int = 2, gpus: float | None = None, resume: bool = False,
          overwrite: bool = False, storage_path: str | None = None,
          options: dict | None = None, epochs_this_run: int | None = None,
          worker_resources: dict | None = None, max_failures: int = 0) -> dict:
    """Train, then package the selected epoch; returns the package's metrics."""
    # Ray Train workers run in their own working directory: hand them an absolute path.
    cfg = load_config(config, table=Path(table).resolve(), options=options)
    action_classes, object_classes = check_classes(cfg)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    storage, run_name = _run_location(work, storage_path)
    _prepare_run(work, storage, run_name, cfg, resume, overwrite)
    init_ray()
    trainer = build_trainer(cfg, run_name, storage, num_workers=num_workers,
                            cpus_per_worker=cpus_per_worker, gpus=gpus,
                            worker_resources=worker_resources, max_failures=max_failures,
                            epochs_this_run=epochs_this_run)
    result = trainer.fit()
    if result.checkpoint is None:
        raise SystemExit(f"training produced no checkpoint: {result.error}")
    with result.checkpoint.as_directory() as folder:
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        weights = torch.load(folder / SELECTED_WEIGHTS_FILE, map_location="cpu",
                             weights_only=True)
        logs = folder / "logs"
        history = _read_history(logs / "metrics.csv")
        selected = meta["selected_epoch"]
        metrics = {"config": config, "feature_table": str(table),
                   # A model trained on features of untrained detectors says so.
                   "feature_source": read_info(table).source,
                   "selection": cfg.train_cfg.selection,
                   "selected_epoch": selected,
                   "selected_val_macro_f1": history[selected - 1]["val_macro_f1"],
                   "best_epoch": meta["best_epoch"],
                   "best_val_macro_f1": meta["best_val_macro_f1"],
                   "epochs_run": meta["epoch"], "num_workers": num_workers,
                   "gpus_per_worker": gpus_per_worker(gpus, num_workers),
                   "selected_epoch_metrics": history[selected - 1],
                   "history": history}
        package = write_package(work / "package", cfg, weights, list(action_classes),
                                list(object_classes), read_info(table).max_objects, metrics,
                                logs)
    model = build_model(cfg)
    model.load_state_dict(weights)
    check = export_onnx(model.eval(), _example_inputs(cfg, model), package / "model.onnx")
    (package / "export_check.json").write_text(json.dumps(check, indent=1) + "\n")
    return metrics


def _read_history(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("jobs.train", __doc__)
    p.add_argument("--config", required=True, help="MMEngine config (model/configs/...)")
    p.add_argument("--table", required=True, help="Parquet feature table (jobs.ingest --out)")
    p.add_argument("--work-dir", required=True, help="checkpoints and the model package")
    p.add_argument("--num-workers", type=int, default=1, help="Ray Train workers (DDP)")
    p.add_argument("--cpus-per-worker", type=int, default=2)
    p.add_argument("--gpus-per-worker", type=float, default=None,
                   help="default: 1 when the cluster has a GPU per worker, else 0")
    p.add_argument("--worker-resources", type=json.loads, default=None, metavar="JSON",
                   help='custom Ray resources per worker, e.g. \'{"trainer_node": 1}\'')
    p.add_argument("--max-failures", type=int, default=0,
                   help="restarts from the last checkpoint after a lost worker or node "
                        "(-1: without limit)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="discard an earlier run")
    p.add_argument("--epochs-this-run", type=int, help="stop after this many epochs (a "
                                                          "time-boxed run; continue with --resume)")
    p.add_argument("--storage-path", help="where Ray Train keeps checkpoints (local path or "
                                          "URI such as s3://bucket/runs); default --work-dir")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   help="override config keys, e.g. train_cfg.max_epochs=5")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    metrics = train(args.config, args.table, args.work_dir, num_workers=args.num_workers,
                    cpus_per_worker=args.cpus_per_worker, gpus=args.gpus_per_worker,
                    resume=args.resume, overwrite=args.overwrite,
                    storage_path=args.storage_path, options=args.cfg_options,
                    epochs_this_run=args.epochs_this_run,
                    worker_resources=args.worker_resources, max_failures=args.max_failures)
    chosen = metrics["selected_epoch_metrics"]
    print(f"packaged epoch {metrics['selected_epoch']} ({metrics['selection']}): "
          f"val top1 {chosen['val_top1']:.4f}, val macro-F1 {chosen['val_macro_f1']:.4f}")
    print(f"model package: {Path(args.work_dir) / 'package'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
