"""Smooth curves over an action's frames: keyframe paths, fades and periodic profiles.

Time is normalized: frame i of n sits at (i + 0.5) / n.
"""

from __future__ import annotations

import numpy as np


def min_jerk(s: np.ndarray) -> np.ndarray:
    return s**3 * (10 - 15 * s + 6 * s**2)


def keyframes(n: int, times: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n, 3) path through ``points`` at normalized ``times`` (first 0, last 1), min-jerk."""
    u = (np.arange(n) + 0.5) / n
    i = np.clip(np.searchsorted(times, u, side="right") - 1, 0, len(times) - 2)
    s = np.clip((u - times[i]) / np.maximum(times[i + 1] - times[i], 1e-6), 0.0, 1.0)
    return points[i] + min_jerk(s)[:, None] * (points[i + 1] - points[i])


def window(n: int, start: float, end: float, ramp: float) -> np.ndarray:
    """(n,) 1 inside [start, end] of the action, fading to 0 over ``ramp`` at both ends."""
    u = (np.arange(n) + 0.5) / n
    return min_jerk(np.clip((u - start) / ramp, 0, 1)) * min_jerk(np.clip((end - u) / ramp, 0, 1))


def cycle_phase(rng: np.random.Generator, n: int, fps: float, speed: float,
                hz: tuple) -> np.ndarray:
    """(n,) cycles completed since the start (random frequency in ``hz`` times ``speed``, random
    phase)."""
    return rng.uniform(*hz) * speed * np.arange(n) / fps + rng.uniform()


def sawtooth(phase: np.ndarray, rise: float) -> np.ndarray:
    """0 -> 1 smoothly over the first ``rise`` of each cycle, then back to 0 faster."""
    frac = phase % 1.0
    up = 0.5 - 0.5 * np.cos(np.pi * frac / rise)
    down = 0.5 + 0.5 * np.cos(np.pi * (frac - rise) / (1 - rise))
    return np.where(frac < rise, up, down)
