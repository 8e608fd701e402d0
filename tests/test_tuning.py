"""The search space file, a real Ray Tune sweep of jobs.train runs, its reports, the best
config going back into jobs.train, and an interrupted sweep restored."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from benchmarks import faults
from jobs import train, tune
from model.builders import load_config
from tuning.space import SearchSpaceError, load_search, param_space, trial_config
from tuning.sweep import interrupt_recorded

SPACE = tune.DEFAULT_SPACE
XATTN = "model/configs/workcell/fusion_xattn_stgcnpp.py"
# Four trials of two short epochs, ASHA allowed to stop after the first.
SWEEP = {"num_samples": 4, "trial_options.train_cfg.max_epochs": 2,
         "trial_options.train_cfg.batch_size": 8}


def test_a_draw_becomes_the_config_jobs_train_would_build():
    search = load_search(SPACE)
    draw = {"config": str(Path(XATTN).resolve()), "optim_wrapper.optimizer.lr": 1e-3,
            "train_pipeline.RandomAffine2D.rotate_deg": 7.5, "dataset.window_s": 3.0,
            "model.backbone.objects.hidden_dim": 32}
    config_file, cfg, options = trial_config(search, draw, "table")
    # The pipeline step is found by its type, wherever it stands.
    index = [s["type"] for s in cfg.train_pipeline].index("RandomAffine2D")
    assert options[f"train_pipeline.{index}.rotate_deg"] == 7.5
    expected = load_config(XATTN, table="table", options=options)
    assert cfg.to_dict() == expected.to_dict()
    assert cfg.train_cfg.max_epochs == search.trial_options.train_cfg.max_epochs
    assert cfg.model.backbone.objects.hidden_dim == 32 and cfg.dataset.window_s == 3.0


def test_every_entry_of_the_shipped_space_is_a_key_of_its_configs():
    search = load_search(SPACE)
    sampled = param_space(search)
    assert set(sampled) == set(search.space)
    for config_file in search.space["config"]["categories"]:
        draw = {k: v.sample() for k, v in sampled.items()} | {"config": config_file}
        trial_config(search, draw, "table")


def test_a_misspelt_key_or_a_missing_step_is_refused_by_name(tmp_path):
    search = load_search(SPACE)
    draw = {"config": str(Path(XATTN).resolve()), "optim_wrapper.optimiser.lr": 1e-3}
    with pytest.raises(SearchSpaceError, match="no key optim_wrapper.optimiser"):
        trial_config(search, draw, "table")
    draw = {"config": str(Path(XATTN).resolve()), "train_pipeline.Mosaic.prob": 0.5}
    with pytest.raises(SearchSpaceError, match="no step of type Mosaic"):
        trial_config(search, draw, "table")
    bad = tmp_path / "space.py"
    bad.write_text(Path(SPACE).read_text().replace("type='loguniform'", "type='lognormal'"))
    with pytest.raises(SearchSpaceError, match="lognormal"):
        load_search(bad)
    bad.write_text(Path(SPACE).read_text().replace("fusion_concat", "fusion_nothing"))
    with pytest.raises(SearchSpaceError, match="no config file .*fusion_nothing"):
        load_search(bad)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, workcell_table):
    work = tmp_path_factory.mktemp("tune")
    facts = tune.tune_sweep(str(workcell_table), str(work), options=SWEEP)
    return work, facts


@pytest.mark.slow
def test_the_sweep_writes_its_reports(sweep):
    work, facts = sweep
    for name in ("trials.csv", "trials.md", "progress.csv", "progress.png", "tune.json",
                 "best_config.py"):
        assert (work / name).exists(), name
    trials = pd.read_csv(work / "trials.csv")
    assert len(trials) == facts["trials"] == SWEEP["num_samples"]
    assert (trials["status"] == "TERMINATED").all()
    assert set(trials["config"]) <= {"fusion_xattn_stgcnpp", "fusion_concat_stgcnpp"}
    # ASHA on epochs: the trials below the median after the first epoch stop there.
    assert facts["trials_stopped_early"] >= 1
    assert trials["epochs"].max() == SWEEP["trial_options.train_cfg.max_epochs"]
    assert facts["best_val_macro_f1"] == pytest.approx(trials["best_val_macro_f1"].max())
    reports = pd.read_csv(work / "progress.csv")
    assert len(reports) == trials["epochs"].sum() == facts["epochs_trained"]
    assert reports["best_so_far"].is_monotonic_increasing
    assert 0 <= facts["time_to_best_s"] <= facts["wall_s"]
    assert json.loads((work / "tune.json").read_text())["trials"] == facts["trials"]


@pytest.mark.slow
def test_jobs_train_takes_the_best_config_unchanged(sweep, workcell_table, tmp_path):
    work, facts = sweep
    # One epoch of it (a time-boxed run, which --resume would continue) shows what the job built.
    metrics = train.train(str(work / "best_config.py"), str(workcell_table), str(tmp_path),
                          cpus_per_worker=1, epochs_this_run=1)
    assert metrics["epochs_run"] == 1
    # It is the best trial's config: the draw's values and the trial budget reached the run.
    run_cfg = load_config(tmp_path / "train_config.py")
    assert run_cfg.train_cfg.max_epochs == SWEEP["trial_options.train_cfg.max_epochs"]
    draw = facts["best_config"]
    assert run_cfg.optim_wrapper.optimizer.lr == draw["optim_wrapper.optimizer.lr"]
    assert run_cfg.dataset.window_s == draw["dataset.window_s"]
    assert run_cfg.model.backbone.objects.hidden_dim == draw["model.backbone.objects.hidden_dim"]
    assert Path(draw["config"]).stem in (work / "best_config.py").read_text()


def _reports(work: Path) -> int:
    return sum(len(p.read_text().splitlines()) - 1 for p in (work / "tune").glob(
        "trial_*/progress.csv") if p.stat().st_size)


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_where_it_stopped(workcell_table, tmp_path):
    """Ctrl-C during the sweep (SIGINT to the job), then --resume: every trial ends once."""
    args = [sys.executable, "-m", "jobs.tune", "--table", str(workcell_table), "--work-dir",
            str(tmp_path), "--no-early-stopping", "--max-concurrent", "1", "--cfg-options",
            "num_samples=3", "trial_options.train_cfg.max_epochs=2",
            "trial_options.train_cfg.batch_size=8"]
    # The job starts a Ray instance of its own, as from a shell.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    job = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=env)
    deadline = time.monotonic() + 300
    while _reports(tmp_path) < 3 and time.monotonic() < deadline:   # into the second trial
        time.sleep(1)
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=120)
    assert job.returncode != 0 and "--resume" in err, err[-2000:]
    interrupted = pd.read_csv(next((tmp_path / "tune").glob("trial_*00000/progress.csv")))
    assert len(interrupted) == 2   # the first trial had finished
    with pytest.raises(SystemExit, match="--resume"):
        tune.tune_sweep(str(workcell_table), str(tmp_path), options={"num_samples": 3})
    facts = tune.tune_sweep(str(workcell_table), str(tmp_path), resume=True,
                            early_stopping=False, options={
                                "num_samples": 3, "trial_options.train_cfg.max_epochs": 2,
                                "trial_options.train_cfg.batch_size": 8})
    trials = pd.read_csv(tmp_path / "trials.csv")
    assert facts["trials"] == 3 and (trials["status"] == "TERMINATED").all()
    assert (trials["epochs"] == 2).all()
    # The finished trial was not run again: its reports are the ones before the interruption.
    again = pd.read_csv(next((tmp_path / "tune").glob("trial_*00000/progress.csv")))
    assert again["timestamp"].tolist() == interrupted["timestamp"].tolist()


def test_ctrl_c_in_the_run_loop_is_recorded_and_handed_to_tunes_stop():
    """Inside the loop (Tune's SIGUSR1 handler installed) Ctrl-C sets the flag and stops Tune
    through SIGUSR1; before it, Ctrl-C raises as usual; afterwards the old handlers are back."""
    stops = []
    before_int, before_usr1 = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGUSR1)
    try:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        with interrupt_recorded() as interrupted, pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        assert not interrupted.is_set()
        with interrupt_recorded() as interrupted:
            assert os.environ["TUNE_DISABLE_SIGINT_HANDLER"] == "1"
            signal.signal(signal.SIGUSR1, lambda *_: stops.append("tune stops"))
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
        assert interrupted.is_set() and stops == ["tune stops"]
        assert signal.getsignal(signal.SIGINT) is before_int
        assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ
    finally:
        signal.signal(signal.SIGINT, before_int)
        signal.signal(signal.SIGUSR1, before_usr1)


def test_a_sweep_run_from_a_worker_thread_leaves_signals_alone():
    """Signals are only handled in the main thread: from another thread the context manager
    must neither fail nor touch the handlers (benchmarks run sweeps in a thread)."""
    before = signal.getsignal(signal.SIGINT)
    thread, out = faults.in_thread(_enter_interrupt_recorded)
    result = faults.joined(thread, out, 10)
    assert result == (False, None) and signal.getsignal(signal.SIGINT) is before


def _enter_interrupt_recorded():
    with interrupt_recorded() as interrupted:
        return interrupted.is_set(), os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
