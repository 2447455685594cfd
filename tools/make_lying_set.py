"""Render a held-out set of people lying on the floor (ground truth for `main.py evaluate`).

    python tools/make_lying_set.py [--count 16] [--out DIR]
    python main.py evaluate --heldout ~/.cache/stdformer/corpus/lying --methods app app-process \
        mediapipe-world

The corpus's own motions (arms raised, waving, reaching, boxing, random limbs, squats as knee
raises, jumping jacks as snow angels), turned to lie on the back (half), a side or the belly
and put on the floor, seen by a camera 1-2 m above the floor from 2.2-3.5 m away (any side),
rendered and run through MediaPipe as the held-out corpus is (`stdformer.data.corpus`). Seeds
from 2,000,000: never trained on. Clips go to `$STDFORMER_CACHE_DIR/corpus/lying/` (framing
"full"); existing clips are kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

LYING_SEED0 = 2_000_000
ACTIVITIES = ("arm_raise", "wave", "reach", "boxing", "random", "squat", "jumping_jacks")


def lying_spec(body, seed: int, n_frames: int = 90):
    """One clip's `ClipSpec`: a corpus motion turned to lie on the floor, and a camera."""
    from stdformer.data.corpus import ClipSpec
    from stdformer.data.motion import generate_motion
    from stdformer.data.scene import CameraSpec, intrinsics_from_vfov, look_at, pose_body

    rng = np.random.default_rng(seed)
    activity = ACTIVITIES[int(rng.integers(len(ACTIVITIES)))]
    motion = generate_motion(activity, n_frames, rng, yaw0_deg=0.0)
    # the body's rest frame is Y up, facing +Z: on the back (head to -Z, face up), a side
    # (head to -X) or the belly (head to +Z, face down); then turned about the vertical
    lie = {0: ("x", -90.0), 1: ("z", 90.0), 2: ("x", 90.0)}[int(rng.choice(3, p=(0.5, 0.25, 0.25)))]
    turn = Rotation.from_euler("y", rng.uniform(-180, 180), degrees=True)
    world = turn * Rotation.from_euler(lie[0], lie[1], degrees=True)
    orient = (world * Rotation.from_rotvec(motion.global_orient)).as_rotvec().astype(np.float32)
    motion = dataclasses.replace(
        motion,
        global_orient=orient,
        transl=np.zeros_like(motion.transl),
        lift=np.zeros_like(motion.lift),
    )
    verts, joints = pose_body(body, motion)
    target = joints[:, 0].mean(0) * np.array([1.0, 0.0, 1.0]) + np.array([0.0, 0.15, 0.0])
    az = math.radians(rng.uniform(-180, 180))
    dist, height = rng.uniform(2.2, 3.5), rng.uniform(1.0, 2.0)
    eye = target + np.array([dist * math.sin(az), height, dist * math.cos(az)])
    R = look_at(eye, target, roll_deg=rng.uniform(-5, 5))
    size = (640, 480)
    camera = CameraSpec(R, -R @ eye, intrinsics_from_vfov(size, rng.uniform(50, 62)), size, "full")
    from stdformer.data import appearance

    background = appearance.BACKGROUND_KINDS[int(rng.integers(2))]  # plain or textured
    return ClipSpec(seed, motion, camera, background, verts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--out", type=Path, help="default: $STDFORMER_CACHE_DIR/corpus/lying")
    args = ap.parse_args(argv)
    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import default_cache_dir
    from stdformer.data.corpus import render_clip, save_clip
    from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
    from stdformer.render.renderer import OffscreenRenderer

    args.out = args.out or default_cache_dir() / "corpus" / "lying"
    args.out.mkdir(parents=True, exist_ok=True)
    body = load_body_model()
    with (
        OffscreenRenderer(640, 480) as renderer,
        PersonLocalizer(LocalizerConfig(max_people=1)) as localizer,
    ):
        for seed in range(LYING_SEED0, LYING_SEED0 + args.count):
            path = args.out / f"clip_{seed:07d}.npz"
            if path.exists():
                continue
            clip, _ = render_clip(lying_spec(body, seed), body, renderer, localizer, [])
            save_clip(clip, path)
            print(f"{path.name}: {clip.activity}, person found in {clip.detected.mean():.0%}")
    return 0


if __name__ == "__main__":
    import _bootstrap  # noqa: F401  (run as a file: the repository root onto sys.path)

    sys.exit(main())
