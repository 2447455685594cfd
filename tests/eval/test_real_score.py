"""Scoring on the real set, on a synthetic scene with known answers: a perfect prediction
scores zero, a known displacement scores exactly its share, frames where the app follows the
other person are not scored, and front/back totals split the frames by facing."""

from __future__ import annotations

import numpy as np
import pytest

from stdformer.detect.pose_topology import FLIP_PERMUTATION
from stdformer.eval import real_set as rs
from stdformer.eval.real_build import RealSet
from stdformer.eval.real_score import LIMBS, AppTrack, _ema, score_view_person, summarize
from tests.eval.multiview_scene import person, rig

T = 12


def _real_set() -> RealSet:
    cams = rig()
    people = np.stack(
        [person(T, np.array([-0.5, 0, 0]), 0.0), person(T, np.array([0.6, 0.4, 0]), 3.0)]
    )
    points = np.broadcast_to(people, (4, *people.shape)).copy()  # (V, P, T, 33, 3)
    ref = rs.Reference(points, np.full(points.shape[:4], 3), np.zeros((*points.shape[:4], 4)),
                       np.zeros((4, 2, 4, T), int))  # fmt: skip
    empty = np.zeros((2, 4, T, 33))
    return RealSet((), tuple(cams), 60.0, ref, np.zeros((*empty.shape, 2)), empty,
                   np.zeros(4), np.zeros(4), {})  # fmt: skip


def _perfect_track(real: RealSet, v: int, p: int) -> AppTrack:
    cam = real.cameras[v]
    X = real.reference.points[v, p]  # (T, 33, 3) world
    cam_pts = cam.to_cam(X)
    return AppTrack(
        index=np.arange(T),
        landmarks_cam=cam_pts,
        K=np.broadcast_to(cam.K, (T, 3, 3)).copy(),
        mp_px=cam.project(X),
        mp_conf=np.full((T, 33), 0.9),
        mp_world=cam_pts - cam_pts[:, [23, 24]].mean(1, keepdims=True),
    )


def test_perfect_prediction_scores_zero_and_a_known_offset_scores_its_share():
    real = _real_set()
    track = _perfect_track(real, 1, 0)
    s = score_view_person(real, 1, 0, track)
    assert s["valid"].all()
    for method in ("mediapipe", "app"):
        for metric in ("mpjpe", "pa", "mpjpe_all", "align_ref", "accel"):
            assert np.nanmax(np.abs(s[f"{method}/{metric}"])) < 1e-6, (method, metric)
    lag = s["mediapipe+ema/mpjpe"]  # the EMA lags behind the swinging hands, a little
    assert lag[0] < 1e-6 and 0.5 < lag[1:].max() < 5.0
    assert np.nanmax(s["app/align_mp"]) < 1e-6
    # The app's left wrist 12 cm off (in the camera, every frame): limb MPJPE = 120 mm / 12.
    moved = track.landmarks_cam.copy()
    moved[:, 15, 0] += 0.12
    s = score_view_person(real, 1, 0, AppTrack(**{**track.__dict__, "landmarks_cam": moved}))
    np.testing.assert_allclose(s["app/mpjpe"], 10.0, atol=1e-6)
    # Procrustes spreads the error over the joints: mean <= RMS <= the unaligned RMS.
    assert (s["app/pa"] > 1.0).all() and (s["app/pa"] <= 120 / np.sqrt(12)).all()
    assert (s["app/align_mp"] > 0.1).all()  # % of body height, the wrist alone moved
    assert np.nanmax(np.abs(s["app/accel"])) < 1e-6  # a constant offset does not accelerate
    np.testing.assert_allclose(s["mediapipe/mpjpe"], 0.0, atol=1e-6)  # other rows unchanged
    np.testing.assert_allclose(s["app/root"], 0.0, atol=1e-6)  # the hips did not move
    # The whole body 10 % further away (a wrong field of view): pose scores unchanged, the root
    # off by 10 % of its distance; MediaPipe's hip-centred rows place nobody.
    far = AppTrack(**{**track.__dict__, "landmarks_cam": 1.1 * track.landmarks_cam})
    s = score_view_person(real, 1, 0, far)
    hips = track.landmarks_cam[:, [23, 24]].mean(1)
    np.testing.assert_allclose(s["app/root"], 100.0 * np.linalg.norm(hips, axis=1), rtol=1e-6)
    assert np.nanmax(s["app/pa"]) < 1e-6 and np.isnan(s["mediapipe/root"]).all()


def test_frames_following_the_other_person_are_not_scored():
    real = _real_set()
    track = _perfect_track(real, 0, 0)
    other = _perfect_track(real, 0, 1)
    mp_px = track.mp_px.copy()
    mp_px[5:] = other.mp_px[5:]  # from frame 5 on, the app follows person 1
    s = score_view_person(real, 0, 0, AppTrack(**{**track.__dict__, "mp_px": mp_px}))
    assert s["valid"][:5].all() and not s["valid"][5:].any()
    # Followed from frame 5 on, the app's landmarks jump to the other person: the last frame of
    # person 0 has no acceleration of its own motion (its next frame is someone else's).
    cam = np.concatenate([track.landmarks_cam[:5], other.landmarks_cam[5:]])
    s = score_view_person(real, 0, 0, AppTrack(**{**track.__dict__, "mp_px": mp_px,
                                                  "landmarks_cam": cam}))  # fmt: skip
    assert np.isnan(s["app/accel"][4]) and np.nanmax(np.abs(s["app/accel"][1:4])) < 1e-6


def test_totals_split_front_and_back_and_ema_is_causal():
    real = _real_set()
    scores = [score_view_person(real, v, 0, _perfect_track(real, v, 0)) for v in range(4)]
    front = sum(int(s["front"].all()) for s in scores)
    assert 0 < front < 4  # the rig sees the person from both sides
    n = {sel: summarize(scores, sel)["frames"] for sel in ("front", "back", "all")}
    assert n["front"] + n["back"] == n["all"] == 4 * T
    x = np.arange(6, dtype=float)[:, None]
    out = _ema(x, np.array([0, 1, 2, 5, 6, 7]))
    assert out[0, 0] == 0 and out[1, 0] == pytest.approx(0.5) and out[3, 0] == 3.0  # restarts
    assert set(LIMBS) == {11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28}


def test_a_front_back_flip_is_still_the_followed_person():
    real = _real_set()
    track = _perfect_track(real, 0, 0)
    mp_px = track.mp_px.copy()
    mp_px[3:6] = mp_px[3:6][:, list(FLIP_PERMUTATION)]  # MediaPipe swapped left and right
    s = score_view_person(real, 0, 0, AppTrack(**{**track.__dict__, "mp_px": mp_px}))
    assert s["valid"].all()  # scored: the same person, read the other way round
    assert np.nanmax(s["app/align_mp"]) < 1e-6  # the app sits on the person either way
