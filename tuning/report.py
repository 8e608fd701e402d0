"""What a sweep leaves behind: the trials table (CSV + Markdown), the progress plot (PNG), a
summary (JSON) and the best trial's recognizer config as a file jobs.train takes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
from mmengine.config import Config
from ray import tune

from tuning.space import CONFIG_KEY, SweepError, trial_config

BEST_CONFIG = "best_config.py"


def _history(result: tune.Result) -> pd.DataFrame:
    frame = result.metrics_dataframe
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["epoch", "timestamp", "time_total_s"])
    return frame


def _run_history(train_runs: Path, trial_id: str) -> pd.DataFrame:
    """The per-epoch history in the trial's newest complete training checkpoint.

    A sweep interrupted after a trial's training run ended but before Tune marked the trial
    done resumes that run with no epoch left to report, and Tune keeps only what a trial
    reports in its last attempt; the run's own checkpoints keep every epoch."""
    logs = [pd.read_csv(f) for f in (train_runs / trial_id).glob("checkpoint_*/logs/metrics.csv")]
    return max(logs, key=len) if logs else pd.DataFrame(columns=["epoch"])


def trial_rows(results: tune.ResultGrid, search: Config, train_runs: Path) -> list[dict]:
    """One row per trial: its draw, how far it ran and its best validation epoch."""
    metric, max_epochs = search.metric, search.trial_options.train_cfg.max_epochs
    rows = []
    for result in results:
        trial_id = result.metrics.get("trial_id") or Path(result.path).name.removeprefix(
            "trial_")
        history = _history(result)
        from_run = _run_history(train_runs, trial_id)
        if len(from_run) > len(history):
            history = from_run
        row = {"trial_id": trial_id,
               "status": "ERROR" if result.error else "TERMINATED",
               "epochs": int(history["epoch"].max()) if len(history) else 0}
        row["stopped_early"] = not result.error and row["epochs"] < max_epochs
        if len(history):
            best = history.loc[history[metric].idxmax()] if search.mode == "max" \
                else history.loc[history[metric].idxmin()]
            row.update({f"best_{metric}": float(best[metric]), "best_epoch": int(best["epoch"]),
                        "val_top1_at_best": float(best["val_top1"]),
                        "train_s": float(history["epoch_seconds"].sum())})
        for key, value in result.config.items():
            row[key] = Path(value).stem if key == CONFIG_KEY else value
        rows.append(row)
    return rows


def progress(results: tune.ResultGrid, search: Config) -> pd.DataFrame:
    """Every epoch report of the sweep in time order, with the best value reached so far:
    ``elapsed_s`` from the start of the first trial, ``trials_done`` when it came."""
    frames = []
    for index, result in enumerate(results):
        history = _history(result)
        if len(history):
            frames.append(history[["timestamp", "time_total_s", "epoch", search.metric]]
                          .assign(trial=index))
    if not frames:
        errors = "\n".join(f"  {r.path}: {r.error}" for r in results if r.error)
        raise SweepError(f"no trial reported a result:\n{errors}")
    reports = pd.concat(frames).sort_values("timestamp", kind="stable").reset_index(drop=True)
    # Tune stamps each report with whole seconds; a trial started time_total_s before it.
    start = (reports["timestamp"] - reports["time_total_s"]).min()
    reports["elapsed_s"] = reports["timestamp"] - start
    best = reports[search.metric].cummax() if search.mode == "max" \
        else reports[search.metric].cummin()
    reports["best_so_far"] = best
    last_report = reports.groupby("trial")["timestamp"].transform("max")
    reports["trials_done"] = [int((last_report.drop_duplicates() <= t).sum())
                              for t in reports["timestamp"]]
    return reports


def summary(results: tune.ResultGrid, search: Config, rows: list[dict],
            early_stopping: bool) -> dict:
    """The sweep's figures: trials, wall time, time to the best value and the best trial."""
    reports = progress(results, search)
    metric = search.metric
    best_row = _best_row(rows, search)
    best_value = best_row[f"best_{metric}"]
    # A trial whose epochs only its training run kept (see _run_history) has no timestamps:
    # the time to the best is then the sweep's end.
    reached_at = reports.loc[reports[metric] == best_value, "elapsed_s"]
    reached = reached_at.iloc[0] if len(reached_at) else reports["elapsed_s"].iloc[-1]
    finished = [r for r in rows if r["status"] == "TERMINATED"]
    return {
        "trials": len(rows), "trials_finished": len(finished),
        "trials_stopped_early": sum(r["stopped_early"] for r in rows),
        "trials_errored": len(rows) - len(finished),
        "epochs_trained": int(sum(r["epochs"] for r in rows)),
        "wall_s": float(reports["elapsed_s"].iloc[-1]),
        "time_to_best_s": float(reached),
        f"best_{metric}": float(best_value),
        "best_trial": best_row["trial_id"],
        "best_config": dict(_result_of(results, best_row["trial_id"]).config),
        "scheduler": dict(search.scheduler) if early_stopping else {"type": "FIFOScheduler"},
        "budget_per_trial": search.trial_options.to_dict(),
        "num_samples": search.num_samples,
    }


