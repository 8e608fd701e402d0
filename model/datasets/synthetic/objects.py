"""Object instances over a video: lying on the bench or held in the hand, as oriented boxes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.datasets.synthetic.body import unit
from model.datasets.synthetic.motions import ObjectPlan

ABSENT, LYING, HELD = 0, 1, 2
_CORNER_SIGNS = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5)
                          for z in (-0.5, 0.5)])


@dataclass
class ObjectTrack:
    """One object instance; ``axes`` rows are its long, width and height directions."""

    cls: str
    track_id: int
    extents: np.ndarray   # (3,) meters
    state: np.ndarray     # (T,) ABSENT, LYING or HELD
    center: np.ndarray    # (T, 3)
    axes: np.ndarray      # (T, 3, 3)

    def corners(self) -> np.ndarray:
        """(T, 8, 3) box corners (meaningless where the object is absent)."""
        return self.center[:, None] + np.einsum("ck,tkj->tcj", _CORNER_SIGNS * self.extents,
                                                self.axes)


def lying_axes(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def held_pose(wrist: np.ndarray, elbow: np.ndarray, reach: float,
              roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (T, 3) and axes (T, 3, 3) of an object held along the forearm, ``reach`` meters
    beyond the wrist, rolled about the forearm by ``roll`` (T,)."""
    along = unit(wrist - elbow)
    up = np.where(np.abs(along[:, 2:]) > 0.95, [[0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0]])
    side = unit(np.cross(along, up))
    top = np.cross(side, along)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    axes = np.stack([along, c * side + s * top, c * top - s * side], axis=1)
    return wrist + reach * along, axes


def sample_extents(rng: np.random.Generator, cls: str, cfg: dict) -> np.ndarray:
    jitter = cfg["size_jitter"]
    return np.asarray(cfg["extents_m"][cls]) * rng.uniform(1 - jitter, 1 + jitter, 3)


def lying_track(rng: np.random.Generator, cls: str, track_id: int, spot: np.ndarray,
                n_frames: int, cfg: dict) -> ObjectTrack:
    """An object lying at ``spot`` (a bench-top point) for the whole video."""
    extents = sample_extents(rng, cls, cfg)
    center = spot + [0.0, 0.0, extents[2] / 2]
    return ObjectTrack(cls, track_id, extents, np.full(n_frames, LYING, np.int8),
                       np.tile(center, (n_frames, 1)),
                       np.tile(lying_axes(rng.uniform(0, np.pi)), (n_frames, 1, 1)))


def planned_track(rng: np.random.Generator, plan: ObjectPlan, track_id: int, start: int,
                  length: int, mirror: np.ndarray, wrist: np.ndarray, elbow: np.ndarray,
                  hand: float, bench_z: float, cfg: dict) -> ObjectTrack:
    """The object of an action that starts at frame ``start`` and lasts ``length`` frames.

    ``plan`` is in operator-local coordinates, ``mirror`` maps them to the world; ``wrist`` and
    ``elbow`` (T, 3) are the dominant arm's joints.
    """
    n_frames = len(wrist)
    if plan.lying_at is None:
        track = ObjectTrack(plan.cls, track_id, sample_extents(rng, plan.cls, cfg),
                            np.zeros(n_frames, np.int8), np.zeros((n_frames, 3)),
                            np.tile(np.eye(3), (n_frames, 1, 1)))
    else:
        track = lying_track(rng, plan.cls, track_id, plan.lying_at * mirror, n_frames, cfg)
    if plan.attach is None:
        return track
    held_from = start + plan.attach
    held_to = start + (plan.release if plan.release is not None else length)
    roll = rng.uniform(0, 2 * np.pi) + (np.zeros(length) if plan.tilt is None else plan.tilt)
    span = slice(held_from, held_to)
    reach = hand + cfg["grip"][plan.cls] * track.extents[0]
    track.center[span], track.axes[span] = held_pose(wrist[span], elbow[span], reach,
                                                     roll[plan.attach:held_to - start])
    track.state[span] = HELD
    after = slice(held_to, n_frames)
    if plan.release is None or plan.after_release == "hidden":
        track.state[after] = ABSENT
    else:
        # The part drops straight down onto the bench and stays where it landed.
        landed = track.center[held_to - 1] * [1.0, 1.0, 0.0] + [0.0, 0.0, bench_z
                                                                 + track.extents[2] / 2]
        long_axis = track.axes[held_to - 1, 0]
        track.state[after] = LYING
        track.center[after] = landed
        track.axes[after] = lying_axes(np.arctan2(long_axis[1], long_axis[0]))
    return track
