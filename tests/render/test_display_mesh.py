"""The lighter mesh the live views draw, and the overlay's scaled camera."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stdformer.body.body_model import load_body_model
from stdformer.body.mesh_levels import mesh_levels_for_body
from stdformer.render.display_mesh import DisplayLod
from stdformer.render.views import overlay_camera


@pytest.fixture(scope="module")
def levels():
    return mesh_levels_for_body(load_body_model())


@pytest.mark.parametrize("level", ["mid", "coarse"])
def test_lod_matches_the_mesh_levels_downsampling(levels, level: str) -> None:
    lod = DisplayLod.from_levels(levels, level)
    assert lod is not None and lod.level == level
    verts = np.random.default_rng(0).normal(size=(levels.sizes[2], 3)).astype(np.float32)
    coarse, mid = levels.downsample(torch.from_numpy(verts)[None])
    expected = (mid if level == "mid" else coarse)[0].numpy()
    np.testing.assert_allclose(lod.vertices(verts), expected, atol=1e-5)
    assert lod.faces.min() >= 0 and lod.faces.max() < len(expected)
    np.testing.assert_allclose(lod.weights.sum(1), 1.0, atol=1e-5)


def test_full_level_draws_the_full_mesh_and_bad_input_is_refused(levels) -> None:
    assert DisplayLod.from_levels(levels, "full") is None
    with pytest.raises(ValueError, match="display level"):
        DisplayLod.from_levels(levels, "tiny")  # type: ignore[arg-type]
    lod = DisplayLod.from_levels(levels, "mid")
    with pytest.raises(ValueError, match="full-mesh vertices"):
        lod.vertices(np.zeros((10, 3), np.float32))


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
