"""The local Ray instance the jobs start answers its own state API queries."""

import os

import ray
from ray.util.state import get_actor


@ray.remote(num_cpus=0)
class Probe:
    def api_server_address(self) -> str:
        return os.environ["RAY_API_SERVER_ADDRESS"]


def test_state_api_of_actors_is_this_instance(ray_local):
    # Ray Train's placement-group cleaner reads the address from the environment of the
    # job's actors; another Ray instance on the machine must not answer for this one.
    probe = Probe.remote()
    address = ray.get(probe.api_server_address.remote())
    state = get_actor(probe._actor_id.hex(), address=address)
    assert state is not None and state.state == "ALIVE"
