"""The real-set builder on synthetic multi-camera scenes with known 3D points: it recovers the
points through noise, left/right swaps and outliers, associates people across views, and its
reprojection (calibration) check passes on true cameras, fails on a wrong one, and is repaired
by the bundle adjustment. Also the facing test and the calibration reading convention."""

from __future__ import annotations

import numpy as np
import pytest

from stdformer.eval import multiview as mv
from stdformer.eval import real_set as rs
from stdformer.eval.real_score import facing_front, stature

# A standing person (x = their left, y = up, z = forward), metres, MediaPipe-33 order.
_TEMPLATE = np.array([
    [0, 1.62, .09], [.03, 1.66, .08], [.045, 1.66, .07], [.06, 1.66, .06], [-.03, 1.66, .08],
    [-.045, 1.66, .07], [-.06, 1.66, .06], [.08, 1.64, 0], [-.08, 1.64, 0], [.025, 1.57, .08],
    [-.025, 1.57, .08], [.19, 1.42, 0], [-.19, 1.42, 0], [.22, 1.13, -.02], [-.22, 1.13, -.02],
    [.24, .88, .03], [-.24, .88, .03], [.25, .82, .03], [-.25, .82, .03], [.24, .81, .05],
    [-.24, .81, .05], [.22, .84, .05], [-.22, .84, .05], [.1, .95, 0], [-.1, .95, 0],
    [.11, .52, .02], [-.11, .52, .02], [.12, .09, -.02], [-.12, .09, -.02], [.12, .04, -.07],
    [-.12, .04, -.07], [.13, .02, .12], [-.13, .02, .12],
])  # fmt: skip


def _look_at(center: np.ndarray, target: np.ndarray, name: str) -> mv.Camera:
    """A 1088x1920 portrait camera at `center` looking at `target` (world z up)."""
    fwd = (target - center) / np.linalg.norm(target - center)
    right = np.cross(fwd, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd])
    K = np.array([[1680.0, 0, 544], [0, 1680, 960], [0, 0, 1]])
    return mv.Camera(name, K, R, -R @ center, (1088, 1920))


def _rig() -> list[mv.Camera]:
    target = np.array([0, 0, 0.9])
    return [_look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 1.8]), target, f"cam0{i + 1}")
            for i, a in enumerate(np.radians([-60, 30, 120, 210]))]  # fmt: skip


def _person(T: int, offset: np.ndarray, heading: float) -> np.ndarray:
    """(T, 33, 3) world points of a person walking slowly and swinging the arms (z up)."""
    c, s = np.cos(heading), np.sin(heading)
    # template axes (left, up, forward) -> world
    basis = np.array([[-c, 0, -s], [-s, 0, c], [0, 1.0, 0]])  # columns: left, up, forward
    out = []
    for t in range(T):
        p = _TEMPLATE.copy()
        p[[15, 17, 19, 21], 2] += 0.15 * np.sin(t / 8)  # left hand swings
        p[[16, 18, 20, 22], 2] -= 0.15 * np.sin(t / 8)
        world = p @ basis.T + offset + np.array([0.004 * t, 0, 0])
        out.append(world)
    return np.stack(out)


def _observe(cams: list[mv.Camera], X: np.ndarray, rng, noise_px: float = 1.5):
    """uv (C, T, 33, 2) with noise, w (C, T, 33) confidences."""
    uv = np.stack([c.project(X) for c in cams]) + rng.normal(
        0, noise_px, (len(cams), *X.shape[:2], 2)
    )
    w = np.full(uv.shape[:3], 0.9)
    return uv, w


def test_dlt_recovers_points_exactly_without_noise():
    cams = _rig()
    X = _person(3, np.zeros(3), 0.3).reshape(-1, 3)
    uv = np.stack([c.project(X) for c in cams])
    got = mv.triangulate(cams, uv, np.ones(uv.shape[:2]))
    np.testing.assert_allclose(got, X, atol=1e-6)
    one_view = np.zeros(uv.shape[:2])
    one_view[0] = 1
    assert np.isnan(mv.triangulate(cams, uv, one_view)).all()  # one view: no point


def test_reference_recovers_points_through_noise_swaps_and_outliers():
    rng = np.random.default_rng(0)
    cams, T = _rig(), 40
    X = _person(T, np.array([0.2, -0.1, 0]), 0.4)
    uv, w = _observe(cams, X, rng)
    uv[2, 10:20] = mv.swap_lr(uv[2, 10:20], mv.SWAP_PATTERNS[1])  # whole body mirrored
    uv[1, 25:30] = mv.swap_lr(uv[1, 25:30], mv.SWAP_PATTERNS[3])  # legs only
    uv[3, 5, [15, 27]] += 150  # two gross 2D outliers
    w[0, :, 31] = 0  # a landmark one view never sees
    ref = rs.build_reference(cams, uv[None], w[None], fps=60.0, smooth=False)
    for v in range(4):
        err = np.linalg.norm(ref.points[v, 0] - X, axis=-1)  # (T, 33)
        assert np.isfinite(err).all()
        assert np.median(err) < 0.01 and err.max() < 0.05, (v, np.median(err), err.max())
    # The swaps were found (in every reference that uses the swapped view) ...
    assert (ref.swaps[0, 0, 2, 10:20] == 1).all() and (ref.swaps[0, 0, 1, 25:30] == 3).all()
    assert (ref.swaps[0, 0, 3, :] == 0).all()
    # ... and the held-out view never contributes (its reprojection is not even computed).
    assert np.isnan(ref.reproj_px[2, 0, :, :, 2]).all() and (ref.swaps[2, 0, 2] == -1).all()
    # Without repair, the mirrored frames of view 2 would pull the reference off.
    no_repair = mv.triangulate(cams, uv[:, 12].transpose(0, 1, 2), w[:, 12])
    assert np.linalg.norm(no_repair - X[12], axis=-1).max() > 0.05


