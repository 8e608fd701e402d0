"""Pinhole camera on the bench side, looking down at the operator; bench occlusion of points."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from workcell_synth.body import unit


@dataclass(frozen=True)
class Camera:
    center: np.ndarray     # (3,) world position
    rotation: np.ndarray   # (3, 3) rows: camera right, down, forward in world coordinates
    focal: float           # pixels
    cx: float
    cy: float

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points - self.center) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (..., 2) and depth (...) of world points (..., 3); depth <= 0 is behind."""
        cam = self.to_camera(points)
        depth = cam[..., 2]
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        uv = np.stack([self.focal * cam[..., 0] / safe + self.cx,
                       self.focal * cam[..., 1] / safe + self.cy], -1)
        return uv, depth

    def project_polygon(self, polygon: np.ndarray, near: float) -> np.ndarray | None:
        """Pixels of a planar polygon (K, 3) cut at the near plane; None when nothing is left."""
        cam = self.to_camera(polygon)
        kept = []
        for a, b in zip(cam, np.roll(cam, -1, axis=0), strict=True):
            if a[2] >= near:
                kept.append(a)
            if (a[2] >= near) != (b[2] >= near):
                kept.append(a + (near - a[2]) / (b[2] - a[2]) * (b - a))
        if len(kept) < 3:
            return None
        cam = np.array(kept)
        return np.stack([self.focal * cam[:, 0] / cam[:, 2] + self.cx,
                         self.focal * cam[:, 1] / cam[:, 2] + self.cy], -1)


def look_at_camera(target: np.ndarray, yaw: float, pitch: float, roll: float, distance: float,
                   focal: float, cx: float, cy: float) -> Camera:
    """Camera ``distance`` from ``target``, on the +y side turned by ``yaw``, looking down."""
    back = np.array([np.cos(pitch) * np.sin(yaw), np.cos(pitch) * np.cos(yaw), np.sin(pitch)])
    forward = -back
    right = unit(np.cross(forward, [0.0, 0.0, 1.0]))
    down = np.cross(forward, right)
    c, s = np.cos(roll), np.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    return Camera(target + distance * back, np.stack([right, down, forward]), focal, cx, cy)


def sample_camera(rng: np.random.Generator, cfg: dict, target: np.ndarray,
                  person: np.ndarray, keep_in_view: np.ndarray, width: int,
                  height: int) -> Camera:
    """Random viewpoint framing ``person`` (K, 3; first point the head top, its z range the
    person's height) at a random size and image position, ``keep_in_view`` points inside."""
    yaw, pitch, roll = np.radians([rng.uniform(*cfg["yaw_deg"]), rng.uniform(*cfg["pitch_deg"]),
                                   rng.uniform(*cfg["roll_deg"])])
    focal = width / 2 / np.tan(np.radians(rng.uniform(*cfg["hfov_deg"])) / 2)
    wanted_px = rng.uniform(*cfg["person_height_frac"]) * height
    person_m = np.ptp(person[:, 2])
    distance = focal * person_m / wanted_px
    for _ in range(3):  # the tilt changes the apparent height; scale the distance until it fits
        camera = look_at_camera(target, yaw, pitch, roll, distance, focal, width / 2, height / 2)
        uv, _ = camera.project(person)
        distance *= np.ptp(uv[:, 1]) / wanted_px
    camera = look_at_camera(target, yaw, pitch, roll, distance, focal, width / 2, height / 2)
    uv, _ = camera.project(np.concatenate([person, keep_in_view]))
    margin = cfg["placement_margin_frac"] * width
    shift = []
    for lo_px, hi_px, size in ((uv[:, 0].min(), uv[:, 0].max(), width),
                               (uv[:, 1].min(), uv[:, 1].max(), height)):
        lo, hi = margin - lo_px, size - margin - hi_px
        shift.append(rng.uniform(lo, hi) if lo < hi else (lo + hi) / 2)
    return replace(camera, cx=camera.cx + shift[0], cy=camera.cy + shift[1])


def occluded_by_box(camera_center: np.ndarray, points: np.ndarray, box_min: np.ndarray,
                    box_max: np.ndarray) -> np.ndarray:
    """Whether the line of sight from the camera to each point (..., 3) passes through the box."""
    ray = points - camera_center
    ray = np.where(np.abs(ray) < 1e-12, 1e-12, ray)
    t1, t2 = (box_min - camera_center) / ray, (box_max - camera_center) / ray
    t_enter = np.minimum(t1, t2).max(-1)
    t_exit = np.maximum(t1, t2).min(-1)
    return (t_enter <= t_exit) & (t_exit > 0) & (t_enter < 1 - 1e-6)
