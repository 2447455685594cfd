"""Offscreen renderer: mesh, overlay projection, skeleton, orbit and thread binding."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from stdformer.detect.pose_topology import POSE_LANDMARK_NAMES
from stdformer.render.gl_platform import RenderError
from stdformer.render.renderer import (
    BACKGROUND_RGB,
    OffscreenRenderer,
    OrbitCamera,
    yup_from_opencv,
)

BG = np.round(np.array(BACKGROUND_RGB) * 255).astype(int)


def _differs_from_background(rgb: np.ndarray) -> np.ndarray:  # (H, W) bool
    return np.abs(rgb.astype(int) - BG).max(axis=-1) > 12


def test_view_draws_mesh_at_image_centre(renderer: OffscreenRenderer, make_sphere) -> None:
    verts, faces = make_sphere((0.0, 1.0, 0.0), 0.3)
    cam = OrbitCamera(azimuth_deg=0, elevation_deg=0, distance_m=3.0, target=(0.0, 1.0, 0.0))
    # floor_y far below puts the grid out of this horizontal view: only the sphere is drawn.
    rgb = renderer.render_view_rgb(cam, vertices_world=verts, faces=faces, floor_y=-5.0)
    assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8
    ys, xs = np.nonzero(_differs_from_background(rgb))
    # Sphere of radius 0.3 at 3 m with a 45 deg vertical FOV: ~2 * 0.3 / 3 * 579 = 116 px wide.
    fy = 240 / np.tan(np.radians(22.5))
    expected_diameter = 2 * fy * 0.3 / np.sqrt(3.0**2 - 0.3**2)
    assert abs((xs.max() - xs.min()) - expected_diameter) < 6
    assert abs(xs.mean() - 319.5) < 2 and abs(ys.mean() - 239.5) < 2
    assert abs((ys.max() - ys.min()) - expected_diameter) < 6


def test_vertex_colours_are_used_and_int_colours_are_not_black(
    renderer: OffscreenRenderer, make_sphere
) -> None:
    verts, faces = make_sphere((0.0, 1.0, 0.0), 0.3)
    cam = OrbitCamera(elevation_deg=0, distance_m=2.0, target=(0.0, 1.0, 0.0))
    red = np.tile(np.array([[255, 0, 0]], np.uint8), (len(verts), 1))
    rgb = renderer.render_view_rgb(cam, vertices_world=verts, faces=faces, vertex_colors=red)
    centre = rgb[230:250, 310:330].reshape(-1, 3).astype(int).mean(axis=0)
    assert centre[0] > 150 and centre[1] < 60 and centre[2] < 60


def test_overlay_projects_point_to_K_pixel(renderer: OffscreenRenderer, make_sphere) -> None:
    K = np.array([[600.0, 0.0, 300.5], [0.0, 550.0, 200.25], [0.0, 0.0, 1.0]])
    point_cam = np.array([0.3, -0.2, 2.5])  # OpenCV frame: right, up (y < 0), 2.5 m ahead
    verts, faces = make_sphere(tuple(point_cam), 0.02)
    image = np.full((480, 640, 3), 90, np.uint8)
    out = renderer.render_overlay_bgr(image, verts, faces, K, alpha=1.0)
    ys, xs = np.nonzero((out != 90).any(axis=-1))
    expected = (K @ point_cam)[:2] / point_cam[2]  # (372.5, 156.25)
    assert abs(xs.mean() - expected[0]) < 0.5 and abs(ys.mean() - expected[1]) < 0.5
    assert image.max() == 90  # the input is not modified


def test_overlay_takes_image_size_and_alpha(renderer: OffscreenRenderer, make_sphere) -> None:
    K = np.array([[300.0, 0.0, 159.5], [0.0, 300.0, 119.5], [0.0, 0.0, 1.0]])
    verts, faces = make_sphere((0.0, 0.0, 2.0), 0.2)
    image = np.zeros((240, 320, 3), np.uint8)
    image[:, :, 2] = 200  # red in BGR
    full = renderer.render_overlay_bgr(image, verts, faces, K, alpha=1.0)
    half = renderer.render_overlay_bgr(image, verts, faces, K, alpha=0.5)
    none = renderer.render_overlay_bgr(image, verts, faces, K, alpha=0.0)
    assert full.shape == (240, 320, 3)
    np.testing.assert_array_equal(none, image)
    c = (120, 160)  # image centre lies on the sphere
    assert full[c][2] != 200 and full[c][0] > 100  # light-blue body replaces the red
    np.testing.assert_allclose(half[c].astype(float), 0.5 * full[c] + 0.5 * image[c], atol=2)
    assert (full[5, 5] == image[5, 5]).all()  # far from the sphere: untouched


def test_skeleton_view_draws_left_side_on_the_right_from_the_front(
    renderer: OffscreenRenderer, standing_landmarks: np.ndarray
) -> None:
    joints = yup_from_opencv(standing_landmarks)
    cam = OrbitCamera(azimuth_deg=0, elevation_deg=0, distance_m=2.5)
    rgb = renderer.render_view_rgb(cam, skeleton_world=joints).astype(int)
    orange = (rgb[..., 0] > 180) & (rgb[..., 2] < 120)  # the person's left side
    blue = (rgb[..., 2] > 180) & (rgb[..., 0] < 120)  # the person's right side
    assert orange.sum() > 300 and blue.sum() > 300
    assert np.nonzero(orange)[1].mean() > 330 > 310 > np.nonzero(blue)[1].mean()
    # Head (nose at y = -0.62 m, up in the world) is drawn above the feet.
    drawn_rows = np.nonzero(_differs_from_background(rgb.astype(np.uint8)).any(axis=1))[0]
    assert drawn_rows.min() < 240 - 100


def test_skeleton_hides_invisible_joints(
    renderer: OffscreenRenderer, standing_landmarks: np.ndarray
) -> None:
    joints = yup_from_opencv(standing_landmarks)
    cam = OrbitCamera(azimuth_deg=0, elevation_deg=0, distance_m=2.5)
    visibility = np.ones(33, np.float32)
    left = [
        i for i, n in enumerate(POSE_LANDMARK_NAMES) if n.startswith("left") or n == "mouth_left"
    ]
    visibility[left] = 0.0  # the whole left side is unseen
    rgb = renderer.render_view_rgb(
        cam, skeleton_world=joints, visibility=visibility, min_visibility=0.5, floor_y=-2.0
    ).astype(int)
    assert ((rgb[..., 0] > 180) & (rgb[..., 2] < 120)).sum() == 0
    assert ((rgb[..., 2] > 180) & (rgb[..., 0] < 120)).sum() > 300


def test_orbit_changes_the_view(renderer: OffscreenRenderer, make_sphere) -> None:
    a, fa = make_sphere((0.0, 1.0, 0.0), 0.25)
    b, fb = make_sphere((0.6, 1.0, 0.0), 0.1)  # off-centre marker: the view must change
    verts, faces = np.concatenate([a, b]), np.concatenate([fa, fb + len(a)])
    cam = OrbitCamera(elevation_deg=0, distance_m=3.0, target=(0.0, 1.0, 0.0))
    front = renderer.render_view_rgb(cam, verts, faces, floor_y=-5.0)  # grid out of view
    side = renderer.render_view_rgb(cam.orbit(90.0), verts, faces, floor_y=-5.0)
    closer = renderer.render_view_rgb(cam.zoom(0.5), verts, faces, floor_y=-5.0)
    assert (np.abs(front.astype(int) - side).max(axis=-1) > 30).sum() > 1000
    # Half the distance: the drawn area grows about 4x.
    assert _differs_from_background(closer).sum() > 3 * _differs_from_background(front).sum()


def test_view_size_can_change_per_call(renderer: OffscreenRenderer) -> None:
    rgb = renderer.render_view_rgb(OrbitCamera(), size_wh=(201, 151))  # odd row length
    assert rgb.shape == (151, 201, 3)
    assert _differs_from_background(rgb).any()  # the grid is drawn even with nothing on it


def test_use_from_another_thread_raises(renderer: OffscreenRenderer) -> None:
    errors: list[Exception] = []

    def work() -> None:
        try:
            renderer.render_view_rgb(OrbitCamera())
        except RenderError as exc:
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert len(errors) == 1 and "thread" in str(errors[0])


def test_bad_inputs_raise_value_error(renderer: OffscreenRenderer, make_sphere) -> None:
    verts, faces = make_sphere((0.0, 0.0, 2.0), 0.2)
    K = np.eye(3)
    with pytest.raises(ValueError, match="uint8"):
        renderer.render_overlay_bgr(np.zeros((10, 10, 3), np.float32), verts, faces, K)
    with pytest.raises(ValueError, match="faces"):
        renderer.render_view_rgb(OrbitCamera(), vertices_world=verts)
    with pytest.raises(ValueError, match="colours"):
        renderer.render_view_rgb(OrbitCamera(), verts, faces, vertex_colors=np.ones((3, 3)))


def test_renderer_created_used_and_closed_in_a_worker_thread(
    renderer: OffscreenRenderer, standing_landmarks: np.ndarray
) -> None:
    # The GUI's pattern: the GL context lives entirely in its render worker thread.
    results: list[object] = []

    def work() -> None:
        try:
            with OffscreenRenderer(320, 240) as r:
                results.append(
                    r.render_view_rgb(
                        OrbitCamera(), skeleton_world=yup_from_opencv(standing_landmarks)
                    )
                )
        except Exception as exc:  # reported to the main thread below
            results.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert isinstance(results[0], np.ndarray), results[0]
    assert results[0].shape == (240, 320, 3) and _differs_from_background(results[0]).sum() > 500
    # Closing that renderer must not break another one alive in the process (shared EGL display).
    again = renderer.render_view_rgb(
        OrbitCamera(), skeleton_world=yup_from_opencv(standing_landmarks)
    )
    assert _differs_from_background(again).sum() > 500


def test_a_body_moved_between_frames_is_drawn_where_it_now_is(
    renderer: OffscreenRenderer, make_sphere
) -> None:
    """Frames of one topology reuse the body's GPU buffers: each frame shows its own vertices,
    in the 3D view and in the overlay drawn between them (one scene, two image sizes)."""
    verts, faces = make_sphere((0.0, 1.0, 0.0), 0.2)
    cam = OrbitCamera(elevation_deg=0, distance_m=3.0, target=(0.0, 1.0, 0.0))
    K = np.array([[250.0, 0.0, 159.5], [0.0, 250.0, 119.5], [0.0, 0.0, 1.0]])
    fx = 240 / np.tan(np.radians(22.5))  # the view's focal length at 640x480
    for dx in (-0.6, 0.0, 0.6, 0.3):
        rgb = renderer.render_view_rgb(cam, verts + np.float32([dx, 0, 0]), faces, floor_y=-5.0)
        xs = np.nonzero(_differs_from_background(rgb))[1]
        assert abs(xs.mean() - (319.5 + fx * dx / 3.0)) < 2
        centre_cam = np.array([dx, 0.0, 2.5])
        layer = renderer.render_overlay_rgba(
            yup_from_opencv(verts - (0.0, 1.0, 0.0)) + centre_cam, faces, K, (320, 240)
        )
        assert layer.shape == (240, 320, 4)
        xs = np.nonzero(layer[..., 3])[1]
        assert abs(xs.mean() - (159.5 + 250 * dx / 2.5)) < 1


def test_views_show_only_their_own_meshes(renderer: OffscreenRenderer, make_sphere) -> None:
    verts, faces = make_sphere((0.0, 1.0, 0.0), 0.3)
    cam = OrbitCamera(elevation_deg=0, distance_m=3.0, target=(0.0, 1.0, 0.0))
    K = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])
    renderer.render_view_rgb(cam, verts, faces)
    small, small_faces = make_sphere((0.0, 0.0, 2.0), 0.05)
    layer = renderer.render_overlay_rgba(small, small_faces, K, (640, 480))
    covered = np.count_nonzero(layer[..., 3])  # the small sphere alone: no grid, no body
    assert 0 < covered < np.pi * (500 * 0.05 / 2.0) ** 2 * 1.2
    empty = renderer.render_view_rgb(cam, floor_y=-5.0)  # no body given: none drawn
    assert not _differs_from_background(empty).any()


def test_vertex_lighting_keeps_the_look(make_sphere) -> None:
    """The live views' per-vertex lighting: same lights, colours, coverage as per pixel."""
    verts, faces = make_sphere((0.0, 1.0, 0.0), 0.3, rings=32, segments=48)
    cam = OrbitCamera(azimuth_deg=30, elevation_deg=20, distance_m=2.0, target=(0.0, 1.0, 0.0))
    K = np.array([[500.0, 0.0, 319.5], [0.0, 500.0, 239.5], [0.0, 0.0, 1.0]])
    red = np.tile(np.array([[255, 40, 40]], np.uint8), (len(verts), 1))
    images = []
    for vertex_lit in (False, True):
        with OffscreenRenderer(320, 240, vertex_lit=vertex_lit) as r:
            images.append(
                (
                    r.render_view_rgb(cam, verts, faces, floor_y=0.6).astype(int),
                    r.render_view_rgb(cam, verts, faces, red, floor_y=0.6).astype(int),
                    r.render_overlay_rgba(
                        verts + np.float32([0, -1, 2]), faces, K, (320, 240)
                    ).astype(int),
                )
            )
    for per_pixel, per_vertex in zip(*images, strict=True):
        diff = np.abs(per_pixel - per_vertex)
        assert diff.mean() < 2.0 and np.percentile(diff, 99) < 12
