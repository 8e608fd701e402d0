"""Draw a video's ground truth to MP4 the way a workcell camera would see it.

Bodies are filled capsules (limbs, torso, neck) and a head in per-video clothing and skin
colours; the wall, the floor and the bench top carry clutter that is none of the object classes;
objects are drawn as two-tone shapes (a tool's handle and its metal end) with colour variation;
then the camera: lighting gain, tint, flicker and vignetting, blur, sensor noise and JPEG
compression before the MP4 encoder compresses again. The bench hides what is behind it (tested
per sample point along each capsule), held objects cover the hand that holds them and the
operator covers the passer-by walking beyond.

``render_video`` also returns what it drew at the frames asked for (boxes of the visible extent
of every person and object, keypoints with COCO visibility): the COCO export's ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from workcell_synth import body as sk
from workcell_synth.camera import Camera, occluded_by_box
from workcell_synth.objects import ABSENT, HELD
from workcell_synth.scene import OPERATOR_TRACK_ID, VideoTruth
from workcell_synth.workbench import Bench

_BOX_FACES = ((0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5))
# COCO keypoint visibility: 2 visible, 1 labelled but hidden (here: by the bench), 0 outside.
VISIBLE, HIDDEN, OUTSIDE = 2, 1, 0
# Virtual joints appended to the 18 skeleton joints for the capsules of the trunk.
_MID_SHOULDER, _MID_HIP, _HEAD = sk.NUM_JOINTS, sk.NUM_JOINTS + 1, sk.NUM_JOINTS + 2
# (from, to, radius key of render.body_radius_m, colour part) of every capsule, back to front.
_CAPSULES = (
    (sk.L_HIP, sk.L_KNEE, "thigh", "trousers"), (sk.L_KNEE, sk.L_ANKLE, "shank", "trousers"),
    (sk.R_HIP, sk.R_KNEE, "thigh", "trousers"), (sk.R_KNEE, sk.R_ANKLE, "shank", "trousers"),
    (_MID_HIP, _MID_SHOULDER, "torso", "shirt"), (sk.L_HIP, sk.R_HIP, "hips", "trousers"),
    (sk.L_SHOULDER, sk.R_SHOULDER, "shoulders", "shirt"), (_MID_SHOULDER, _HEAD, "neck", "skin"),
    (sk.L_SHOULDER, sk.L_ELBOW, "upper_arm", "shirt"),
    (sk.L_ELBOW, sk.L_WRIST, "forearm", "sleeve"),
    (sk.R_SHOULDER, sk.R_ELBOW, "upper_arm", "shirt"),
    (sk.R_ELBOW, sk.R_WRIST, "forearm", "sleeve"),
)


@dataclass(frozen=True)
class DrawnFrame:
    """What one frame shows: per person (track id, box, (17, 3) keypoints x, y, visibility)
    and per object (class, track id, box); boxes are x0, y0, x1, y1 pixels, clipped."""

    persons: list[tuple[int, list[float], np.ndarray]]
    objects: list[tuple[str, int, list[float]]]


def _cuboid(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(8, 3) corners, index bits x, y, z (as in objects._CORNER_SIGNS)."""
    return np.array([[(lo, hi)[i >> 2 & 1][0], (lo, hi)[i >> 1 & 1][1], (lo, hi)[i & 1][2]]
                     for i in range(8)])


def _fill(img: np.ndarray, camera: Camera, polygon: np.ndarray, near: float, bgr) -> None:
    pts = camera.project_polygon(polygon, near)
    if pts is not None:
        cv2.fillPoly(img, [np.round(pts).astype(np.int32)], bgr, cv2.LINE_AA)


def _color(rng: np.random.Generator, bgr_range) -> tuple[int, ...]:
    return tuple(np.round(rng.uniform(*np.asarray(bgr_range, float))).astype(int).tolist())


