"""The mesh smoother: depth noise never moves the overlay, nor does smoothing where the body is
across the image, the fixed lag removes the filter's delay, every mesh comes out once and in
order, and a smoothed body stays one with its mesh."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from stdformer.body.body_model import load_body_model
from stdformer.body.fit import BodyFit
from stdformer.body.kinematics import matrices
from stdformer.inference.refine import BodyRefiner
from stdformer.inference.smoothing import (
    OFFLINE_REPOSE_ITERS,
    CascadedOneEuro,
    MeshSmoother,
    OneEuroFilter,
    min_cutoff_for_strength,
)
from stdformer.types import MeshResult

FPS = 30.0
K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], np.float32)


def _mesh(i: int, vertices: np.ndarray, body=None) -> MeshResult:
    v = vertices.astype(np.float32)
    return MeshResult(v, v[:2].copy(), K, np.zeros(4, np.float32), round(i * 1e9 / FPS), i,
                      None, body=body)  # fmt: skip


def _run(smoother: MeshSmoother, meshes: list[MeshResult]) -> list[MeshResult]:
    out = [m for mesh in meshes for m in smoother.push(mesh)]
    return out + smoother.flush()


def _project(v: np.ndarray) -> np.ndarray:
    return v[:, :2] / v[:, 2:]


def test_depth_noise_is_smoothed_without_moving_the_overlay() -> None:
    rng = np.random.default_rng(0)
    rays = np.array([[0.1, -0.3, 1.0], [-0.2, 0.4, 1.0], [0.0, 0.0, 1.0]])  # (3, 3) per point
    depth = 3.0 + 0.05 * rng.standard_normal((60, 1, 1))  # 5 cm depth jitter along the rays
    meshes = [_mesh(i, rays * depth[i]) for i in range(60)]
    out = _run(MeshSmoother(0.1), meshes)
    assert [m.index for m in out] == list(range(60))
    for m, src in zip(out, meshes, strict=True):  # the image position is kept exactly
        np.testing.assert_allclose(_project(m.vertices_cam), _project(src.vertices_cam), atol=1e-5)
    z_in = np.array([m.vertices_cam[2, 2] for m in meshes[20:]])
    z_out = np.array([m.vertices_cam[2, 2] for m in out[20:]])
    # depth jitter mostly gone (live: two stages at 4 Hz leave 36 % of it at 30 fps)
    assert np.std(np.diff(z_out)) < 0.45 * np.std(np.diff(z_in))


# A body-sized cloud of points that stay still (12, 3), metres, 3 m from the camera: the
# smoother leaves where the body is across the image unsmoothed and smooths the points about it,
# so a moving limb is one point of it.
STILL = np.random.default_rng(7).uniform(-0.4, 0.4, (12, 3)) * [1, 2, 0.3] + [0, 0, 3.0]


def _limb(x: np.ndarray) -> list[MeshResult]:
    """Meshes of the still cloud with point 0 at (x[i], 0, 3) in frame i."""
    meshes = []
    for i, xi in enumerate(x):
        v = STILL.copy()
        v[0] = [xi, 0.0, 3.0]
        meshes.append(_mesh(i, v))
    return meshes


def _ramp(n: int, speed_m_s: float = 0.6) -> list[MeshResult]:
    """A limb (point 0) crossing the image at constant speed, with 5 mm noise across it."""
    rng = np.random.default_rng(1)
    return _limb(speed_m_s * np.arange(n) / FPS + 0.005 * rng.standard_normal(n))


def test_the_lag_removes_the_filters_delay_and_every_mesh_comes_out_once() -> None:
    meshes = _ramp(60)
    truth = 0.6 * np.arange(60) / FPS
    causal = _run(MeshSmoother(0.5), meshes)
    lagged = MeshSmoother(0.5, lag_s=0.3)
    first = [m for mesh in meshes[:10] for m in lagged.push(mesh)]
    assert [m.index for m in first] == [0]  # a mesh leaves 0.3 s (9 frames) after it came
    out = first + _run(lagged, meshes[10:])
    assert [m.index for m in out] == list(range(60))  # none lost at the end (flush), in order

    def delay(ms: list[MeshResult]) -> float:  # mean error in the ramp's middle, metres
        return float(np.mean([m.vertices_cam[0, 0] - truth[m.index] for m in ms[15:45]]))

    assert delay(causal) < -0.01  # the causal filter trails the motion by centimetres
    assert abs(delay(out)) < 0.3 * abs(delay(causal))


def test_live_filter_trails_as_one_stage_and_shakes_less() -> None:
    """Two One-Euro stages at twice the cut-off: on a slow ramp the same delay as one stage at
    the cut-off (within 15 %), on a still point with 5 mm noise less acceleration (30 fps at
    the live strength: 13 % less; 27 % at 60 fps, 22 % at strength 0.2)."""
    cutoff, n = min_cutoff_for_strength(0.1), 120
    t = np.arange(n) / FPS
    noise = 0.005 * np.random.default_rng(2).standard_normal(n)

    def run(f, x: np.ndarray) -> np.ndarray:
        return np.array([f(np.array([v]), ti)[0] for v, ti in zip(x, t, strict=True)])

    ramp = 0.2 * t  # 0.2 m/s: slow motion, where the speed coefficient hardly acts
    lag_one = np.mean(ramp[40:] - run(OneEuroFilter(cutoff), ramp)[40:])
    lag_two = np.mean(ramp[40:] - run(CascadedOneEuro(cutoff, stages=2), ramp)[40:])
    assert lag_one > 0 and abs(lag_two - lag_one) < 0.15 * lag_one

    def accel(f) -> float:
        return float(np.mean(np.abs(np.diff(run(f, noise), 2)[30:])))

    assert accel(CascadedOneEuro(cutoff, stages=2)) < 0.9 * accel(OneEuroFilter(cutoff))
    live = MeshSmoother(0.1)  # the live smoother filters the pose with the cascade
    v = np.stack([m.vertices_cam for m in _run(live, _limb(noise))])
    x = v[:, 0, 0] - v[:, :, 0].mean(1)  # the limb about the body's centre: 11/12 of the noise
    assert np.mean(np.abs(np.diff(x, 2)[30:])) < 0.9 * 11 / 12 * accel(OneEuroFilter(cutoff))


@pytest.mark.parametrize("lag_s", [0.0, 0.25])
def test_where_the_body_is_across_the_image_is_not_smoothed(lag_s: float) -> None:
    """A shaking camera (hand-held, a pan) moves the whole body across the image: the overlay
    follows it exactly, live and in files; its depth jitter and the pose's are smoothed."""
    n, rng = 90, np.random.default_rng(4)
    shake = np.zeros((n, 1, 3))
    shake[:, 0, :2] = 0.02 * rng.standard_normal((n, 2))  # 2 cm of shake across the image
    shake[:, 0, 2] = 0.05 * rng.standard_normal(n)  # and 5 cm of depth noise
    pose = 0.005 * rng.standard_normal((n, 12, 3))  # 5 mm of pose jitter per point
    pts = STILL + shake + pose  # (n, 12, 3)
    out = _run(MeshSmoother(0.3, lag_s=lag_s), [_mesh(i, pts[i]) for i in range(n)])
    v = np.stack([m.vertices_cam for m in out]).astype(np.float64)
    centre = v.mean(1)  # (n, 3)
    ray = centre[:, :2] / centre[:, 2:]  # where the body's centre is in the image
    want = pts.mean(1)[:, :2] / pts.mean(1)[:, 2:]
    np.testing.assert_allclose(ray, want, atol=2e-3)  # < 1 px at 500 px focal length
    assert np.std(np.diff(centre[20:, 2])) < 0.5 * np.std(np.diff(pts.mean(1)[20:, 2]))
    about = v - v.mean(1, keepdims=True)
    raw = pts - pts.mean(1, keepdims=True)
    assert (
        np.abs(np.diff(about[20:], 2, axis=0)).mean()
        < 0.6 * np.abs(np.diff(raw[20:], 2, axis=0)).mean()
    )


