"""A standing operator's 3D skeleton: body proportions, two-bone IK and the COCO-17 joints.

World frame: meters, the operator stands at the origin facing +y, x points to the operator's
right, z up. Arrays carry time first: (T, 3) points, (T,) angles. Joint 17 (the top of the
head) is not a COCO joint; it bounds the person's box and draws the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

(NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST,
 L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE, HEAD_TOP) = range(18)
NUM_COCO_JOINTS = 17
NUM_JOINTS = 18
LEFT_LIMBS = ((L_SHOULDER, L_ELBOW), (L_ELBOW, L_WRIST), (L_HIP, L_KNEE), (L_KNEE, L_ANKLE),
              (L_SHOULDER, L_HIP), (L_EYE, L_EAR))
RIGHT_LIMBS = ((R_SHOULDER, R_ELBOW), (R_ELBOW, R_WRIST), (R_HIP, R_KNEE), (R_KNEE, R_ANKLE),
               (R_SHOULDER, R_HIP), (R_EYE, R_EAR))
CENTER_LIMBS = ((L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP), (NOSE, L_EYE), (NOSE, R_EYE))


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths of one person, in meters."""

    height: float
    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shank: float
    ankle_z: float
    hip_z: float
    torso: float            # hip centre to the shoulder line
    neck: float             # shoulder line to the head centre
    shoulder_half: float
    hip_half: float
    foot_half: float
    head_scale: float
    head_points: dict       # nose, eye, ear, head_top offsets from the head centre (unscaled)


def sample_body(rng: np.random.Generator, operator_cfg: dict, body_cfg: dict) -> BodyShape:
    """Draw height and arm, shoulder and leg factors; the rest follows the proportions."""
    height = rng.uniform(*operator_cfg["height_m"])
    arm = rng.uniform(*operator_cfg["arm_factor"])
    shoulder = rng.uniform(*operator_cfg["shoulder_factor"])
    leg = rng.uniform(*operator_cfg["leg_factor"])
    thigh, shank = body_cfg["thigh"] * height * leg, body_cfg["shank"] * height * leg
    ankle_z = body_cfg["ankle"] * height
    hip_z = ankle_z + body_cfg["leg_straightness"] * (thigh + shank)
    shoulder_z = body_cfg["shoulder_height"] * height
    return BodyShape(
        height=height, upper_arm=body_cfg["upper_arm"] * height * arm,
        forearm=body_cfg["forearm"] * height * arm, hand=body_cfg["hand"] * height * arm,
        thigh=thigh, shank=shank, ankle_z=ankle_z, hip_z=hip_z, torso=shoulder_z - hip_z,
        neck=(body_cfg["head_center"] - body_cfg["shoulder_height"]) * height,
        shoulder_half=body_cfg["shoulder_half_width"] * height * shoulder,
        hip_half=body_cfg["hip_half_width"] * height,
        foot_half=body_cfg["foot_half_width"] * height,
        head_scale=height / body_cfg["reference_height_m"],
        head_points={k: np.asarray(body_cfg[k], dtype=float)
                     for k in ("nose", "eye", "ear", "head_top")})


def rot_x(angle: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3); positive turns +y towards +z."""
    c, s, o, i = np.cos(angle), np.sin(angle), np.zeros_like(angle), np.ones_like(angle)
    return np.stack([i, o, o, o, c, -s, o, s, c], -1).reshape(*np.shape(angle), 3, 3)


def rot_y(angle: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3); positive turns +z towards +x."""
    c, s, o, i = np.cos(angle), np.sin(angle), np.zeros_like(angle), np.ones_like(angle)
    return np.stack([c, o, s, o, i, o, -s, o, c], -1).reshape(*np.shape(angle), 3, 3)


