"""Render a body model in test poses (T-pose, walking, arms raised, squat, elbow bend) to PNGs.

Used to check by eye that the default body deforms like a person (no candy-wrapping or tearing
at the joints) and that pose parameters mean what they mean for SMPL:

    python tools/render_body_poses.py --out /tmp/body_renders [--body-model PATH]

Each PNG shows a front view and a side view side by side.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
import numpy as np
import torch

from stdformer.body.body_model import BodyModel, body_pose_from_rotvecs, load_body_model
from stdformer.render.renderer import OffscreenRenderer, OrbitCamera

# SMPL conventions: +X is the body's left, Y up, +Z forward. Hip flexion (thigh forward) is a
# negative rotation about X, knee flexion (shin backward) a positive one; from the T-pose, the left
# arm comes down with a negative rotation about Z and swings forward with a negative one about Y.
POSES: dict[str, torch.Tensor] = {
    "tpose": torch.zeros(1, 69),
    "walking": body_pose_from_rotvecs(
        left_hip=(-0.5, 0, 0), right_hip=(0.4, 0, 0), left_knee=(0.3, 0, 0),
        right_knee=(0.6, 0, 0), left_shoulder=(0, 0, -1.3), right_shoulder=(0, 0, 1.3),
        left_elbow=(0, -0.3, 0), right_elbow=(0, 0.3, 0),
    ),
    "arms_raised": body_pose_from_rotvecs(left_shoulder=(0, 0, 1.2), right_shoulder=(0, 0, -1.2)),
    "squat": body_pose_from_rotvecs(
        left_hip=(-1.6, 0, 0), right_hip=(-1.6, 0, 0), left_knee=(2.0, 0, 0),
        right_knee=(2.0, 0, 0), left_ankle=(-0.4, 0, 0), right_ankle=(-0.4, 0, 0),
        spine1=(0.4, 0, 0), left_shoulder=(0, -0.9, 0), right_shoulder=(0, 0.9, 0),
    ),
    "left_elbow_bent": body_pose_from_rotvecs(left_elbow=(0, -1.8, 0)),
}  # fmt: skip


def render_views(
    renderer: OffscreenRenderer, model: BodyModel, body_pose: torch.Tensor
) -> np.ndarray:  # (H, 2*W, 3) uint8 RGB
    """Front and side view of the posed body with the project's renderer."""
    with torch.no_grad():
        verts = model(body_pose=body_pose).vertices[0].numpy()  # (V, 3) Y-up world
    center = 0.5 * (verts.min(0) + verts.max(0))
    views = [
        renderer.render_view_rgb(
            OrbitCamera(azimuth, 0.0, 4.0, center, yfov_deg=30.0), verts, model.faces
        )
        for azimuth in (0.0, 90.0)
    ]
    return np.concatenate(views, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--body-model", default=None)
    args = parser.parse_args()
    from PIL import Image

    model = load_body_model(args.body_model)
    args.out.mkdir(parents=True, exist_ok=True)
    with OffscreenRenderer(512, 512) as renderer:
        for name, pose in POSES.items():
            path = args.out / f"{model.kind}_{name}.png"
            Image.fromarray(render_views(renderer, model, pose)).save(path)
            print(path)


if __name__ == "__main__":
    main()
