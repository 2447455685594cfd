"""Fixtures for the renderer tests: one GL context per test module, made in the test thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import trimesh

from stdformer.render.renderer import OffscreenRenderer


@pytest.fixture(scope="module")
def renderer() -> Iterator[OffscreenRenderer]:
    r = OffscreenRenderer(640, 480)
    yield r
    r.close()


def _uv_sphere(
    center: tuple[float, float, float], radius: float, rings: int = 16, segments: int = 24
) -> tuple[np.ndarray, np.ndarray]:
    """A closed sphere mesh: vertices (V, 3) float32, faces (F, 3) int32."""
    sphere = trimesh.creation.uv_sphere(radius=radius, count=[rings, segments])
    verts = np.asarray(center, np.float32) + sphere.vertices.astype(np.float32)
    return verts, sphere.faces.astype(np.int32)


def _standing_landmarks() -> np.ndarray:
    """33 MediaPipe-style world landmarks (y down, hip-centred) of a person standing, (33, 3)."""
    lm = np.zeros((33, 3), np.float32)
    joints = {
        0: (0.0, -0.62, -0.05),
        11: (0.18, -0.45, 0.0), 12: (-0.18, -0.45, 0.0),
        13: (0.22, -0.18, 0.0), 14: (-0.22, -0.18, 0.0),
        15: (0.24, 0.08, 0.0), 16: (-0.24, 0.08, 0.0),
        23: (0.1, 0.0, 0.0), 24: (-0.1, 0.0, 0.0),
        25: (0.11, 0.42, 0.0), 26: (-0.11, 0.42, 0.0),
        27: (0.11, 0.82, 0.0), 28: (-0.11, 0.82, 0.0),
    }  # fmt: skip
    for i, xyz in joints.items():
        lm[i] = xyz
    for i in range(1, 11):  # face points around the nose
        lm[i] = lm[0] + (0.03 * (1 if i in (1, 2, 3, 7, 9) else -1), -0.02, 0.0)
    for i, src in ((17, 15), (19, 15), (21, 15), (18, 16), (20, 16), (22, 16)):
        lm[i] = lm[src] + (0.0, 0.06, 0.0)
    for i, src in ((29, 27), (31, 27), (30, 28), (32, 28)):
        lm[i] = lm[src] + (0.0, 0.05, -0.08 if i in (31, 32) else 0.03)
    return lm


@pytest.fixture
def make_sphere() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """Factory: make_sphere(center, radius) -> (vertices (V, 3), faces (F, 3))."""
    return _uv_sphere


@pytest.fixture
def standing_landmarks() -> np.ndarray:  # (33, 3) MediaPipe world axes (y down), metres
    return _standing_landmarks()
