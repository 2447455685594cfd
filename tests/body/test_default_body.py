"""The embedded default body (assets/default_body.npz): a person-like body in SMPL's layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from stdformer.body.body_model import BodyModel, body_pose_from_rotvecs, load_body_model
from stdformer.body.smpl_file import SMPL_JOINT_NAMES, SMPL_PARENTS


@pytest.fixture(scope="module")
def body() -> BodyModel:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("STDFORMER_BODY_MODEL", raising=False)
        return load_body_model()


def _mirror_joint(name: str) -> int:
    if name.startswith("left_"):
        name = "right_" + name[5:]
    elif name.startswith("right_"):
        name = "left_" + name[6:]
    return SMPL_JOINT_NAMES.index(name)


def test_layout_is_smpl(body: BodyModel) -> None:
    assert body.kind == "default" and body.is_default_body and body.gender == "neutral"
    assert body.joint_names == SMPL_JOINT_NAMES
    assert tuple(body.parents.tolist()) == SMPL_PARENTS
    assert body.num_betas == 10
    assert body.J_regressor.shape == (24, body.num_vertices)
    np.testing.assert_allclose(body.J_regressor.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(body.rest_joints, body.J_regressor @ body.v_template, atol=1e-5)


def test_plausible_size_and_frame(body: BodyModel) -> None:
    v, j = body.v_template, {n: body.rest_joints[i] for i, n in enumerate(SMPL_JOINT_NAMES)}
    height = np.ptp(v[:, 1])
    assert 1.6 < height < 1.85, height
    assert j["head"][1] > j["neck"][1] > j["pelvis"][1] > j["left_knee"][1] > j["left_ankle"][1]
    assert j["left_hip"][0] > 0.05 and j["right_hip"][0] < -0.05  # body's left is +X
    assert j["left_foot"][2] > j["left_ankle"][2] + 0.05  # toes point forward (+Z)
    shoulder_width = j["left_shoulder"][0] - j["right_shoulder"][0]
    assert 0.25 < shoulder_width < 0.45
    # T-pose: arms horizontal, straight out along X.
    arm = j["left_wrist"] - j["left_shoulder"]
    assert arm[0] > 0.4 and abs(arm[1]) < 0.02 and abs(arm[2]) < 0.02
    np.testing.assert_allclose(j["pelvis"], [0.0, -0.223, 0.028], atol=2e-3)  # SMPL placement


def test_left_right_symmetric(body: BodyModel) -> None:
    v = body.v_template
    mirrored = v * np.array([-1.0, 1.0, 1.0])
    dist, nearest = cKDTree(v).query(mirrored)
    assert dist.max() < 2e-3, dist.max()
    perm = [_mirror_joint(n) for n in SMPL_JOINT_NAMES]
    np.testing.assert_allclose(body.lbs_weights[nearest][:, perm], body.lbs_weights, atol=1e-3)
    np.testing.assert_allclose(body.rest_joints[perm] * [-1, 1, 1], body.rest_joints, atol=2e-3)


def test_mesh_is_clean_and_closed(body: BodyModel) -> None:
    f, v = body.faces, body.v_template
    assert (f[:, 0] != f[:, 1]).all() and (f[:, 1] != f[:, 2]).all() and (f[:, 0] != f[:, 2]).all()
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    assert area.min() > 1e-9, area.min()
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all(), "every edge must be shared by exactly two faces (watertight)"


def test_left_elbow_bends_the_left_elbow(body: BodyModel) -> None:
    out = body(body_pose=body_pose_from_rotvecs(left_elbow=(0.0, -1.5, 0.0)))
    moved = np.linalg.norm(out.vertices[0].numpy() - body.v_template, axis=1)
    w = body.lbs_weights
    elbow_chain = [SMPL_JOINT_NAMES.index(n) for n in ("left_elbow", "left_wrist", "left_hand")]
    forearm = w[:, elbow_chain[0]] > 0.9
    upper_arm = (w[:, SMPL_JOINT_NAMES.index("left_shoulder")] > 0.9) & (
        w[:, elbow_chain].sum(1) == 0
    )
    not_skinned = w[:, elbow_chain].sum(1) == 0
    assert forearm.sum() > 100 and upper_arm.sum() > 50
    assert (moved[forearm] > 1e-3).mean() > 0.95 and np.median(moved[forearm]) > 0.1
    assert moved[not_skinned].max() < 1e-6  # upper arm, torso and the right side stay put
    assert moved[upper_arm].max() < 1e-6
    wrist = out.joints[0, SMPL_JOINT_NAMES.index("left_wrist")].numpy()
    elbow = body.rest_joints[SMPL_JOINT_NAMES.index("left_elbow")]
    assert wrist[2] - elbow[2] > 0.15  # the forearm swings forward, as for SMPL


def test_shape_directions_are_smpl_scaled(body: BodyModel) -> None:
    heights = []
    for k in range(10):
        betas = torch.zeros(2, 10)
        betas[0, k], betas[1, k] = 1.0, -1.0
        v = body(betas=betas).vertices.numpy()
        disp = np.linalg.norm(v[0] - body.v_template, axis=1).max()
        assert 0.001 < disp < 0.25, (k, disp)  # one unit beta: millimetres to decimetres
        heights.append(np.ptp(v[0, :, 1]) - np.ptp(v[1, :, 1]))
    assert heights[0] > 0.02  # first direction makes the body taller (fixed sign)
    # Joints follow the shape: a tall body's regressed knee stays inside the leg.
    out = body(betas=torch.tensor([[2.0, -1.5, 1.0, 0, 0, 0, 0, 0, 0, 0]]))
    knee = out.joints[0, SMPL_JOINT_NAMES.index("left_knee")].numpy()
    dist, _ = cKDTree(out.vertices[0].numpy()).query(knee)
    assert 0.02 < dist < 0.09


def test_squat_keeps_limbs_attached(body: BodyModel) -> None:
    pose = body_pose_from_rotvecs(
        left_hip=(-1.6, 0, 0), right_hip=(-1.6, 0, 0), left_knee=(2.0, 0, 0),
        right_knee=(2.0, 0, 0), left_shoulder=(0, 0, 1.2), right_shoulder=(0, 0, -1.2),
    )  # fmt: skip
    v = body(body_pose=pose).vertices[0].numpy()
    f = body.faces
    rest_len = np.linalg.norm(body.v_template[f[:, 0]] - body.v_template[f[:, 1]], axis=1)
    posed_len = np.linalg.norm(v[f[:, 0]] - v[f[:, 1]], axis=1)
    assert np.percentile(posed_len / rest_len, 99.9) < 3.0  # no tearing / long stretched edges


def test_joints_only_equals_the_skinned_forward() -> None:
    import torch

    from stdformer.body.body_model import load_body_model

    body = load_body_model()
    g = torch.Generator().manual_seed(0)
    pose = 0.3 * torch.randn(3, 69, generator=g)
    orient = torch.randn(3, 3, generator=g)
    betas = torch.randn(3, 10, generator=g)
    ref = body(betas=betas, global_orient=orient, body_pose=pose).joints
    torch.testing.assert_close(body.joints_only(betas, orient, pose), ref, atol=1e-5, rtol=1e-5)
