"""Render a body model in test poses (T-pose, walking, arms raised, squat, elbow bend) to PNGs.

Used to check by eye that the default body deforms like a person (no candy-wrapping or tearing
at the joints) and that pose parameters mean what they mean for SMPL:

    python tools/render_body_poses.py --out /tmp/body_renders [--body-model PATH]

Each PNG shows a front view and a side view side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stdformer.body.model import BodyModel, load_body_model  # noqa: E402
from stdformer.body.smpl_file import SMPL_JOINT_NAMES  # noqa: E402


def _pose(**joint_rotvecs: tuple[float, float, float]) -> torch.Tensor:
    """(1, 69) body_pose from {joint_name: axis-angle}."""
    body_pose = torch.zeros(1, 69)
    for name, rv in joint_rotvecs.items():
        j = SMPL_JOINT_NAMES.index(name) - 1
        body_pose[0, 3 * j : 3 * j + 3] = torch.tensor(rv)
    return body_pose


# SMPL conventions: +X is the body's left, Y up, +Z forward. Hip flexion (thigh forward) is a
# negative rotation about X, knee flexion (shin backward) a positive one; from the T-pose, the left
# arm comes down with a negative rotation about Z and swings forward with a negative one about Y.
POSES: dict[str, torch.Tensor] = {
    "tpose": torch.zeros(1, 69),
    "walking": _pose(
        left_hip=(-0.5, 0, 0), right_hip=(0.4, 0, 0), left_knee=(0.3, 0, 0),
        right_knee=(0.6, 0, 0), left_shoulder=(0, 0, -1.3), right_shoulder=(0, 0, 1.3),
        left_elbow=(0, -0.3, 0), right_elbow=(0, 0.3, 0),
    ),
    "arms_raised": _pose(left_shoulder=(0, 0, 1.2), right_shoulder=(0, 0, -1.2)),
    "squat": _pose(
        left_hip=(-1.6, 0, 0), right_hip=(-1.6, 0, 0), left_knee=(2.0, 0, 0),
        right_knee=(2.0, 0, 0), left_ankle=(-0.4, 0, 0), right_ankle=(-0.4, 0, 0),
        spine1=(0.4, 0, 0), left_shoulder=(0, -0.9, 0), right_shoulder=(0, 0.9, 0),
    ),
    "left_elbow_bent": _pose(left_elbow=(0, -1.8, 0)),
}  # fmt: skip


def render_views(
    model: BodyModel, body_pose: torch.Tensor, size: int = 512
) -> np.ndarray:  # (size, 2*size, 3) uint8
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    if not hasattr(np, "infty"):
        np.infty = np.inf  # pyrender 0.1.45 still uses np.infty
    import pyrender
    import trimesh

    with torch.no_grad():
        verts = model(body_pose=body_pose).vertices[0].numpy()
    mesh = trimesh.Trimesh(verts, model.faces, process=False)
    material = pyrender.MetallicRoughnessMaterial(baseColorFactor=(0.75, 0.6, 0.5, 1.0))
    renderer = pyrender.OffscreenRenderer(size, size)
    center = 0.5 * (verts.min(0) + verts.max(0))
    images = []
    for yaw in (0.0, np.pi / 2):
        scene = pyrender.Scene(ambient_light=(0.35, 0.35, 0.35), bg_color=(1.0, 1.0, 1.0))
        scene.add(pyrender.Mesh.from_trimesh(mesh, material=material, smooth=True))
        cam_pose = np.eye(4)
        rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        cam_pose[:3, :3] = rot
        cam_pose[:3, 3] = center + rot @ np.array([0.0, 0.0, 4.0])
        scene.add(pyrender.PerspectiveCamera(yfov=np.deg2rad(30)), pose=cam_pose)
        scene.add(pyrender.DirectionalLight(intensity=3.0), pose=cam_pose)
        color, _ = renderer.render(scene)
        images.append(color)
    renderer.delete()
    return np.concatenate(images, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--body-model", default=None)
    args = parser.parse_args()
    from PIL import Image

    model = load_body_model(args.body_model)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, pose in POSES.items():
        path = args.out / f"{model.kind}_{name}.png"
        Image.fromarray(render_views(model, pose)).save(path)
        print(path)


if __name__ == "__main__":
    main()
