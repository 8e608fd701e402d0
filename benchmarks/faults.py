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

Writes ``<out>/faults.json`` and ``<out>/faults.md``. The cases are also what the tests of
tests/test_cluster.py inject failures with (the tests import this module, never the reverse).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from model.cli import command_parser
from model.cluster import free_port

TRAINER_RESOURCE = "trainer_node"
TRAIN_WORKER = "RayTrainWorker"
DATA_WORKER = "MapWorker("   # Ray Data's actor-pool workers
CHECKPOINT_SNAPSHOT = "checkpoint_manager_snapshot.json"   # Ray Train V2's, per run
# The per-epoch figures an interrupted training run must reproduce.
COMPARED = ("train_loss", "val_top1", "val_macro_f1")


def start_cluster(worker_nodes: int = 2, cpus_per_node: int = 1) -> tuple[Cluster, list, str]:
    """A head and ``worker_nodes`` workers (each with one ``trainer_node``), connected to.

    Returns (cluster, worker nodes, dashboard URL). The runtime environment is the one
    model.cluster.init_ray gives a local instance: Ray Train's placement-group cleaner must ask
    this cluster's state API (see there)."""
    port = free_port()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": cpus_per_node, "include_dashboard": True, "dashboard_host": "127.0.0.1",
        "dashboard_port": port})
    workers = [cluster.add_node(num_cpus=cpus_per_node, resources={TRAINER_RESOURCE: 1})
               for _ in range(worker_nodes)]
    cluster.wait_for_nodes()
    dashboard = f"http://127.0.0.1:{port}"
    ray.init(address=cluster.address, logging_level="WARNING", runtime_env={"env_vars": {
        "RAY_TRAIN_ENABLE_PRINT_PATCH": "0", "RAY_API_SERVER_ADDRESS": dashboard}})
    return cluster, workers, dashboard


def actors(class_prefix: str, dashboard: str, alive_only: bool = True) -> list:
    """Actors whose class name starts with ``class_prefix`` (Ray Data names its actors
    ``MapWorker(<operator>)``)."""
    filters = [("state", "=", "ALIVE")] if alive_only else []
    return [a for a in list_actors(address=dashboard, filters=filters, limit=10000,
                                   raise_on_missing_output=False)
            if a.class_name.startswith(class_prefix)]


def nodes_of(class_prefix: str, dashboard: str) -> set[str]:
    """The nodes every actor of ``class_prefix`` (alive or dead) ran on."""
    return {a.node_id for a in actors(class_prefix, dashboard, alive_only=False)}


