"""The lighter mesh the live views draw, and the overlay's scaled camera."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stdformer.body.body_model import load_body_model
from stdformer.render.display_mesh import DISPLAY_SIZES, DisplayLod, compute_display_lod
from stdformer.render.renderer import OrbitCamera
from stdformer.render.views import overlay_camera


@pytest.fixture(scope="module")
def body():
    return load_body_model()


@pytest.mark.parametrize("level", ["mid", "coarse"])
def test_display_mesh_follows_full_mesh_vertices_and_stays_closed(body, level: str) -> None:
    lod = DisplayLod.for_body(body.v_template, body.faces, level)
    assert lod is not None and lod.level == level and len(lod.rows) == DISPLAY_SIZES[level]
    verts = np.random.default_rng(0).normal(size=(body.num_vertices, 3)).astype(np.float32)
    np.testing.assert_array_equal(lod.vertices(verts), verts[lod.rows])  # a gather per frame
    assert lod.faces.min() >= 0 and lod.faces.max() < len(lod.rows)
    edges = np.sort(np.concatenate([lod.faces[:, [0, 1]], lod.faces[:, [1, 2]],
                                    lod.faces[:, [2, 0]]]), axis=1)  # fmt: skip
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()  # closed like the body: no holes cut into it


@pytest.mark.slow
def test_committed_display_mesh_is_the_reproducible_build(body) -> None:
    """assets/default_body_display.npz is what tools/build_display_mesh.py computes."""
    committed = DisplayLod.for_body(body.v_template, body.faces, "coarse", cache_dir="/nonexistent")
    fresh = compute_display_lod(body.v_template, body.faces, "coarse")
    np.testing.assert_array_equal(committed.rows, fresh.rows)
    np.testing.assert_array_equal(committed.faces, fresh.faces)


def test_head_close_up_has_no_dark_holes_at_the_eyes_and_mouth(body, renderer) -> None:
    """A head-and-shoulders view of the display mesh looks like the full mesh: no pixel of the
    face much darker than the full mesh's (the network's middle level, drawn before, showed
    dark notches at the eyes and mouth: 63 such pixels here)."""
    v, f = body.v_template, body.faces
    lod = DisplayLod.for_body(v, f, "mid")
    cam = OrbitCamera(0.0, 5.0, 0.6, (0.0, float(v[:, 1].max()) - 0.12, 0.0), 40.0)

    def grey(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:  # (240, 240) float
        image = renderer.render_view_rgb(cam, vertices, faces, floor_y=-5.0, size_wh=(240, 240))
        return image.astype(np.float64).mean(axis=2)

    full, light = grey(v, f), grey(lod.vertices(v), lod.faces)
    both = ((full > 60) & (light > 60)).astype(np.uint8)  # the head on both (not background)
    inside = cv2.erode(both, np.ones((7, 7), np.uint8)) > 0  # away from the outline
    assert inside.sum() > 10_000
    assert ((light < full - 80) & inside).sum() <= 10


def test_full_level_draws_the_full_mesh_and_bad_input_is_refused(body) -> None:
    assert DisplayLod.for_body(body.v_template, body.faces, "full") is None
    with pytest.raises(ValueError, match="display level"):
        DisplayLod.for_body(body.v_template, body.faces, "tiny")  # type: ignore[arg-type]
    lod = DisplayLod.for_body(body.v_template, body.faces, "mid")
    with pytest.raises(ValueError, match="full-mesh vertices"):
        lod.vertices(np.zeros((10, 3), np.float32))


def test_other_bodies_are_computed_once_and_cached(tmp_path) -> None:
    """A body without a committed display mesh (here a sphere) is decimated and cached."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=4)  # 2562 vertices
    v, f = np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces, np.int64)
    first = DisplayLod.for_body(v, f, "coarse", cache_dir=tmp_path)
    assert len(list((tmp_path / "display_mesh").glob("coarse-*.npz"))) == 1
    again = DisplayLod.for_body(v, f, "coarse", cache_dir=tmp_path)
    np.testing.assert_array_equal(first.rows, again.rows)
    assert len(first.rows) == DISPLAY_SIZES["coarse"]


def test_overlay_camera_keeps_points_on_the_same_image_position() -> None:
    K = np.array([[1280.0, 0, 640], [0, 1280, 360], [0, 0, 1]])
    k_small, size = overlay_camera(K, (1280, 720), 640)
    assert size == (640, 360)
    point = np.array([0.3, -0.2, 2.5])
    uv = (K @ point)[:2] / point[2]
    uv_small = (k_small @ point)[:2] / point[2]
    np.testing.assert_allclose(uv_small + 0.5, (uv + 0.5) * 0.5, atol=1e-9)
    same, same_size = overlay_camera(K, (640, 480), 640)
    assert same_size == (640, 480) and np.allclose(same, K)
