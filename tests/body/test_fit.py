"""The body fit: exact skinned points, and parameters recovered from vertices, joints, evidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stdformer.body.body_model import load_body_model
from stdformer.body.fit import BodyFit, BodyFitter, JointPrior, Term
from stdformer.body.kinematics import PointSet, matrices, rotvecs
from stdformer.body.regressors import landmark_regressor


@pytest.fixture(scope="module")
def fitter() -> BodyFitter:
    return BodyFitter(load_body_model())


def _posed(fitter: BodyFitter, n: int, seed: int, spread: float = 0.35):
    """Random camera-frame bodies: upright (pi about x), 3 m in front, random joints/shape."""
    rng = np.random.default_rng(seed)
    rv = rng.normal(0.0, spread, (n, 24, 3))
    rv[:, 0] = np.array([np.pi, 0.0, 0.0]) + rng.normal(0.0, 0.3, (n, 3))
    truth = BodyFit(matrices(rv), np.array([0.0, 0.2, 3.0]) + rng.normal(0, 0.2, (n, 3)),
                    rng.normal(0.0, 1.0, 10))  # fmt: skip
    return truth, fitter.vertices(truth)


def test_skinned_points_equal_the_body_models_forward(fitter):
    truth, verts = _posed(fitter, 4, seed=0)
    ids = np.arange(0, fitter.body.num_vertices, 97)
    y = fitter.posed_points(truth, PointSet.from_vertices(fitter.skel, ids))
    assert np.abs(y - verts[:, ids]).max() < 1e-5
    with torch.inference_mode():
        out = fitter.body(
            betas=torch.as_tensor(truth.betas[None], dtype=torch.float32),
            global_orient=torch.as_tensor(truth.global_orient),
            body_pose=torch.as_tensor(truth.body_pose),
            transl=torch.as_tensor(truth.transl, dtype=torch.float32),
        )
    assert np.abs(verts - out.vertices.numpy()).max() < 1e-5  # numpy skinning == smplx LBS
    joints = fitter.posed_points(truth, fitter.joint_points)
    assert np.abs(joints - out.joints.numpy()).max() < 1e-5
    lm = landmark_regressor(fitter.body).numpy()
    y_lm = fitter.posed_points(truth, PointSet.from_rows(fitter.skel, lm))
    assert np.abs(y_lm - np.einsum("kv,nvc->nkc", lm, verts)).max() < 1e-5


def test_rotation_log_inverts_exp_up_to_a_half_turn():
    """`rotvecs` (closed form) against the rotations it came from, near 0, mid-range and
    near 180 deg, where an upright body's camera-frame root always is."""
    rng = np.random.default_rng(3)
    axes = rng.normal(size=(3000, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([rng.uniform(0, 1e-3, 1000), rng.uniform(0, 3.0, 1000),
                             rng.uniform(3.0, np.pi, 1000)])  # fmt: skip
    angles[-5:] = np.pi
    rv = axes * angles[:, None]
    with np.errstate(all="raise"):
        back = rotvecs(matrices(rv))
    assert np.allclose(matrices(back), matrices(rv), atol=1e-7)
    below = angles < 3.1  # below a half turn the vector itself is unique
    assert np.allclose(back[below], rv[below], atol=1e-7)


def test_fit_vertices_reproduces_a_mesh_from_scratch(fitter):
    _, verts = _posed(fitter, 6, seed=1)
    fit = fitter.fit_vertices(verts)
    err = np.linalg.norm(fitter.vertices(fit) - verts, axis=-1)  # (N, V)
    assert err.mean() < 0.005  # metres: target <= 10 mm
    # smplx-convention parameters reproduce the same mesh through the body model
    p = fit.params(2)
    with torch.inference_mode():
        out = fitter.body(
            betas=p.betas[None], global_orient=p.global_orient[None],
            body_pose=p.body_pose[None], transl=p.transl[None],
        )  # fmt: skip
    assert np.linalg.norm(out.vertices.numpy()[0] - verts[2], axis=-1).mean() < 0.005


def test_warm_started_fit_follows_the_next_frame(fitter):
    truth, verts = _posed(fitter, 1, seed=2, spread=0.3)
    first = fitter.fit_vertices(verts)
    # the next frame: every joint turned a little further
    moved = BodyFit(truth.rot_local @ matrices(np.full((1, 24, 3), 0.04)),
                    truth.transl + 0.02, truth.betas)  # fmt: skip
    target = fitter.vertices(moved)
    nxt = fitter.fit_vertices(target, init=first, betas=first.betas, iters=2)
    assert np.linalg.norm(fitter.vertices(nxt) - target, axis=-1).mean() < 0.01


def test_fit_joints_recovers_joint_positions(fitter):
    truth, _ = _posed(fitter, 5, seed=3)
    joints = fitter.posed_points(truth, fitter.joint_points)
    fit = fitter.fit_joints(joints)
    err = np.linalg.norm(fitter.posed_points(fit, fitter.joint_points) - joints, axis=-1)
    assert err.mean() < 0.005


def test_image_evidence_pulls_a_perturbed_body_back(fitter):
    """2D landmarks through the camera + a root-relative prior: the refinement's solve."""
    truth, _ = _posed(fitter, 1, seed=4, spread=0.25)
    lm = PointSet.from_rows(fitter.skel, landmark_regressor(fitter.body).numpy())
    K = np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]])
    y = fitter.posed_points(truth, lm)[0]
    uv = y[:, :2] / y[:, 2:] * 600.0 + [320, 240]
    rng = np.random.default_rng(5)
    start = BodyFit(truth.rot_local @ matrices(rng.normal(0, 0.12, (1, 24, 3))),
                    truth.transl + np.array([0.08, -0.05, 0.2]), truth.betas)  # fmt: skip
    before = np.linalg.norm(fitter.posed_points(start, lm)[0] - y, axis=-1).mean()
    terms = [
        Term(lm, uv[None], np.full((1, 33), 1.0), K_cam=K, robust=20.0),
        Term(lm, y[None], np.full((1, 33), 100.0), centre=(23, 24)),  # 3D shape up to place
    ]
    fit = fitter.solve(start, terms, iters=8, damping=1.0)
    after_3d = fitter.posed_points(fit, lm)[0]
    after_uv = after_3d[:, :2] / after_3d[:, 2:] * 600.0 + [320, 240]
    assert np.linalg.norm(after_uv - uv, axis=-1).mean() < 1.0  # pixels
    assert np.linalg.norm(after_3d - y, axis=-1).mean() < 0.25 * before


