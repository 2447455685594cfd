"""`Predictor.flush` on a stream shorter than the look-ahead emits each frame's own mesh.

Reference: clip mode on the stream padded on both ends (first frame repeated before it, last
frame after it), the window of frame i ending at frame i + lookahead.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stdformer.inference.model_input import input_crop, observations_to_tensor
from stdformer.inference.predictor import (
    Predictor,
    PredictorConfig,
    focal_length_px,
    weak_to_full_translation,
)
from stdformer.model.stdformer import build_model


@pytest.mark.parametrize(("n_frames", "lookahead"), [(2, 3), (1, 3), (3, 3), (5, 2)])
def test_flush_outputs_equal_padded_clip_mode(
    sphere_levels, tiny_landmark_config, observations, n_frames, lookahead
) -> None:
    model = build_model(tiny_landmark_config, sphere_levels).eval()
    T = model.T
    obs = observations[:n_frames]
    pred = Predictor(model, PredictorConfig(lookahead=lookahead, device="cpu"))
    results = [r for r in (pred.push(o) for o in obs) if r is not None]
    results += pred.flush()
    assert [r.index for r in results] == [o.index for o in obs]
    x = observations_to_tensor(obs)  # (N, 33, 8)
    slot = T - 1 - lookahead
    for i, res in enumerate(results):
        idx = [
            min(max(j, 0), n_frames - 1) for j in range(i + lookahead - T + 1, i + lookahead + 1)
        ]
        with torch.inference_mode():
            out = model(x[idx][None])
        o = obs[i]
        f = focal_length_px(o.image_size_wh)
        transl = weak_to_full_translation(
            out.cam_wp[0, slot].numpy(), input_crop("landmarks", o), o.image_size_wh, f
        )
        expected = out.verts_full[0, slot].numpy() + transl
        np.testing.assert_allclose(res.vertices_cam, expected, atol=1e-5, rtol=1e-5)
