"""Generate the built-in workcell-synth dataset (annotations, MP4 videos, splits, manifest).

    python -m jobs.make_dataset --out data/workcell [--seed 0] [--scale 1] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workcell_synth import DEFAULT_CONFIG, generate_dataset


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m jobs.make_dataset",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files (default: 0)")
    parser.add_argument("--scale", type=int, default=1,
                        help="multiplies the number of operators in every split (default: 1)")
    parser.add_argument("--fps", type=float, help="frame rate (default: the config's)")
    parser.add_argument("--width", type=int, help="frame width in pixels (default: the config's)")
    parser.add_argument("--height", type=int,
                        help="frame height in pixels (default: the config's)")
    parser.add_argument("--workers", type=int, help="processes (default: number of CPUs)")
    parser.add_argument("--no-video", action="store_true", help="write annotations only")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a dataset already in --out")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="generator config, an MMEngine config file (default: "
                             "workcell_synth/configs/default.py)")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    if (args.out / "dataset.json").exists() and not args.overwrite:
        parser.error(f"{args.out} already holds a dataset; add --overwrite to replace it")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fps = int(args.fps) if args.fps is not None and args.fps.is_integer() else args.fps
    summary = generate_dataset(
        args.out, seed=args.seed, scale=args.scale, config=args.config, fps=fps,
        width=args.width, height=args.height, workers=args.workers, render=not args.no_video,
        overwrite=args.overwrite, progress=True)
    print(json.dumps({"out": str(args.out), "videos": summary["videos"],
                      "frames": summary["frames"], "seconds": summary["seconds"],
                      "splits": {s: {k: v[k] for k in ("operators", "videos", "frames")}
                                 for s, v in summary["splits"].items()}}, indent=1))
    print(f"dataset: {args.out / 'dataset.json'}; splits: {args.out / 'splits.json'}; "
          f"annotations: {args.out / 'annotations'}; videos: {args.out / 'videos'}; "
          f"summary: {args.out / 'summary.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
