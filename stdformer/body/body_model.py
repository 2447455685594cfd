"""One body-model interface over smplx for the embedded default body and user SMPL files.

`load_body_model()` finds the file through `stdformer.paths.resolve_file("body_model", ...)`
(argument -> $STDFORMER_BODY_MODEL -> assets/default_body.npz), validates it
(`smpl_file.read_smpl_file`) and builds an `smplx.SMPL` from the arrays. `BodyModel.forward` is
stateless like smplx's layers: every call passes its own parameters (missing ones are zero), so one
model serves any batch size and many threads of inference.

Conventions (same as SMPL): metres, Y up, the body faces +Z in its rest pose; `global_orient` and
`body_pose` are axis-angle rotations of the 24 joints in SMPL order (see `SMPL_JOINT_NAMES`), so
pose parameters mean the same thing for the default body and for SMPL.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import smplx
import torch
from torch import nn

from stdformer.body.smpl_file import (
    NUM_JOINTS,
    SMPL_JOINT_NAMES,
    SmplArrays,
    read_smpl_file,
)
from stdformer.paths import BadFileError, resolve_file

logger = logging.getLogger(__name__)

NUM_BODY_JOINTS = NUM_JOINTS - 1  # 23 joints in body_pose (all but the pelvis)

# smplx appends extra joints picked from fixed vertex ids of the SMPL-H topology (ids up to 6787).
# We return only the 24 kinematic joints, so the extras are reduced to the five face points with
# vertex 0 as a placeholder: valid for every topology and nearly free to compute.
_MINIMAL_VERTEX_IDS = {k: 0 for k in ("nose", "reye", "leye", "rear", "lear")}


@dataclass(frozen=True)
class BodyOutput:
    """Result of a forward pass, in the body-model frame (metres, Y up) plus `transl`."""

    vertices: torch.Tensor  # (B, V, 3)
    joints: torch.Tensor  # (B, 24, 3) kinematic joints in SMPL order


def topology_fingerprint(num_vertices: int, faces: np.ndarray) -> str:
    """Short hash of vertex count + faces: identifies a mesh topology (checkpoints store it)."""
    h = hashlib.sha1()
    h.update(np.asarray([num_vertices], np.int64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


class BodyModel(nn.Module):
    """SMPL-layout body model (24 joints) built as an `smplx.SMPL` (the `smpl` submodule).

    `forward` evaluates smplx's linear blend skinning restructured for speed (see `_lbs`);
    `forward_smplx` runs smplx's own forward and is the reference it is tested against.

    Attributes (numpy, float32 unless noted, rest pose with zero betas):
      faces (F, 3) int64, v_template (V, 3), rest_joints (24, 3) = J_regressor @ v_template,
      J_regressor (24, V), lbs_weights (V, 24), joint_names (24 str), parents (24,) int64
      (-1 for the root), num_vertices, num_betas, kind ("default" | "smpl"), gender,
      topology_fingerprint, source_path.
    """

    def __init__(
        self,
        arrays: SmplArrays,
        *,
        source_path: Path,
        num_betas: int = 10,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        available = int(arrays.shapedirs.shape[2])
        if not 1 <= num_betas <= min(available, 10 if available < 300 else 300):
            raise BadFileError(
                f"{source_path}: shapedirs has {available} shape directions; num_betas must be "
                f"between 1 and {min(available, 10 if available < 300 else 300)}, got {num_betas}"
            )
        # smplx prints a warning for models with < 300 shape directions; keep stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            self.smpl = smplx.SMPL(
                model_path=str(source_path),
                data_struct=smplx.utils.Struct(**arrays.as_struct_dict()),
                create_betas=False,
                create_global_orient=False,
                create_body_pose=False,
                create_transl=False,
                num_betas=num_betas,
                dtype=dtype,
                vertex_ids=_MINIMAL_VERTEX_IDS,
                use_feet_keypoints=False,
                use_hands=False,
                gender=arrays.gender,
            )
        self.num_betas = num_betas
        self.kind = arrays.kind
        self.gender = arrays.gender
        self.source_path = source_path
        self.num_vertices = arrays.num_vertices
        self.faces = arrays.f.astype(np.int64)  # (F, 3)
        self.v_template = arrays.v_template.astype(np.float32)  # (V, 3)
        self.J_regressor = arrays.J_regressor.astype(np.float32)  # (24, V)
        self.lbs_weights = arrays.weights.astype(np.float32)  # (V, 24)
        self.rest_joints = (arrays.J_regressor @ arrays.v_template).astype(np.float32)  # (24, 3)
        self.joint_names: tuple[str, ...] = SMPL_JOINT_NAMES
        self.parents = arrays.kintree_table[0].astype(np.int64)  # (24,)
        self.topology_fingerprint = topology_fingerprint(self.num_vertices, self.faces)
        # Fast-path constants (see `_lbs`): joints regressed once from template and shapes.
        jreg = self.smpl.J_regressor
        self.register_buffer("J_template", jreg @ self.smpl.v_template, persistent=False)
        self.register_buffer(
            "J_shapedirs", torch.einsum("jv,vkl->jkl", jreg, self.smpl.shapedirs), persistent=False
        )
        self.has_pose_blendshapes = bool(np.any(arrays.posedirs))
        # Index buffers follow the module to its device (no host->device copy per call).
        self.register_buffer("_parents_t", torch.as_tensor(self.parents), persistent=False)
        depth = np.zeros(NUM_JOINTS, np.int64)
        for j in range(1, NUM_JOINTS):
            depth[j] = depth[self.parents[j]] + 1
        self._num_levels = int(depth.max()) + 1
        for d in range(self._num_levels):
            idx = torch.as_tensor(np.flatnonzero(depth == d))
            self.register_buffer(f"_level{d}", idx, persistent=False)
            self.register_buffer(f"_level{d}_parents", self._parents_t[idx], persistent=False)

    @property
    def is_default_body(self) -> bool:
        return self.kind == "default"

    @property
    def device(self) -> torch.device:
        return self.smpl.v_template.device

    @property
    def dtype(self) -> torch.dtype:
        return self.smpl.v_template.dtype

    def _params(
        self,
        betas: torch.Tensor | np.ndarray | None,
        global_orient: torch.Tensor | np.ndarray | None,
        body_pose: torch.Tensor | np.ndarray | None,
        transl: torch.Tensor | np.ndarray | None,
    ) -> dict[str, torch.Tensor]:
        """Fill missing parameters with zeros and broadcast a batch of 1 to the common size."""
        widths = {"betas": self.num_betas, "global_orient": 3, "body_pose": 69, "transl": 3}
        given = {"betas": betas, "global_orient": global_orient, "body_pose": body_pose}
        given["transl"] = transl
        batch = max((int(np.shape(v)[0]) for v in given.values() if v is not None), default=1)
        return {k: self._param(v, widths[k], batch) for k, v in given.items()}

    def _param(self, x: torch.Tensor | np.ndarray | None, width: int, batch: int) -> torch.Tensor:
        if x is None:
            return torch.zeros(batch, width, dtype=self.dtype, device=self.device)
        t = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        if t.ndim != 2 or t.shape[1] != width:
            raise ValueError(f"expected a (B, {width}) tensor, got {tuple(t.shape)}")
        if t.shape[0] != batch:
            if t.shape[0] != 1:
                raise ValueError(f"batch size {t.shape[0]} does not match {batch}")
            t = t.expand(batch, width)
        return t

    def forward(
        self,
        betas: torch.Tensor | None = None,  # (B, num_betas)
        global_orient: torch.Tensor | None = None,  # (B, 3) axis-angle of the pelvis
        body_pose: torch.Tensor | None = None,  # (B, 69) axis-angle of joints 1..23
        transl: torch.Tensor | None = None,  # (B, 3) metres
    ) -> BodyOutput:
        """Pose and shape the body. Parameters left as None are zero; a batch of 1 broadcasts.

        Inputs are converted to the model's dtype and device. Returns vertices (B, V, 3) and
        the 24 kinematic joints (B, 24, 3) after skinning, plus `transl`.
        """
        p = self._params(betas, global_orient, body_pose, transl)
        vertices, joints = self._lbs(p["betas"], p["global_orient"], p["body_pose"])
        return BodyOutput(
            vertices=vertices + p["transl"][:, None], joints=joints + p["transl"][:, None]
        )

    def joints_only(
        self,
        betas: torch.Tensor | None = None,  # (B, num_betas)
        global_orient: torch.Tensor | None = None,  # (B, 3)
        body_pose: torch.Tensor | None = None,  # (B, 69)
    ) -> torch.Tensor:  # (B, 24, 3)
        """The 24 posed joints without skinning the mesh (forward kinematics only, ~100x
        cheaper than `forward`); equal to `forward(...).joints` with zero `transl`."""
        p = self._params(betas, global_orient, body_pose, None)
        b = p["betas"]
        joints_rest = self.J_template + torch.einsum("bl,jkl->bjk", b, self.J_shapedirs)
        full_pose = torch.cat([p["global_orient"], p["body_pose"]], dim=1).reshape(-1, 3)
        rot = smplx.lbs.batch_rodrigues(full_pose).view(b.shape[0], NUM_JOINTS, 3, 3)
        return self._chain(rot, joints_rest)[:, :, :3, 3]

    def _lbs(
        self, betas: torch.Tensor, global_orient: torch.Tensor, body_pose: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """smplx's linear blend skinning, restructured for speed with identical results.

        Differences from `smplx.lbs.lbs` (same maths): joints come from the pre-regressed
        `J_template + J_shapedirs @ betas` (linear, so equal to regressing the shaped mesh), the
        pose blend shapes are skipped when the model has none (the default body), and the
        kinematic chain is composed one tree level at a time instead of one joint at a time.
        """
        s = self.smpl
        batch = betas.shape[0]
        v_shaped = s.v_template + torch.einsum("bl,vkl->bvk", betas, s.shapedirs)  # (B, V, 3)
        joints_rest = self.J_template + torch.einsum("bl,jkl->bjk", betas, self.J_shapedirs)
        full_pose = torch.cat([global_orient, body_pose], dim=1).reshape(-1, 3)
        rot = smplx.lbs.batch_rodrigues(full_pose).view(batch, NUM_JOINTS, 3, 3)
        if self.has_pose_blendshapes:
            eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
            pose_feature = (rot[:, 1:] - eye).reshape(batch, -1)  # (B, 207)
            v_shaped = v_shaped + (pose_feature @ s.posedirs).view(batch, -1, 3)
        world = self._chain(rot, joints_rest)  # (B, 24, 4, 4) joint world transforms
        joints = world[:, :, :3, 3]  # (B, 24, 3)
        # Skinning transforms map rest positions: T_j = world_j * translate(-rest joint_j).
        t_rel = world[:, :, :3, 3] - torch.einsum("bjik,bjk->bji", world[:, :, :3, :3], joints_rest)
        skin = torch.cat([world[:, :, :3, :3].reshape(batch, NUM_JOINTS, 9), t_rel], dim=2)
        per_vertex = torch.einsum("vj,bjc->bvc", s.lbs_weights, skin)  # (B, V, 12)
        rot_v = per_vertex[..., :9].view(batch, -1, 3, 3)
        vertices = torch.einsum("bvik,bvk->bvi", rot_v, v_shaped) + per_vertex[..., 9:]
        return vertices, joints

    def _chain(self, rot: torch.Tensor, joints_rest: torch.Tensor) -> torch.Tensor:
        """World transforms (B, 24, 4, 4) of the joints, one matmul per depth of the tree."""
        batch = rot.shape[0]
        local = torch.zeros(batch, NUM_JOINTS, 4, 4, dtype=rot.dtype, device=rot.device)
        local[:, :, :3, :3] = rot
        offsets = joints_rest.clone()
        offsets[:, 1:] -= joints_rest[:, self._parents_t[1:]]
        local[:, :, :3, 3] = offsets
        local[:, :, 3, 3] = 1.0
        world = local.clone()
        for d in range(1, self._num_levels):
            level, parents = getattr(self, f"_level{d}"), getattr(self, f"_level{d}_parents")
            world[:, level] = world[:, parents] @ local[:, level]
        return world

    def forward_smplx(
        self,
        betas: torch.Tensor | None = None,
        global_orient: torch.Tensor | None = None,
        body_pose: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Reference path through `smplx.SMPL.forward` (slower); `forward` must match it."""
        p = self._params(betas, global_orient, body_pose, transl)
        out = self.smpl(**p)
        return BodyOutput(vertices=out.vertices, joints=out.joints[:, :NUM_JOINTS])

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind}, gender={self.gender}, V={self.num_vertices}, "
            f"F={len(self.faces)}, betas={self.num_betas}, source={self.source_path}"
        )


