"""The rendered-and-detected corpus: clothed default bodies rendered with the project's renderer,
run through the real MediaPipe pose model in VIDEO mode, cached on disk one clip per file.

`make_clip(seed, split)` draws everything of one clip from its seed (activity, body, framing,
camera, outfit, background, lighting): training clips use seeds from 0, held-out clips from
1,000,000 and the other half of the photos, so the held-out motions, shapes, cameras and
backgrounds are never trained on. `render_clip` renders each frame, runs the localizer and
returns a `CorpusClip`; `save_clip`/`load_clip` write it as an `.npz` of plain arrays (the motion
parameters, the camera and the detector's output; vertices are recomputed from the motion).
"""

from __future__ import annotations

import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from stdformer.body.body_model import BodyModel
from stdformer.data import appearance
from stdformer.data.motion import ACTIVITIES, SEATED, Motion, generate_motion
from stdformer.data.scene import FRAMING_WEIGHTS, FRAMINGS, CameraSpec, pose_body, sample_camera
from stdformer.types import NUM_POSE_LANDMARKS, Frame

HELD_OUT_SEED0 = 1_000_000
CLIP_FRAMES = 90  # 3 s at 30 fps
STANDING = tuple(a for a in ACTIVITIES if a not in SEATED and a != "sit_stand")


@dataclass(frozen=True)
class ClipSpec:
    """Everything drawn for one clip, before rendering."""

    seed: int
    motion: Motion
    camera: CameraSpec
    background: str  # one of appearance.BACKGROUND_KINDS
    vertices_world: np.ndarray  # (N, V, 3) the posed body on the floor (`pose_body`)


@dataclass(frozen=True)
class CorpusClip:
    """A rendered clip: its motion, camera and what MediaPipe saw (NaN-free; see `detected`)."""

    seed: int
    activity: str
    framing: str
    background: str
    betas: np.ndarray  # (10,)
    scale: float
    global_orient: np.ndarray  # (N, 3)
    body_pose: np.ndarray  # (N, 69)
    transl: np.ndarray  # (N, 3) root path (floor plane)
    lift: np.ndarray  # (N,)
    R_cam_from_world: np.ndarray  # (3, 3)
    t_cam_from_world: np.ndarray  # (3,)
    K: np.ndarray  # (3, 3)
    size_wh: np.ndarray  # (2,) int
    detected: np.ndarray  # (N,) bool: the localizer returned the person
    landmarks_px: np.ndarray  # (N, 33, 3) pixels (zeros where not detected)
    visibility: np.ndarray  # (N, 33)
    presence: np.ndarray  # (N, 33)
    world_landmarks: np.ndarray  # (N, 33, 3) metres, hip-centred

    @property
    def motion(self) -> Motion:
        n = len(self.detected)
        return Motion(
            self.activity,
            self.betas,
            float(self.scale),
            self.global_orient,
            self.body_pose,
            self.transl,
            self.lift,
            np.zeros((n, 24, 3), np.float32),
        )

    @property
    def camera(self) -> CameraSpec:
        size = (int(self.size_wh[0]), int(self.size_wh[1]))
        return CameraSpec(self.R_cam_from_world, self.t_cam_from_world, self.K, size, self.framing)


def make_clip(body: BodyModel, seed: int, n_frames: int = CLIP_FRAMES) -> ClipSpec:
    """Draw one clip's motion, camera and background kind from `seed` (deterministic)."""
    rng = np.random.default_rng(seed)
    framing = FRAMINGS[int(rng.choice(len(FRAMINGS), p=FRAMING_WEIGHTS))]
    if framing == "enter_leave":
        activity, n_frames = "walk", int(n_frames * 1.3)
    elif framing == "upper" and rng.random() < 0.6:
        activity = SEATED[int(rng.integers(len(SEATED)))]
    elif rng.random() < 0.1:
        activity = "sit_stand"
    else:
        activity = STANDING[int(rng.integers(len(STANDING)))]
    motion = generate_motion(activity, n_frames, rng, yaw0_deg=rng.uniform(-180, 180))
    verts, joints = pose_body(body, motion)
    size = (640, 480) if rng.random() < 0.8 else (640, 360)
    camera = sample_camera(joints, framing, rng, size)
    kinds = appearance.BACKGROUND_KINDS
    background = kinds[int(rng.choice(3, p=(0.25, 0.35, 0.4)))]
    return ClipSpec(seed, motion, camera, background, verts)


