"""BodyModel equals smplx's own SMPL built from the same file, and SMPL's conventions."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import smplx
import torch

from stdformer.body.body_model import load_body_model
from stdformer.body.smpl_file import SMPL_JOINT_NAMES


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_equals_smplx_loading_the_file_itself(synthetic_smpl_npz, dtype) -> None:
    ours = load_body_model(synthetic_smpl_npz, dtype=dtype)
    with contextlib.redirect_stdout(io.StringIO()):
        raw = dict(np.load(synthetic_smpl_npz))  # the file's arrays, untouched by our reader
        ref = smplx.SMPL(
            model_path=str(synthetic_smpl_npz), data_struct=smplx.utils.Struct(**raw), dtype=dtype
        )
    g = torch.Generator().manual_seed(7)
    args = {
        "betas": torch.randn(4, 10, generator=g, dtype=dtype),
        "global_orient": torch.randn(4, 3, generator=g, dtype=dtype),
        "body_pose": 0.6 * torch.randn(4, 69, generator=g, dtype=dtype),
        "transl": torch.randn(4, 3, generator=g, dtype=dtype),
    }
    out, want = ours(**args), ref(**args)
    tol = 2e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(out.vertices, want.vertices, atol=tol, rtol=0)
    torch.testing.assert_close(out.joints, want.joints[:, :24], atol=tol, rtol=0)
    # smplx broadcasts a batch-1 betas over the pose batch; so do we.
    out1 = ours(betas=args["betas"][:1], body_pose=args["body_pose"])
    zeros = torch.zeros(4, 3, dtype=dtype)
    want1 = ref(betas=args["betas"][:1], body_pose=args["body_pose"], global_orient=zeros,
                transl=zeros)  # fmt: skip
    torch.testing.assert_close(out1.vertices, want1.vertices, atol=tol, rtol=0)


def _pose(name: str, rotvec: tuple[float, float, float]) -> torch.Tensor:
    pose = torch.zeros(1, 69)
    j = SMPL_JOINT_NAMES.index(name) - 1
    pose[0, 3 * j : 3 * j + 3] = torch.tensor(rotvec)
    return pose


@pytest.mark.parametrize("which", ["synthetic", "default"])
def test_joint_rotations_have_smpl_signs(which, synthetic_smpl_npz, monkeypatch) -> None:
    """World-aligned joint frames as in SMPL: +X at a knee flexes it (shin goes back), -Y at the
    left elbow / +Y at the right elbow swings the forearm forward, +Z at the left shoulder raises
    the left arm, and global_orient pivots about the pelvis joint."""
    monkeypatch.delenv("STDFORMER_BODY_MODEL", raising=False)
    body = load_body_model(synthetic_smpl_npz if which == "synthetic" else None)
    rest = {n: body.rest_joints[i] for i, n in enumerate(SMPL_JOINT_NAMES)}

    def joint(out, name: str) -> np.ndarray:
        return out.joints[0, SMPL_JOINT_NAMES.index(name)].numpy()

    for side in ("left", "right"):
        out = body(body_pose=_pose(f"{side}_knee", (1.0, 0.0, 0.0)))
        assert joint(out, f"{side}_ankle")[2] < rest[f"{side}_ankle"][2] - 0.1
        sign = -1.0 if side == "left" else 1.0
        out = body(body_pose=_pose(f"{side}_elbow", (0.0, sign * 1.0, 0.0)))
        assert joint(out, f"{side}_wrist")[2] > rest[f"{side}_wrist"][2] + 0.1
        out = body(body_pose=_pose(f"{side}_shoulder", (0.0, 0.0, -sign * 1.0)))
        assert joint(out, f"{side}_wrist")[1] > rest[f"{side}_wrist"][1] + 0.2
    out = body(global_orient=torch.tensor([[0.0, 1.0, 0.0]]))
    np.testing.assert_allclose(joint(out, "pelvis"), rest["pelvis"], atol=1e-5)
