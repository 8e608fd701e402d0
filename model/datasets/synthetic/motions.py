"""Motion programs: wrist paths of one action and the objects it moves.

Programs work in operator-local coordinates where +x is the dominant side; the scene mirrors them
for left-handed operators. Every program starts and ends with the hands at rest, so actions
chain without jumps. The two actions of a same-motion pair call one path function and draw all
its random numbers before any object is decided, so the same generator state gives the same
wrists for both: only the objects differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.datasets.synthetic.trajectory import cycle_phase, keyframes, sawtooth, window


@dataclass(frozen=True)
class Workspace:
    """Where the hands go, in operator-local coordinates (meters)."""

    rest_dom: np.ndarray    # (3,) resting dominant wrist; the other hand mirrors it
    rest_non: np.ndarray
    bench_z: float          # bench top
    edge_y: float           # near edge of the bench
    shoulder_z: float
    fps: float
    speed: float            # > 1 is faster
    amplitude: float        # scales targets and offsets (body size and per-video jitter)
    keyframe_shift: float   # the operator's habitual timing offset
    keyframe_jitter: float
    taken: tuple = ()       # (3,) bench points already holding something; targets keep away


@dataclass
class ObjectPlan:
    """An object an action uses. Frames are relative to the action start."""

    cls: str
    lying_at: np.ndarray | None = None   # (3,) bench point where it lies until taken
    attach: int | None = None            # frame it is taken into the dominant hand
    release: int | None = None           # frame it leaves the hand; None: leaves with the action
    after_release: str = "drop"          # "drop": lies below the release point; "hidden": in a box
    tilt: np.ndarray | None = None       # (n,) roll about the forearm while held (radians)


@dataclass
class Motion:
    dom: np.ndarray                      # (n, 3) dominant wrist target
    non: np.ndarray                      # (n, 3) other wrist target
    objects: list[ObjectPlan]
    spot: np.ndarray | None = None       # (3,) the bench point the action works at


def _times(rng: np.random.Generator, ws: Workspace, times: tuple) -> np.ndarray:
    t = np.asarray(times, dtype=float)
    t[1:-1] += ws.keyframe_shift + rng.uniform(-ws.keyframe_jitter, ws.keyframe_jitter, len(t) - 2)
    return np.sort(np.clip(t, 0.0, 1.0))


def _offset(ws: Workspace, offset: tuple) -> np.ndarray:
    return ws.amplitude * np.asarray(offset, dtype=float)


def _bench_target(rng: np.random.Generator, ws: Workspace, cfg: dict, gap: float,
                  tries: int) -> np.ndarray:
    """A point on the bench top (``cfg``: x lateral, depth beyond the near edge): the first of
    ``tries`` candidates at least ``gap`` from every taken point, else the least crowded one."""
    x = ws.amplitude * rng.uniform(*cfg["x"], tries)
    y = ws.edge_y + ws.amplitude * rng.uniform(*cfg["depth"], tries)
    candidates = np.stack([x, y, np.full(tries, ws.bench_z)], -1)
    if not ws.taken:
        return candidates[0]
    clearance = np.linalg.norm(candidates[:, None, :2] - np.array(ws.taken)[None, :, :2],
                               axis=-1).min(1)
    free = np.flatnonzero(clearance >= gap)
    return candidates[free[0] if len(free) else clearance.argmax()]


def _target(rng: np.random.Generator, ws: Workspace, cfg: dict, program: dict) -> np.ndarray:
    return _bench_target(rng, ws, program["target"], cfg["target_gap_m"], cfg["target_tries"])


def _frame(n: int, times: np.ndarray, a: int, b: int) -> int:
    """The action frame halfway between keyframes ``a`` and ``b``."""
    return min(int((times[a] + times[b]) / 2 * n), n - 1)


def idle(rng, ws, n, cfg) -> Motion:
    drift = []
    # Faded in and out, so that an idle gap joins the actions around it at the rest pose.
    fade = window(n, 0.0, 1.0, cfg["ramp"])[:, None]
    for _ in range(2):
        t = np.arange(n)[:, None] / ws.fps
        amp = rng.uniform(*cfg["idle"]["drift_m"], size=3)
        hz, phase = rng.uniform(*cfg["idle"]["drift_hz"], size=3), rng.uniform(0, 2 * np.pi, 3)
        drift.append(fade * amp * np.sin(2 * np.pi * hz * t + phase))
    return Motion(ws.rest_dom + drift[0], ws.rest_non + drift[1], [])


def _reach_path(rng, ws, n, cfg):
    c = cfg["reach"]
    times, target = _times(rng, ws, c["times"]), _target(rng, ws, cfg, c)
    touch = target + [0.0, 0.0, cfg["hand_above_surface_m"]]
    points = np.array([ws.rest_dom, ws.rest_dom, touch + _offset(ws, c["hover"]), touch, touch,
                       touch + _offset(ws, c["lift"]), ws.rest_dom, ws.rest_dom])
    dom = keyframes(n, times, points)
    return dom, np.broadcast_to(ws.rest_non, (n, 3)).copy(), target, _frame(n, times, 3, 4)


def reach(rng, ws, n, cfg) -> Motion:
    dom, non, target, _ = _reach_path(rng, ws, n, cfg)
    touched = rng.uniform() < cfg["reach"]["target_part_prob"]
    return Motion(dom, non, [ObjectPlan("part", lying_at=target)] if touched else [], target)


def pick_part(rng, ws, n, cfg) -> Motion:
    dom, non, target, grasp = _reach_path(rng, ws, n, cfg)
    return Motion(dom, non, [ObjectPlan("part", lying_at=target, attach=grasp)], target)


def _place_path(rng, ws, n, cfg):
    c = cfg["place"]
    times, target = _times(rng, ws, c["times"]), _target(rng, ws, cfg, c)
    release = target + [0.0, 0.0, rng.uniform(*c["release_height_m"])]
    body = np.array([0.0, ws.edge_y, ws.bench_z]) + _offset(ws, c["body"])
    points = np.array([ws.rest_dom, body, release + _offset(ws, c["hover"]), release, release,
                       release + _offset(ws, c["lift"]), ws.rest_dom, ws.rest_dom])
    dom = keyframes(n, times, points)
    return dom, np.broadcast_to(ws.rest_non, (n, 3)).copy(), target, _frame(n, times, 3, 4)


def place_part(rng, ws, n, cfg) -> Motion:
    dom, non, target, release = _place_path(rng, ws, n, cfg)
    return Motion(dom, non, [ObjectPlan("part", attach=0, release=release)], target)


def pack_box(rng, ws, n, cfg) -> Motion:
    dom, non, target, release = _place_path(rng, ws, n, cfg)
    return Motion(dom, non, [ObjectPlan("box", lying_at=target),
                             ObjectPlan("part", attach=0, release=release,
                                        after_release="hidden")], target)


def _raise_path(rng, ws, n, cfg):
    c = cfg["raise_up"]
    times = _times(rng, ws, c["times"])
    up = np.array([ws.amplitude * rng.uniform(*c["up_x"]), ws.amplitude * rng.uniform(*c["up_y"]),
                   ws.shoulder_z + rng.uniform(*c["up_z_from_shoulder"])])
    dom = keyframes(n, times, np.array([ws.rest_dom, ws.rest_dom, up, up, ws.rest_dom,
                                        ws.rest_dom]))
    hold = window(n, times[2], times[3], cfg["ramp"])
    phase = 2 * np.pi * cycle_phase(rng, n, ws.fps, ws.speed, c["hz"])
    radius = rng.uniform(*c["circle_m"])
    dom += hold[:, None] * radius * np.stack([np.cos(phase), np.zeros(n), np.sin(phase)], -1)
    tilt = hold * np.radians(rng.uniform(*c["tilt_deg"])) * np.sin(phase)
    return dom, np.broadcast_to(ws.rest_non, (n, 3)).copy(), tilt


def inspect_part(rng, ws, n, cfg) -> Motion:
    dom, non, tilt = _raise_path(rng, ws, n, cfg)
    return Motion(dom, non, [ObjectPlan("part", attach=0, tilt=tilt)])


def scan_barcode(rng, ws, n, cfg) -> Motion:
    dom, non, tilt = _raise_path(rng, ws, n, cfg)
    return Motion(dom, non, [ObjectPlan("scanner", attach=0, tilt=tilt)])


def _press_path(rng, ws, n, cfg):
    c = cfg["press"]
    times, target = _times(rng, ws, c["times"]), _target(rng, ws, cfg, c)
    press = target + [0.0, 0.0, c["press_height_m"]]
    hover = target + _offset(ws, c["hover"])
    dom = keyframes(n, times, np.array([ws.rest_dom, hover, press, press, hover, ws.rest_dom]))
    work = window(n, times[2], times[3], cfg["ramp"])
    phase = 2 * np.pi * cycle_phase(rng, n, ws.fps, ws.speed, c["hz"])
    radius = rng.uniform(*c["circle_m"])
    dom += work[:, None] * radius * np.stack([np.cos(phase), np.sin(phase), np.zeros(n)], -1)
    tilt = work * np.radians(rng.uniform(*c["tilt_deg"])) * np.sin(phase)
    steady = target + _offset(ws, c["steady"])
    non = keyframes(n, times, np.array([ws.rest_non, ws.rest_non, steady, steady, ws.rest_non,
                                        ws.rest_non]))
    return dom, non, target, tilt


def fasten_screwdriver(rng, ws, n, cfg) -> Motion:
    dom, non, target, tilt = _press_path(rng, ws, n, cfg)
    return Motion(dom, non, [ObjectPlan("part", lying_at=target),
                             ObjectPlan("screwdriver", attach=0, tilt=tilt)], target)


def drill(rng, ws, n, cfg) -> Motion:
    dom, non, target, tilt = _press_path(rng, ws, n, cfg)
    return Motion(dom, non, [ObjectPlan("part", lying_at=target),
                             ObjectPlan("power_drill", attach=0, tilt=tilt)], target)


def hammer(rng, ws, n, cfg) -> Motion:
    c = cfg["hammer"]
    times, target = _times(rng, ws, c["times"]), _target(rng, ws, cfg, c)
    ready = target + _offset(ws, c["ready"])
    dom = keyframes(n, times, np.array([ws.rest_dom, ready, ready, ws.rest_dom]))
    work = window(n, times[1], times[2], cfg["ramp"])
    lift = ws.amplitude * rng.uniform(*c["lift_m"]) * work * sawtooth(
        cycle_phase(rng, n, ws.fps, ws.speed, c["hz"]), c["raise_fraction"])
    dom += np.stack([np.zeros(n), -c["back_per_lift"] * lift, lift], -1)
    nail = target + _offset(ws, c["nail"])
    non = keyframes(n, times, np.array([ws.rest_non, nail, nail, ws.rest_non]))
    return Motion(dom, non, [ObjectPlan("part", lying_at=target),
                             ObjectPlan("hammer", attach=0)], target)


def tighten_wrench(rng, ws, n, cfg) -> Motion:
    c = cfg["wrench"]
    times, target = _times(rng, ws, c["times"]), _target(rng, ws, cfg, c)
    pivot = target + _offset(ws, c["pivot"])
    radius = ws.amplitude * rng.uniform(*c["radius_m"])
    center, sweep = np.radians([rng.uniform(*c["center_deg"]), rng.uniform(*c["sweep_deg"])])
    work = window(n, times[1], times[2], cfg["ramp"])
    phase = cycle_phase(rng, n, ws.fps, ws.speed, c["hz"])
    angle = center + sweep * (sawtooth(phase, c["work_fraction"]) - 0.5)
    arc = pivot + radius * np.stack([np.sin(angle), -np.cos(angle), np.zeros(n)], -1)
    start = pivot + radius * np.array([np.sin(center), -np.cos(center), 0.0])
    path = keyframes(n, times, np.array([ws.rest_dom, start, start, ws.rest_dom]))
    dom = path + work[:, None] * (arc - path)
    return Motion(dom, np.broadcast_to(ws.rest_non, (n, 3)).copy(),
                  [ObjectPlan("part", lying_at=target), ObjectPlan("wrench", attach=0)], target)


# program(rng, workspace, n_frames, motions config) -> Motion, one per action class.
PROGRAMS: dict[str, Callable[..., Motion]] = {
    "idle": idle, "reach": reach, "pick_part": pick_part, "place_part": place_part,
    "pack_box": pack_box, "inspect_part": inspect_part, "scan_barcode": scan_barcode,
    "fasten_screwdriver": fasten_screwdriver, "drill": drill, "tighten_wrench": tighten_wrench,
    "hammer": hammer,
}
