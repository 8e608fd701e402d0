"""Failures a Ray cluster has, injected into the real jobs on a local multi-node cluster.

    python -m benchmarks.faults [--out benchmarks/results]

On a ``ray.cluster_utils.Cluster`` of three nodes on this machine (a head and two workers
offering the custom resource ``trainer_node``), each case runs a job cleanly and once more
with a failure, and compares:

- ``train_worker_killed``: jobs.train with two workers (one per worker node), a worker process
  SIGKILLed after the first checkpoint; Ray Train (``--max-failures``) restarts the worker group
  from the last checkpoint; per-epoch metrics against the uninterrupted run.
- ``tune_trial_killed``: a jobs.tune sweep whose trials run one worker each (so two trials at
  a time, on both worker nodes); one trial's worker SIGKILLed mid-run; the sweep completes.
- ``tune_interrupted_restored``: a sweep interrupted (SIGINT to the job), then ``--resume``.
- ``ingest_node_removed``: jobs.ingest with a worker node removed (its raylet killed) while
  its Ray Data actors work; row counts and per-split content checksums against a clean run.
- ``serve_replica_killed``: the shipped Serve application under a stream of frames, the
  PoseEstimator replica killed; the failure rate and the time until frames succeed again.

Writes ``<out>/faults.json`` and ``<out>/faults.md``. The cases live in model/cluster_faults.py,
which the cluster tests run too.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import ray

from model.cli import command_parser
from model.cluster_faults import (
    TRAINER_RESOURCE,
    ingest_node_removed,
    rendered_frames,
    serve_replica_killed,
    start_cluster,
    train_worker_killed,
    tune_interrupted_restored,
    tune_trial_killed,
)


def markdown(result: dict) -> str:
    t, k, r, i = (result[key] for key in ("train_worker_killed", "tune_trial_killed",
                                          "tune_interrupted_restored", "ingest_node_removed"))
    resumed = (f"resumed from the checkpoint of epoch {t['resumed_from_epoch']} (the run's "
               "record)" if "resumed_from_epoch" in t else
               "restarted (a results file from before the run recorded its resume epoch)")
    lines = [
        "| failure | outcome | figures |", "|---|---|---|",
        f"| training worker SIGKILLed with {t['checkpoints_before_kill']} checkpoint folders "
        f"written (2 workers on {t['worker_nodes']} nodes) | {resumed}, {t['epochs']} epochs | "
        "largest per-epoch metric gap to the clean run "
        f"{t['max_metric_gap']:.2g}; wall {t['killed_wall_s']:.0f} s vs {t['clean_wall_s']:.0f}"
        " s clean |",
        f"| a Tune trial's worker SIGKILLed | {k['trials_finished']}/{k['trials']} trials "
        f"finished, {k['trials_errored']} errored | trials on {k['worker_nodes']} nodes; "
        f"{k['epochs_trained']} epochs; wall {k['wall_s']:.0f} s |",
        f"| sweep interrupted (SIGINT) | exit {r['interrupted_returncode']}, then --resume "
        f"exit {r['resume_returncode']} | {r['reports_before_interrupt']} epoch reports before,"
        f" {r['reports_after_resume']} after; resume wall {r['resume_wall_s']:.0f} s |",
        f"| a node removed {i['removed_after_s']:.1f} s into jobs.ingest | "
        f"{'identical to' if i['identical'] else 'DIFFERENT from'} the clean table | "
        + ", ".join(f"{s}: {i['table'][s]['rows']} rows" for s in ("train", "val", "test")
                    if s in i["table"]) + f"; wall {i['wall_s']:.0f} s |"]
    for s in result["serve_replica_killed"]:
        recovery = f"{s['recovery_s']:.1f} s" if s["recovery_s"] is not None else "none"
        lines.append(
            f"| Serve {s['deployment']} replica killed under a stream | "
            f"{s['failures_after_kill']}/{s['requests_after_kill']} frames failed after the "
            f"kill | recovery (kill to the first answer after the last failure) {recovery}; "
            f"statuses {s['statuses_after_kill']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.environment import environment
    from jobs.ingest import ingest_annotations
    from model.cluster import init_ray
    from model.reports import write_report
    from workcell_synth import generate_dataset, tiny_config

    p = command_parser("benchmarks.faults", __doc__)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument("--runs", type=Path, default=Path("outputs/benchmarks/faults"))
    p.add_argument("--epochs", type=int, default=6, help="of the training runs")
    args = p.parse_args(argv)
    runs = args.runs
    shutil.rmtree(runs, ignore_errors=True)
    # The tests' tiny built-in dataset (4 training operators), annotations only.
    generate_dataset(runs / "data", seed=5, config=tiny_config(train=4), workers=2,
                     render=False, fps=10, width=160, height=120)
    cluster, workers, dashboard = start_cluster()
    result: dict = {"environment": environment(), "cluster": {
        "nodes": 1 + len(workers), "cpus_per_node": 1, "custom_resource": TRAINER_RESOURCE}}
    ingest_annotations(runs / "data", runs / "clean", workers=2)
    table = runs / "clean"
    options = {"train_cfg.max_epochs": args.epochs, "train_cfg.batch_size": 8,
               "train_cfg.early_stop_patience": 100}
    result["train_worker_killed"] = train_worker_killed(table, runs / "train", dashboard,
                                                        options)
    result["tune_trial_killed"] = tune_trial_killed(table, runs / "tune", dashboard, {
        "num_samples": 4, "trial_options.train_cfg.max_epochs": 3,
        "trial_options.train_cfg.batch_size": 8})
    result["ingest_node_removed"] = ingest_node_removed(cluster, workers, dashboard,
                                                        runs / "data", runs / "ingest", table)
    ray.shutdown()
    cluster.shutdown()
    result["tune_interrupted_restored"] = tune_interrupted_restored(
        table, runs / "tune_interrupted",
        ["num_samples=3", "trial_options.train_cfg.max_epochs=2",
         "trial_options.train_cfg.batch_size=8"], after_reports=3)
    init_ray()
    frames = rendered_frames(runs / "rendered", 150)
    result["serve_replica_killed"] = [serve_replica_killed(d, frames)
                                      for d in ("PoseEstimator", "Recognizer")]
    write_report(args.out / "faults", result, markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