def test_terms_on_rows_of_a_shared_point_set_solve_as_their_own_points(fitter):
    """The refiner's terms use rows of one PointSet (posed and differentiated once per step):
    the same solve as with PointSets of those rows, with or without the start's pose given."""
    truth, verts = _posed(fitter, 1, seed=6, spread=0.25)
    jreg, lm = np.asarray(fitter.body.J_regressor), landmark_regressor(fitter.body).numpy()
    shared = PointSet.from_rows(fitter.skel, np.concatenate([jreg, lm]))  # (24 + 33) rows
    own_lm, own_pelvis = (
        PointSet.from_rows(fitter.skel, lm),
        PointSet.from_rows(fitter.skel, jreg[:1]),
    )
    tgt_lm = np.einsum("kv,nvc->nkc", lm, verts) + 0.02  # (1, 33, 3)
    tgt_pelvis = np.einsum("kv,nvc->nkc", jreg[:1], verts)  # (1, 1, 3)
    start = BodyFit(truth.rot_local @ matrices(np.full((1, 24, 3), 0.1)), truth.transl, truth.betas)
    w_lm, w_pelvis = np.full((1, 33), 100.0), np.full((1, 1), 10.0)
    own = fitter.solve(start, [Term(own_lm, tgt_lm, w_lm, centre=(23, 24)),
                               Term(own_pelvis, tgt_pelvis, w_pelvis)], iters=3)  # fmt: skip
    rows = [Term(shared, tgt_lm, w_lm, centre=(23, 24), rows=np.arange(24, 57)),
            Term(shared, tgt_pelvis, w_pelvis, rows=np.array([0]))]  # fmt: skip
    posed = fitter.skel.pose(start.rot_local, start.transl, start.betas)
    for fit in (fitter.solve(start, rows, iters=3), fitter.solve(start, rows, 3, posed=posed)):
        assert np.abs(fit.rot_local - own.rot_local).max() < 1e-6  # float noise, amplified
        assert np.abs(fit.transl - own.transl).max() < 1e-6
    assert np.abs(own.rot_local - start.rot_local).max() > 1e-3  # the solve did move


