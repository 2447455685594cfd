"""A rendered seated desk clip (`tests/data/seated_clip_desk_gesture.npz`, written by
`tools/build_seated_clip.py`: the default body at a desk, the hips at the bottom edge, the
knees and ankles out of the picture, with MediaPipe's real detections of its 90 frames) through
the shipped network and the default refined body: the legs sit, as the person does (issue 14)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stdformer.body.fit import BodyFit

CLIP = Path(__file__).parents[1] / "data" / "seated_clip_desk_gesture.npz"


@pytest.fixture(scope="module")
def bodies():
    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import mesh_levels_for_body
    from stdformer.data.corpus import load_clip
    from stdformer.eval.evaluate import observations
    from stdformer.inference.predictor import Predictor, PredictorConfig
    from stdformer.inference.refine import BodyRefiner
    from stdformer.model.checkpoint import load_model
    from stdformer.session.pipeline import choose_weights

    body = load_body_model()
    model = load_model(mesh_levels_for_body(body), choose_weights(None))
    refiner = BodyRefiner(body)
    pred = Predictor(
        model,
        PredictorConfig(lookahead=0, device="cpu"),
        joint_regressor=np.asarray(body.J_regressor, np.float32),
        refiner=refiner,
    )
    obs = observations(load_clip(CLIP))
    assert all(o is not None for o in obs)
    out = [pred.push(o) for o in obs] + pred.flush()
    return refiner, [r for r in out if r is not None]


def test_hidden_legs_sit_on_a_rendered_desk_clip(bodies):
    refiner, results = bodies
    assert len(results) == 90
    posed = []
    for r in results:  # each frame's own betas (they settle over the first frames)
        fit = BodyFit.from_params([r.body])
        posed.append(refiner.fitter.skel.pose(fit.rot_local, fit.transl, fit.betas))
    rot_w = np.concatenate([p[0] for p in posed])  # (N, 24, 3, 3)
    j = np.concatenate([p[1] for p in posed])  # (N, 24, 3)
    np.testing.assert_allclose(j, np.stack([r.joints_cam for r in results]), atol=1e-4)
    forward, down = rot_w[:, 0] @ [0.0, 0.0, 1.0], rot_w[:, 0] @ [0.0, -1.0, 0.0]  # (N, 3)
    thigh, shin = j[:, [4, 5]] - j[:, [1, 2]], j[:, [7, 8]] - j[:, [4, 5]]  # (N, 2, 3)
    unit = np.linalg.norm
    hip = np.degrees(np.arccos(np.einsum("nsc,nc->ns", thigh, down) / unit(thigh, axis=-1)))
    knee = np.degrees(
        np.arccos((thigh * shin).sum(-1) / unit(thigh, axis=-1) / unit(shin, axis=-1))
    )
    # the clip's truth: hips and knees at ~96 deg (thighs level, shins down)
    assert (np.abs(hip - 90) < 20).all() and (np.abs(knee - 90) < 20).all(), (hip, knee)
    assert (np.einsum("nsc,nc->ns", thigh, forward) > 0.25).all()  # knees in front
    assert (np.einsum("nsc,nc->ns", shin, down) > 0.3).all()  # ankles below the knees