def render_clip(
    spec: ClipSpec,
    body: BodyModel,
    renderer: object,  # stdformer.render.renderer.OffscreenRenderer, made in this thread
    localizer: object,  # stdformer.detect.localize.PersonLocalizer (reset here)
    photos: list[Path],
    keep_frames: bool = False,
) -> tuple[CorpusClip, list[np.ndarray]]:
    """Render every frame of `spec`, run the localizer on it; frames are returned if asked."""
    rng = np.random.default_rng(spec.seed + 7)
    cam = spec.camera
    verts = spec.vertices_world
    colors = appearance.clothing_colors(body, rng)
    background = appearance.background_bgr(cam.size_wh, spec.background, rng, photos)
    mesh_gain, gain = rng.uniform(0.6, 1.15), rng.uniform(0.75, 1.2)
    n = spec.motion.n_frames
    lm = np.zeros((n, NUM_POSE_LANDMARKS, 3), np.float32)
    vis, pres = np.zeros((n, NUM_POSE_LANDMARKS), np.float32), np.zeros_like(lm[..., 0])
    world, detected = np.zeros_like(lm), np.zeros(n, bool)
    frames = []
    localizer.reset()
    for i in range(n):
        v_cam = cam.to_cam(verts[i])
        if (v_cam[:, 2] > 0.05).any():
            img = renderer.render_overlay_bgr(
                background,
                v_cam,
                body.faces,
                cam.K,
                alpha=1.0,
                vertex_colors=np.clip(colors * mesh_gain, 0, 1),
            )
        else:
            img = background
        img = appearance.camera_effects(img, rng, gain)
        obs = localizer.process(Frame(img, t_ns=int(i * 1e9 / spec.motion.fps), index=i))
        if obs is not None:
            detected[i] = True
            lm[i], vis[i], pres[i] = obs.landmarks_px, obs.visibility, obs.presence
            world[i] = obs.world_landmarks
        if keep_frames:
            frames.append(img)
    m = spec.motion
    clip = CorpusClip(
        spec.seed,
        m.activity,
        cam.framing,
        spec.background,
        m.betas,
        m.scale,
        m.global_orient,
        m.body_pose,
        m.transl,
        m.lift,
        cam.R_cam_from_world.astype(np.float32),
        cam.t_cam_from_world.astype(np.float32),
        cam.K.astype(np.float32),
        np.asarray(cam.size_wh, np.int32),
        detected,
        lm,
        vis,
        pres,
        world,
    )
    return clip, frames


def save_clip(clip: CorpusClip, path: Path) -> None:
    """Write atomically (temp file + rename): an interrupted run never leaves a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in asdict(clip).items()})
    tmp.replace(path)


def load_clip(path: Path) -> CorpusClip:
    with np.load(path, allow_pickle=False) as z:
        kw = {f.name: z[f.name] for f in fields(CorpusClip)}
    for name in ("activity", "framing", "background"):
        kw[name] = str(kw[name])
    kw["seed"], kw["scale"] = int(kw["seed"]), float(kw["scale"])
    return CorpusClip(**kw)


def load_corpus(folder: Path) -> list[CorpusClip]:
    """All clips of a corpus folder (sorted by name); unreadable files are skipped."""
    clips = []
    for p in sorted(Path(folder).glob("clip_*.npz")):
        if p.name.endswith(".tmp.npz"):
            continue
        try:
            clips.append(load_clip(p))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            continue
    return clips
