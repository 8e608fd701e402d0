"""Train the timeline head of a recognizer package: action timelines of untrimmed videos.

The recognizer (frozen) runs at every step on the window that ends there; an MS-TCN over these
per-step features learns per-step labels across segment boundaries (offline: centred
convolutions; online: causal ones), and the decoders after them (Viterbi offline, a causal
forward filter online) get the settings that do best on the validation split. The epoch, the
decoder settings and every figure printed here come from the validation split; the test split
is not read. The head is written to <package>/timeline/ (see model/inference/timeline_head.py).

Examples:
  python -m jobs.train_timeline --package trained_models/workcell --table data/workcell/features
  ray job submit --working-dir . -- python -m jobs.train_timeline \\
      --package trained_models/workcell --table data/workcell/features
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mmengine.config import DictAction
from mmengine.runner import set_random_seed
from tqdm import tqdm

from jobs.evaluate import check_table_classes
from model.cli import command_parser, refuse
from model.config_files import read_config
from model.device import local_device
from model.evaluation.timeline import untrimmed_videos
from model.inference.package import load_package
from model.inference.step_cache import step_features
from model.inference.timeline_head import (
    TIMELINE_DIR,
    build_tcn,
    step_probs,
    write_timeline_head,
)
from model.reports import write_report
from model.training.timeline import choose_offline, choose_online, train_tcn

DEFAULT_CONFIG = "model/configs/timeline/mstcn.py"


def training_videos(table: str | Path, split: str, which: str) -> list[str]:
    if which == "untrimmed":
        return untrimmed_videos(table, split)
    raise ValueError(f"features.videos must be 'untrimmed', got {which!r}")


def train_timeline(package_dir: str | Path, table: str | Path, *, config: str = DEFAULT_CONFIG,
                   cfg_options: dict | None = None,
                   cache_dir: str | Path | None = None) -> dict:
    """Train and write the timeline head of ``package_dir``; returns its metrics."""
    started = time.time()
    cfg = read_config(config, cfg_options)
    classes = check_table_classes(package_dir, table)
    package = load_package(package_dir, local_device())
    background = [classes.index(c) for c in cfg.background]
    feats = cfg.features
    data = {split: step_features(package, table, split,
                                 training_videos(table, split, feats["videos"]),
                                 feats["windows_s"], feats["step_s"], feats["batch_size"],
                                 cache_dir)
            for split in ("train", "val")}
    train, val = list(data["train"].values()), list(data["val"].values())
    train_videos = len(train)
    # Augmented copies of the training videos' features: the recognizer's features of its own
    # training videos are cleaner than of unseen ones, and the copies make them less so.
    for seed in range(1, feats.get("augmented_copies", 0) + 1):
        train += list(step_features(package, table, "train",
                                    training_videos(table, "train", feats["videos"]),
                                    feats["windows_s"], feats["step_s"], feats["batch_size"],
                                    cache_dir, augment_seed=seed).values())
    in_channels = train[0].features.shape[1]
    metrics = {"package": str(package_dir), "table": str(table), "config": config,
               "train_videos": train_videos, "val_videos": len(val),
               "augmented_copies": feats.get("augmented_copies", 0),
               "train_steps": sum(len(v.steps) for v in train)}
    states = {}
    # The online model names step k - lag at step k (see TimelineHead.lag_steps).
    lags = {"offline": 0, "online": int(round(cfg.decoder.online.lag_s / feats["step_s"]))}
    for mode in ("offline", "online"):
        key = f"{mode}_model"
        cfg[key].update(in_channels=in_channels, num_classes=len(classes))
        # The initial weights too come from the config's seed: the same config and table give
        # the same head.
        set_random_seed(cfg.train_cfg["seed"])
        net = build_tcn(cfg[key], in_channels, len(classes))
        with tqdm(total=cfg.train_cfg["epochs"], desc=f"{mode} TCN", unit="epoch") as bar:
            def show(entry, bar=bar):
                bar.set_postfix(loss=f"{entry['loss']:.3f}",
                                val=f"{entry['val_step_accuracy']:.3f}")
                bar.update()
            states[mode], history = train_tcn(net, train, val, cfg.train_cfg, show, lags[mode])
        net.load_state_dict(states[mode])
        scores = [step_probs(net, v.features) for v in val]
        best = max(history, key=lambda h: h["val_step_accuracy"])
        if mode == "offline":
            choice, trials = choose_offline(val, scores, cfg.decoder.offline.switch_penalties,
                                            background)
            cfg.decoder.offline.switch_penalty = choice
            picked = next(t for t in trials if t["switch_penalty"] == choice)
        else:
            choice, trials = choose_online(val, scores, cfg.decoder.online.switch_probs,
                                           background, cfg.decoder.online.max_median_delay_s,
                                           lags[mode])
            cfg.decoder.online.switch_prob = choice
            picked = next(t for t in trials if t["switch_prob"] == choice)
        metrics[mode] = {"best_epoch": best["epoch"], "receptive_field_steps":
                         net.receptive_field, "val": picked, "decoder_trials": trials,
                         "history": history}
    metrics["train_minutes"] = (time.time() - started) / 60
    folder = write_timeline_head(package_dir, cfg, states["offline"], states["online"])
    write_report(folder / "metrics", metrics, report_markdown(metrics))
    return metrics


def report_markdown(metrics: dict) -> str:
    lines = [f"# Timeline head of {metrics['package']}", "",
             f"Trained on {metrics['train_videos']} untrimmed training videos "
             f"(+ {metrics['augmented_copies']} augmented copies; {metrics['train_steps']} "
             f"steps) in {metrics['train_minutes']:.1f} min; every "
             f"figure below is on the {metrics['val_videos']} untrimmed validation videos.", "",
             "| mode | epoch | decoder | frame acc. | edit | F1@10 | F1@25 | F1@50 "
             "| median delay |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for mode in ("offline", "online"):
        m, v = metrics[mode], metrics[mode]["val"]
        decoder = (f"Viterbi, switch penalty {v['switch_penalty']}" if mode == "offline"
                   else f"forward filter, switch prob {v['switch_prob']}")
        delay = f"{v['median_delay_s']:.2f} s" if v.get("median_delay_s") is not None else "–"
        lines.append(f"| {mode} | {m['best_epoch']} | {decoder} | {v['frame_accuracy']:.4f} | "
                     f"{v['edit']:.1f} | {v['f1_10']:.1f} | {v['f1_25']:.1f} | {v['f1_50']:.1f} "
                     f"| {delay if mode == 'online' else '–'} |")
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("jobs.train_timeline", __doc__)
    p.add_argument("--package", required=True, help="recognizer package folder (jobs.train)")
    p.add_argument("--table", required=True, help="Parquet feature table (jobs.ingest)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="timeline config (default: "
                                                            "%(default)s)")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, metavar="KEY=VALUE",
                   help="overrides of the config, e.g. train_cfg.epochs=30")
    p.add_argument("--cache-dir", help="keep the per-step features here (re-used when the "
                                       "package, the data and the window are unchanged)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        metrics = train_timeline(args.package, args.table, config=args.config,
                                 cfg_options=args.cfg_options, cache_dir=args.cache_dir)
    except (ValueError, FileNotFoundError) as exc:
        return refuse(exc)
    print(report_markdown(metrics))
    print(f"timeline head: {Path(args.package) / TIMELINE_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