def _texture(rng: np.random.Generator, width: int, height: int, cells: int,
             strength: float) -> np.ndarray:
    """Smooth multiplicative shading (H, W, 1) around 1: stains, uneven paint, light spots."""
    coarse = rng.normal(0.0, strength, (cells, max(2, cells * width // height)))
    return 1.0 + cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]


def _wall_clutter(rng: np.random.Generator, img: np.ndarray, cfg: dict) -> None:
    """Shelves, posters, cabinets and cables: rectangles and lines that are no object class."""
    h, w = img.shape[:2]
    for _ in range(rng.integers(*cfg["count"], endpoint=True)):
        bw, bh = rng.uniform(*cfg["size_frac"], 2) * (w, h)
        x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h * cfg["max_top_frac"])
        color = _color(rng, cfg["bgr"])
        if rng.uniform() < cfg["line_prob"]:
            cv2.line(img, (int(x0), int(y0)), (int(x0 + bw), int(y0 + bh)), color,
                     int(rng.integers(1, 4)), cv2.LINE_AA)
        else:
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + bw), int(y0 + bh)), color, -1)


def _bench_clutter(rng: np.random.Generator, img: np.ndarray, camera: Camera, bench: Bench,
                   near: float, cfg: dict) -> None:
    """Flat things lying on the bench top (papers, mats, trays): quads in the top's plane."""
    z = bench.top_z + 1e-3
    for _ in range(rng.integers(*cfg["count"], endpoint=True)):
        sx, sy = rng.uniform(*cfg["size_m"], 2)
        cx, cy = rng.uniform(bench.x0 + sx / 2, bench.x1 - sx / 2), \
            rng.uniform(bench.y0 + sy / 2, bench.y1 - sy / 2)
        angle = rng.uniform(0, np.pi)
        c, s = np.cos(angle), np.sin(angle)
        quad = np.array([[cx + c * dx - s * dy, cy + s * dx + c * dy, z]
                         for dx, dy in ((-sx / 2, -sy / 2), (sx / 2, -sy / 2),
                                        (sx / 2, sy / 2), (-sx / 2, sy / 2))])
        _fill(img, camera, quad, near, _color(rng, cfg["bgr"]))


def _background(rng: np.random.Generator, camera: Camera, bench: Bench, width: int, height: int,
                near: float, cfg: dict) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = _color(rng, cfg["wall_bgr"])
    _wall_clutter(rng, img, cfg["wall_clutter"])
    half = cfg["floor_half_size_m"]
    floor = np.array([[-half, -half, 0.0], [half, -half, 0.0], [half, half, 0.0], [-half, half, 0]])
    _fill(img, camera, floor, near, _color(rng, cfg["floor_bgr"]))
    top_bgr, side_bgr = _color(rng, cfg["bench_top_bgr"]), _color(rng, cfg["bench_side_bgr"])
    lo, hi = bench.occluder()
    if bench.is_open:
        for x in (bench.x0, bench.x1):
            for y in (bench.y0, bench.y1):
                uv, depth = camera.project(np.array([[x, y, 0.0], [x, y, lo[2]]]))
                if (depth > near).all():
                    cv2.line(img, *np.round(uv).astype(int).tolist(), side_bgr,
                             cfg["table_leg_px"], cv2.LINE_AA)
    corners = _cuboid(lo, hi)
    faces = sorted(_BOX_FACES, key=lambda f: -np.linalg.norm(corners[list(f)].mean(0)
                                                              - camera.center))
    for face in faces:
        top = all(corners[i][2] == hi[2] for i in face)
        _fill(img, camera, corners[list(face)], near, top_bgr if top else side_bgr)
    _bench_clutter(rng, img, camera, bench, near, cfg["bench_clutter"])
    shaded = img * _texture(rng, width, height, cfg["texture_cells"], cfg["texture_strength"])
    return np.clip(shaded, 0, 255).astype(np.uint8)


def _palette(rng: np.random.Generator, cfg: dict) -> dict[str, tuple[int, ...]]:
    colors = {part: _color(rng, cfg[f"{part}_bgr"]) for part in ("skin", "shirt", "trousers",
                                                                 "hair")}
    colors["sleeve"] = colors["skin"] if rng.uniform() < cfg["short_sleeve_prob"] \
        else colors["shirt"]
    return colors