def test_walking_across_the_room_does_not_unsmooth_the_pose() -> None:
    """Live: a body crossing the image at walking speed (1.5 m/s) keeps its pose jitter (each
    point's 5 mm noise about the body's centre) as low as standing still, within 20 %; the
    speed of the whole body raises only the cut-off of where it is, so it still follows the
    walk within centimetres."""
    n, rng = 120, np.random.default_rng(3)
    shape = rng.uniform(-0.4, 0.4, (12, 3)) * [1, 2, 0.3]  # (12, 3) a body-sized point cloud
    noise = 0.005 * rng.standard_normal((n, 12, 3))

    def pose_jitter(speed_m_s: float) -> tuple[float, float]:
        walk = np.zeros((n, 1, 3))
        walk[:, 0, 0] = speed_m_s * np.arange(n) / FPS
        pts = shape + noise + walk + [0.0, 0.0, 3.0]  # (n, 12, 3)
        out = _run(MeshSmoother(0.1), [_mesh(i, pts[i]) for i in range(n)])
        v = np.stack([m.vertices_cam for m in out]).astype(np.float64)[30:]
        about = v - v.mean(1, keepdims=True)  # the pose: points about their centre
        trail = np.abs(v.mean(1) - pts[30:].mean(1))[:, 0].mean()
        return float(np.abs(np.diff(about, 2, axis=0)).mean()), float(trail)

    still, _ = pose_jitter(0.0)
    walking, trail = pose_jitter(1.5)
    assert walking < 1.2 * still
    assert trail < 0.05  # metres behind the walk


