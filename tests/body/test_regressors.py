"""Keypoint regressors: rows are vertex combinations that land on the right body part."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from stdformer.body import regressors as R
from stdformer.body.body_model import load_body_model
from stdformer.detect.pose_topology import FLIP_PERMUTATION, POSE_LANDMARK_NAMES

LM = {n: i for i, n in enumerate(POSE_LANDMARK_NAMES)}
EJ = {n: i for i, n in enumerate(R.EVAL_JOINT_NAMES)}
FACE = [i for i, n in enumerate(POSE_LANDMARK_NAMES) if i <= LM["mouth_right"]]


def _real_smpl_path() -> Path | None:
    root = os.environ.get("STDFORMER_SMPL_DIR")
    if not root:
        return None
    found = sorted(Path(root).glob("*NEUTRAL*.pkl")) + sorted(Path(root).glob("*neutral*.pkl"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def default_body():
    return load_body_model()


@pytest.fixture(scope="module")
def synthetic_smpl_body(synthetic_smpl_npz):
    return load_body_model(synthetic_smpl_npz)


@pytest.fixture(
    scope="module",
    params=["default", pytest.param("real_smpl", marks=pytest.mark.requires_smpl)],
)
def real_body(request):
    """Bodies with real human geometry: the default body, and licensed SMPL when given."""
    if request.param == "default":
        return load_body_model()
    path = _real_smpl_path()
    if path is None:
        pytest.skip("no *NEUTRAL*.pkl in $STDFORMER_SMPL_DIR")
    return load_body_model(path)


def _rest_points(body, reg: torch.Tensor) -> np.ndarray:
    return R.regress(reg, torch.from_numpy(body.v_template)).numpy().astype(np.float64)


def _check_rows(reg: torch.Tensor, k: int, v: int) -> None:
    assert reg.shape == (k, v) and reg.dtype == torch.float32
    assert (reg >= 0).all()
    torch.testing.assert_close(reg.sum(1), torch.ones(k), atol=1e-5, rtol=0)
    assert int((reg > 0).sum(1).max()) <= 64  # sparse: a few vertices per keypoint


@pytest.mark.parametrize("which", ["default_body", "synthetic_smpl_body"])
def test_rows_are_sparse_convex_combinations(which, request):
    body = request.getfixturevalue(which)
    v = body.num_vertices
    _check_rows(R.landmark_regressor(body), 33, v)
    _check_rows(R.eval_joint_regressor(body), 14, v)
    _check_rows(R.coco_regressor(body), 17, v)
    assert R.body_regressors(body) is R.body_regressors(body)  # built once per body


def test_smpl_topology_uses_published_vertex_ids_and_joint_rows(synthetic_smpl_body):
    body = synthetic_smpl_body
    reg = R.body_regressors(body)
    assert reg.topology == "smpl"
    for name, vid in (("nose", 332), ("left_eye", 2800), ("right_eye", 6260),
                      ("left_heel", 3387), ("right_heel", 6787),
                      ("left_foot_index", 3216), ("right_foot_index", 6617)):  # fmt: skip
        row = reg.landmarks[LM[name]]
        assert row[vid] == 1.0 and row.sum() == 1.0, name
    # Limb landmarks and evaluation joints are the file's own joint-regressor rows.
    np.testing.assert_allclose(reg.landmarks[LM["left_elbow"]], body.J_regressor[18], atol=1e-6)
    np.testing.assert_allclose(reg.eval_joints[EJ["right_knee"]], body.J_regressor[5], atol=1e-6)
    np.testing.assert_allclose(reg.eval_joints[EJ["neck"]], body.J_regressor[12], atol=1e-6)


def test_coco_rows_are_the_matching_mediapipe_rows(default_body):
    reg = R.body_regressors(default_body)
    for k, name in enumerate(R.COCO_NAMES):
        assert np.array_equal(reg.coco[k], reg.landmarks[LM[name]]), name


def test_eval_joints_on_the_rest_mesh_are_the_rest_joints(default_body):
    pts = _rest_points(default_body, R.eval_joint_regressor(default_body))
    smpl_ids = {"right_ankle": 8, "right_knee": 5, "right_hip": 2, "left_hip": 1, "left_knee": 4,
                "left_ankle": 7, "right_wrist": 21, "right_elbow": 19, "right_shoulder": 17,
                "left_shoulder": 16, "left_elbow": 18, "left_wrist": 20, "neck": 12}  # fmt: skip
    for name, j in smpl_ids.items():
        np.testing.assert_allclose(pts[EJ[name]], default_body.rest_joints[j], atol=1e-5)
    top = pts[EJ["head_top"]]
    assert abs(top[1] - default_body.v_template[:, 1].max()) < 0.02  # crown of the head
    assert abs(top[0]) < 0.005


def test_left_right_symmetry(real_body):
    lm = _rest_points(real_body, R.landmark_regressor(real_body))
    mirrored = lm[list(FLIP_PERMUTATION)] * np.array([-1.0, 1.0, 1.0])
    err = np.linalg.norm(mirrored - lm, axis=1)
    assert err.max() < 0.01, dict(zip(POSE_LANDMARK_NAMES, err.round(4), strict=True))
    ej = _rest_points(real_body, R.eval_joint_regressor(real_body))
    flip = [EJ[n.replace("left", "@").replace("right", "left").replace("@", "right")]
            for n in R.EVAL_JOINT_NAMES]  # fmt: skip
    assert np.abs(ej[flip] * np.array([-1.0, 1.0, 1.0]) - ej).max() < 0.01


def test_landmarks_land_on_the_right_body_part(real_body):
    p = _rest_points(real_body, R.landmark_regressor(real_body))
    joints = real_body.rest_joints
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    for name, i in LM.items():  # the body's left is +X for a body facing +Z
        if name.startswith("left") or name == "mouth_left":
            assert x[i] > 0.01, name
    # Face: the nose is the most forward face point, below the eyes and above the mouth.
    assert LM["nose"] == FACE[int(np.argmax(z[FACE]))]
    assert y[LM["mouth_left"]] < y[LM["nose"]] < y[LM["left_eye"]]
    assert abs(x[LM["nose"]]) < 0.005
    for side in ("left", "right"):
        inner, eye, outer = (abs(x[LM[f"{side}_eye{s}"]]) for s in ("_inner", "", "_outer"))
        assert inner < eye < outer
        assert z[LM[f"{side}_ear"]] < z[LM[f"{side}_eye"]] - 0.05  # ears well behind the eyes
        assert abs(x[LM[f"{side}_ear"]]) > abs(x[LM[f"{side}_eye_outer"]])
        # Trunk and legs: ordered top to bottom.
        chain = [f"{side}_{n}" for n in ("shoulder", "hip", "knee", "ankle", "heel")]
        heights = [y[LM[n]] for n in chain]
        assert heights == sorted(heights, reverse=True), chain
        assert y[LM[f"{side}_eye"]] > y[LM[f"{side}_shoulder"]]
        assert z[LM[f"{side}_heel"]] < z[LM[f"{side}_ankle"]] < z[LM[f"{side}_foot_index"]]
        # Arms in T-pose: shoulder -> elbow -> wrist -> hand points outward.
        s = 1 if side == "left" else -1
        reach = [s * x[LM[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist")]
        assert reach == sorted(reach)
        wrist_j = joints[20 if side == "left" else 21]
        assert np.linalg.norm(p[LM[f"{side}_wrist"]] - wrist_j) < 0.01
        for n in ("pinky", "index", "thumb"):
            d = np.linalg.norm(p[LM[f"{side}_{n}"]] - wrist_j)
            assert 0.03 < d < 0.15 and s * x[LM[f"{side}_{n}"]] > s * wrist_j[0], n
        assert z[LM[f"{side}_pinky"]] < z[LM[f"{side}_index"]]  # palm down, thumb forward


def test_mediapipe_offsets_from_the_joints(default_body):
    """Shoulders ~2 cm above the shoulder joints, hips ~1.75 cm medial (measured on renders)."""
    p = _rest_points(default_body, R.landmark_regressor(default_body))
    j = default_body.rest_joints
    for side, sj, hj, s in (("left", 16, 1, 1.0), ("right", 17, 2, -1.0)):
        np.testing.assert_allclose(p[LM[f"{side}_shoulder"]] - j[sj], [0, 0.02, 0], atol=2e-3)
        inward = s * (j[hj][0] - p[LM[f"{side}_hip"]][0])
        assert 0.015 < inward < 0.02
        np.testing.assert_allclose(p[LM[f"{side}_hip"]][1:], j[hj][1:], atol=1e-3)


def test_landmarks_follow_the_pose(default_body):
    """Bend the left elbow 90 degrees: hand landmarks move with the hand, the face stays."""
    body_pose = torch.zeros(1, 69)
    body_pose[0, 3 * 17 + 1] = np.pi / 2  # left elbow (joint 18) about +Y
    rest, posed = default_body(), default_body(body_pose=body_pose)
    reg = R.landmark_regressor(default_body)
    lm_rest, lm_posed = R.regress(reg, rest.vertices)[0], R.regress(reg, posed.vertices)[0]
    wrist_j = posed.joints[0, 20]
    assert torch.linalg.norm(lm_posed[LM["left_wrist"]] - wrist_j) < 0.02
    assert torch.linalg.norm(lm_posed[LM["left_wrist"]] - lm_rest[LM["left_wrist"]]) > 0.15
    for n in ("left_index", "left_pinky", "left_thumb"):  # rigid with the hand
        d_rest = torch.linalg.norm(lm_rest[LM[n]] - rest.joints[0, 20])
        d_posed = torch.linalg.norm(lm_posed[LM[n]] - wrist_j)
        assert abs(d_rest - d_posed) < 0.01, n
    torch.testing.assert_close(lm_posed[FACE], lm_rest[FACE], atol=1e-5, rtol=0)


def test_regress_shapes_and_errors(default_body):
    reg = R.coco_regressor(default_body)
    v = default_body.num_vertices
    assert R.regress(reg, torch.zeros(v, 3)).shape == (17, 3)
    assert R.regress(reg, torch.zeros(4, v, 3)).shape == (4, 17, 3)
    assert R.regress(reg, torch.zeros(2, 3, v, 3, dtype=torch.float64)).dtype == torch.float64
    assert R.regress(reg, torch.zeros(2, 3, v, 3)).shape == (2, 3, 17, 3)
    with pytest.raises(ValueError, match="vertices"):
        R.regress(reg, torch.zeros(1, 6890, 3))


def test_surface_points_on_a_sphere():
    """Golden values for the ray / closest-point helpers the regressors are built from."""
    import trimesh

    from stdformer.body import surface as sf

    sphere = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces, np.int64)
    hit = sf.ray_hit_row(v, f, np.array([0.1, 0.2, 5.0]), np.array([0.0, 0.0, -1.0]))
    assert hit is not None and abs(hit.sum() - 1) < 1e-12 and (hit >= 0).all()
    p = hit @ v
    np.testing.assert_allclose(p[:2], [0.1, 0.2], atol=1e-9)  # on the ray
    assert 0.99 < np.linalg.norm(p) <= 1.0 + 1e-9 and p[2] > 0  # first (front) hit
    assert sf.ray_hit_row(v, f, np.array([3.0, 0, 5]), np.array([0.0, 0, -1])) is None
    near = sf.closest_point_row(v, f, np.array([0.0, 2.0, 0.0])) @ v
    np.testing.assert_allclose(near, [0, 1, 0], atol=0.01)
    middle = sf.through_midpoint_row(v, f, np.array([0.3, 0.0, 0.1]), np.array([0, 1.0, 0]))
    np.testing.assert_allclose(middle @ v, [0.3, 0.0, 0.1], atol=0.01)
    assert np.count_nonzero(middle) <= 6


def test_geometric_rules_do_not_depend_on_the_mesh_resolution(default_body):
    """Rebuilt on a 5,000-vertex decimation of the default body, landmarks stay put (< 2.5 cm)."""
    from stdformer.body.mesh_levels import decimate

    v = default_body.v_template.astype(np.float64)
    pts, faces, cluster = decimate(v, default_body.faces, 5000)
    # Carry skinning weights (nearest member of each cluster) and the joint regressor over.
    rep = np.array([np.flatnonzero(cluster == k)[0] for k in range(len(pts))])
    jreg = np.zeros((24, len(pts)))
    np.add.at(jreg.T, cluster[cluster >= 0], default_body.J_regressor.T[cluster >= 0])
    small = R.build_regressors(pts, faces, jreg, default_body.lbs_weights[rep])
    assert small.topology == "geometric"
    full = R.body_regressors(default_body)
    dist = np.linalg.norm(full.landmarks @ v - small.landmarks @ pts, axis=1)
    assert dist.max() < 0.025, dict(zip(POSE_LANDMARK_NAMES, dist.round(3), strict=True))
