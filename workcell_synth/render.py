"""Draw a video's ground truth to MP4: wall, floor, bench, stick figures and object shapes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from workcell_synth import body as sk
from workcell_synth.camera import Camera, occluded_by_box
from workcell_synth.objects import ABSENT, HELD
from workcell_synth.scene import OPERATOR_TRACK_ID, VideoTruth
from workcell_synth.workbench import Bench

_BOX_FACES = ((0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5))


def _cuboid(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(8, 3) corners, index bits x, y, z (as in objects._CORNER_SIGNS)."""
    return np.array([[(lo, hi)[i >> 2 & 1][0], (lo, hi)[i >> 1 & 1][1], (lo, hi)[i & 1][2]]
                     for i in range(8)])


def _fill(img: np.ndarray, camera: Camera, polygon: np.ndarray, near: float, bgr) -> None:
    pts = camera.project_polygon(polygon, near)
    if pts is not None:
        cv2.fillPoly(img, [np.round(pts).astype(np.int32)], bgr, cv2.LINE_AA)


def _random_color(rng: np.random.Generator, bgr_range: tuple) -> tuple[int, ...]:
    return tuple(np.round(rng.uniform(*np.asarray(bgr_range, float))).astype(int).tolist())


def _background(rng: np.random.Generator, camera: Camera, bench: Bench, width: int, height: int,
                near: float, cfg: dict) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = _random_color(rng, cfg["wall_bgr"])
    half = cfg["floor_half_size_m"]
    floor = np.array([[-half, -half, 0.0], [half, -half, 0.0], [half, half, 0.0], [-half, half, 0]])
    _fill(img, camera, floor, near, _random_color(rng, cfg["floor_bgr"]))
    lo, hi = bench.occluder()
    if bench.is_open:
        for x in (bench.x0, bench.x1):
            for y in (bench.y0, bench.y1):
                uv, depth = camera.project(np.array([[x, y, 0.0], [x, y, lo[2]]]))
                if (depth > near).all():
                    cv2.line(img, *np.round(uv).astype(int).tolist(), cfg["bench_side_bgr"],
                             cfg["table_leg_px"], cv2.LINE_AA)
    corners = _cuboid(lo, hi)
    faces = sorted(_BOX_FACES, key=lambda f: -np.linalg.norm(corners[list(f)].mean(0)
                                                              - camera.center))
    for face in faces:
        top = all(corners[i][2] == hi[2] for i in face)
        _fill(img, camera, corners[list(face)], near,
              cfg["bench_top_bgr"] if top else cfg["bench_side_bgr"])
    return img


class _Figure:
    """Pre-projected limb samples of one person, split where the bench hides them."""

    def __init__(self, joints: np.ndarray, present: np.ndarray, camera: Camera,
                 occluder: tuple[np.ndarray, np.ndarray], colors: list, samples: int):
        self.limbs = sk.LEFT_LIMBS + sk.RIGHT_LIMBS + sk.CENTER_LIMBS
        self.colors, self.present = colors, present
        s = np.linspace(0.0, 1.0, samples)[:, None]
        a, b = joints[:, [i for i, _ in self.limbs]], joints[:, [j for _, j in self.limbs]]
        points = a[:, :, None] + s * (b - a)[:, :, None]            # (T, L, S, 3)
        uv, depth = camera.project(points)
        self.uv = np.round(uv).astype(np.int32)
        self.visible = ~occluded_by_box(camera.center, points, *occluder) & (depth > 0.0)
        head = joints[:, [sk.L_EAR, sk.R_EAR, sk.HEAD_TOP]]
        head_uv, head_depth = camera.project(head.mean(1))
        self.head = np.round(head_uv).astype(np.int32)
        radius = np.linalg.norm(head[:, 0] - head[:, 1], axis=-1) / 2
        self.head_px = np.round(camera.focal * radius / np.maximum(head_depth, 1e-3)).astype(int)
        self.head_visible = ~occluded_by_box(camera.center, head.mean(1), *occluder) \
            & (head_depth > 0.0)

    def draw(self, img: np.ndarray, t: int, line_px: int, joint_px: int) -> None:
        if not self.present[t]:
            return
        for limb in range(len(self.limbs)):
            vis, uv = self.visible[t, limb], self.uv[t, limb]
            pairs = [uv[k:k + 2] for k in range(len(vis) - 1) if vis[k] and vis[k + 1]]
            if pairs:
                cv2.polylines(img, pairs, False, self.colors[limb], line_px, cv2.LINE_AA)
            for end in (0, -1):
                if vis[end]:
                    cv2.circle(img, uv[end].tolist(), joint_px, self.colors[limb], -1,
                               cv2.LINE_AA)
        if self.head_visible[t]:
            cv2.circle(img, self.head[t].tolist(), max(int(self.head_px[t]), 2),
                       self.colors[-1], line_px, cv2.LINE_AA)