def test_process_smoothing_takes_the_jitter_out_of_fast_motion_without_trailing() -> None:
    """`process`'s zero-phase smoother (no lag to fight) keeps its cut-off low in fast motion:
    a limb crossing at 1 m/s with 5 mm noise keeps < 15 % of the noise's frame-to-frame
    acceleration about the body's centre (< 25 % in all: the centre, a twelfth of it here, is
    not smoothed across the image) and stays within 5 mm."""
    from stdformer.session.core import PROCESS_SMOOTHING, PROCESS_SMOOTHING_LAG_S

    n, speed = 90, 1.0
    truth = speed * np.arange(n) / FPS
    noisy = truth + 0.005 * np.random.default_rng(1).standard_normal(n)
    out = _run(MeshSmoother(PROCESS_SMOOTHING, PROCESS_SMOOTHING_LAG_S), _limb(noisy))
    v = np.stack([m.vertices_cam for m in out]).astype(np.float64)
    err = v[:, 0, 0] - truth
    about = v[:, 0, 0] - v[:, :, 0].mean(1) - 11 / 12 * (truth - STILL[1:, 0].mean())

    def accel(e: np.ndarray) -> float:
        return float(np.mean(np.abs(np.diff(e, 2)[10:-10])))

    assert accel(about) < 0.15 * 11 / 12 * accel(noisy - truth)
    assert accel(err) < 0.25 * accel(noisy - truth)
    assert abs(np.mean(err[15:-15])) < 0.005


def test_strength_zero_passes_meshes_through_at_once() -> None:
    meshes = _ramp(5)
    smoother = MeshSmoother(0.0, lag_s=0.5)
    assert [smoother.push(m)[0] is m for m in meshes] == [True] * 5
    with pytest.raises(ValueError, match="lag"):
        MeshSmoother(0.2, lag_s=-1.0)


