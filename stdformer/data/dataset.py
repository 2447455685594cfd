"""Training clips for the landmark network: corpus clips (real detections) and simulated ones.

A `ClipRecord` keeps per frame only what is cheap to store: the root orientation in camera axes
and the body pose (vertices are recomputed in the training step by `targets_for_batch`), the
true 14 evaluation joints projected to pixels, the true 33 landmarks in the camera frame (for
the simulator) and, for corpus clips, the detector's output. `WindowSampler` cuts T-frame
windows: corpus windows contain detected frames only (the live pipeline resets when the person
is lost); with probability 0.1 a window starts a track (its first frames repeat, as the
streaming buffer pads them); with probability 0.5 it plays backwards (the paper's augmentation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from stdformer.body.body_model import BodyModel
from stdformer.body.regressors import eval_joint_regressor, landmark_regressor
from stdformer.data.corpus import CorpusClip, make_clip
from stdformer.data.motion import Motion
from stdformer.data.scene import CameraSpec, pose_body
from stdformer.data.simulate import SimCalibration, inside_image, simulate
from stdformer.model.landmark_frontend import landmark_features

SIM_SEED0 = 2_000_000  # simulated clips: seeds never rendered


@dataclass(frozen=True)
class ClipRecord:
    """One clip, ready to cut windows from (N frames)."""

    global_orient_cam: np.ndarray  # (N, 3) axis-angle of the root in camera axes
    body_pose: np.ndarray  # (N, 69)
    betas: np.ndarray  # (10,)
    scale: float
    joints2d_px: np.ndarray  # (N, 14, 2) true evaluation joints, pixels
    joints2d_inside: np.ndarray  # (N, 14) bool
    landmarks_cam: np.ndarray  # (N, 33, 3) true landmarks, camera frame
    K: np.ndarray  # (3, 3)
    size_wh: tuple[int, int]
    framing: str
    observed: dict[str, np.ndarray] | None  # detector output (corpus) or None (simulate)
    detected: np.ndarray  # (N,) bool


def clip_record(
    body: BodyModel,
    motion: Motion,
    cam: CameraSpec,
    observed: dict | None,
    detected: np.ndarray,  # (N,) bool
    verts: np.ndarray | None = None,  # (N, V, 3) world, when already posed
) -> ClipRecord:
    """Pose the body once and keep the per-frame truth a training window needs."""
    if verts is None:
        verts, _ = pose_body(body, motion)  # (N, V, 3) world
    vt = torch.from_numpy(verts)
    lm = (landmark_regressor(body) @ vt).numpy()  # (N, 33, 3)
    ej = (eval_joint_regressor(body) @ vt).numpy()  # (N, 14, 3)
    j2d = cam.project(cam.to_cam(ej))
    root = Rotation.from_matrix(cam.R_cam_from_world) * Rotation.from_rotvec(motion.global_orient)
    return ClipRecord(
        global_orient_cam=root.as_rotvec().astype(np.float32),
        body_pose=motion.body_pose.astype(np.float32),
        betas=np.asarray(motion.betas, np.float32),
        scale=float(motion.scale),
        joints2d_px=j2d.astype(np.float32),
        joints2d_inside=inside_image(j2d, cam.size_wh),
        landmarks_cam=cam.to_cam(lm).astype(np.float32),
        K=np.asarray(cam.K, np.float64),
        size_wh=cam.size_wh,
        framing=cam.framing,
        observed=observed,
        detected=np.asarray(detected, bool),
    )


def corpus_record(body: BodyModel, clip: CorpusClip) -> ClipRecord:
    observed = {
        k: getattr(clip, k) for k in ("landmarks_px", "visibility", "presence", "world_landmarks")
    }
    return clip_record(body, clip.motion, clip.camera, observed, clip.detected)


def simulated_record(body: BodyModel, seed: int, n_frames: int = 60) -> ClipRecord:
    spec = make_clip(body, seed, n_frames)
    n = spec.motion.n_frames
    return clip_record(body, spec.motion, spec.camera, None, np.ones(n, bool), spec.vertices_world)


@dataclass
class Window:
    """A batch-ready training window (numpy; see `collate`)."""

    x: np.ndarray  # (T, 33, 8) landmark features
    global_orient_cam: np.ndarray  # (T, 3)
    body_pose: np.ndarray  # (T, 69)
    betas: np.ndarray  # (10,)
    scale: float
    joints2d: np.ndarray  # (T, 14, 2) crop-normalised
    joints2d_conf: np.ndarray  # (T, 14)


def detected_starts(detected: np.ndarray, T: int) -> np.ndarray:
    """Start indices of T-frame windows made of detected frames only."""
    ok = np.convolve(detected.astype(int), np.ones(T, int), "valid") == T
    return np.flatnonzero(ok)


def make_window(
    rec: ClipRecord, start: int, T: int, calib: SimCalibration, rng: np.random.Generator
) -> Window:
    idx = np.arange(start, start + T)
    if rng.random() < 0.1:  # start of a track: the buffer repeats the first frame
        k = int(rng.integers(1, T))
        idx = np.concatenate([np.full(k, idx[k]), idx[k:]])  # (T,)
    if rng.random() < 0.5:
        idx = idx[::-1].copy()
    if rec.observed is None:
        lo, hi = int(idx.min()), int(idx.max()) + 1
        obs = simulate(rec.landmarks_cam[lo:hi], rec.K, rec.size_wh, calib, rng)
        obs = {k: v[idx - lo] for k, v in obs.items()}
    else:
        obs = {k: v[idx] for k, v in rec.observed.items()}
    x, crop = landmark_features(
        obs["landmarks_px"], obs["visibility"], obs["presence"], obs["world_landmarks"]
    )
    center = 0.5 * (crop[:, None, :2] + crop[:, None, 2:])  # (T, 1, 2)
    half = 0.5 * (crop[:, None, 2:3] - crop[:, None, 0:1])  # (T, 1, 1)
    j2d = (rec.joints2d_px[idx] - center) / half
    conf = np.where(rec.joints2d_inside[idx], 1.0, 0.3).astype(np.float32)
    return Window(
        x,
        rec.global_orient_cam[idx],
        rec.body_pose[idx],
        rec.betas,
        rec.scale,
        j2d.astype(np.float32),
        conf,
    )


def collate(windows: list[Window]) -> dict[str, torch.Tensor]:
    return {
        "x": torch.from_numpy(np.stack([w.x for w in windows])),  # (B, T, 33, 8)
        "global_orient_cam": torch.from_numpy(np.stack([w.global_orient_cam for w in windows])),
        "body_pose": torch.from_numpy(np.stack([w.body_pose for w in windows])),  # (B, T, 69)
        "betas": torch.from_numpy(np.stack([w.betas for w in windows])),  # (B, 10)
        "scale": torch.tensor([w.scale for w in windows], dtype=torch.float32),  # (B,)
        "joints2d": torch.from_numpy(np.stack([w.joints2d for w in windows])),  # (B, T, 14, 2)
        "joints2d_conf": torch.from_numpy(np.stack([w.joints2d_conf for w in windows])),
    }


@torch.no_grad()
def true_vertices(body: BodyModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, T, V, 3) true vertices, root-relative (regressed pelvis), camera axes, metres."""
    b, t = batch["body_pose"].shape[:2]
    out = body(
        betas=batch["betas"][:, None].expand(b, t, -1).reshape(b * t, -1),
        global_orient=batch["global_orient_cam"].reshape(b * t, 3),
        body_pose=batch["body_pose"].reshape(b * t, 69),
    )
    verts = out.vertices  # (B*T, V, 3)
    pelvis_row = torch.as_tensor(np.asarray(body.J_regressor[0]))  # (V,) as the predictor
    pelvis = torch.einsum("v,nvc->nc", pelvis_row.to(verts.dtype), verts)
    verts = (verts - pelvis[:, None]) * batch["scale"].repeat_interleave(t)[:, None, None]
    return verts.reshape(b, t, -1, 3)
