"""A second person walking across the view, beyond the operator: a simple walking gait."""

from __future__ import annotations

import numpy as np

from workcell_synth import body as sk
from workcell_synth.camera import Camera


def _sagittal(angle: np.ndarray) -> np.ndarray:
    """(T, 3) unit vectors hanging down, swung forward by ``angle``."""
    return np.stack([np.zeros_like(angle), np.sin(angle), -np.cos(angle)], -1)


def walking_skeleton(body: sk.BodyShape, phase: np.ndarray, hip_swing: float, knee_bend: float,
                     arm_ratio: float, elbow_bend: float) -> np.ndarray:
    """(T, 18, 3) joints of a walker in its own frame (facing +y, hip centre above the origin)
    at gait ``phase`` (radians)."""
    n = len(phase)
    joints = np.zeros((n, sk.NUM_JOINTS, 3))
    swing = hip_swing * np.sin(phase)
    hip_z = body.hip_z - 0.5 * (body.thigh + body.shank) * (1 - np.cos(swing))
    pelvis = np.stack([np.zeros(n), np.zeros(n), hip_z], -1)
    for side, hip_swing_t, knee_t, sh, hi, kn, an, el, wr in (
            (1.0, swing, np.clip(np.cos(phase), 0, 1), sk.R_SHOULDER, sk.R_HIP, sk.R_KNEE,
             sk.R_ANKLE, sk.R_ELBOW, sk.R_WRIST),
            (-1.0, -swing, np.clip(-np.cos(phase), 0, 1), sk.L_SHOULDER, sk.L_HIP, sk.L_KNEE,
             sk.L_ANKLE, sk.L_ELBOW, sk.L_WRIST)):
        joints[:, hi] = pelvis + [side * body.hip_half, 0.0, 0.0]
        joints[:, kn] = joints[:, hi] + body.thigh * _sagittal(hip_swing_t)
        joints[:, an] = joints[:, kn] + body.shank * _sagittal(hip_swing_t - knee_bend * knee_t)
        joints[:, sh] = pelvis + [side * body.shoulder_half, 0.0, body.torso]
        arm = -arm_ratio * hip_swing_t
        joints[:, el] = joints[:, sh] + body.upper_arm * _sagittal(arm)
        joints[:, wr] = joints[:, el] + body.forearm * _sagittal(arm + elbow_bend)
    head_center = pelvis + [0.0, 0.0, body.torso + body.neck]
    sk.head_joints(body, head_center, np.tile(np.eye(3), (n, 1, 1)), joints)
    return joints


def walk_across(rng: np.random.Generator, cfg: dict, body: sk.BodyShape, camera: Camera,
                through: np.ndarray, width: int, n_frames: int,
                fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Joints (T, 18, 3) and presence (T,) of a walker crossing the view on a line parallel to
    the image plane, ``behind_m`` beyond the point ``through`` as seen from the camera."""
    forward = sk.unit(camera.rotation[2] * [1.0, 1.0, 0.0])
    heading = sk.unit(camera.rotation[0] * [1.0, 1.0, 0.0]) * rng.choice([-1.0, 1.0])
    middle = through * [1.0, 1.0, 0.0] + rng.uniform(*cfg["behind_m"]) * forward
    depth = np.dot(middle - camera.center, forward)
    half_path = depth * width / 2 / camera.focal + cfg["overshoot_m"]
    speed = rng.uniform(*cfg["speed_mps"])
    t = np.arange(n_frames) / fps
    along = speed * (t - rng.uniform(0, t[-1] + 1 / fps))
    present = np.abs(along) <= half_path
    stride = 2 * rng.uniform(*cfg["step_length_frac"]) * body.height
    phase = 2 * np.pi * along / stride + rng.uniform(0, 2 * np.pi)
    local = walking_skeleton(
        body, phase, np.radians(rng.uniform(*cfg["hip_swing_deg"])),
        np.radians(rng.uniform(*cfg["knee_bend_deg"])), cfg["arm_swing_ratio"],
        np.radians(rng.uniform(*cfg["elbow_bend_deg"])))
    yaw = np.arctan2(-heading[0], heading[1])
    turn = sk.rot_z(np.full(n_frames, yaw))
    joints = np.einsum("tij,tkj->tki", turn, local) + (middle + along[:, None] * heading)[:, None]
    return joints, present
