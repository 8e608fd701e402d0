"""Shared fixtures. Importing ``model`` first installs the MMAction2 packaging fix."""

import pytest
import ray

import model  # noqa: F401  (must precede any mmaction import)
from model.cluster import init_ray


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray cluster for the whole session (starting one takes seconds)."""
    init_ray()
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def workcell_table(tmp_path_factory, ray_local):
    """A tiny built-in dataset (6 operators, annotations only) ingested into a feature table."""
    from jobs.ingest import ingest_annotations
    from tests.factories import SMALL
    from workcell_synth import generate_dataset, tiny_config

    root = tmp_path_factory.mktemp("workcell")
    generate_dataset(root / "data", seed=5, config=tiny_config(train=4), workers=2, render=False,
                     **SMALL)
    report = ingest_annotations(root / "data", root / "features", workers=2)
    assert report.ok, report.rejected
    return root / "features"


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    """Rendered videos: one operator per split, one clip per class and one untrimmed sequence
    each, at the product's 480x360 and 15 fps (another seed than the shipped models were
    trained on)."""
    from workcell_synth import generate_dataset, tiny_config

    root = tmp_path_factory.mktemp("rendered") / "data"
    generate_dataset(root, seed=7, config=tiny_config(train=1, val=1, test=1), workers=2)
    return root
