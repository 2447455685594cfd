"""A synthetic multi-camera scene with known 3D people, for the real-set tests."""

from __future__ import annotations

import numpy as np

from stdformer.eval import multiview as mv

# A standing person (x = their left, y = up, z = forward), metres, MediaPipe-33 order.
_TEMPLATE = np.array([
    [0, 1.62, .09], [.03, 1.66, .08], [.045, 1.66, .07], [.06, 1.66, .06], [-.03, 1.66, .08],
    [-.045, 1.66, .07], [-.06, 1.66, .06], [.08, 1.64, 0], [-.08, 1.64, 0], [.025, 1.57, .08],
    [-.025, 1.57, .08], [.19, 1.42, 0], [-.19, 1.42, 0], [.22, 1.13, -.02], [-.22, 1.13, -.02],
    [.24, .88, .03], [-.24, .88, .03], [.25, .82, .03], [-.25, .82, .03], [.24, .81, .05],
    [-.24, .81, .05], [.22, .84, .05], [-.22, .84, .05], [.1, .95, 0], [-.1, .95, 0],
    [.11, .52, .02], [-.11, .52, .02], [.12, .09, -.02], [-.12, .09, -.02], [.12, .04, -.07],
    [-.12, .04, -.07], [.13, .02, .12], [-.13, .02, .12],
])  # fmt: skip


def look_at(center: np.ndarray, target: np.ndarray, name: str) -> mv.Camera:
    """A 1088x1920 portrait camera at `center` looking at `target` (world z up)."""
    fwd = (target - center) / np.linalg.norm(target - center)
    right = np.cross(fwd, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd])
    K = np.array([[1680.0, 0, 544], [0, 1680, 960], [0, 0, 1]])
    return mv.Camera(name, K, R, -R @ center, (1088, 1920))


def rig() -> list[mv.Camera]:
    target = np.array([0, 0, 0.9])
    return [look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 1.8]), target, f"cam0{i + 1}")
            for i, a in enumerate(np.radians([-60, 30, 120, 210]))]  # fmt: skip


def person(T: int, offset: np.ndarray, heading: float) -> np.ndarray:
    """(T, 33, 3) world points of a person walking slowly and swinging the arms (z up)."""
    c, s = np.cos(heading), np.sin(heading)
    # template axes (left, up, forward) -> world
    basis = np.array([[-c, 0, -s], [-s, 0, c], [0, 1.0, 0]])  # columns: left, up, forward
    out = []
    for t in range(T):
        p = _TEMPLATE.copy()
        p[[15, 17, 19, 21], 2] += 0.15 * np.sin(t / 8)  # left hand swings
        p[[16, 18, 20, 22], 2] -= 0.15 * np.sin(t / 8)
        world = p @ basis.T + offset + np.array([0.004 * t, 0, 0])
        out.append(world)
    return np.stack(out)


def observe(cams: list[mv.Camera], X: np.ndarray, rng, noise_px: float = 1.5):
    """uv (C, T, 33, 2) with noise, w (C, T, 33) confidences."""
    uv = np.stack([c.project(X) for c in cams]) + rng.normal(
        0, noise_px, (len(cams), *X.shape[:2], 2)
    )
    w = np.full(uv.shape[:3], 0.9)
    return uv, w
