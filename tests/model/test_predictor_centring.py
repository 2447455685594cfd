"""With a body joint regressor the predictor places the regressed pelvis, not the raw origin."""

from __future__ import annotations

import numpy as np
import torch

from stdformer.inference.predictor import Predictor, PredictorConfig
from stdformer.model.stdformer import build_model


def test_mesh_is_centred_on_the_regressed_pelvis(
    sphere_levels, tiny_landmark_config, observations
) -> None:
    model = build_model(tiny_landmark_config, sphere_levels).eval()
    with torch.no_grad():  # a large global offset in the raw output, as official weights may have
        model.xyz_regressor.bias.add_(torch.tensor([0.5, -0.3, 0.8]))
    regressor = np.zeros((3, sphere_levels.sizes[2]), np.float32)  # (J, Vf), row 0 = pelvis
    regressor[0, :10] = 0.1
    regressor[1, 10] = regressor[2, 11] = 1.0
    raw = Predictor(model, PredictorConfig(device="cpu"))
    centred = Predictor(model, PredictorConfig(device="cpu"), joint_regressor=regressor)
    for obs in observations[:3]:
        a, b = raw.push(obs), centred.push(obs)
        transl = b.joints_cam[0]  # the pelvis is placed exactly at the camera translation
        root = regressor[0] @ (a.vertices_cam - transl)  # raw pelvis, same camera in both
        shift = a.vertices_cam - b.vertices_cam  # (Vf, 3): the raw pelvis, the same everywhere
        np.testing.assert_allclose(shift, np.broadcast_to(root, shift.shape), atol=1e-4)
        assert np.linalg.norm(root) > 0.3  # the injected offset is what was removed
        np.testing.assert_allclose(b.joints_cam[1], b.vertices_cam[10], atol=1e-5)