def body_pose_from_rotvecs(**rotvecs: tuple[float, float, float]) -> torch.Tensor:
    """(1, 69) `body_pose` from {SMPL joint name: axis-angle}, e.g. left_elbow=(0, -1.5, 0)."""
    body_pose = torch.zeros(1, 69)
    for name, rv in rotvecs.items():
        j = SMPL_JOINT_NAMES.index(name) - 1  # body_pose starts after the pelvis
        if j < 0:
            raise ValueError("the pelvis rotation is global_orient, not part of body_pose")
        body_pose[0, 3 * j : 3 * j + 3] = torch.tensor(rv)
    return body_pose


def load_body_model(
    path: str | os.PathLike[str] | None = None,
    *,
    num_betas: int = 10,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> BodyModel:
    """Load the body model: `path` (e.g. --body-model), else $STDFORMER_BODY_MODEL, else the
    embedded default body `assets/default_body.npz`.

    Accepts SMPL neutral/male/female `.pkl` (official chumpy pickles, read without chumpy and
    without running code from the file) or `.npz`. Raises `MissingFileError` when the file does
    not exist and `BadFileError` (naming the path and field) when its content is wrong.
    """
    resolved = resolve_file("body_model", path)
    arrays = read_smpl_file(resolved)
    model = BodyModel(arrays, source_path=resolved, num_betas=num_betas, dtype=dtype)
    logger.info(
        "Loaded %s body model %s (%d vertices, %d betas)",
        model.kind,
        resolved,
        model.num_vertices,
        model.num_betas,
    )
    return model.to(device)