def test_reprojection_check_passes_fails_and_bundle_adjustment_repairs():
    rng = np.random.default_rng(1)
    cams, T = _rig(), 30
    people = np.stack([_person(T, np.array([-0.5, 0, 0]), 0.2),
                       _person(T, np.array([0.6, 0.3, 0]), 2.5)])  # fmt: skip
    obs = [_observe(cams, P, rng) for P in people]
    uv, w = np.stack([o[0] for o in obs]), np.stack([o[1] for o in obs])  # (P, C, T, 33, ...)
    same, before, after = rs.check_calibration(cams, uv, w)
    assert (before < rs.BA_TRIGGER_PX).all() and same is cams  # true cameras: check passes
    # The stored calibration of camera 3 is off by 1.5 degrees: its residual fails the check.
    import cv2

    bad = list(cams)
    dR = cv2.Rodrigues(np.radians([1.5, 0, 0]))[0]
    bad[2] = mv.Camera("cam03", cams[2].K, dR @ cams[2].R, dR @ cams[2].t, cams[2].size_wh)
    fixed, before, after = rs.check_calibration(bad, uv, w)
    assert before[2] > rs.BA_TRIGGER_PX
    assert (after < rs.BA_TRIGGER_PX).all()
    centres = np.array([c.center for c in fixed])
    np.testing.assert_allclose(centres, [c.center for c in cams], atol=0.05)


def test_people_are_associated_across_views_and_time():
    rng = np.random.default_rng(2)
    cams, T = _rig(), 12
    people = [_person(T, np.array([-0.6, 0, 0]), 0.0), _person(T, np.array([0.7, 0.2, 0]), 3.0)]
    obs = [_observe(cams, P, rng) for P in people]
    dets = []
    for c in range(4):  # each view lists the two people in its own, changing order
        order = rng.integers(0, 2, T)
        lm = np.stack([obs[0][0][c], obs[1][0][c]], 1)  # (T, 2, 33, 2)
        lm[order == 1] = lm[order == 1][:, ::-1]
        dets.append(rs.ViewDetections(lm, np.full((T, 2, 33), 0.9), np.zeros((T, 2, 33, 3))))
    dets[1].confidence[4, 1] = 0  # a view misses one person in one frame
    uv, w = rs.associate(cams, dets)
    # Person labels may be in either order; each must be one true person throughout.
    first = 0 if np.nanmean(np.abs(uv[0, 0, 0] - obs[0][0][0, 0])) < 1 else 1
    for p in range(2):
        truth = obs[p ^ first][0]  # (C, T, 33, 2)
        seen = w[p] > 0
        assert np.allclose(uv[p][seen], truth[seen])
    assert seen.sum() >= 4 * T * 33 - 33


def test_facing_and_stature():
    cams = _rig()
    X = _person(1, np.zeros(3), 0.0)  # faces world +y
    toward = [float(np.dot([0, 1.0, 0], c.center - X[0, 0])) > 0 for c in cams]
    got = [bool(facing_front(c.to_cam(X))[0]) for c in cams]
    assert got == toward and any(got) and not all(got)
    assert stature(X) == pytest.approx(1.62 + 0.12 + 0.04 + 0.0, abs=0.12)


def test_qca_reading_convention(tmp_path):
    """A camera 3 m in front of the origin along -y (mm in the file), looking at it: the
    origin projects to the principal point (1/64 px units), in front of the camera."""
    M = np.diag([1.0, -1.0, -1.0]) @ np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    attrs = " ".join(f'r{i + 1}{j + 1}="{M[i, j]}"' for i in range(3) for j in range(3))
    (tmp_path / "c.qca.txt").write_text(
        f'<calibration><cameras><camera serial="camX"><fov_video bottom="1919" right="1087"/>'
        f'<transform {attrs} x="0" y="-3000" z="0"/><intrinsic focalLengthU="{1600 * 64}" '
        f'focalLengthV="{1600 * 64}" centerPointU="{540 * 64}" centerPointV="{960 * 64}"/>'
        f"</camera></cameras></calibration>"
    )
    (cam,) = rs.read_qca(tmp_path / "c.qca.txt")
    np.testing.assert_allclose(cam.center, [0, -3, 0], atol=1e-9)
    assert cam.size_wh == (1088, 1920) and cam.K[0, 0] == 1600
    np.testing.assert_allclose(cam.project(np.zeros(3)), [540, 960], atol=1e-6)
    assert cam.to_cam(np.zeros(3))[2] == pytest.approx(3.0)