def _best_row(rows: list[dict], search: Config) -> dict:
    key = f"best_{search.metric}"
    scored = [r for r in rows if key in r]
    return max(scored, key=lambda r: r[key]) if search.mode == "max" \
        else min(scored, key=lambda r: r[key])


def _result_of(results: tune.ResultGrid, trial_id: str) -> tune.Result:
    return next(r for r in results if Path(r.path).name == f"trial_{trial_id}")


def write_best_config(draw: dict, search: Config, table: str, out: Path) -> Path:
    """The best trial's recognizer config as one file: ``jobs.train --config <it>``."""
    config_file, cfg, options = trial_config(search, draw, table)
    header = (f"# The best trial of a Ray Tune sweep (python -m jobs.tune): {config_file} with\n"
              + "".join(f"#   {k}={v!r}\n" for k, v in options.items())
              + "# Train it with python -m jobs.train --config <this file> --table ... "
                "(--cfg-options to change the schedule).\n")
    path = out / BEST_CONFIG
    cfg.dump(str(path))
    path.write_text(header + path.read_text())
    return path


def _markdown(rows: list[dict], facts: dict, metric: str) -> str:
    keys = [k for k in rows[0] if k != "trial_id"] if rows else []
    ordered = sorted(rows, key=lambda r: -r.get(f"best_{metric}", float("-inf")))
    lines = [f"# Tune sweep: {facts['trials']} trials",
             "",
             f"- wall time {facts['wall_s']:.0f} s; best {metric} "
             f"{facts[f'best_{metric}']:.4f}, reached after {facts['time_to_best_s']:.0f} s",
             f"- scheduler {facts['scheduler']['type']}; {facts['trials_stopped_early']} trials "
             f"stopped early; {facts['epochs_trained']} epochs trained in all",
             "", "| trial | " + " | ".join(keys) + " |",
             "|---" * (len(keys) + 1) + "|"]
    for row in ordered:
        cells = [f"{row[k]:.4g}" if isinstance(row.get(k), float) else str(row.get(k, ""))
                 for k in keys]
        lines.append(f"| {row['trial_id']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def progress_png(reports: pd.DataFrame, metric: str, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on servers
    import matplotlib.pyplot as plt

    fig, (by_time, by_trials) = plt.subplots(1, 2, figsize=(10, 3.8))
    by_time.scatter(reports["elapsed_s"], reports[metric], s=10, alpha=0.4,
                    label="epoch reports")
    by_time.step(reports["elapsed_s"], reports["best_so_far"], where="post", color="C1",
                 label="best so far")
    by_time.set_xlabel("seconds since the sweep started")
    by_time.set_ylabel(f"validation {metric}")
    by_time.legend(loc="lower right")
    done = reports.groupby("trials_done")["best_so_far"].max()
    by_trials.step(done.index, done.values, where="post", color="C1")
    by_trials.set_xlabel("trials finished")
    by_trials.set_ylabel(f"best validation {metric}")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(results: tune.ResultGrid, search: Config, table: str, out: str | Path,
                  early_stopping: bool, train_runs: str | Path) -> dict:
    """trials.csv, trials.md, progress.csv / .png (every epoch report in time order),
    tune.json and best_config.py in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = trial_rows(results, search, Path(train_runs))
    facts = summary(results, search, rows, early_stopping)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(out / "trials.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    (out / "trials.md").write_text(_markdown(rows, facts, search.metric))
    reports = progress(results, search)
    reports.to_csv(out / "progress.csv", index=False)
    progress_png(reports, search.metric, out / "progress.png",
                 f"{facts['trials']} trials, {facts['scheduler']['type']}")
    facts["best_config_file"] = str(write_best_config(facts["best_config"], search, table, out))
    (out / "tune.json").write_text(json.dumps(facts, indent=2) + "\n")
    return facts
