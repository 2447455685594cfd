"""The npz export carries the body in smplx conventions: BodyModel and smplx's own SMPL
reproduce the recorded vertices from it."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import smplx
import torch

from stdformer.body.smpl_file import read_smpl_file
from stdformer.recording import open_recording
from stdformer.recording.export import export_recording
from tests.recording.body_take import BETAS, default_body, write_body_take


def test_npz_body_parameters_reproduce_the_vertices(tmp_path: Path) -> None:
    path = write_body_take(tmp_path, 5, missing=(1,))
    data = dict(np.load(export_recording(open_recording(path), "npz", tmp_path / "t.npz")))
    n = 4  # frames with a mesh
    assert data["global_orient"].shape == (n, 3) and data["body_pose"].shape == (n, 69)
    assert data["transl"].shape == (n, 3) and data["frame_betas"].shape == (n, 10)
    np.testing.assert_array_equal(data["betas"], BETAS)  # (10,), the take's shape
    params = {k: data[k] for k in ("global_orient", "body_pose", "transl")}
    ours = default_body()(betas=data["betas"][None], **params)
    np.testing.assert_allclose(ours.vertices.numpy(), data["vertices"], atol=1e-5)
    np.testing.assert_allclose(ours.joints.numpy(), data["joints"], atol=1e-5)
    # smplx's own SMPL layer, built from the same body file's arrays, agrees.
    arrays = read_smpl_file(default_body().source_path).as_struct_dict()
    with contextlib.redirect_stdout(io.StringIO()):
        smpl = smplx.SMPL(model_path=str(path), data_struct=smplx.utils.Struct(**arrays))
    tensors = {k: torch.as_tensor(v) for k, v in params.items()}
    with torch.no_grad():
        ref = smpl(betas=torch.as_tensor(data["betas"])[None].expand(n, -1), **tensors)
    np.testing.assert_allclose(ref.vertices.numpy(), data["vertices"], atol=1e-5)


def test_npz_of_a_mesh_without_a_body_has_nan_parameters(
    sphere_recording: Path, tmp_path: Path
) -> None:
    data = np.load(export_recording(open_recording(sphere_recording), "npz", tmp_path / "s.npz"))
    assert np.isnan(data["body_pose"]).all() and np.isnan(data["betas"]).all()
    assert data["vertices"].shape[0] == data["transl"].shape[0] == 43