def render_video(path: str | Path, truth: VideoTruth, rng: np.random.Generator, fps: float,
                 width: int, height: int, near: float, cfg: dict) -> None:
    """Write ``truth`` as an MP4 ('mp4v') of ``truth.frame_count`` frames."""
    camera = truth.camera
    background = _background(rng, camera, truth.bench, width, height, near, cfg)
    occluder = truth.bench.occluder()
    figures = []
    # The passer-by walks beyond the operator: draw the operator last.
    for person in sorted(truth.persons, key=lambda p: p.track_id == OPERATOR_TRACK_ID):
        if person.track_id == OPERATOR_TRACK_ID:
            oc = cfg["operator_bgr"]
            colors = [oc["left"]] * len(sk.LEFT_LIMBS) + [oc["right"]] * len(sk.RIGHT_LIMBS) \
                + [oc["center"]] * len(sk.CENTER_LIMBS)
        else:
            colors = [cfg["passerby_bgr"]] * len(sk.LEFT_LIMBS + sk.RIGHT_LIMBS + sk.CENTER_LIMBS)
        figures.append(_Figure(person.joints, person.present, camera, occluder, colors,
                               cfg["limb_samples"]))
    # Objects that stay on the bench go under the arms, objects that are ever held over them.
    on_bench, handled = [], []
    for obj in truth.objects:
        uv, depth = camera.project(obj.corners())
        shown = (obj.state != ABSENT) & (depth > near).all(-1)
        shape = (obj.cls, np.round(uv).astype(np.int32), shown)
        (handled if (obj.state == HELD).any() else on_bench).append(shape)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot open a video writer for {path}")
    try:
        for t in range(truth.frame_count):
            img = background.copy()
            _draw_objects(img, on_bench, t, cfg["object_bgr"])
            for figure in figures:
                figure.draw(img, t, cfg["line_px"], cfg["joint_px"])
            _draw_objects(img, handled, t, cfg["object_bgr"])
            writer.write(img)
    finally:
        writer.release()


def _draw_objects(img: np.ndarray, shapes: list, t: int, colors: dict) -> None:
    for cls, uv, shown in shapes:
        if shown[t]:
            _draw_object(img, cls, uv[t], colors[cls])


def _draw_object(img: np.ndarray, cls: str, corners_uv: np.ndarray, bgr) -> None:
    """Cuboid silhouette in the class colour; a cup is an ellipse, a box gets a cross."""
    if cls == "cup":
        (x0, y0), (x1, y1) = corners_uv.min(0).tolist(), corners_uv.max(0).tolist()
        cv2.ellipse(img, ((x0 + x1) // 2, (y0 + y1) // 2),
                    (max((x1 - x0) // 2, 1), max((y1 - y0) // 2, 1)), 0, 0, 360, bgr, -1,
                    cv2.LINE_AA)
        return
    hull = cv2.convexHull(corners_uv)
    cv2.fillConvexPoly(img, hull, bgr, cv2.LINE_AA)
    cv2.polylines(img, [hull], True, (0, 0, 0), 1, cv2.LINE_AA)
    if cls == "box":
        (x0, y0), (x1, y1) = corners_uv.min(0).tolist(), corners_uv.max(0).tolist()
        cv2.line(img, (x0, y0), (x1, y1), (0, 0, 0), 1, cv2.LINE_AA)
        cv2.line(img, (x0, y1), (x1, y0), (0, 0, 0), 1, cv2.LINE_AA)
