"""Jobs on a multi-node Ray cluster on one machine (``ray.cluster_utils.Cluster``): training
workers, Tune trials and ingest actors placed on several nodes, each surviving a failure; and
``ray job submit`` to a local head started with ``ray start --head``, as a user runs it."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from benchmarks import faults
from model.cluster import free_port, init_ray

pytestmark = pytest.mark.slow

OPTIONS = {"train_cfg.max_epochs": 3, "train_cfg.batch_size": 8,
           "train_cfg.early_stop_patience": 100}


@pytest.fixture(scope="module")
def cluster(ray_local):
    """A head and two worker nodes of one CPU each; the session's local instance is given
    back afterwards."""
    ray.shutdown()
    cluster, workers, dashboard = faults.start_cluster(worker_nodes=2)
    yield cluster, workers, dashboard
    ray.shutdown()
    cluster.shutdown()
    init_ray()


def test_a_killed_training_worker_restarts_from_the_checkpoint(cluster, workcell_table,
                                                               tmp_path):
    _, _, dashboard = cluster
    case = faults.train_worker_killed(workcell_table, tmp_path, dashboard, OPTIONS)
    # The two workers ran on the two nodes offering trainer_node.
    assert case["worker_nodes"] == 2
    assert case["epochs"] == OPTIONS["train_cfg.max_epochs"]
    assert case["checkpoints_before_kill"] >= 1
    # The run's record: the restarted workers resumed from a checkpoint, not from scratch.
    assert 1 <= case["resumed_from_epoch"] < case["epochs"]
    # Seeded per epoch and restored with optimizer and schedules: the same run.
    assert case["max_metric_gap"] < 1e-4


def test_a_sweep_with_a_killed_trial_worker_completes(cluster, workcell_table, tmp_path):
    _, _, dashboard = cluster
    case = faults.tune_trial_killed(workcell_table, tmp_path, dashboard, {
        "num_samples": 2, "trial_options.train_cfg.max_epochs": 2,
        "trial_options.train_cfg.batch_size": 8})
    assert case["trials_finished"] == case["trials"] == 2 and case["trials_errored"] == 0
    assert case["epochs_trained"] == 4
    assert case["worker_nodes"] == 2   # two trials at a time, one per worker node


def test_ingest_loses_a_node_and_writes_the_same_table(cluster, workcell_table, tmp_path):
    """Runs last in this module: the cluster has one worker node fewer afterwards."""
    multi_node, workers, dashboard = cluster
    dataset = workcell_table.parent / "data"
    # A clean ingest on this cluster, then one with a node removed mid-job.
    from jobs.ingest import ingest_annotations

    assert ingest_annotations(dataset, tmp_path / "clean", workers=2).ok
    assert len(faults.nodes_of(faults.DATA_WORKER, dashboard)) >= 2
    case = faults.ingest_node_removed(multi_node, workers, dashboard, dataset,
                                      tmp_path / "ingest", tmp_path / "clean")
    assert case["ok"] and case["rejected"] == 0
    assert case["identical"], (case["table"], case["clean_table"])
    assert case["table"]["train"]["rows"] > 0
    # Nothing written twice: the same rows as the table of the session's local ingest.
    reference = faults.table_facts(workcell_table)
    assert {k: v for k, v in case["table"].items() if k != "files"} == \
        {k: v for k, v in reference.items() if k != "files"}


def _ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


def test_ray_job_submit_to_a_local_head(workcell_table, tmp_path):
    """``ray start --head`` (token authentication on, Ray 2.60), then ``ray job submit``:
    refused without RAY_AUTH_MODE=token, run with it."""
    # Ports of its own: the session's local Ray instance holds the default agent ports, and
    # a head whose job agent cannot bind answers "No available agent to submit job".
    port, dashboard_port, *agent_ports = (free_port() for _ in range(6))
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    head = subprocess.Popen(
        [_ray_cli(), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         f"--dashboard-port={dashboard_port}", "--dashboard-host=127.0.0.1",
         "--include-dashboard=true", f"--dashboard-agent-listen-port={agent_ports[0]}",
         f"--dashboard-agent-grpc-port={agent_ports[1]}",
         f"--runtime-env-agent-port={agent_ports[2]}", f"--metrics-export-port={agent_ports[3]}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    address = f"http://127.0.0.1:{dashboard_port}"
    out = tmp_path / "features"
    submit = [_ray_cli(), "job", "submit", "--address", address, "--working-dir", ".",
              "--", sys.executable, "-m", "jobs.ingest", "--dataset",
              str(workcell_table.parent / "data"), "--out", str(out)]
    try:
        faults.wait_for(lambda: _dashboard_up(address), 120, "the head's dashboard", 1.0)
        refused = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0
        assert "Missing authentication token" in refused.stdout + refused.stderr
        ran = faults.wait_for(lambda: _submitted(submit, {**env, "RAY_AUTH_MODE": "token"}),
                              120, "the head's job agent", 2.0)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
        assert "succeeded" in ran.stdout
    finally:
        head.terminate()
        head.wait(60)
    report = json.loads((out / "ingest_report.json").read_text())
    assert report["rejected"] == [] and sum(report["videos"].values()) > 0
    assert faults.table_facts(out) == faults.table_facts(workcell_table) | {
        "files": faults.table_facts(out)["files"]}


def _submitted(submit: list[str], env: dict):
    """The finished submission, or None while the head answers that its job agent is not up
    yet (Ray's "please try again later")."""
    ran = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=600)
    return None if "No available agent" in ran.stdout + ran.stderr else ran


def _dashboard_up(address: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{address}/api/version", timeout=2).status_code in (200, 401)
    except httpx.HTTPError:
        time.sleep(0.5)
        return False
