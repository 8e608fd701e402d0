"""Object instances over a video: lying on the bench or held in the hand, as oriented boxes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workcell_synth.body import unit
from workcell_synth.motions import ObjectPlan

ABSENT, LYING, HELD = 0, 1, 2
_CORNER_SIGNS = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5)
                          for z in (-0.5, 0.5)])


@dataclass
class ObjectTrack:
    """One object instance; ``axes`` rows are its long, width and height directions."""

    cls: str
    track_id: int
    role: str             # "station" (lies on the bench) or the ObjectPlan role of an action
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
                n_frames: int, cfg: dict, role: str = "station") -> ObjectTrack:
    """An object lying at ``spot`` (a bench-top point) for the whole video."""
    extents = sample_extents(rng, cls, cfg)
    center = spot + [0.0, 0.0, extents[2] / 2]
    return ObjectTrack(cls, track_id, role, extents, np.full(n_frames, LYING, np.int8),
                       np.tile(center, (n_frames, 1)),
                       np.tile(lying_axes(rng.uniform(0, np.pi)), (n_frames, 1, 1)))


def planned_track(rng: np.random.Generator, plan: ObjectPlan, track_id: int, start: int,
                  mirror: np.ndarray, wrist: np.ndarray, elbow: np.ndarray, hand: float,
                  blend: int, cfg: dict) -> ObjectTrack:
    """The object of an action that starts at frame ``start``: it lies at its spot until the
    hand takes it, is held, then lies at its put-down spot (or is hidden in a box).

    ``plan`` is in operator-local coordinates, ``mirror`` maps them to the world; ``wrist`` and
    ``elbow`` (T, 3) are the dominant arm's joints. For ``blend`` frames after the grasp and
    before the release the object slides between the bench and the hand instead of jumping.
    """
    track = lying_track(rng, plan.cls, track_id, plan.lying_at * mirror, len(wrist), cfg,
                        plan.role)
    if plan.attach is None:
        return track
    held_from, held_to = start + plan.attach, start + plan.release
    tilt = np.zeros(held_to - held_from) if plan.tilt is None \
        else plan.tilt[plan.attach:plan.release]
    span = slice(held_from, held_to)
    reach = hand + cfg["grip"][plan.cls] * track.extents[0]
    lying_center = track.center[0].copy()
    track.center[span], track.axes[span] = held_pose(wrist[span], elbow[span], reach,
                                                     rng.uniform(0, 2 * np.pi) + tilt)
    track.state[span] = HELD
    after = slice(held_to, None)
    k = min(blend, (held_to - held_from) // 2)
    ramp = (np.arange(1, k + 1) / (k + 1))[:, None]
    track.center[held_from:held_from + k] = (1 - ramp) * lying_center \
        + ramp * track.center[held_from:held_from + k]
    if plan.after_release == "hidden":
        track.state[after] = ABSENT
        return track
    landed = plan.put_down * mirror + [0.0, 0.0, track.extents[2] / 2]
    track.center[held_to - k:held_to] = ramp[::-1] * track.center[held_to - k:held_to] \
        + (1 - ramp[::-1]) * landed
    long_axis = track.axes[held_to - 1, 0]
    track.state[after] = LYING
    track.center[after] = landed
    track.axes[after] = lying_axes(np.arctan2(long_axis[1], long_axis[0]))
    return track
