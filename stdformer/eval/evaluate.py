"""Evaluation on the held-out rendered-and-detected corpus, with baselines in the same table.

The held-out clips were rendered with the project's renderer and run through the real
MediaPipe model in VIDEO mode (`tools/make_corpus.py --split heldout`); their detections drive
the same streaming `Predictor` the app uses, frame by frame, reset when the person is lost.

Methods (rows):
- `stdformer` causal (look-ahead 0) and `stdformer+2` (look-ahead 2);
- `static-T1`: the same weights with every window holding only the current frame (no
  temporal information: the buffer is reset before each frame);
- `mediapipe-world`: MediaPipe's own metric world landmarks, mapped to the 14 joints (neck =
  shoulder midpoint, head top = ear midpoint + 0.6 x (ears - neck));
- `fit-per-frame`: the default body fitted to each frame's world landmarks (joint positions,
  Adam, pose prior), no temporal term.
Metrics (mm): MPJPE (14 joints, hip-centred), PA-MPJPE, MPVPE (pelvis-centred), acceleration
error (joints, per run of consecutive outputs), root (the pelvis's distance to the truth's in
the camera: where the body is placed; methods that place one), coverage (frames with an
output); for the
upper-body framing also PA-MPJPE over the joints inside the image and the share of frames whose
hidden legs are plausible (knees bent < 150 deg, ankles not crossed, leg length within 20 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from stdformer.body.body_model import BodyModel
from stdformer.body.regressors import eval_joint_regressor
from stdformer.data.corpus import CorpusClip
from stdformer.data.scene import pose_body
from stdformer.eval.metrics import similarity_align
from stdformer.inference.predictor import DEFAULT_FOV_DEG, Predictor, PredictorConfig
from stdformer.model.landmark_frontend import landmark_crop
from stdformer.model.stdformer import STDFormer
from stdformer.types import Observation

HIPS14 = (2, 3)
MP_TO_14 = (28, 26, 24, 23, 25, 27, 16, 14, 12, 11, 13, 15)  # first 12 eval joints
GROUPS = {"full": ("full", "enter_leave"), "knees": ("knees",), "upper": ("upper",)}


@dataclass
class Outputs:
    """One method's per-frame outputs on a clip (NaN where it gave none)."""

    joints: np.ndarray  # (N, 14, 3) camera axes, metres
    verts: np.ndarray | None  # (N, V, 3) pelvis-centred, or None (no mesh)
    verts_cam: np.ndarray | None = None  # (N, V, 3) placed in the camera (network only)
    K: np.ndarray | None = None  # (3, 3) the intrinsics the predictor placed them with


@dataclass
class Scores:
    """Accumulated per-frame errors of one method in one group (metres)."""

    mpjpe: list = field(default_factory=list)
    pa: list = field(default_factory=list)
    mpvpe: list = field(default_factory=list)
    accel: list = field(default_factory=list)  # per-run means, weighted by frames
    accel_w: list = field(default_factory=list)
    frames: int = 0
    covered: int = 0
    pa_visible: list = field(default_factory=list)
    legs_ok: list = field(default_factory=list)
    root: list = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        def mm(x: list) -> float:
            return 1000 * float(np.mean(x)) if x else math.nan

        accel = (
            1000 * float(np.average(self.accel, weights=self.accel_w)) if self.accel else math.nan
        )
        out = {
            "mpjpe": mm(self.mpjpe),
            "pa_mpjpe": mm(self.pa),
            "mpvpe": mm(self.mpvpe),
            "accel": accel,
            "root": mm(self.root),
            "coverage": 100 * self.covered / max(self.frames, 1),
        }
        if self.pa_visible:
            out["pa_visible"] = mm(self.pa_visible)
            out["legs_ok"] = 100 * float(np.mean(self.legs_ok))
        return out


def observations(clip: CorpusClip) -> list[Observation | None]:
    """The stored detections as the live pipeline's Observation objects (None = not found)."""
    out: list[Observation | None] = []
    size = (int(clip.size_wh[0]), int(clip.size_wh[1]))
    for i, det in enumerate(clip.detected):
        if not det:
            out.append(None)
            continue
        crop = landmark_crop(clip.landmarks_px[i], clip.presence[i])
        out.append(
            Observation(
                clip.landmarks_px[i],
                clip.visibility[i],
                clip.presence[i],
                clip.world_landmarks[i],
                crop,
                crop,
                size,
                int(i * 1e9 / 30),
                i,
            )
        )
    return out


