"""Render a seated desk clip (legs hidden below the bottom edge) and detect it with MediaPipe.

    python tools/build_seated_clip.py [--activity desk_gesture] [--seconds 3] [--seed 14]

The project's own corpus machinery (`stdformer.data.corpus.render_clip`): a seated motion of
`stdformer.data.motion` (thighs horizontal, shins vertical), the default clothed body, and a
webcam at desk distance (~1 m in front of the chest, a little above it) whose bottom edge sits
just under the hips, so the knees and ankles are out of the picture (issue 14, "hidden legs").
Writes `seated_<activity>_<seed>.npz` (a `CorpusClip`: motion, camera and MediaPipe's
detections; `load_clip` reads it) and the rendered `.mp4` to `--out`
(default `~/.cache/stdformer/seated/`).

    python tools/build_seated_clip.py --angles EXPORT.npz [EXPORT.npz ...]

prints the legs of exported bodies (`main.py process CLIP.mp4 --out DIR`, then
`main.py export --format npz`): hip and knee flexion (deg) and the knees' distance in front of
the hips and ankles' below the knees (m), in the pelvis's own frame, posed from the exported
body parameters; and the clip's truth for comparison.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np

from stdformer.body.mesh_levels import default_cache_dir

HIP_ROW = 0.95  # where the hip joints sit, as a fraction of the image height


def desk_camera(joints_world: np.ndarray, size_wh=(640, 480), vfov_deg=55.0, dist=1.0):
    """A still webcam in front of the chest, aimed down until the hips are at `HIP_ROW`."""
    from stdformer.data.scene import CameraSpec, intrinsics_from_vfov, look_at

    mean = joints_world.mean(0)  # (24, 3)
    hips, chest = 0.5 * (mean[1] + mean[2]), mean[9]
    across = mean[1] - mean[2]  # left hip minus right hip: the body faces across x up
    facing = np.cross(across, [0.0, 1.0, 0.0])  # SMPL at rest: left +X, up +Y, faces +Z
    facing = facing / np.linalg.norm(facing)
    eye = chest + dist * facing + [0.0, 0.10, 0.0]
    K = intrinsics_from_vfov(size_wh, vfov_deg)
    lo, hi = hips[1] - 0.5, chest[1] + 0.5  # bisect the target height on the body's axis
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        target = np.array([hips[0], mid, hips[2]])
        R = look_at(eye, target)
        p = R @ (hips - eye)
        row = K[1, 1] * p[1] / p[2] + K[1, 2]
        lo, hi = (lo, mid) if row > HIP_ROW * size_wh[1] else (mid, hi)
    return CameraSpec(R, -R @ eye, K, tuple(size_wh), "upper")


def leg_angles(global_orient, body_pose, transl, betas) -> dict[str, np.ndarray]:
    """Per frame (N, 2 sides): hip flexion (thigh from the pelvis's down axis) and knee flexion
    (shin from the thigh) in degrees, knee forward of the hip and ankle below the knee in metres,
    in the pelvis's frame (faces +Z, up +Y), from smplx-convention body parameters (betas (B,)
    or per frame (N, B))."""
    from stdformer.body.body_model import load_body_model
    from stdformer.body.kinematics import Skeleton, matrices

    skel = Skeleton.from_body(load_body_model())
    n = len(global_orient)
    rv = np.concatenate([global_orient, body_pose], 1).reshape(n, 24, 3)
    betas = np.broadcast_to(np.asarray(betas, np.float64), (n, np.shape(betas)[-1]))
    posed = [skel.pose(matrices(rv[i : i + 1]), transl[i : i + 1], betas[i]) for i in range(n)]
    rot_w = np.concatenate([r for r, _ in posed])  # (N, 24, 3, 3)
    j = np.concatenate([jt for _, jt in posed])  # (N, 24, 3)
    forward, down = rot_w[:, 0] @ [0.0, 0.0, 1.0], rot_w[:, 0] @ [0.0, -1.0, 0.0]  # (N, 3)
    thigh, shin = j[:, [4, 5]] - j[:, [1, 2]], j[:, [7, 8]] - j[:, [4, 5]]  # (N, 2, 3)

    def angle(a, b):
        c = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        return np.degrees(np.arccos(np.clip(c, -1, 1)))

    return {
        "hip_deg": angle(thigh, down[:, None]),
        "knee_deg": angle(thigh, shin),
        "knee_fwd_m": np.einsum("nsc,nc->ns", thigh, forward),
        "ankle_below_m": np.einsum("nsc,nc->ns", shin, down),
        "joints": j,
    }


def print_angles(paths: list[Path]) -> None:
    for path in paths:
        with np.load(path, allow_pickle=False) as z:
            legs = leg_angles(z["global_orient"], z["body_pose"], z["transl"], z["frame_betas"])
            err = np.abs(legs["joints"] - z["joints"]).max()  # params reproduce the joints
        cells = ", ".join(
            f"{k} {np.median(v):.2f} [{v.min():.2f}, {v.max():.2f}]"
            for k, v in legs.items() if k != "joints"
        )  # fmt: skip
        print(f"{path}: median [min, max] over frames and sides: {cells}; "
              f"params vs joints {err * 1e3:.2f} mm")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--activity", default="desk_gesture")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--out", type=Path, default=default_cache_dir() / "seated")
    p.add_argument("--angles", type=Path, nargs="+", help="exported .npz files to measure")
    args = p.parse_args(argv)
    if args.angles:
        print_angles(args.angles)
        return 0

    import cv2

    from stdformer.body.body_model import load_body_model
    from stdformer.data.corpus import ClipSpec, render_clip, save_clip
    from stdformer.data.motion import SEATED, generate_motion
    from stdformer.data.scene import pose_body
    from stdformer.detect.localize import LocalizerConfig, PersonLocalizer
    from stdformer.render.renderer import OffscreenRenderer

    if args.activity not in SEATED:
        p.error(f"--activity must be a seated motion: {', '.join(SEATED)}")
    body = load_body_model()
    rng = np.random.default_rng(args.seed)
    n = max(1, math.ceil(args.seconds * 30))
    motion = generate_motion(args.activity, n, rng, yaw0_deg=0.0)
    verts, joints = pose_body(body, motion)
    spec = ClipSpec(args.seed, motion, desk_camera(joints), "textured", verts)
    with (
        OffscreenRenderer(640, 480) as renderer,
        PersonLocalizer(LocalizerConfig(max_people=1)) as localizer,
    ):
        clip, frames = render_clip(spec, body, renderer, localizer, [], keep_frames=True)
    stem = args.out / f"seated_{args.activity}_{args.seed}"
    save_clip(clip, stem.with_suffix(".npz"))
    writer = cv2.VideoWriter(
        str(stem.with_suffix(".mp4")), cv2.VideoWriter_fourcc(*"mp4v"), motion.fps, (640, 480)
    )
    for f in frames:
        writer.write(f)
    writer.release()
    det = clip.detected
    hips_row = clip.landmarks_px[det][:, [23, 24], 1].mean() / 480
    conf = np.minimum(clip.visibility, clip.presence)[det][:, 25:29]
    truth = leg_angles(motion.global_orient, motion.body_pose, motion.transl, motion.betas)
    print(
        "truth: " + ", ".join(f"{k} {np.median(v):.1f}" for k, v in truth.items() if k != "joints")
    )
    print(f"{stem}.npz/.mp4: {n} frames, detected {det.mean():.2f}, hip landmarks at "
          f"{hips_row:.2f} of the height, knee/ankle confidence max {conf.max():.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
