"""The bench in front of the operator: its size and where the station's objects lie on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bench:
    """An axis-aligned bench (world frame, meters) whose near edge faces the operator."""

    x0: float
    x1: float
    y0: float          # near edge, operator side
    y1: float          # far edge, camera side
    top_z: float
    thickness: float   # of the top slab
    is_open: bool      # a table: the space below the top does not hide anything

    def occluder(self) -> tuple[np.ndarray, np.ndarray]:
        """Min and max corners of the solid part that hides what is behind it."""
        bottom = self.top_z - self.thickness if self.is_open else 0.0
        return np.array([self.x0, self.y0, bottom]), np.array([self.x1, self.y1, self.top_z])


def sample_bench(rng: np.random.Generator, cfg: dict, body_height: float) -> Bench:
    center_x, half = rng.uniform(*cfg["center_x_m"]), rng.uniform(*cfg["half_width_m"])
    y0 = body_height * rng.uniform(*cfg["edge_distance_frac"])
    return Bench(x0=center_x - half, x1=center_x + half, y0=y0,
                 y1=y0 + rng.uniform(*cfg["depth_m"]),
                 top_z=body_height * rng.uniform(*cfg["height_frac"]),
                 thickness=cfg["top_thickness_m"], is_open=bool(rng.uniform() < cfg["open_prob"]))


def station_spots(rng: np.random.Generator, bench: Bench, cfg: dict, count: int,
                  avoid: list[np.ndarray]) -> list[np.ndarray]:
    """Up to ``count`` points on the bench top, the configured gap apart from each other and
    from the ``avoid`` points (compared in x, y), from at most ``station_tries`` draws."""
    margin, max_x = cfg["station_margin_m"], cfg["station_max_abs_x_m"]
    lo_x, hi_x = max(bench.x0 + margin, -max_x), min(bench.x1 - margin, max_x)
    spots: list[np.ndarray] = []
    for _ in range(cfg["station_tries"]):
        if len(spots) == count:
            break
        spot = np.array([rng.uniform(lo_x, hi_x),
                         rng.uniform(bench.y0 + margin, bench.y1 - margin), bench.top_z])
        if all(np.linalg.norm((spot - s)[:2]) >= cfg["station_min_gap_m"]
               for s in [*spots, *avoid]):
            spots.append(spot)
    return spots
