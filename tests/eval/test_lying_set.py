"""The lying set's clips (`tools/make_lying_set.py`): people on the floor, in the camera's view."""

from __future__ import annotations

import numpy as np
import pytest

from stdformer.body.body_model import load_body_model
from tools.make_lying_set import LYING_SEED0, lying_spec


@pytest.mark.parametrize("seed", range(LYING_SEED0, LYING_SEED0 + 4))
def test_a_lying_clip_puts_the_body_on_the_floor_in_view(seed):
    body = load_body_model()
    spec = lying_spec(body, seed, n_frames=12)
    verts = spec.vertices_world  # (N, V, 3) Y up
    assert np.allclose(verts[:, :, 1].min(1), 0.0, atol=1e-4)  # on the floor
    for v in verts[::4]:  # lying: the body's long axis (head to feet) is level
        centred = v - v.mean(0)
        axis = np.linalg.eigh(centred.T @ centred)[1][:, -1]
        assert abs(axis[1]) < 0.5  # within 30 deg of level
    cam = spec.camera
    v_cam = cam.to_cam(verts)
    assert (v_cam[..., 2] > 0.5).all()  # in front of the camera
    uv = cam.project(v_cam)
    w, h = cam.size_wh
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
    assert inside.mean() > 0.95