def wait_for(condition, timeout_s: float, what: str, poll_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")


def kill_train_worker(dashboard: str, runs: str, workers: int, job: tuple[threading.Thread, dict],
                      timeout_s: float = 300) -> dict:
    """SIGKILL one Ray Train worker process once a training run matching the glob ``runs``
    has registered a checkpoint and ``workers`` workers are alive at once; reports the nodes
    those workers were on. ``job`` is the ``in_thread`` running the training: if it ends
    first, its error (or an AssertionError) is raised at once instead of waiting out the time."""
    thread, out = job

    def job_ended():
        if not thread.is_alive():
            joined(thread, out, 0)
            raise AssertionError("the job finished before a worker could be killed")

    def registered():
        job_ended()
        # The controller writes its snapshot once a reported checkpoint is registered; a
        # checkpoint folder alone may still be uploading, and a kill then restarts from the start.
        return glob.glob(f"{runs}/{CHECKPOINT_SNAPSHOT}")

    def all_alive():
        job_ended()
        found = actors(TRAIN_WORKER, dashboard)
        return found if len(found) >= workers else None

    wait_for(registered, timeout_s, f"a registered checkpoint in {runs}")
    alive = wait_for(all_alive, timeout_s, f"{workers} training workers at once")
    victim = alive[0]
    os.kill(victim.pid, signal.SIGKILL)
    return {"killed_pid": victim.pid, "killed_node": victim.node_id,
            "worker_nodes": len({a.node_id for a in alive}), "killed_at": time.time()}


def in_thread(fn, *args, **kwargs) -> tuple[threading.Thread, dict]:
    """Run ``fn`` in a thread; the returned dict gets its ``result`` or ``error``."""
    out: dict = {}

    def run():
        try:
            out["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller, who re-raises it
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def joined(thread: threading.Thread, out: dict, timeout_s: float):
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"the job did not finish in {timeout_s:.0f} s")
    if "error" in out:
        raise out["error"]
    return out["result"]


def history_gap(reference: list[dict], other: list[dict]) -> float:
    """Largest difference of the compared per-epoch figures of two runs."""
    if [r["epoch"] for r in reference] != [r["epoch"] for r in other]:
        raise AssertionError(f"epochs differ: {[r['epoch'] for r in reference]} vs "
                             f"{[r['epoch'] for r in other]}")
    return max(abs(a[k] - b[k]) for a, b in zip(reference, other, strict=True)
               for k in COMPARED)


def train_worker_killed(table: Path, work: Path, dashboard: str, options: dict) -> dict:
    """jobs.train twice on two workers: clean, and with a worker killed."""
    from jobs.train import train

    config = "model/configs/workcell/fusion_xattn_stgcnpp.py"
    kwargs = dict(num_workers=2, cpus_per_worker=1, options=options,
                  worker_resources={TRAINER_RESOURCE: 1}, overwrite=True)
    started = time.time()
    clean = train(config, str(table), str(work / "clean"), **kwargs)
    clean_s = time.time() - started
    started = time.time()
    thread, out = in_thread(train, config, str(table), str(work / "killed"), max_failures=2,
                            **kwargs)
    checkpoints = work.resolve() / "killed" / "train"
    kill = kill_train_worker(dashboard, str(checkpoints), workers=2, job=(thread, out))
    kill["checkpoints_before_kill"] = len(list(checkpoints.glob("checkpoint_*")))
    killed = joined(thread, out, 900)
    return {"clean_wall_s": clean_s, "killed_wall_s": time.time() - started, **kill,
        "epochs": len(killed["history"]),
        # From the run's own per-epoch record: the epoch the restarted worker group resumed
        # from (0 would be a restart from scratch, which the seeds would hide).
        "resumed_from_epoch": int(max(r["resumed_from_epoch"] for r in killed["history"])),
        "max_metric_gap": history_gap(clean["history"], killed["history"]),
        "clean_val_macro_f1": clean["best_val_macro_f1"],
        "killed_val_macro_f1": killed["best_val_macro_f1"]}


def tune_trial_killed(table: Path, work: Path, dashboard: str, options: dict) -> dict:
    """A sweep of one-worker trials (two at a time, one per worker node), a trial's worker
    killed once the first checkpoint of any trial exists."""
    from jobs.tune import tune_sweep
    from tuning.sweep import TrialResources

    resources = TrialResources(num_workers=1, cpus_per_worker=1,
                               worker_resources={TRAINER_RESOURCE: 1}, max_failures=2)
    started = time.time()
    thread, out = in_thread(tune_sweep, str(table), str(work), options=options,
                            resources=resources, early_stopping=False, overwrite=True)
    # Two trials at a time: their two workers alive together, on the two worker nodes.
    kill = kill_train_worker(dashboard, str(work.resolve() / "tune" / "train_runs" / "*"),
                             workers=2, job=(thread, out), timeout_s=600)
    facts = joined(thread, out, 1200)
    return {"trials": facts["trials"], "trials_finished": facts["trials_finished"],
            "trials_errored": facts["trials_errored"], "epochs_trained": facts["epochs_trained"],
            "wall_s": time.time() - started, **kill}


def _trial_reports(work: Path) -> int:
    return sum(max(len(p.read_text().splitlines()) - 1, 0)
               for p in (work / "tune").glob("trial_*/progress.csv"))


def tune_interrupted_restored(table: Path, work: Path, options: list[str],
                              after_reports: int) -> dict:
    """``python -m jobs.tune`` interrupted with SIGINT after ``after_reports`` epoch reports,
    then continued with ``--resume``, both as a user runs them from a shell."""
    args = [sys.executable, "-m", "jobs.tune", "--table", str(table), "--work-dir", str(work),
            "--no-early-stopping", "--max-concurrent", "1", "--overwrite",
            "--cfg-options", *options]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    started = time.time()
    job = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=env)
    wait_for(lambda: _trial_reports(work) >= after_reports or job.poll() is not None, 900,
             f"{after_reports} epoch reports")
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=180)
    before = _trial_reports(work)
    interrupted_s = time.time() - started
    rerun = args.copy()
    rerun.remove("--overwrite")
    rerun.insert(rerun.index("--cfg-options"), "--resume")
    started_resume = time.time()
    done = subprocess.run(rerun, capture_output=True, text=True, env=env, timeout=1800)
    return {"interrupted_returncode": job.returncode, "interrupt_message": err.strip()[-300:],
            "reports_before_interrupt": before, "reports_after_resume": _trial_reports(work),
            "resume_returncode": done.returncode, "resume_output": done.stdout.strip()[-300:],
            "interrupted_after_s": interrupted_s, "resume_wall_s": time.time() - started_resume}


def table_facts(table: Path) -> dict:
    """Rows and content checksum of each split, and the number of Parquet files."""
    from model.datasets.feature_table import SPLITS, content_checksum, read_feature_table

    facts = {"files": len(list(table.glob("split=*/*.parquet")))}
    for split in SPLITS:
        if (table / f"split={split}").exists():
            rows, _ = read_feature_table(table, splits=[split], columns=["video_id"])
            facts[split] = {"rows": rows.num_rows, "videos": len(set(
                rows.column("video_id").to_pylist())),
                "sha256": content_checksum(table, split)}
    return facts


