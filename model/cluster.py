"""Joining the Ray cluster a job was submitted to, or starting a local one."""

from __future__ import annotations

import os
import socket

import ray


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_ray() -> None:
    """Join the cluster named by RAY_ADDRESS (set by `ray job submit`) or start a local one."""
    if ray.is_initialized():
        return
    # Ray Train re-routes print() in its workers through a logger that shows each line twice
    # on the console; the training loop's one progress line per epoch needs plain print().
    env_vars = {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0"}
    address = os.environ.get("RAY_ADDRESS")
    dashboard = {}
    if not address:
        # Ray Train's placement-group cleaner asks the state API (served by the dashboard)
        # whether the training controller still lives. Without an address it asks the newest
        # Ray instance on the machine, so a second local job (a test run, another training)
        # would make it tear down this job's workers; point it at this instance's dashboard.
        port = free_port()
        dashboard = {"dashboard_host": "127.0.0.1", "dashboard_port": port}
        env_vars["RAY_API_SERVER_ADDRESS"] = f"http://127.0.0.1:{port}"
    # "local": a new instance, never the one another `ray start` on this machine left in
    # /tmp/ray/ray_current_cluster (running, or stale after it stopped); RAY_ADDRESS=auto joins
    # that one on purpose.
    ray.init(address=address or "local", configure_logging=True, logging_level="WARNING",
             runtime_env={"env_vars": env_vars}, **dashboard)