class _Figure:
    """Pre-projected capsule samples of one person, split where the bench hides them."""

    def __init__(self, joints: np.ndarray, present: np.ndarray, camera: Camera,
                 occluder: tuple[np.ndarray, np.ndarray], colors: dict, cfg: dict):
        head = joints[:, [sk.L_EAR, sk.R_EAR, sk.HEAD_TOP]].mean(1)
        joints = np.concatenate([joints, ((joints[:, sk.L_SHOULDER] + joints[:, sk.R_SHOULDER])
                                          / 2)[:, None],
                                 ((joints[:, sk.L_HIP] + joints[:, sk.R_HIP]) / 2)[:, None],
                                 head[:, None]], 1)
        self.present = present
        self.colors = [colors[part] for *_, part in _CAPSULES] + [colors["skin"], colors["hair"]]
        s = np.linspace(0.0, 1.0, cfg["limb_samples"])[:, None]
        a, b = joints[:, [c[0] for c in _CAPSULES]], joints[:, [c[1] for c in _CAPSULES]]
        points = a[:, :, None] + s * (b - a)[:, :, None]            # (T, L, S, 3)
        uv, depth = camera.project(points)
        self.uv = np.round(uv).astype(np.int32)
        self.visible = ~occluded_by_box(camera.center, points, *occluder) & (depth > 0.0)
        radius_m = np.array([cfg["body_radius_m"][c[2]] for c in _CAPSULES])
        self.radius = np.maximum(np.round(camera.focal * radius_m
                                          / np.maximum(depth.mean(-1), 1e-3)), 1).astype(int)
        head_uv, head_depth = camera.project(head)
        self.head = np.round(head_uv).astype(np.int32)
        self.head_px = np.maximum(np.round(camera.focal * cfg["body_radius_m"]["head"]
                                           / np.maximum(head_depth, 1e-3)), 2).astype(int)
        self.head_visible = ~occluded_by_box(camera.center, head, *occluder) & (head_depth > 0)

    def draw(self, img: np.ndarray, t: int) -> None:
        if not self.present[t]:
            return
        for limb in range(len(_CAPSULES)):
            vis, uv, width = self.visible[t, limb], self.uv[t, limb], 2 * self.radius[t, limb]
            for k in range(len(vis) - 1):
                if vis[k] and vis[k + 1]:
                    cv2.line(img, uv[k].tolist(), uv[k + 1].tolist(), self.colors[limb],
                             int(width), cv2.LINE_AA)
        if self.head_visible[t]:
            center, r = self.head[t].tolist(), int(self.head_px[t])
            cv2.circle(img, center, r, self.colors[-2], -1, cv2.LINE_AA)
            cv2.ellipse(img, center, (r, r), 0, 180, 360, self.colors[-1], -1, cv2.LINE_AA)

    def box(self, t: int, width: int, height: int) -> list[float] | None:
        """Bounds of what is drawn of the person in frame ``t``, clipped to the image."""
        if not self.present[t]:
            return None
        vis = self.visible[t]
        r = np.broadcast_to(self.radius[t][:, None, None], (*vis.shape, 1))
        lo = [self.uv[t][vis] - r[vis]]
        hi = [self.uv[t][vis] + r[vis]]
        if self.head_visible[t]:
            lo.append(self.head[t][None] - self.head_px[t])
            hi.append(self.head[t][None] + self.head_px[t])
        lo, hi = np.concatenate(lo), np.concatenate(hi)
        if not len(lo):
            return None
        return _clip_box(lo.min(0), hi.max(0), width, height)


def _clip_box(lo: np.ndarray, hi: np.ndarray, width: int, height: int) -> list[float] | None:
    x0, y0 = max(float(lo[0]), 0.0), max(float(lo[1]), 0.0)
    x1, y1 = min(float(hi[0]), width - 1.0), min(float(hi[1]), height - 1.0)
    return [x0, y0, x1, y1] if x1 > x0 and y1 > y0 else None


