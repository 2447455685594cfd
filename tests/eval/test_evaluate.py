"""Evaluation metrics give the expected numbers on known perturbations of the truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stdformer.eval.evaluate import Outputs, Scores, mediapipe_joints, score_clip


def _truth(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    j = rng.normal(0, 0.3, (14, 3))
    t = np.arange(n)[:, None, None]
    joints = j[None] + 0.01 * np.sin(0.3 * t)  # (n, 14, 3) smooth motion
    verts = np.repeat(rng.normal(0, 0.3, (1, 50, 3)), n, 0)
    return verts, joints


def test_exact_prediction_scores_zero() -> None:
    v, j = _truth()
    s = Scores()
    score_clip(s, Outputs(j.copy(), v.copy()), v, j, np.ones((20, 14), bool), upper=False)
    out = s.summary()
    for k in ("mpjpe", "pa_mpjpe", "mpvpe", "accel"):
        assert out[k] == pytest.approx(0.0, abs=1e-6)
    assert out["coverage"] == 100.0
    assert np.isnan(out["root"])  # nothing placed in the camera


def test_root_is_where_the_body_is_placed() -> None:
    """The pelvis 0.3 m deeper than the truth in every frame: root 300 mm, the pose scores 0."""
    v, j = _truth()
    pelvis_cam = np.tile([0.1, 0.2, 3.0], (20, 1, 1))  # (N, 1, 3)
    placed = v + pelvis_cam + [0.0, 0.0, 0.3]  # pelvis-centred vertices, placed too far
    s = Scores()
    out = Outputs(j.copy(), v.copy(), verts_cam=placed)
    score_clip(s, out, v, j, np.ones((20, 14), bool), False, pelvis_cam)
    res = s.summary()
    assert res["root"] == pytest.approx(300.0) and res["mpjpe"] == pytest.approx(0.0, abs=1e-6)


def test_rotation_scale_and_jitter_perturbations() -> None:
    v, j = _truth()
    c, s_ = np.cos(np.radians(20)), np.sin(np.radians(20))
    rot = np.array([[c, -s_, 0], [s_, c, 0], [0, 0, 1]])
    pred = 1.1 * (j @ rot.T)
    pred[::2] += 0.005  # alternating 5 mm shift of every joint: pure jitter
    pred[10:12] = np.nan  # two frames without an output
    scores = Scores()
    score_clip(scores, Outputs(pred, None), v, j, np.ones((20, 14), bool), upper=False)
    out = scores.summary()
    assert out["coverage"] == pytest.approx(90.0)
    assert out["mpjpe"] > 50  # a 20 deg rotation + 10 % scale is far off...
    assert out["pa_mpjpe"] == pytest.approx(0.0, abs=1e-3)  # ...and removed by alignment
    # hip-centring removes the uniform shift, so accel error is zero here
    assert out["accel"] == pytest.approx(0.0, abs=1e-3)
    assert np.isnan(out["mpvpe"])  # no mesh from this method


def test_accel_error_of_known_jitter() -> None:
    v, j = _truth()
    pred = j.copy()
    pred[::2, 0, 0] += 0.004  # one joint's x jitters +-: second difference 2 * 4 mm each frame
    scores = Scores()
    score_clip(scores, Outputs(pred, None), v, j, np.ones((20, 14), bool), upper=False)
    # hip-centring leaves joint 0 (right ankle) moving alone: |a| = 8 mm on 1 of 14 joints
    assert scores.summary()["accel"] == pytest.approx(8.0 / 14, rel=1e-3)


def test_mediapipe_world_landmarks_map_to_evaluation_joints() -> None:
    world = np.zeros((1, 33, 3))
    world[0, 28] = [1, 2, 3]  # right ankle
    world[0, 11], world[0, 12] = [0.2, 0, 0], [-0.2, 0, 0]
    world[0, 7], world[0, 8] = [0.1, -0.3, 0], [-0.1, -0.3, 0]
    j = mediapipe_joints(world)
    np.testing.assert_allclose(j[0, 0], [1, 2, 3])
    np.testing.assert_allclose(j[0, 12], [0, 0, 0])  # neck between the shoulders
    np.testing.assert_allclose(j[0, 13], [0, -0.48, 0])  # above the ears, away from the neck


@pytest.mark.slow
def test_video_mode_runs_the_session_step_on_every_frame(landmark_weights, tmp_path) -> None:
    import shutil

    from stdformer.eval.evaluate_cli import evaluate_video
    from stdformer.session.pipeline import PipelineConfig

    photo = Path(__file__).resolve().parents[1] / "data" / "astronaut.png"
    for i in range(6):  # a still person: a mesh for every frame once the window starts
        shutil.copy(photo, tmp_path / f"f{i}.png")
    cfg = PipelineConfig(weights=str(landmark_weights), device="cpu")
    out = evaluate_video(str(tmp_path), cfg, show=False)
    assert out["frames"] == 6 and out["coverage"] == 100.0
    assert out["align_pct_box"] >= 0.0 and out["jitter_mm"] >= 0.0