def test_pose_prior_resolves_rotations_the_points_cannot_tell_apart(fitter):
    """spine1 twisted +40 deg and spine2 -40 deg about the spine's own axis place the joints
    where the rest pose does, so a fit to joint positions keeps whichever it starts from; the
    pose prior brings the twist back to rest and leaves the joints where they were."""
    rest = fitter.rest(1)
    twisted_rv = np.zeros((1, 24, 3))
    twisted_rv[0, 3], twisted_rv[0, 6] = [0, np.radians(40), 0], [0, -np.radians(40), 0]
    twisted = BodyFit(matrices(twisted_rv), rest.transl, rest.betas)
    target = fitter.posed_points(rest, fitter.joint_points)  # (1, 24, 3)
    term = Term(fitter.joint_points, target, np.full((1, 24), 1e4))

    def spine_deg(fit: BodyFit) -> np.ndarray:
        return np.degrees(np.linalg.norm(fit.body_pose.reshape(23, 3)[[2, 5]], axis=-1))

    free = fitter.solve(twisted, [term], iters=4)
    assert spine_deg(free).min() > 30.0  # the data alone does not undo the twist
    prior = JointPrior.none()
    prior.rest[[3, 6, 9]] = 10.0
    held = fitter.solve(twisted, [term], iters=6, prior=prior)
    assert spine_deg(held).max() < 2.0
    joints = fitter.posed_points(held, fitter.joint_points)
    assert np.abs(joints - target).max() < 0.005


def test_twist_prior_unwinds_a_limb_and_keeps_its_swing(fitter):
    """Left elbow twisted +70 deg about the forearm and the wrist -70 deg, the arm lowered
    (shoulder swung 70 deg): the joints are where the untwisted arm has them, so a fit to
    joint positions keeps the twists; the twist prior removes them and keeps the swing."""
    down = np.zeros((1, 24, 3))
    down[0, 16] = [0, 0, -np.radians(70)]  # left shoulder: the arm down at the side
    plain = BodyFit(matrices(down), np.zeros((1, 3)), np.zeros(10))
    axis = fitter.skel.J_template[20] - fitter.skel.J_template[18]  # elbow -> wrist at rest
    axis /= np.linalg.norm(axis)
    wrung_rv = down.copy()
    wrung_rv[0, 18], wrung_rv[0, 20] = np.radians(70) * axis, -np.radians(70) * axis
    wrung = BodyFit(matrices(wrung_rv), plain.transl, plain.betas)
    target = fitter.posed_points(plain, fitter.joint_points)
    assert np.abs(fitter.posed_points(wrung, fitter.joint_points) - target).max() < 1e-6
    term = Term(fitter.joint_points, target, np.full((1, 24), 1e4))

    def elbow_twist_deg(fit: BodyFit) -> float:
        return float(np.degrees(fit.body_pose.reshape(23, 3)[17] @ axis))

    assert elbow_twist_deg(fitter.solve(wrung, [term], iters=4)) > 60.0
    prior = JointPrior.none()
    prior.twist[[16, 18, 20]] = 10.0
    held = fitter.solve(wrung, [term], iters=6, prior=prior)
    assert abs(elbow_twist_deg(held)) < 2.0
    shoulder = np.degrees(np.linalg.norm(held.body_pose.reshape(23, 3)[15]))
    assert abs(shoulder - 70.0) < 2.0  # the swing the joints show is kept
    assert np.abs(fitter.posed_points(held, fitter.joint_points) - target).max() < 0.005