def _keypoints(joints: np.ndarray, camera: Camera, occluder, width: int,
               height: int) -> np.ndarray:
    """(T, 17, 3) true pixel keypoints with COCO visibility."""
    coco = joints[:, :sk.NUM_COCO_JOINTS]
    uv, depth = camera.project(coco)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) \
        & (uv[..., 1] < height) & (depth > 0)
    hidden = occluded_by_box(camera.center, coco, *occluder)
    vis = np.where(inside, np.where(hidden, HIDDEN, VISIBLE), OUTSIDE)
    return np.concatenate([np.where(inside[..., None], uv, 0.0), vis[..., None]], -1)


@dataclass(frozen=True)
class _ObjectShape:
    cls: str
    track_id: int
    uv: np.ndarray          # (T, 8, 2) projected corners
    shown: np.ndarray       # (T,)
    primary: tuple[int, ...]
    secondary: tuple[int, ...]


def _object_shapes(rng: np.random.Generator, truth: VideoTruth, near: float,
                   cfg: dict) -> tuple[list[_ObjectShape], list[_ObjectShape]]:
    """(lying all video long, ever held): the first are drawn under the arms."""
    on_bench, handled = [], []
    for obj in truth.objects:
        uv, depth = truth.camera.project(obj.corners())
        style = cfg["objects"][obj.cls]
        shape = _ObjectShape(obj.cls, obj.track_id, np.round(uv).astype(np.int32),
                             (obj.state != ABSENT) & (depth > near).all(-1),
                             _color(rng, style["primary_bgr"]), _color(rng, style["secondary_bgr"]))
        (handled if (obj.state == HELD).any() else on_bench).append(shape)
    return on_bench, handled


def _sub_box(corners: np.ndarray, a: float, b: float) -> np.ndarray:
    """The corners of the part of a projected cuboid from fraction ``a`` to ``b`` of its long
    (first) axis: interpolated in the image, close enough for objects this small."""
    low, high = corners[:4], corners[4:]
    return np.concatenate([low + a * (high - low), low + b * (high - low)]).round().astype(np.int32)


