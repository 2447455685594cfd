"""Pure geometry behind the renderer: frames, orbit camera, normals, skeleton mesh."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from stdformer.body.surface import vertex_normals
from stdformer.detect.pose_topology import POSE_CONNECTIONS
from stdformer.render.geometry import (
    VIEW_MARGIN,
    OrbitCamera,
    as_float_rgba,
    frame_box,
    skeleton_mesh,
    yup_from_opencv,
)


def test_yup_from_opencv_flips_y_and_z() -> None:
    p = np.array([[0.1, -0.5, 2.0]])  # right, above the optical axis, 2 m ahead
    np.testing.assert_allclose(yup_from_opencv(p), [[0.1, 0.5, -2.0]])


@pytest.mark.parametrize(
    ("az", "el", "eye"),
    [(0, 0, (0, 1, 2)), (90, 0, (2, 1, 0)), (180, 0, (0, 1, -2)), (0, 90, (0, 3, 0))],
)
def test_orbit_camera_eye_and_aim(az: float, el: float, eye: tuple[float, ...]) -> None:
    cam = OrbitCamera(azimuth_deg=az, elevation_deg=el, distance_m=2.0, target=(0, 1, 0))
    np.testing.assert_allclose(cam.eye(), eye, atol=1e-9)
    pose = cam.pose_world_from_gl()
    np.testing.assert_allclose(pose[:3, 3], eye, atol=1e-9)
    # OpenGL cameras look down their -z axis: it must point at the target.
    np.testing.assert_allclose(-pose[:3, 2], (np.array([0, 1, 0]) - eye) / 2.0, atol=1e-9)
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-9)


def test_orbit_zoom_pan_clamp_and_wrap() -> None:
    cam = OrbitCamera(azimuth_deg=170.0, elevation_deg=80.0, distance_m=1.0)
    moved = cam.orbit(20.0, 30.0)
    assert moved.azimuth_deg == pytest.approx(-170.0)
    assert moved.elevation_deg == OrbitCamera.MAX_ELEVATION_DEG
    assert cam.zoom(0.5).distance_m == pytest.approx(0.5)
    assert cam.zoom(1e-6).distance_m == OrbitCamera.MIN_DISTANCE_M
    with pytest.raises(ValueError):
        cam.zoom(0.0)
    front = OrbitCamera(elevation_deg=0.0, distance_m=2.0)
    np.testing.assert_allclose(front.pan(0.5, 0.25).target, (0.5, 0.25, 0.0), atol=1e-9)
    assert cam == OrbitCamera(170.0, 80.0, 1.0, np.zeros(3))  # ndarray target -> tuple
    assert hash(cam) == hash(OrbitCamera(170.0, 80.0, 1.0, (0.0, 0.0, 0.0)))


def _ndc(cam: OrbitCamera, points: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """(N, 2) normalised image coordinates of world points: inside the view where |x|, |y| <= 1."""
    pose = cam.pose_world_from_gl()
    p = (points - pose[:3, 3]) @ pose[:3, :3]  # (N, 3) OpenGL camera axes, looking down -z
    tan_v = np.tan(np.radians(cam.yfov_deg) / 2)
    aspect = size_wh[0] / size_wh[1]
    return np.stack([p[:, 0] / -p[:, 2] / (tan_v * aspect), p[:, 1] / -p[:, 2] / tan_v], 1)


@pytest.mark.parametrize(
    ("half", "size_wh", "limit"),
    [((0.3, 0.9, 0.2), (480, 480), 1), ((1.0, 0.25, 0.2), (640, 360), 0)],
)
def test_frame_box_fills_the_view_with_the_limiting_side(half, size_wh, limit) -> None:
    """A standing body in a square view is framed by its height, a wide one in a wide view by
    its width: that side fills 1 / VIEW_MARGIN of the view, every corner is inside."""
    centre = np.array([0.2, 0.9, -0.1])
    lo, hi = centre - half, centre + half
    cam = frame_box(lo, hi, size_wh, elevation_deg=0.0)
    assert cam.target == pytest.approx(tuple(centre))
    corners = np.array(list(itertools.product(*zip(lo, hi, strict=True))))  # (8, 3)
    extent = np.abs(_ndc(cam, corners, size_wh)).max(0)  # (2,) x, y
    assert extent[limit] == pytest.approx(1 / VIEW_MARGIN)  # the near face, tight
    assert extent[1 - limit] < 1 / VIEW_MARGIN
    tilted = frame_box(lo, hi, size_wh, azimuth_deg=30.0)  # orbit: same distance, all inside
    assert tilted.distance_m == cam.distance_m
    assert (np.abs(_ndc(tilted, corners, size_wh)) < 1).all()


def test_vertex_normals_of_flat_square_and_tetrahedron() -> None:
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    n = vertex_normals(square, np.array([[0, 1, 2], [0, 2, 3]]))
    np.testing.assert_allclose(n, np.tile([0, 0, 1], (4, 1)), atol=1e-6)
    tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
    faces = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
    n = vertex_normals(tet, faces)
    np.testing.assert_allclose(n, tet / np.sqrt(3), atol=1e-6)  # outward at every corner
    assert (
        n.dtype == np.float64 and vertex_normals(tet.astype(np.float32), faces).dtype == np.float32
    )


def test_integer_colours_are_scaled_to_unit_floats() -> None:
    c = as_float_rgba(np.array([[255, 0, 128]], np.uint8), 1)
    np.testing.assert_allclose(c, [[1.0, 0.0, 128 / 255, 1.0]], atol=1e-6)
    with pytest.raises(ValueError):
        as_float_rgba(np.ones((2, 3)), 3)


def test_skeleton_mesh_counts_and_hidden_joints() -> None:
    joints = np.random.default_rng(0).normal(size=(33, 3))
    pos, nrm, col, faces = skeleton_mesh(joints, segments=8)
    sphere_v = len(skeleton_mesh(joints[:1], bones=())[0])
    assert len(pos) == 33 * sphere_v + len(POSE_CONNECTIONS) * 16
    assert faces.max() < len(pos) and col.shape == (len(pos), 4)
    np.testing.assert_allclose(np.linalg.norm(nrm, axis=1), 1.0, atol=1e-5)
    joints[5] = np.nan  # a missing landmark drops its sphere and bones, without NaNs
    pos_nan = skeleton_mesh(joints, segments=8)[0]
    n_bones_5 = sum(5 in b for b in POSE_CONNECTIONS)
    assert len(pos_nan) == 32 * sphere_v + (len(POSE_CONNECTIONS) - n_bones_5) * 16
    assert np.isfinite(pos_nan).all()
    empty = skeleton_mesh(joints, visibility=np.zeros(33), min_visibility=0.5)
    assert all(len(a) == 0 for a in empty)
