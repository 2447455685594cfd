"""Training clips from converted CMU motion capture, seen through the observation simulator.

`cmu_record(body, clips, seed)` draws from `seed` a frame rate (30 fps half the time, 60 and
25 fps a quarter each, as webcams deliver), a clip at that rate and a 60-frame stretch of it, a
body shape (`motion.sample_shape`: the fitted pose on any body), a framing and a camera placed
as webcams see people (`scene.WEBCAM_VIEWS`: mostly frontal, ~25 % side, ~10 % back) and
returns a `ClipRecord` whose observations the simulator makes per window (`make_window`).
"""

from __future__ import annotations

import numpy as np

from stdformer.body.body_model import BodyModel
from stdformer.data.cmu import CmuClip
from stdformer.data.dataset import ClipRecord, clip_record
from stdformer.data.motion import Motion, sample_shape
from stdformer.data.scene import FRAMING_WEIGHTS, FRAMINGS, WEBCAM_VIEWS, pose_body, sample_camera

RATE_WEIGHTS = {30.0: 0.5, 60.0: 0.25, 25.0: 0.25}
FEET = (7, 8, 10, 11)  # SMPL ankles and toes


def cmu_motion(clip: CmuClip, start: int, n: int, rng: np.random.Generator) -> Motion:
    """Frames [start, start + n) of `clip` as a `Motion` on a random body, on the floor.

    The height above the floor (`lift`: jumps, hanging from bars) is the lowest foot joint's
    height over the clip's own floor level (its 2nd-percentile lowest foot)."""
    sl = slice(start, start + n)
    foot_y = clip.joints_target[:, FEET, 1].min(axis=1)  # (N,)
    lift = np.clip(foot_y - np.percentile(foot_y, 2), 0.0, None)[sl]
    transl = clip.transl[sl].astype(np.float64).copy()
    transl[:, [0, 2]] -= transl[0, [0, 2]]
    betas, scale = sample_shape(rng)
    m = len(transl)
    return Motion(
        activity=f"cmu:{clip.name}",
        betas=betas,
        scale=scale,
        global_orient=clip.global_orient[sl],
        body_pose=clip.body_pose[sl],
        transl=transl.astype(np.float32),
        lift=lift.astype(np.float32),
        euler_deg=np.zeros((m, 24, 3), np.float32),
        fps=clip.fps,
    )


def cmu_record(body: BodyModel, clips: list[CmuClip], seed: int, n_frames: int = 60) -> ClipRecord:
    """One simulated-observation training clip from `clips` (all rates), drawn from `seed`."""
    rng = np.random.default_rng(seed)
    rates = [r for r in RATE_WEIGHTS if any(c.fps == r for c in clips)]
    if not rates:
        raise ValueError("no CMU clips at 30, 60 or 25 fps: run tools/convert_cmu.py")
    p = np.array([RATE_WEIGHTS[r] for r in rates])
    fps = rates[int(rng.choice(len(rates), p=p / p.sum()))]
    pool = [c for c in clips if c.fps == fps and c.n_frames >= 16]
    clip = pool[int(rng.integers(len(pool)))]
    n = min(n_frames, clip.n_frames)
    motion = cmu_motion(clip, int(rng.integers(clip.n_frames - n + 1)), n, rng)
    verts, joints = pose_body(body, motion)
    framing = FRAMINGS[int(rng.choice(len(FRAMINGS), p=FRAMING_WEIGHTS))]
    size = (640, 480) if rng.random() < 0.8 else (640, 360)
    cam = sample_camera(joints, framing, rng, size, views=WEBCAM_VIEWS)
    return clip_record(body, motion, cam, None, np.ones(n, bool), verts)
