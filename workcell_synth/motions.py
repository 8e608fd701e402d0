"""Motion programs: wrist paths of one action and the objects it moves.

Programs work in operator-local coordinates where +x is the dominant side; the scene mirrors them
for left-handed operators. Every program starts and ends with the hands at rest, so actions
chain without jumps. A path is a chain of legs (``_Path``): approach a bench spot, descend, grasp,
lift, carry, work, release, return; each leg takes a configured share of the action's time.

Every object an action uses lies on the bench before it is picked up and is put down again
before the action ends (back where it was, or at another free spot), so neither the sight of a
tool nor the fact that it moves tells the action on its own: idle and reach sometimes move a spare
tool aside without using it.

The two actions of a same-motion pair call one path function and draw all its random numbers
before any object class is decided, so the same generator state gives the same wrists for both:
only the objects differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from workcell_synth.trajectory import cycle_phase, keyframes, sawtooth, window


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
    spare_tools: tuple = () # station tools no action of the video uses: may be moved aside


@dataclass
class ObjectPlan:
    """An object an action handles. It lies at ``lying_at`` until taken; frames are relative to
    the action start.

    ``role``: ``used`` (the action's own object), ``moved`` (a spare tool moved aside), or
    ``static`` (lies there throughout: a workpiece, a box, a part the hand only touches).
    """

    cls: str
    lying_at: np.ndarray                 # (3,) bench point
    role: str
    attach: int | None = None            # frame it is taken into the dominant hand
    release: int | None = None           # frame it leaves the hand
    put_down: np.ndarray | None = None   # (3,) bench point where it lies after the release
    after_release: str = "drop"          # "drop": lies at put_down; "hidden": inside a box
    tilt: np.ndarray | None = None       # (n,) roll about the forearm while held (radians)


@dataclass
class Motion:
    dom: np.ndarray                      # (n, 3) dominant wrist target
    non: np.ndarray                      # (n, 3) other wrist target
    objects: list[ObjectPlan]
    occupied: tuple = ()                 # bench points that hold something after the action


class _Path:
    """Keyframes of a wrist path, built leg by leg; a ``mark`` names the keyframe a leg ends at."""

    def __init__(self, start: np.ndarray):
        self.points = [np.asarray(start, float)]
        self.weights: list[float] = []
        self.marks: dict[str, int] = {}

    def to(self, point: np.ndarray, weight: float, mark: str | None = None) -> _Path:
        self.points.append(np.asarray(point, float))
        self.weights.append(weight)
        if mark is not None:
            self.marks[mark] = len(self.points) - 1
        return self

    def stay(self, weight: float, mark: str | None = None) -> _Path:
        return self.to(self.points[-1], weight, mark)

    def build(self, rng: np.random.Generator, ws: Workspace,
              n: int) -> tuple[np.ndarray, dict[str, float]]:
        """(n, 3) min-jerk path through the keyframes and the normalized time of each mark."""
        times = np.concatenate([[0.0], np.cumsum(self.weights)]) / sum(self.weights)
        times[1:-1] += ws.keyframe_shift + rng.uniform(-ws.keyframe_jitter, ws.keyframe_jitter,
                                                       len(times) - 2)
        times = np.sort(np.clip(times, 0.0, 1.0))
        return keyframes(n, times, np.array(self.points)), \
            {name: float(times[i]) for name, i in self.marks.items()}


def _frame(n: int, time: float) -> int:
    return min(int(time * n), n - 1)


def _handled(cls: str, pickup: np.ndarray, put_down: np.ndarray, marks: dict[str, float],
             n: int, role: str = "used", offset: int = 0, attach: str = "attach",
             release: str = "release", **kwargs) -> ObjectPlan:
    """An object taken at mark ``attach`` from ``pickup`` and let go at mark ``release``."""
    return ObjectPlan(cls, pickup, role, attach=offset + _frame(n, marks[attach]),
                      release=offset + _frame(n, marks[release]), put_down=put_down, **kwargs)


def _offset(ws: Workspace, offset: tuple) -> np.ndarray:
    return ws.amplitude * np.asarray(offset, dtype=float)


def _with_taken(ws: Workspace, *points: np.ndarray) -> Workspace:
    return replace(ws, taken=(*ws.taken, *points))


def _target(rng: np.random.Generator, ws: Workspace, cfg: dict, area: dict) -> np.ndarray:
    """A point on the bench top in ``area`` (x lateral, depth beyond the near edge): the first
    of ``target_tries`` candidates at least ``target_gap_m`` from every taken point, else the
    least crowded one."""
    tries = cfg["target_tries"]
    x = ws.amplitude * rng.uniform(*area["x"], tries)
    y = ws.edge_y + ws.amplitude * rng.uniform(*area["depth"], tries)
    candidates = np.stack([x, y, np.full(tries, ws.bench_z)], -1)
    if not ws.taken:
        return candidates[0]
    clearance = np.linalg.norm(candidates[:, None, :2] - np.array(ws.taken)[None, :, :2],
                               axis=-1).min(1)
    free = np.flatnonzero(clearance >= cfg["target_gap_m"])
    return candidates[free[0] if len(free) else clearance.argmax()]


def _put_down_spot(rng: np.random.Generator, ws: Workspace, cfg: dict, area: dict,
                   pickup: np.ndarray) -> np.ndarray:
    """Where an object is put down: where it was taken from, or another free spot."""
    if rng.uniform() < cfg["return_prob"]:
        return pickup
    return _target(rng, _with_taken(ws, pickup), cfg, area)


def _grasp(spot: np.ndarray, cfg: dict) -> np.ndarray:
    return spot + [0.0, 0.0, cfg["hand_above_surface_m"]]


def _fetch(path: _Path, spot: np.ndarray, ws: Workspace, cfg: dict, mark: str) -> None:
    """Approach the object lying at ``spot``, take it (``mark``: the grasp), lift it."""
    legs, hover = cfg["legs"], _grasp(spot, cfg) + _offset(ws, cfg["hover"])
    path.to(hover, legs["approach"]).to(_grasp(spot, cfg), legs["descend"]) \
        .stay(legs["grasp"], mark).to(hover, legs["lift"])


def _put_down(path: _Path, spot: np.ndarray, ws: Workspace, cfg: dict, mark: str) -> None:
    """Carry the held object over ``spot``, lower it and let go (``mark``), lift the hand."""
    legs, hover = cfg["legs"], _grasp(spot, cfg) + _offset(ws, cfg["hover"])
    path.to(hover, legs["carry"]).to(_grasp(spot, cfg), legs["descend"]) \
        .stay(legs["release"], mark).to(hover, legs["lift"])


@dataclass(frozen=True)
class _Aside:
    """A spare tool moved from one bench spot to another."""

    cls: str
    pickup: np.ndarray
    put_down: np.ndarray

    def plan(self, marks: dict[str, float], n: int, offset: int = 0) -> ObjectPlan:
        return _handled(self.cls, self.pickup, self.put_down, marks, n, role="moved",
                        offset=offset, attach="aside_attach", release="aside_release")


def _move_aside(rng: np.random.Generator, ws: Workspace, cfg: dict, path: _Path) -> _Aside:
    """Add to ``path`` the legs that take a spare tool and put it down at another spot."""
    tool = str(ws.spare_tools[rng.integers(len(ws.spare_tools))])
    pickup = _target(rng, ws, cfg, cfg["move_aside"])
    put_down = _target(rng, _with_taken(ws, pickup), cfg, cfg["move_aside"])
    _fetch(path, pickup, ws, cfg, "aside_attach")
    _put_down(path, put_down, ws, cfg, "aside_release")
    return _Aside(tool, pickup, put_down)


def _home(path: _Path, ws: Workspace, cfg: dict, mark: str | None = None) -> None:
    """Back to the resting hand position, where the path ends."""
    path.to(ws.rest_dom, cfg["legs"]["back"], mark).stay(cfg["legs"]["settle"])


def _rest_non(ws: Workspace, n: int) -> np.ndarray:
    return np.broadcast_to(ws.rest_non, (n, 3)).copy()


def _steadying_hand(ws: Workspace, n: int, hold: np.ndarray, start: float, end: float,
                    lead: float) -> np.ndarray:
    """The other hand goes to ``hold`` for the work phase [start, end] and comes back."""
    times = np.clip([0.0, start - lead, start, end, end + lead, 1.0], 0.0, 1.0)
    return keyframes(n, np.maximum.accumulate(times),
                     np.array([ws.rest_non, ws.rest_non, hold, hold, ws.rest_non, ws.rest_non]))


def idle(rng, ws, n, cfg) -> Motion:
    c = cfg["idle"]
    drift = []
    # Faded in and out, so that an idle gap joins the actions around it at the rest pose.
    fade = window(n, 0.0, 1.0, cfg["ramp"])[:, None]
    for _ in range(2):
        t = np.arange(n)[:, None] / ws.fps
        amp = rng.uniform(*c["drift_m"], size=3)
        hz, phase = rng.uniform(*c["drift_hz"], size=3), rng.uniform(0, 2 * np.pi, 3)
        drift.append(fade * amp * np.sin(2 * np.pi * hz * t + phase))
    dom, non = ws.rest_dom + drift[0], ws.rest_non + drift[1]
    trip = round(rng.uniform(*c["move_aside_s"]) * ws.fps / ws.speed)
    if not (ws.spare_tools and rng.uniform() < c["move_aside_prob"] and trip <= n):
        return Motion(dom, non, [])
    start = int(rng.integers(0, n - trip + 1))
    path = _Path(ws.rest_dom)
    aside = _move_aside(rng, ws, cfg, path)
    _home(path, ws, cfg)
    trip_dom, marks = path.build(rng, ws, trip)
    dom[start:start + trip] += trip_dom - ws.rest_dom
    return Motion(dom, non, [aside.plan(marks, trip, offset=start)], (aside.put_down,))


def _reach_path(rng, ws, n, cfg):
    """To a bench spot and back; a spare tool in the way is sometimes moved aside first."""
    c, legs = cfg["reach"], cfg["legs"]
    target = _target(rng, ws, cfg, c["target"])
    path = _Path(ws.rest_dom)
    aside = None
    if ws.spare_tools and rng.uniform() < c["move_aside_prob"]:
        aside = _move_aside(rng, _with_taken(ws, target), cfg, path)
    touch = _grasp(target, cfg)
    path.to(touch + _offset(ws, cfg["hover"]), legs["approach"]).to(touch, legs["descend"]) \
        .stay(legs["grasp"], "grasp").to(touch + _offset(ws, c["lift"]), legs["lift"])
    _home(path, ws, cfg, "home")
    dom, marks = path.build(rng, ws, n)
    moved = [] if aside is None else [aside.plan(marks, n)]
    occupied = (target,) if aside is None else (target, aside.put_down)
    return dom, _rest_non(ws, n), target, marks, moved, occupied


def reach(rng, ws, n, cfg) -> Motion:
    dom, non, target, _, moved, occupied = _reach_path(rng, ws, n, cfg)
    touched = rng.uniform() < cfg["reach"]["target_part_prob"]
    objects = [ObjectPlan("part", target, "static")] if touched else []
    return Motion(dom, non, objects + moved, occupied)


def pick_part(rng, ws, n, cfg) -> Motion:
    """The reach path; the part at the spot comes back with the hand and is put down there."""
    dom, non, target, marks, moved, occupied = _reach_path(rng, ws, n, cfg)
    home = ws.rest_dom * [1.0, 1.0, 0.0] + [0.0, 0.0, ws.bench_z]
    part = _handled("part", target, home, marks, n, attach="grasp", release="home")
    return Motion(dom, non, [part] + moved, (*occupied, home))


def _place_path(rng, ws, n, cfg):
    """A part taken near the body, carried past the body to a bench spot and released."""
    c, legs = cfg["place"], cfg["legs"]
    pickup = _target(rng, ws, cfg, c["pickup"])
    target = _target(rng, _with_taken(ws, pickup), cfg, c["target"])
    release = target + [0.0, 0.0, rng.uniform(*c["release_height_m"])]
    body = np.array([0.0, ws.edge_y, ws.bench_z]) + _offset(ws, c["body"])
    path = _Path(ws.rest_dom)
    _fetch(path, pickup, ws, cfg, "attach")
    path.to(body, legs["carry"]).to(release + _offset(ws, cfg["hover"]), legs["carry"]) \
        .to(release, legs["descend"]).stay(legs["release"], "release") \
        .to(release + _offset(ws, c["lift"]), legs["lift"])
    _home(path, ws, cfg)
    dom, marks = path.build(rng, ws, n)
    return dom, _rest_non(ws, n), pickup, target, marks


def place_part(rng, ws, n, cfg) -> Motion:
    dom, non, pickup, target, marks = _place_path(rng, ws, n, cfg)
    return Motion(dom, non, [_handled("part", pickup, target, marks, n)], (target,))


def pack_box(rng, ws, n, cfg) -> Motion:
    dom, non, pickup, target, marks = _place_path(rng, ws, n, cfg)
    part = _handled("part", pickup, target, marks, n, after_release="hidden")
    return Motion(dom, non, [ObjectPlan("box", target, "static"), part], (target,))


def _raise_path(rng, ws, n, cfg):
    """Take an object from the bench, raise it in front of the body, turn it, put it down."""
    c = cfg["raise_up"]
    pickup = _target(rng, ws, cfg, c["pickup"])
    put_down = _put_down_spot(rng, ws, cfg, c["pickup"], pickup)
    up = np.array([ws.amplitude * rng.uniform(*c["up_x"]), ws.amplitude * rng.uniform(*c["up_y"]),
                   ws.shoulder_z + rng.uniform(*c["up_z_from_shoulder"])])
    path = _Path(ws.rest_dom)
    _fetch(path, pickup, ws, cfg, "attach")
    path.to(up, c["raise_leg"], "hold_start").stay(c["hold_leg"], "hold_end")
    _put_down(path, put_down, ws, cfg, "release")
    _home(path, ws, cfg)
    dom, marks = path.build(rng, ws, n)
    hold = window(n, marks["hold_start"], marks["hold_end"], cfg["ramp"])
    phase = 2 * np.pi * cycle_phase(rng, n, ws.fps, ws.speed, c["hz"])
    radius = rng.uniform(*c["circle_m"])
    dom += hold[:, None] * radius * np.stack([np.cos(phase), np.zeros(n), np.sin(phase)], -1)
    tilt = hold * np.radians(rng.uniform(*c["tilt_deg"])) * np.sin(phase)
    return dom, _rest_non(ws, n), tilt, pickup, put_down, marks


def _raised(cls: str):
    def program(rng, ws, n, cfg) -> Motion:
        dom, non, tilt, pickup, put_down, marks = _raise_path(rng, ws, n, cfg)
        return Motion(dom, non, [_handled(cls, pickup, put_down, marks, n, tilt=tilt)],
                      (put_down,))
    return program


def _tool_trip(rng, ws, cfg, c, target):
    """Pickup and put-down spots of the tool used on ``target`` (a workpiece spot)."""
    ws = _with_taken(ws, target)
    pickup = _target(rng, ws, cfg, c["tool"])
    return pickup, _put_down_spot(rng, ws, cfg, c["tool"], pickup)


def _worked(path: _Path, rng, ws, n, cfg, c, pickup, work_point, put_down):
    """Fetch the tool, hold it at ``work_point`` for the work phase, put it down, go home."""
    legs = cfg["legs"]
    _fetch(path, pickup, ws, cfg, "attach")
    path.to(work_point, legs["carry"], "work_start").stay(c["work_leg"], "work_end")
    _put_down(path, put_down, ws, cfg, "release")
    _home(path, ws, cfg)
    dom, marks = path.build(rng, ws, n)
    return dom, marks, window(n, marks["work_start"], marks["work_end"], cfg["ramp"])


def _press_path(rng, ws, n, cfg):
    c = cfg["press"]
    target = _target(rng, ws, cfg, c["target"])
    pickup, put_down = _tool_trip(rng, ws, cfg, c, target)
    dom, marks, work = _worked(_Path(ws.rest_dom), rng, ws, n, cfg, c, pickup,
                               target + [0.0, 0.0, c["press_height_m"]], put_down)
    phase = 2 * np.pi * cycle_phase(rng, n, ws.fps, ws.speed, c["hz"])
    radius = rng.uniform(*c["circle_m"])
    dom += work[:, None] * radius * np.stack([np.cos(phase), np.sin(phase), np.zeros(n)], -1)
    tilt = work * np.radians(rng.uniform(*c["tilt_deg"])) * np.sin(phase)
    non = _steadying_hand(ws, n, target + _offset(ws, c["steady"]), marks["work_start"],
                          marks["work_end"], cfg["other_hand_lead"])
    return dom, non, target, tilt, pickup, put_down, marks


def _pressed(tool: str):
    def program(rng, ws, n, cfg) -> Motion:
        dom, non, target, tilt, pickup, put_down, marks = _press_path(rng, ws, n, cfg)
        return Motion(dom, non, [ObjectPlan("part", target, "static"),
                                 _handled(tool, pickup, put_down, marks, n, tilt=tilt)],
                      (target, put_down))
    return program


def hammer(rng, ws, n, cfg) -> Motion:
    c = cfg["hammer"]
    target = _target(rng, ws, cfg, c["target"])
    pickup, put_down = _tool_trip(rng, ws, cfg, c, target)
    dom, marks, work = _worked(_Path(ws.rest_dom), rng, ws, n, cfg, c, pickup,
                               target + _offset(ws, c["ready"]), put_down)
    lift = ws.amplitude * rng.uniform(*c["lift_m"]) * work * sawtooth(
        cycle_phase(rng, n, ws.fps, ws.speed, c["hz"]), c["raise_fraction"])
    dom += np.stack([np.zeros(n), -c["back_per_lift"] * lift, lift], -1)
    non = _steadying_hand(ws, n, target + _offset(ws, c["nail"]), marks["work_start"],
                          marks["work_end"], cfg["other_hand_lead"])
    return Motion(dom, non, [ObjectPlan("part", target, "static"),
                             _handled("hammer", pickup, put_down, marks, n)],
                  (target, put_down))


def tighten_wrench(rng, ws, n, cfg) -> Motion:
    c = cfg["wrench"]
    target = _target(rng, ws, cfg, c["target"])
    pickup, put_down = _tool_trip(rng, ws, cfg, c, target)
    pivot = target + _offset(ws, c["pivot"])
    radius = ws.amplitude * rng.uniform(*c["radius_m"])
    center, sweep = np.radians([rng.uniform(*c["center_deg"]), rng.uniform(*c["sweep_deg"])])
    start = pivot + radius * np.array([np.sin(center), -np.cos(center), 0.0])
    path, marks, work = _worked(_Path(ws.rest_dom), rng, ws, n, cfg, c, pickup, start, put_down)
    angle = center + sweep * (sawtooth(cycle_phase(rng, n, ws.fps, ws.speed, c["hz"]),
                                       c["work_fraction"]) - 0.5)
    arc = pivot + radius * np.stack([np.sin(angle), -np.cos(angle), np.zeros(n)], -1)
    dom = path + work[:, None] * (arc - path)
    return Motion(dom, _rest_non(ws, n),
                  [ObjectPlan("part", target, "static"),
                   _handled("wrench", pickup, put_down, marks, n)],
                  (target, put_down))


# program(rng, workspace, n_frames, motions config) -> Motion, one per action class.
PROGRAMS: dict[str, Callable[..., Motion]] = {
    "idle": idle, "reach": reach, "pick_part": pick_part, "place_part": place_part,
    "pack_box": pack_box, "inspect_part": _raised("part"), "scan_barcode": _raised("scanner"),
    "fasten_screwdriver": _pressed("screwdriver"), "drill": _pressed("power_drill"),
    "tighten_wrench": tighten_wrench, "hammer": hammer,
}
