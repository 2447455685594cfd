"""A recording as a skeleton animation: the SMPL-24 joints of the body with per-frame local
rotations, shared by the BVH and skinned glTF exports.

Axes: the exports are Y-up, metres, like the body's own rest pose (Y up, facing +Z). The
recorded body lives in the OpenCV camera frame (x right, y down, z forward), so every pose is
brought over by `YUP_FROM_CAM` = diag(1, -1, -1), a 180-degree turn about x (the camera at the
origin looking down -Z, as in the morph-target GLB). Only the root changes:
root rotation = YUP_FROM_CAM @ R(global_orient), pelvis position = YUP_FROM_CAM @ (J0 + transl),
where J0 is the pelvis of the shaped rest pose (smplx rotates about it, then adds `transl`);
the 23 body joints keep their `body_pose` rotations, which are local to the parent and expressed
in the rest pose's axes, exactly what BVH channels and glTF node rotations mean when the rest
pose has identity rotations and the bones are offsets between rest joints.

Time: one animation frame per source frame from the first exported frame to the last, spaced
by the frame period measured from the recording's timestamps (median interval); a frame whose
subject was lost holds the previous pose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from stdformer.body.body_model import BodyModel
from stdformer.recording.export_mesh import frame_slots
from stdformer.recording.reader import Recording

YUP_FROM_CAM = np.diag([1.0, -1.0, -1.0])  # OpenCV camera -> Y-up export frame (a rotation)
Progress = Callable[[int], None]
FIT_CHUNK = 32  # frames fitted together (shared betas, vectorised solve)


@dataclass(frozen=True)
class Motion:
    """A take as a skeleton animation in the Y-up export frame (metres)."""

    joint_names: tuple[str, ...]  # (24,) SMPL order
    parents: np.ndarray  # (24,) int64, -1 for the root
    rest_joints: np.ndarray  # (24, 3) float64 rest pose of the take's shape (Y-up, facing +Z)
    betas: np.ndarray  # (B,) float32 the take's shape (median over its frames)
    root_position: np.ndarray  # (T, 3) float64 pelvis in the Y-up frame
    rotations: np.ndarray  # (T, 24, 3, 3) float64 local rotations (root: in the Y-up frame)
    frame_time_s: float  # seconds between animation frames
    source_position: np.ndarray  # (T,) int64 recording position of the pose shown
    key_frame: np.ndarray  # (T,) bool: a recorded pose (False: held over a gap)

    @property
    def n_frames(self) -> int:
        return len(self.rotations)

    @property
    def offsets(self) -> np.ndarray:  # (24, 3) each joint's rest offset from its parent
        parent_pos = np.where(self.parents[:, None] >= 0, self.rest_joints[self.parents], 0.0)
        return self.rest_joints - parent_pos

    def world_joints(self) -> np.ndarray:  # (T, 24, 3) forward kinematics, Y-up metres
        """Joint positions of every frame (what an importer should reproduce)."""
        world_rot = np.empty_like(self.rotations)
        pos = np.empty((self.n_frames, len(self.parents), 3))
        offsets = self.offsets
        for j, p in enumerate(self.parents):
            if p < 0:
                world_rot[:, j], pos[:, j] = self.rotations[:, j], self.root_position
            else:
                world_rot[:, j] = world_rot[:, p] @ self.rotations[:, j]
                pos[:, j] = pos[:, p] + world_rot[:, p] @ offsets[j]
        return pos


def frame_period_s(rec: Recording) -> float:
    """Seconds between source frames: the median interval of the recorded timestamps."""
    dt = np.diff(rec.t_ns.astype(np.int64)) / np.diff(rec.frame_index.astype(np.int64)).clip(1)
    dt = dt[dt > 0]
    return float(np.median(dt)) / 1e9 if len(dt) else 1.0 / rec.fps


def take_body_params(
    rec: Recording, pos: np.ndarray, body: BodyModel, progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """Body parameters of the frames at `pos` (F,): recorded ones, and for frames recorded
    without them (format version 1, or the fit was off) a fit to the recorded vertices.

    Returns betas (F, B), global_orient (F, 3), body_pose (F, 69), transl (F, 3), float32,
    OpenCV camera frame. `progress` counts fitted frames.
    """
    params = rec.body_params(pos)
    missing = ~rec.has_body[pos]
    if missing.any():
        fitted = fit_recorded_vertices(rec, pos[missing], body, progress)
        for name, value in fitted.items():
            params[name][missing] = value
    return params


def fit_recorded_vertices(
    rec: Recording, pos: np.ndarray, body: BodyModel, progress: Progress | None = None
) -> dict[str, np.ndarray]:
    """Fit the body to the recorded vertices of the frames at `pos` (F,) -> parameter arrays.

    Chunks of FIT_CHUNK frames; the first chunk's shape (betas) is held for the rest of the
    take, as the live fit holds it once settled."""
    from stdformer.body.fit import BodyFitter

    fitter = BodyFitter(body)
    fits, betas = [], None
    for start in range(0, len(pos), FIT_CHUNK):
        chunk = np.asarray(rec.vertices[pos[start : start + FIT_CHUNK]], np.float64)  # (C, V, 3)
        fit = fitter.fit_vertices(chunk, betas=betas)
        betas = fit.betas
        fits.append(fit)
        if progress:
            progress(len(chunk))
    return {
        "betas": np.concatenate([np.tile(f.betas, (len(f), 1)) for f in fits]).astype(np.float32),
        "global_orient": np.concatenate([f.global_orient for f in fits]),
        "body_pose": np.concatenate([f.body_pose for f in fits]),
        "transl": np.concatenate([f.transl for f in fits]).astype(np.float32),
    }


def rest_joints(body: BodyModel, betas: np.ndarray) -> np.ndarray:  # (B, n) -> (B, 24, 3)
    """Joints of the shaped rest pose (body frame: Y up, facing +Z), float64."""
    with torch.no_grad():
        joints = body.joints_only(betas=torch.as_tensor(np.asarray(betas, np.float32)))
    return joints.double().cpu().numpy()


def motion_from_recording(
    rec: Recording,
    pos: np.ndarray,
    body: BodyModel,
    progress: Progress | None = None,
) -> Motion:
    """The frames at `pos` (F,) (recording positions, rising) as a `Motion` (module docstring)."""
    params = take_body_params(rec, pos, body, progress)
    period = frame_period_s(rec)
    slots = frame_slots(rec.t_ns[pos], 1.0 / period)  # (F,) rising, gaps kept
    held = np.searchsorted(slots, np.arange(slots[-1] + 1), side="right") - 1  # (T,)
    betas_take = np.median(params["betas"], axis=0).astype(np.float32)
    # The pelvis of each frame's own shape, so a shape still settling keeps the root exact.
    root_rest = rest_joints(body, params["betas"])[:, 0]  # (F, 3)
    root = (root_rest + params["transl"]) @ YUP_FROM_CAM.T  # (F, 3)
    pose = np.concatenate([params["global_orient"], params["body_pose"]], axis=1)  # (F, 72)
    rot = Rotation.from_rotvec(pose.reshape(-1, 3).astype(np.float64)).as_matrix()
    rot = rot.reshape(len(pos), 24, 3, 3)
    rot[:, 0] = YUP_FROM_CAM @ rot[:, 0]
    key = np.zeros(len(held), bool)
    key[slots] = True
    return Motion(
        joint_names=tuple(body.joint_names),
        parents=np.asarray(body.parents, np.int64),
        rest_joints=rest_joints(body, betas_take[None])[0],
        betas=betas_take,
        root_position=root[held],
        rotations=rot[held],
        frame_time_s=period,
        source_position=np.asarray(pos)[held],
        key_frame=key,
    )


def recorded_joints_yup(rec: Recording, motion: Motion) -> np.ndarray:  # (T, 24, 3)
    """The recording's joints for each animation frame, in the Y-up export frame."""
    return np.asarray(rec.joints[motion.source_position], np.float64) @ YUP_FROM_CAM.T