def ingest_node_removed(cluster: Cluster, nodes: list, dashboard: str, dataset: Path,
                        out: Path, clean: Path) -> dict:
    """jobs.ingest of ``dataset`` into ``out`` with one of ``nodes`` removed (raylet killed,
    no graceful drain) as soon as one of the job's Ray Data actors runs on it; ``clean``: the
    table of an undisturbed ingest of the same dataset."""
    from jobs.ingest import ingest_annotations

    started = time.time()
    thread, result = in_thread(ingest_annotations, dataset, out, workers=2, overwrite=True)
    by_id = {node.node_id: node for node in nodes}
    busy = wait_for(lambda: [a.node_id for a in actors(DATA_WORKER, dashboard)
                             if a.node_id in by_id], 300,
                    "a Ray Data actor on a node that may be removed", poll_s=0.05)
    removed_at = time.time()
    cluster.remove_node(by_id[busy[0]], allow_graceful=False)
    report = joined(thread, result, 600)
    facts, reference = table_facts(out), table_facts(clean)
    return {"ok": report.ok, "rejected": len(report.rejected), "removed_node": busy[0],
            "removed_after_s": removed_at - started, "wall_s": time.time() - started,
            "table": facts, "clean_table": reference,
            "identical": {k: v for k, v in facts.items() if k != "files"}
            == {k: v for k, v in reference.items() if k != "files"}}


def serve_replica_killed(deployment: str, frames: list[bytes], seconds: float = 40.0,
                         kill_after_s: float = 10.0) -> dict:
    """The shipped Serve application with one client POSTing frames back to back; the
    ``deployment`` replica killed after ``kill_after_s``. Failure rate while it is down, and
    the recovery time: from the kill to the first answered frame after the last failure. The
    PoseEstimator deployment exists with ``pose_placement="deployment"`` only (shipped: the
    pose model runs in the ingress), which its row uses."""
    import httpx
    from ray import serve

    from serve.app import build_app

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    options = {"pose_placement": "deployment"} if deployment == "PoseEstimator" else {}
    serve.run(build_app({"cfg_options": options}), name="workcell", route_prefix="/")
    log: list[tuple[float, int]] = []
    killed_at = None
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        wait_for(lambda: client.get("/ready").json()["ready"], 300, "the service")
        stream = client.post("/streams", params={"fps": 15}).json()["stream_id"]
        started = time.time()
        index = 0
        while time.time() - started < seconds:
            if killed_at is None and time.time() - started >= kill_after_s:
                ray.kill(_replica(deployment), no_restart=True)
                killed_at = time.time()
            try:
                status = client.post(f"/streams/{stream}/frames",
                                     content=frames[index % len(frames)],
                                     headers={"content-type": "image/jpeg"}).status_code
            except httpx.HTTPError:
                status = 0
            if status == 404:   # a lost stream (ingress replaced): open it again
                stream = client.post("/streams", params={"fps": 15}).json()["stream_id"]
            log.append((time.time(), status))
            index += 1
    serve.delete("workcell")
    serve.shutdown()
    after = [(t, s) for t, s in log if t >= killed_at]
    failures = [t for t, s in after if s != 200]
    last_failure = max(failures) if failures else killed_at
    recovered = next((t for t, s in after if s == 200 and t >= last_failure), None)
    before = [s for t, s in log if t < killed_at]
    return {"deployment": deployment, "requests": len(log),
            "requests_before_kill": len(before),
            "failures_before_kill": sum(s != 200 for s in before),
            "requests_after_kill": len(after), "failures_after_kill": len(failures),
            "failure_rate_after_kill": len(failures) / max(len(after), 1),
            "failure_rate": sum(s != 200 for _, s in log) / len(log),
            "recovery_s": (recovered - killed_at) if recovered else None,
            "statuses_after_kill": sorted({s for _, s in after})}


def _replica(deployment: str):
    name = next(a.name for a in list_actors(filters=[("state", "=", "ALIVE")], limit=1000)
                if a.class_name.endswith(f":workcell:{deployment}"))
    return ray.get_actor(name, namespace="serve")


def rendered_frames(root: Path, count: int) -> list[bytes]:
    """JPEG frames of the first rendered untrimmed test video of a tiny rendered dataset."""
    import cv2

    from workcell_synth import generate_dataset, tiny_config

    if not (root / "dataset.json").exists():
        generate_dataset(root, seed=7, config=tiny_config(train=1, val=1, test=1), workers=2)
    video = sorted((root / "videos").glob("*seq*.mp4"))[0]
    capture, frames = cv2.VideoCapture(str(video)), []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", image)[1].tobytes())
    return frames


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