def rot_z(angle: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3); positive turns +x towards +y."""
    c, s, o, i = np.cos(angle), np.sin(angle), np.zeros_like(angle), np.ones_like(angle)
    return np.stack([c, -s, o, s, c, o, o, o, i], -1).reshape(*np.shape(angle), 3, 3)


def apply(rotation: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Rotate a fixed (3,) or per-frame (T, 3) vector by (T, 3, 3) rotations."""
    return np.einsum("tij,...j->ti", rotation, vector) if np.ndim(vector) == 1 \
        else np.einsum("tij,tj->ti", rotation, vector)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def two_bone_ik(root: np.ndarray, target: np.ndarray, upper: float, lower: float,
                pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joints of a chain reaching for ``target``; the middle bends towards ``pole``.

    Targets out of reach are approached along the same line with the chain stretched.
    """
    offset = target - root
    direction = unit(offset)
    dist = np.clip(np.linalg.norm(offset, axis=-1), abs(upper - lower) + 1e-3,
                   (upper + lower) * (1 - 1e-4))
    cos_a = np.clip((upper**2 + dist**2 - lower**2) / (2 * upper * dist), -1.0, 1.0)
    bend = unit(pole - np.sum(pole * direction, -1, keepdims=True) * direction)
    middle = root + upper * (cos_a[:, None] * direction + np.sqrt(1 - cos_a**2)[:, None] * bend)
    return middle, root + dist[:, None] * direction


def head_joints(body: BodyShape, center: np.ndarray, rotation: np.ndarray,
                joints: np.ndarray) -> None:
    """Fill nose, eyes, ears and head top from the head centre (T, 3) and orientation."""
    pts, s = body.head_points, body.head_scale
    mirror = np.array([-1.0, 1.0, 1.0])
    joints[:, NOSE] = center + apply(rotation, pts["nose"] * s)
    joints[:, R_EYE] = center + apply(rotation, pts["eye"] * s)
    joints[:, L_EYE] = center + apply(rotation, pts["eye"] * mirror * s)
    joints[:, R_EAR] = center + apply(rotation, pts["ear"] * s)
    joints[:, L_EAR] = center + apply(rotation, pts["ear"] * mirror * s)
    joints[:, HEAD_TOP] = center + apply(rotation, pts["head_top"] * s)


def lean_to_reach(body: BodyShape, wrist: np.ndarray, shoulder_x: float, hip_back: float,
                  max_lean: float, reach_frac: float, step: float) -> np.ndarray:
    """(T,) least forward lean (radians, in ``step`` increments) that brings the shoulder at
    lateral offset ``shoulder_x`` within ``reach_frac`` of the arm's length of ``wrist`` (T, 3);
    ``max_lean`` where none does. The pelvis moves back by ``hip_back`` of the torso's lean."""
    grid = np.arange(0.0, max_lean + step / 2, step)
    shoulder_y = (1 - hip_back) * body.torso * np.sin(grid)
    shoulder_z = body.hip_z + body.torso * np.cos(grid)
    dist = np.sqrt((wrist[:, None, 0] - shoulder_x) ** 2 + (wrist[:, None, 1] - shoulder_y) ** 2
                   + (wrist[:, None, 2] - shoulder_z) ** 2)
    ok = dist <= reach_frac * (body.upper_arm + body.forearm)
    return np.where(ok.any(1), grid[ok.argmax(1)], max_lean)


@dataclass
class Posture:
    """Per-frame drivers of the operator skeleton (world frame, angles in radians)."""

    pelvis: np.ndarray        # (T, 3) hip centre
    lean: np.ndarray          # (T,) forward bend of the torso
    twist: np.ndarray         # (T,) torso turn, positive towards the operator's left
    head_yaw: np.ndarray      # (T,) positive towards the operator's left
    head_pitch: np.ndarray    # (T,) positive looks down
    right_wrist: np.ndarray   # (T, 3) IK targets
    left_wrist: np.ndarray


def operator_skeleton(body: BodyShape, posture: Posture, feet_xy: np.ndarray,
                      elbow_pole: np.ndarray, hip_twist: float) -> np.ndarray:
    """(T, 18, 3) joints: arms reach the wrist targets by IK, feet stay planted at ``feet_xy``.

    ``elbow_pole`` (outward, forward, up; in the torso frame) is where the right elbow points,
    mirrored for the left; the hips turn by ``hip_twist`` times the torso's twist.
    """
    n = len(posture.lean)
    joints = np.zeros((n, NUM_JOINTS, 3))
    torso = rot_z(posture.twist) @ rot_x(-posture.lean)
    hips = rot_z(hip_twist * posture.twist)
    shoulder_line = posture.pelvis + apply(torso, np.array([0.0, 0.0, body.torso]))
    for side, shoulder, hip, knee_i, ankle_i in ((1.0, R_SHOULDER, R_HIP, R_KNEE, R_ANKLE),
                                                 (-1.0, L_SHOULDER, L_HIP, L_KNEE, L_ANKLE)):
        joints[:, shoulder] = shoulder_line + apply(torso, np.array([side * body.shoulder_half,
                                                                     0.0, 0.0]))
        joints[:, hip] = posture.pelvis + apply(hips, np.array([side * body.hip_half, 0.0, 0.0]))
        ankle = np.array([feet_xy[0] + side * body.foot_half, feet_xy[1], body.ankle_z])
        knee_pole = np.broadcast_to([0.0, 1.0, 0.0], (n, 3))
        joints[:, knee_i], joints[:, ankle_i] = two_bone_ik(
            joints[:, hip], np.broadcast_to(ankle, (n, 3)), body.thigh, body.shank, knee_pole)
    for side, shoulder, elbow, wrist, target in (
            (1.0, R_SHOULDER, R_ELBOW, R_WRIST, posture.right_wrist),
            (-1.0, L_SHOULDER, L_ELBOW, L_WRIST, posture.left_wrist)):
        pole = apply(torso, elbow_pole * [side, 1.0, 1.0])
        joints[:, elbow], joints[:, wrist] = two_bone_ik(
            joints[:, shoulder], target, body.upper_arm, body.forearm, pole)
    head_center = shoulder_line + apply(torso, np.array([0.0, 0.0, body.neck]))
    head_joints(body, head_center, rot_z(posture.head_yaw) @ rot_x(-posture.head_pitch), joints)
    return joints