def as_the_app_sees(obs: list[Observation | None]) -> list[Observation | None]:
    """The stored detections after the localizer's undoing of MediaPipe's short front/back
    flips (`stdformer.detect.facing.FacingGuard`; the corpus stores MediaPipe's own)."""
    from stdformer.detect.facing import FacingGuard

    guard = FacingGuard()
    return [None if o is None else guard(o) for o in obs]


def run_network(
    model: STDFormer, body: BodyModel, obs: list, lookahead: int, static: bool,
    body_output: str = "raw", smoothing: tuple[float, float, int] | None = None,
    hidden_legs: str = "seated", fov_deg: float = DEFAULT_FOV_DEG,
):  # fmt: skip
    """Stream a clip's observations through the Predictor as the app does; `body_output`
    "refined" / "fit" adds the app's body refinement (`stdformer.inference.refine`, its
    `hidden_legs` pose); `smoothing` (strength, lag s, look-ahead frames) the session's
    `MeshSmoother` (clips are 30 fps); `fov_deg`: the field of view the body is placed with
    (`--fov`)."""
    from stdformer.inference.refine import BodyRefiner, RefineConfig
    from stdformer.inference.smoothing import MeshSmoother

    n, v = len(obs), body.num_vertices
    joints, verts = np.full((n, 14, 3), np.nan), np.full((n, v, 3), np.nan, np.float32)
    placed = np.full_like(verts, np.nan)
    K: list[np.ndarray] = []
    refine = RefineConfig(body_output, hidden_legs=hidden_legs)
    refiner = None if body_output == "raw" else BodyRefiner(body, refine)
    pred = Predictor(
        model,
        PredictorConfig(lookahead=lookahead, device="cpu", fov_deg=fov_deg),
        joint_regressor=np.asarray(body.J_regressor, np.float32),
        refiner=refiner,
    )
    strength, lag_s, lag_frames = smoothing or (0.0, 0.0, 0)
    smoother = MeshSmoother(strength, lag_s, refiner, lag_frames)
    ereg = eval_joint_regressor(body).numpy()

    def keep(done: list, end: bool = False) -> None:
        results = [m for r in done for m in smoother.push(r)] + (smoother.flush() if end else [])
        for r in results:
            vr = r.vertices_cam - r.joints_cam[0]  # pelvis-centred, camera axes
            verts[r.index], joints[r.index] = vr, ereg @ vr
            placed[r.index] = r.vertices_cam
            K[:] = [r.K]

    from stdformer.session.pipeline import PipelineConfig

    config = PipelineConfig()  # a short miss keeps the track, as in the app
    last_ns = None
    for i, o in enumerate(obs):
        if o is None:
            if last_ns is not None and config.track_lost(last_ns, i * 1e9 / 30):
                keep(pred.flush(), end=True)
                pred.reset()
                last_ns = None
            continue
        if last_ns is None:
            keep(pred.flush(), end=True)
            pred.reset()
        last_ns = o.t_ns
        if static:
            pred.reset()
        r = pred.push(o)
        keep([] if r is None else [r])
    keep(pred.flush(), end=True)
    return Outputs(joints, verts, placed, K[0] if K else None)


def mediapipe_joints(world: np.ndarray) -> np.ndarray:
    """(N, 33, 3) MediaPipe world landmarks -> (N, 14, 3) evaluation joints."""
    out = np.empty((*world.shape[:-2], 14, 3))
    out[..., :12, :] = world[..., MP_TO_14, :]
    neck = 0.5 * (world[..., 11, :] + world[..., 12, :])
    ears = 0.5 * (world[..., 7, :] + world[..., 8, :])
    out[..., 12, :], out[..., 13, :] = neck, ears + 0.6 * (ears - neck)
    return out


# SMPL joints fitted to MediaPipe landmarks: (smpl joint, landmark or landmark pair)
_FIT_PAIRS = (
    (16, 11),
    (17, 12),
    (18, 13),
    (19, 14),
    (20, 15),
    (21, 16),
    (1, 23),
    (2, 24),
    (4, 25),
    (5, 26),
    (7, 27),
    (8, 28),
)