def _draw_object(img: np.ndarray, shape: _ObjectShape, t: int, cfg: dict) -> None:
    """A cup is an ellipse with a rim, a box gets tape, tools are two-tone along their length
    (``split``: where the primary part, the handle or body, ends)."""
    corners = shape.uv[t]
    (x0, y0), (x1, y1) = corners.min(0).tolist(), corners.max(0).tolist()
    if shape.cls == "cup":
        center, axes = ((x0 + x1) // 2, (y0 + y1) // 2), (max((x1 - x0) // 2, 1),
                                                          max((y1 - y0) // 2, 1))
        cv2.ellipse(img, center, axes, 0, 0, 360, shape.primary, -1, cv2.LINE_AA)
        cv2.ellipse(img, center, axes, 0, 0, 360, shape.secondary, 1, cv2.LINE_AA)
        return
    split = cfg["objects"][shape.cls]["split"]
    parts = [(0.0, split, shape.primary)] + ([(split, 1.0, shape.secondary)] if split < 1 else [])
    for a, b, color in parts:
        hull = cv2.convexHull(_sub_box(corners, a, b))
        cv2.fillConvexPoly(img, hull, color, cv2.LINE_AA)
    cv2.polylines(img, [cv2.convexHull(corners)], True, cfg["outline_bgr"], 1, cv2.LINE_AA)
    if shape.cls == "box":
        cv2.line(img, (x0, y0), (x1, y1), shape.secondary, 1, cv2.LINE_AA)
        cv2.line(img, (x0, y1), (x1, y0), shape.secondary, 1, cv2.LINE_AA)


# Sensor noise comes from a bank of this many frames per video, drawn anew for every frame
# from the bank: a fresh Gaussian frame per frame would triple the rendering time.
_NOISE_BANK = 8


@dataclass(frozen=True)
class _Camera:
    """Per-video sensor: gain and tint, flicker, vignette, blur, noise, JPEG quality."""

    gain: np.ndarray        # (H, W, 3) lighting, tint and vignette
    flicker: float
    flicker_hz: float
    blur_sigma: float
    noise: np.ndarray       # (_NOISE_BANK, H, W, 3) float32
    jpeg_quality: int

    @classmethod
    def sample(cls, rng: np.random.Generator, width: int, height: int, cfg: dict) -> _Camera:
        y, x = np.mgrid[0:height, 0:width]
        r2 = ((x - width / 2) ** 2 + (y - height / 2) ** 2) / ((width / 2) ** 2
                                                               + (height / 2) ** 2)
        vignette = 1.0 - rng.uniform(*cfg["vignette"]) * r2
        gain = rng.uniform(*cfg["gain"]) * rng.uniform(*cfg["tint"], 3) * vignette[..., None]
        flicker, flicker_hz = rng.uniform(*cfg["flicker"]), rng.uniform(*cfg["flicker_hz"])
        blur = rng.uniform(*cfg["blur_sigma"])
        noise = rng.normal(0.0, rng.uniform(*cfg["noise_sigma"]),
                           (_NOISE_BANK, height, width, 3)).astype(np.float32)
        return cls(gain.astype(np.float32), flicker, flicker_hz, blur, noise,
                   int(rng.integers(*cfg["jpeg_quality"])))

    def expose(self, rng: np.random.Generator, img: np.ndarray, t: int, fps: float) -> np.ndarray:
        light = 1.0 + self.flicker * np.sin(2 * np.pi * self.flicker_hz * t / fps)
        out = cv2.multiply(img.astype(np.float32), self.gain, scale=light)
        if self.blur_sigma > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), self.blur_sigma)
        out = cv2.add(out, self.noise[rng.integers(_NOISE_BANK)])
        ok, jpeg = cv2.imencode(".jpg", np.clip(out, 0, 255).astype(np.uint8),
                                [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding of a rendered frame failed")
        return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def render_video(path: str | Path, truth: VideoTruth, rng: np.random.Generator, fps: float,
                 width: int, height: int, near: float, cfg: dict,
                 annotate_frames: tuple[int, ...] = ()) -> dict[int, DrawnFrame]:
    """Write ``truth`` as an MP4 ('mp4v') of ``truth.frame_count`` frames; return what frames
    ``annotate_frames`` show."""
    camera = truth.camera
    background = _background(rng, camera, truth.bench, width, height, near, cfg)
    occluder = truth.bench.occluder()
    # The passer-by walks beyond the operator: draw the operator last.
    persons = sorted(truth.persons, key=lambda p: p.track_id == OPERATOR_TRACK_ID)
    figures = [_Figure(p.joints, p.present, camera, occluder, _palette(rng, cfg["clothes"]),
                       cfg) for p in persons]
    on_bench, handled = _object_shapes(rng, truth, near, cfg)
    sensor = _Camera.sample(rng, width, height, cfg["sensor"])
    drawn = {}
    for t in annotate_frames:
        person_rows = [(p.track_id, box, _keypoints(p.joints[t:t + 1], camera, occluder, width,
                                                    height)[0])
                       for p, f in zip(persons, figures, strict=True)
                       if (box := f.box(t, width, height)) is not None]
        object_rows = [(s.cls, s.track_id, box) for s in on_bench + handled if s.shown[t]
                       and (box := _clip_box(s.uv[t].min(0), s.uv[t].max(0), width, height))]
        drawn[t] = DrawnFrame(person_rows, object_rows)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot open a video writer for {path}")
    try:
        for t in range(truth.frame_count):
            img = background.copy()
            for shape in on_bench:
                if shape.shown[t]:
                    _draw_object(img, shape, t, cfg)
            for figure in figures:
                figure.draw(img, t)
            for shape in handled:
                if shape.shown[t]:
                    _draw_object(img, shape, t, cfg)
            writer.write(sensor.expose(rng, img, t, fps))
    finally:
        writer.release()
    return drawn
