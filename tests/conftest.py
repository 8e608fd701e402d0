"""Shared fixtures. Importing ``model`` first installs the MMAction2 packaging fix."""

import pytest
import ray

import model  # noqa: F401  (must precede any mmaction import)


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray cluster for the whole session (starting one takes seconds)."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()