def test_a_smoothed_body_reproduces_its_mesh() -> None:
    """Meshes carrying a body are re-posed onto the smoothed surface: `body` still gives the
    vertices (the npz/BVH/VMC contract) and stays close to the smoothed mesh."""
    body = load_body_model()
    refiner = BodyRefiner(body)
    rng = np.random.default_rng(2)
    base = rng.normal(0.0, 0.2, (24, 3))
    base[0] = [np.pi, 0.0, 0.0]
    meshes = []
    for i in range(20):
        rv = base + rng.normal(0.0, 0.03, (24, 3))  # pose jitter
        fit = BodyFit(matrices(rv[None]), np.array([[0.0, 0.3, 3.0 + 0.02 * np.sin(i)]]),
                      np.zeros(10))  # fmt: skip
        v = refiner.fitter.vertices(fit)[0]
        joints = np.asarray(body.J_regressor) @ v
        mesh = MeshResult(v.astype(np.float32), joints.astype(np.float32), K,
                          np.zeros(4, np.float32), round(i * 1e9 / FPS), i, None,
                          body=fit.params(0))  # fmt: skip
        meshes.append(mesh)
    with pytest.raises(ValueError, match="reposer"):
        MeshSmoother(0.3).push(meshes[0])
    out = _run(MeshSmoother(0.3, lag_s=0.2, reposer=refiner), meshes)
    bare = [dataclasses.replace(m, body=None) for m in meshes]  # the same meshes, no body
    plain = _run(MeshSmoother(0.3, lag_s=0.2), bare)
    for m, smoothed in zip(out, plain, strict=True):
        b = m.body
        with torch.no_grad():
            again = (
                body(
                    betas=torch.as_tensor(b.betas)[None],
                    global_orient=torch.as_tensor(b.global_orient)[None],
                    body_pose=torch.as_tensor(b.body_pose)[None],
                    transl=torch.as_tensor(b.transl)[None],
                )
                .vertices[0]
                .numpy()
            )
        np.testing.assert_allclose(again, m.vertices_cam, atol=1e-4)
        gap = np.linalg.norm(m.vertices_cam - smoothed.vertices_cam, axis=-1).mean()
        # the body is re-posed onto the smoothed surface (mean < 1.5 cm: the two leave the
        # centroids of different points unsmoothed, its fitting points' and all vertices')
        assert gap < 0.015
        assert m.index == smoothed.index


def test_files_re_pose_the_body_to_convergence_live_keeps_its_budget() -> None:
    """With a time lag (`process`) the body is re-posed with `OFFLINE_REPOSE_ITERS` steps
    (real set: accel 7.2 -> 6.8 front); live, with or without look-ahead, with the refiner's
    own (`RefineConfig.repose_iters`), the latency budget."""
    body = load_body_model()
    refiner = BodyRefiner(body)
    fit = BodyFit(matrices(np.zeros((1, 24, 3))), np.array([[0.0, 0.3, 3.0]]), np.zeros(10))
    v = refiner.fitter.vertices(fit)[0].astype(np.float32)
    meshes = [MeshResult(v, v[:24].copy(), K, np.zeros(4, np.float32), round(i * 1e9 / FPS), i,
                         None, body=fit.params(0)) for i in range(6)]  # fmt: skip

    class Counting:
        def __init__(self) -> None:
            self.iters: list[int | None] = []

        def targets(self, mesh: MeshResult) -> np.ndarray:
            return refiner.targets(mesh)

        def repose(self, mesh: MeshResult, targets: np.ndarray, iters: int | None = None):
            self.iters.append(iters)
            return refiner.repose(mesh, targets, iters)

    for kwargs, expected in (({"lag_s": 0.1}, OFFLINE_REPOSE_ITERS), ({}, None),
                             ({"lag_frames": 2}, None)):  # fmt: skip
        counting = Counting()
        out = _run(MeshSmoother(0.3, reposer=counting, **kwargs), meshes)
        assert len(out) == len(meshes) and set(counting.iters) == {expected}
    assert refiner.config.repose_iters < OFFLINE_REPOSE_ITERS


def test_another_person_is_not_blended_into_the_last_one() -> None:
    from tests.model.conftest import make_observation

    rng = np.random.default_rng(2)
    side = np.array([1.0, 0.0, 0.0], np.float32)  # the second person stands 1 m to the side
    meshes = []
    for i, m in enumerate(_ramp(20)):
        obs = dataclasses.replace(make_observation(i, rng), subject_id=int(i >= 10))
        shift = side if i >= 10 else 0.0 * side
        meshes.append(dataclasses.replace(m, observation=obs, vertices_cam=m.vertices_cam + shift))
    for lag in (0.0, 0.2):
        out = _run(MeshSmoother(0.5, lag_s=lag), meshes)
        assert [m.index for m in out] == list(range(20))
        # the new person's first mesh is its own (smoothed with its own later ones at most),
        # not pulled toward the other person 1 m away
        np.testing.assert_allclose(out[10].vertices_cam, meshes[10].vertices_cam, atol=0.03)