def fit_per_frame(body: BodyModel, world: np.ndarray, iters: int = 80) -> np.ndarray:
    """Default-body vertices (N, V, 3), pelvis-centred, fitted to each frame's landmarks."""
    target = torch.as_tensor(world, dtype=torch.float32)  # (N, 33, 3)
    target = target - target[:, [23, 24]].mean(1, keepdim=True)
    tgt = torch.stack([target[:, m] for _, m in _FIT_PAIRS], 1)  # (N, 12, 3)
    sj = [s for s, _ in _FIT_PAIRS]
    n = len(world)
    go = torch.zeros(n, 3)
    go[:, 0] = math.pi  # body Y-up, camera y-down: start upright in camera axes
    go.requires_grad_(True)
    pose = torch.zeros(n, 69, requires_grad=True)
    opt = torch.optim.Adam([go, pose], lr=0.05)
    for _ in range(iters):
        j = body.joints_only(global_orient=go, body_pose=pose)  # (N, 24, 3)
        j = j - j[:, [1, 2]].mean(1, keepdim=True)
        loss = ((j[:, sj] - tgt) ** 2).sum(-1).mean() + 1e-3 * (pose**2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        v = body(global_orient=go, body_pose=pose).vertices
        pelvis = torch.einsum("v,nvc->nc", torch.as_tensor(np.asarray(body.J_regressor[0])), v)
        return (v - pelvis[:, None]).numpy()


def truth(body: BodyModel, clip: CorpusClip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pelvis-centred true vertices (N, V, 3) and joints (N, 14, 3) in camera axes, and the
    pelvis in the camera frame (N, 1, 3) (to project the joints into the image)."""
    verts, _ = pose_body(body, clip.motion)
    v_cam = verts @ clip.R_cam_from_world.T
    pelvis = np.einsum("v,nvc->nc", np.asarray(body.J_regressor[0]), v_cam)[:, None]
    v_cam = v_cam - pelvis
    joints = np.einsum("jv,nvc->njc", eval_joint_regressor(body).numpy(), v_cam)
    return v_cam.astype(np.float32), joints, pelvis + clip.t_cam_from_world


def _centred(j: np.ndarray) -> np.ndarray:
    return j - j[..., list(HIPS14), :].mean(-2, keepdims=True)


def _runs(valid: np.ndarray) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, ok in enumerate([*valid, False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _legs_ok(j: np.ndarray, g: np.ndarray) -> bool:
    """Plausible hidden legs: knees < 150 deg bent, ankles not crossed, length within 20 %."""
    for hip, knee, ank in ((2, 1, 0), (3, 4, 5)):
        a, b = j[hip] - j[knee], j[ank] - j[knee]
        cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9)
        if math.degrees(math.acos(np.clip(cos, -1, 1))) < 30:  # bent more than 150 deg
            return False
        length = np.linalg.norm(a) + np.linalg.norm(b)
        true = np.linalg.norm(g[hip] - g[knee]) + np.linalg.norm(g[ank] - g[knee])
        if not 0.8 < length / true < 1.2:
            return False
    across = j[3] - j[2]  # right hip -> left hip
    return float((j[5] - j[0]) @ across) > 0  # left ankle stays on the left of the right one


def score_clip(
    scores: Scores, out: Outputs, gt_v, gt_j, inside: np.ndarray, upper: bool, pelvis_cam=None
):
    """Add one clip's errors; `pelvis_cam` (N, 1, 3): the true pelvis in the camera (`truth`)."""
    valid = ~np.isnan(out.joints).any(axis=(1, 2))
    scores.frames += len(valid)
    scores.covered += int(valid.sum())
    if not valid.any():
        return
    pj, gj = _centred(out.joints[valid]), _centred(gt_j[valid])
    scores.mpjpe.extend(np.linalg.norm(pj - gj, axis=-1).mean(-1))
    aligned = similarity_align(pj, gj).numpy()
    scores.pa.extend(np.linalg.norm(aligned - gj, axis=-1).mean(-1))
    if out.verts is not None:
        scores.mpvpe.extend(np.linalg.norm(out.verts[valid] - gt_v[valid], axis=-1).mean(-1))
    if out.verts_cam is not None and pelvis_cam is not None:
        pelvis = out.verts_cam[valid, 0] - out.verts[valid, 0]  # verts are pelvis-centred
        scores.root.extend(np.linalg.norm(pelvis - pelvis_cam[valid, 0], axis=-1))
    for a, b in _runs(valid):
        if b - a >= 3:
            p, g = _centred(out.joints[a:b]), _centred(gt_j[a:b])
            acc = (p[2:] - 2 * p[1:-1] + p[:-2]) - (g[2:] - 2 * g[1:-1] + g[:-2])
            scores.accel.append(float(np.linalg.norm(acc, axis=-1).mean()))
            scores.accel_w.append(b - a - 2)
    if upper:
        for k in np.flatnonzero(valid):
            vis = inside[k]
            if vis.sum() >= 3:
                al = similarity_align(out.joints[k][vis], gt_j[k][vis]).numpy()
                scores.pa_visible.append(np.linalg.norm(al - gt_j[k][vis], axis=-1).mean())
            scores.legs_ok.append(_legs_ok(out.joints[k], gt_j[k]))
