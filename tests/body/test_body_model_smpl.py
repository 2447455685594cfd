"""Golden-value tests of the body-model interface on the synthetic SMPL-layout file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stdformer.body.body_model import BodyModel, BodyOutput, load_body_model
from stdformer.body.smpl_file import SMPL_JOINT_NAMES, SMPL_PARENTS


@pytest.fixture(scope="module")
def smpl(synthetic_smpl_npz) -> BodyModel:
    return load_body_model(synthetic_smpl_npz)


def _subtree(joint: int) -> list[int]:
    out = [joint]
    for j, p in enumerate(SMPL_PARENTS):
        if p in out:
            out.append(j)
    return out


def test_metadata(smpl: BodyModel, synthetic_smpl_data) -> None:
    assert smpl.kind == "smpl" and not smpl.is_default_body
    assert smpl.gender == "neutral"  # from the file name SMPL_NEUTRAL.npz
    assert smpl.num_vertices == 6890 and smpl.faces.shape == (13776, 3)
    assert smpl.faces.dtype == np.int64
    assert smpl.joint_names == SMPL_JOINT_NAMES and smpl.joint_names[18] == "left_elbow"
    assert tuple(smpl.parents.tolist()) == SMPL_PARENTS
    assert len(smpl.topology_fingerprint) == 16
    np.testing.assert_allclose(smpl.v_template, synthetic_smpl_data["v_template"], atol=1e-6)


def test_rest_joints_are_regressor_times_template(smpl: BodyModel, synthetic_smpl_data) -> None:
    d = synthetic_smpl_data
    expected = d["J_regressor"] @ d["v_template"]  # (24, 3)
    np.testing.assert_allclose(smpl.rest_joints, expected, atol=1e-6)
    out = smpl()
    np.testing.assert_allclose(out.joints[0].numpy(), expected, atol=1e-5)


def test_zero_pose_returns_template(smpl: BodyModel) -> None:
    out = smpl(betas=torch.zeros(1, 10), global_orient=torch.zeros(1, 3))
    assert isinstance(out, BodyOutput)
    assert out.vertices.shape == (1, 6890, 3) and out.joints.shape == (1, 24, 3)
    np.testing.assert_allclose(out.vertices[0].numpy(), smpl.v_template, atol=1e-6)


def test_rotating_one_joint_moves_only_its_skinned_vertices(smpl: BodyModel) -> None:
    elbow = SMPL_JOINT_NAMES.index("left_elbow")
    body_pose = torch.zeros(1, 69)
    body_pose[0, 3 * (elbow - 1) + 1] = 1.2  # bend about Y
    moved = smpl(body_pose=body_pose).vertices[0].numpy() - smpl.v_template
    moved = np.linalg.norm(moved, axis=1) > 1e-6
    skinned = smpl.lbs_weights[:, _subtree(elbow)].sum(1) > 0
    assert moved.any()
    assert not (moved & ~skinned).any(), "vertices not skinned by the elbow subtree moved"
    assert moved[smpl.lbs_weights[:, elbow] > 0.5].all()
    # Joints above the elbow stay put; the wrist moves.
    joints = smpl(body_pose=body_pose).joints[0].numpy()
    still = [j for j in range(24) if j not in _subtree(elbow)]
    np.testing.assert_allclose(joints[still], smpl.rest_joints[still], atol=1e-5)
    assert np.linalg.norm(joints[20] - smpl.rest_joints[20]) > 0.05


def test_batch_equals_loop(smpl: BodyModel) -> None:
    g = torch.Generator().manual_seed(0)
    betas = torch.randn(4, 10, generator=g)
    orient = 0.5 * torch.randn(4, 3, generator=g)
    pose = 0.3 * torch.randn(4, 69, generator=g)
    transl = torch.randn(4, 3, generator=g)
    batch = smpl(betas=betas, global_orient=orient, body_pose=pose, transl=transl)
    for i in range(4):
        one = smpl(betas[i : i + 1], orient[i : i + 1], pose[i : i + 1], transl[i : i + 1])
        torch.testing.assert_close(batch.vertices[i : i + 1], one.vertices, atol=1e-5, rtol=0)
        torch.testing.assert_close(batch.joints[i : i + 1], one.joints, atol=1e-5, rtol=0)


def test_translation_and_global_rotation(smpl: BodyModel) -> None:
    out = smpl(transl=torch.tensor([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(
        out.vertices[0].numpy(), smpl.v_template + np.array([1.0, 2.0, 3.0]), atol=1e-5
    )
    # A half turn about Y around the pelvis maps +X to -X relative to the pelvis.
    out = smpl(global_orient=torch.tensor([[0.0, np.pi, 0.0]]))
    pelvis = smpl.rest_joints[0]
    rel = smpl.v_template - pelvis
    expected = pelvis + rel * np.array([-1.0, 1.0, -1.0])
    np.testing.assert_allclose(out.vertices[0].numpy(), expected, atol=1e-5)


def test_float64_matches_float32(synthetic_smpl_npz, smpl: BodyModel) -> None:
    m64 = load_body_model(synthetic_smpl_npz, dtype=torch.float64)
    pose = 0.3 * torch.randn(2, 69, generator=torch.Generator().manual_seed(1))
    out64 = m64(body_pose=pose)
    assert out64.vertices.dtype == torch.float64 and m64.dtype == torch.float64
    out32 = smpl(body_pose=pose)
    np.testing.assert_allclose(out64.vertices.numpy(), out32.vertices.numpy(), atol=1e-5)


def test_betas_change_shape_and_broadcast(smpl: BodyModel) -> None:
    betas = torch.zeros(1, 10)
    betas[0, 0] = 2.0
    out = smpl(betas=betas, body_pose=torch.zeros(3, 69))
    assert out.vertices.shape == (3, 6890, 3)
    height = np.ptp(out.vertices[0, :, 1].numpy())
    assert height > np.ptp(smpl.v_template[:, 1]) + 0.01
    with pytest.raises(ValueError, match="expected a"):
        smpl(betas=torch.zeros(1, 7))


def test_pickle_and_npz_load_identically(synthetic_smpl_npz, synthetic_smpl_pkl) -> None:
    a = load_body_model(synthetic_smpl_npz)
    b = load_body_model(synthetic_smpl_pkl)
    assert a.topology_fingerprint == b.topology_fingerprint
    pose = 0.3 * torch.randn(1, 69, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a(body_pose=pose).vertices, b(body_pose=pose).vertices)
    np.testing.assert_allclose(a.J_regressor, b.J_regressor, atol=1e-7)


@pytest.mark.requires_cuda
def test_cuda_matches_cpu(smpl: BodyModel, synthetic_smpl_npz) -> None:
    gpu = load_body_model(synthetic_smpl_npz, device="cuda")
    pose = 0.3 * torch.randn(2, 69, generator=torch.Generator().manual_seed(3))
    out = gpu(body_pose=pose)
    assert out.vertices.device.type == "cuda"
    np.testing.assert_allclose(out.vertices.cpu().numpy(), smpl(body_pose=pose).vertices.numpy(),
                               atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("which", ["synthetic", "default"])
def test_fast_forward_matches_smplx(synthetic_smpl_npz, monkeypatch, which, dtype) -> None:
    monkeypatch.delenv("STDFORMER_BODY_MODEL", raising=False)
    model = load_body_model(synthetic_smpl_npz if which == "synthetic" else None, dtype=dtype)
    g = torch.Generator().manual_seed(4)
    args = {
        "betas": torch.randn(3, 10, generator=g),
        "global_orient": torch.randn(3, 3, generator=g),
        "body_pose": 0.5 * torch.randn(3, 69, generator=g),
        "transl": torch.randn(3, 3, generator=g),
    }
    fast, ref = model(**args), model.forward_smplx(**args)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(fast.vertices, ref.vertices, atol=tol, rtol=0)
    torch.testing.assert_close(fast.joints, ref.joints, atol=tol, rtol=0)


def test_gradients_flow_to_pose_and_shape(smpl: BodyModel) -> None:
    pose = torch.zeros(2, 69, requires_grad=True)
    betas = torch.zeros(2, 10, requires_grad=True)
    out = smpl(betas=betas, body_pose=pose)
    (out.vertices.square().sum() + out.joints.square().sum()).backward()
    assert pose.grad is not None and torch.isfinite(pose.grad).all() and pose.grad.abs().sum() > 0
    assert betas.grad is not None and betas.grad.abs().sum() > 0
