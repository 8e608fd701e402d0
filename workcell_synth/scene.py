"""One video's ground truth: operator, actions, bench, objects, camera and a passer-by."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from workcell_synth import body as sk
from workcell_synth.camera import Camera, sample_camera
from workcell_synth.classes import ACTION_CLASSES, STATION_TOOLS, TOOL_OF_ACTION
from workcell_synth.motions import PROGRAMS, Motion, Workspace
from workcell_synth.objects import ObjectTrack, lying_track, planned_track
from workcell_synth.passerby import walk_across
from workcell_synth.workbench import Bench, sample_bench, station_spots

OPERATOR_TRACK_ID = 1
PASSERBY_TRACK_ID = 2
_MIN_FORWARD_M = 0.05   # keeps bearings to the hands steady when a hand is near the body's plane


@dataclass(frozen=True)
class Operator:
    """Who the operator is: the same in every video of theirs."""

    body: sk.BodyShape
    side: float                # +1 right-handed, -1 left-handed: the dominant arm's x sign
    speed: float
    rest_offset: np.ndarray    # (3,) personal resting hand position offset
    keyframe_shift: float
    elbow_out: float
    lean_bias: float


@dataclass
class Person:
    track_id: int
    joints: np.ndarray     # (T, 18, 3)
    present: np.ndarray    # (T,) bool


@dataclass
class VideoTruth:
    """Everything that is true in one video, before any detector or pose noise."""

    camera: Camera
    bench: Bench
    persons: list[Person]
    objects: list[ObjectTrack]
    segments: list[tuple[str, int, int]]   # label, start frame, end frame (exclusive)
    frame_count: int


def sample_operator(rng: np.random.Generator, cfg: dict) -> Operator:
    oc = cfg["operator"]
    offset = oc["rest_offset_m"]
    return Operator(
        body=sk.sample_body(rng, oc, cfg["body"]),
        side=-1.0 if rng.uniform() < oc["left_handed_prob"] else 1.0,
        speed=rng.uniform(*oc["speed_factor"]), rest_offset=rng.uniform(-offset, offset, 3),
        keyframe_shift=rng.uniform(-oc["keyframe_shift"], oc["keyframe_shift"]),
        elbow_out=rng.uniform(*oc["elbow_out"]),
        lean_bias=np.radians(rng.uniform(*oc["lean_bias_deg"])))


def plan_actions(rng: np.random.Generator, cfg: dict, clip_label: str | None, speed: float,
                 fps: float) -> list[tuple[str, int]]:
    """(label, frames) of a trimmed clip of ``clip_label``, or of an untrimmed sequence."""
    def frames(seconds: float) -> int:
        return max(cfg["min_action_frames"], round(seconds * fps))

    if clip_label is not None:
        seconds = rng.uniform(*cfg["action_seconds"]) / speed
        return [(clip_label, frames(float(np.clip(seconds, *cfg["clip_seconds"]))))]
    lo, hi = cfg["actions_per_sequence"]
    actions = [c for c in ACTION_CLASSES if c != "idle"]
    labels = rng.choice(actions, rng.integers(lo, hi + 1), replace=False)
    acts = [("idle", frames(rng.uniform(*cfg["gap_seconds"])))]
    for label in labels:
        acts.append((str(label), frames(rng.uniform(*cfg["action_seconds"]) / speed)))
        acts.append(("idle", frames(rng.uniform(*cfg["gap_seconds"]))))
    return acts


def _wander(rng: np.random.Generator, n: int, fps: float, amp: tuple, hz: tuple,
            dims: int) -> np.ndarray:
    """(n, dims) slow sinusoidal wander."""
    t = np.arange(n)[:, None] / fps
    return rng.uniform(*amp, dims) * np.sin(2 * np.pi * rng.uniform(*hz, dims) * t
                                            + rng.uniform(0, 2 * np.pi, dims))


def _posture(rng: np.random.Generator, cfg: dict, op: Operator, ws: Workspace, dom: np.ndarray,
             non: np.ndarray, fps: float) -> sk.Posture:
    """Torso, head and pelvis follow the hands: lean to reach far, turn and look at the work."""
    pc, n, body = cfg["posture"], len(dom), op.body
    mirror = np.array([op.side, 1.0, 1.0])
    dom_w = (dom + _wander(rng, n, fps, pc["tremor_m"], pc["tremor_hz"], 3)) * mirror
    non_w = (non + _wander(rng, n, fps, pc["tremor_m"], pc["tremor_hz"], 3)) * mirror
    right, left = (dom_w, non_w) if op.side > 0 else (non_w, dom_w)
    max_lean = np.radians(pc["max_lean_deg"])
    far = np.maximum(dom[:, 1], non[:, 1]) - ws.edge_y - pc["comfort_reach_m"]
    lean = np.clip(pc["lean_gain"] * far, 0, max_lean)
    for wrist, side in ((right, 1.0), (left, -1.0)):
        lean = np.maximum(lean, sk.lean_to_reach(body, wrist, side * body.shoulder_half,
                                                 pc["hip_back_per_lean"], max_lean,
                                                 pc["reach_frac"], np.radians(pc["lean_step_deg"])))
    lean += op.lean_bias
    twist = pc["twist_gain"] * np.arctan2(-dom_w[:, 0], np.maximum(dom_w[:, 1], _MIN_FORWARD_M))
    sway = _wander(rng, n, fps, pc["sway_m"], pc["sway_hz"], 2)
    pelvis = np.stack([sway[:, 0], sway[:, 1] - pc["hip_back_per_lean"] * body.torso
                       * np.sin(lean), np.full(n, body.hip_z)], -1)
    gaze = dom_w - [0.0, 0.0, body.hip_z + body.torso + body.neck]
    head_yaw = pc["gaze_gain"] * np.arctan2(-gaze[:, 0], np.maximum(gaze[:, 1], _MIN_FORWARD_M))
    head_pitch = np.clip(pc["gaze_gain"] * np.arctan2(-gaze[:, 2], np.hypot(gaze[:, 0],
                                                                             gaze[:, 1])),
                         0.0, np.radians(pc["max_head_pitch_deg"]))
    return sk.Posture(pelvis, lean, twist, head_yaw, head_pitch, right, left)


def _workspace(rng: np.random.Generator, cfg: dict, op: Operator, bench: Bench, speed: float,
               fps: float) -> Workspace:
    body_scale = op.body.height / cfg["body"]["reference_height_m"]
    rest = np.asarray(cfg["posture"]["rest"]) * body_scale + op.rest_offset
    rest_dom = np.array([rest[0], bench.y0 + rest[1], bench.top_z + rest[2]])
    return Workspace(rest_dom=rest_dom, rest_non=rest_dom * [-1.0, 1.0, 1.0],
                     bench_z=bench.top_z, edge_y=bench.y0,
                     shoulder_z=op.body.hip_z + op.body.torso, fps=fps, speed=speed,
                     amplitude=body_scale * rng.uniform(*cfg["operator"]["amplitude_jitter"]),
                     keyframe_shift=op.keyframe_shift,
                     keyframe_jitter=cfg["operator"]["keyframe_jitter"])


def _run_programs(rng: np.random.Generator, cfg: dict, ws: Workspace,
                  acts: list[tuple[str, int]]) -> list[Motion]:
    """The motion of each action. Each one works at bench spots away from where the ones
    before left things, and a spare tool is moved aside at most once per video."""
    motions = []
    for label, n in acts:
        motion = PROGRAMS[label](rng, ws, n, cfg["motions"])
        moved = {plan.cls for plan in motion.objects if plan.role == "moved"}
        ws = replace(ws, taken=(*ws.taken, *motion.occupied),
                     spare_tools=tuple(t for t in ws.spare_tools if t not in moved))
        motions.append(motion)
    return motions


def station_classes(rng: np.random.Generator, cfg: dict) -> list[str]:
    """What lies on the bench: one of each station tool, then boxes, cups and loose parts."""
    extras = [cls for cls, (lo, hi) in cfg["station_extras"].items()
              for _ in range(int(rng.integers(lo, hi + 1)))]
    return [*STATION_TOOLS, *extras]


def simulate_video(rng: np.random.Generator, cfg: dict, op: Operator, clip_label: str | None,
                   fps: float, width: int, height: int) -> VideoTruth:
    """Ground truth of a trimmed clip of ``clip_label``, or of an untrimmed sequence if None."""
    body, mirror = op.body, np.array([op.side, 1.0, 1.0])
    speed = op.speed * rng.uniform(*cfg["operator"]["speed_jitter"])
    bench = sample_bench(rng, cfg["bench"], body.height)
    ws = _workspace(rng, cfg, op, bench, speed, fps)
    station = station_classes(rng, cfg["bench"])
    spots = station_spots(rng, bench, cfg["bench"], len(station), avoid=[ws.rest_dom, ws.rest_non])
    acts = plan_actions(rng, cfg, clip_label, speed, fps)
    used = {TOOL_OF_ACTION[label] for label, _ in acts if label in TOOL_OF_ACTION}
    # Mirroring is its own inverse: world station spots -> operator-local coordinates.
    motions = _run_programs(rng, cfg, replace(
        ws, taken=tuple(c * mirror for c in spots),
        spare_tools=tuple(t for t in STATION_TOOLS if t not in used)), acts)
    starts = np.concatenate([[0], np.cumsum([n for _, n in acts])])
    n_frames = int(starts[-1])
    posture = _posture(rng, cfg, op, ws, np.concatenate([m.dom for m in motions]),
                       np.concatenate([m.non for m in motions]), fps)
    pc = cfg["posture"]
    elbow_pole = np.array([op.elbow_out, pc["elbow_forward"], pc["elbow_up"]])
    joints = sk.operator_skeleton(body, posture, np.zeros(2), elbow_pole, pc["hip_twist_ratio"])

    # A station tool some action handles is that action's object (it lies at the spot the
    # action takes it from); the station's own copy is left out.
    handled = {plan.cls for motion in motions for plan in motion.objects} & set(STATION_TOOLS)
    objects: list[ObjectTrack] = []
    for cls, spot in zip(station, spots, strict=False):
        if cls not in handled:
            objects.append(lying_track(rng, cls, len(objects) + 1, spot, n_frames,
                                       cfg["objects"]))
    wrist, elbow = (sk.R_WRIST, sk.R_ELBOW) if op.side > 0 else (sk.L_WRIST, sk.L_ELBOW)
    for motion, start in zip(motions, starts, strict=False):
        for plan in motion.objects:
            objects.append(planned_track(
                rng, plan, len(objects) + 1, int(start), mirror, joints[:, wrist],
                joints[:, elbow], body.hand, round(cfg["objects"]["grasp_blend_s"] * fps),
                cfg["objects"]))

    cc = cfg["camera"]
    target = np.array([cc["look_at"][0], cc["look_at"][1], cc["look_at"][2] * body.height])
    camera = sample_camera(rng, cc, target, joints[0], joints.reshape(-1, 3), width, height)
    persons = [Person(OPERATOR_TRACK_ID, joints, np.ones(n_frames, bool))]
    if rng.uniform() < cfg["passerby"]["prob"]:
        walker = sk.sample_body(rng, cfg["operator"], cfg["body"])
        persons.append(Person(PASSERBY_TRACK_ID, *walk_across(
            rng, cfg["passerby"], walker, camera, target, width, n_frames, fps)))
    segments = [(label, int(starts[i]), int(starts[i + 1])) for i, (label, _) in enumerate(acts)]
    return VideoTruth(camera, bench, persons, objects, segments, n_frames)
