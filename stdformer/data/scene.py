"""Posed bodies on the floor and the cameras that see them, as webcams do.

World frame: Y up, metres, floor at y = 0. Cameras use the OpenCV convention (x right, y down,
z forward): a world point X is at `R_cam_from_world @ X + t_cam_from_world` in the camera and
at pixel `K @ X_cam / z`. Framings (`FRAMINGS`):

- "full": the whole body, camera 2-4 m away (field of view widened until the body fits);
- "upper": head and shoulders at a desk, 0.55-1.3 m from the neck, hips and legs out of frame;
- "knees": the bottom edge cuts the legs around the knees;
- "enter_leave": full-body distance, the person walks into or out of the picture.
Camera height, pitch (from looking at the target), yaw around the person (mostly frontal, 15 %
any direction), roll (+-5 deg) and focal length vary; the camera is still during a clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from stdformer.body.body_model import BodyModel
from stdformer.data.motion import Motion

FRAMINGS = ("full", "upper", "knees", "enter_leave")
# Where the camera sits around the person, as webcams see people (issue 14): mostly in front,
# a quarter from the side, a tenth from behind. (front, side, back) probabilities.
WEBCAM_VIEWS = (0.65, 0.25, 0.10)
FRAMING_WEIGHTS = (0.35, 0.35, 0.15, 0.15)
UPPER_BODY = ("upper",)  # framings scored as "upper body" by the evaluation


@dataclass(frozen=True)
class CameraSpec:
    """A still pinhole camera (OpenCV convention)."""

    R_cam_from_world: np.ndarray  # (3, 3)
    t_cam_from_world: np.ndarray  # (3,)
    K: np.ndarray  # (3, 3) pixels
    size_wh: tuple[int, int]
    framing: str

    def to_cam(self, points_world: np.ndarray) -> np.ndarray:
        """(..., 3) world -> (..., 3) camera frame."""
        return points_world @ self.R_cam_from_world.T + self.t_cam_from_world

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """(..., 3) camera frame -> (..., 2) pixels (points must have z > 0)."""
        uvw = points_cam @ self.K.T
        return uvw[..., :2] / uvw[..., 2:3]


@torch.no_grad()
def pose_body(body: BodyModel, motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """World vertices (N, V, 3) and joints (N, 24, 3) of a motion, scaled and on the floor.

    The body is scaled about its pelvis; each frame is lifted so its lowest vertex touches the
    floor (plus the motion's `lift` for jumps): the lower foot carries the weight.
    """
    n = motion.n_frames
    out = body(
        betas=torch.as_tensor(motion.betas)[None].expand(n, -1),
        global_orient=torch.as_tensor(motion.global_orient),
        body_pose=torch.as_tensor(motion.body_pose),
    )
    verts, joints = out.vertices.numpy(), out.joints.numpy()
    pelvis = joints[:, :1]
    verts = pelvis + motion.scale * (verts - pelvis)
    joints = pelvis + motion.scale * (joints - pelvis)
    offset = motion.transl.astype(np.float64).copy()  # (N, 3)
    offset[:, 1] = -verts[:, :, 1].min(axis=1) + motion.lift
    return (verts + offset[:, None]).astype(np.float32), (joints + offset[:, None]).astype(
        np.float32
    )


def look_at(eye: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """(3, 3) R_cam_from_world for an OpenCV camera at `eye` looking at `target`, Y-up world."""
    f = target - eye
    f = f / np.linalg.norm(f)
    right = np.cross(f, np.array([0.0, 1.0, 0.0]))
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    rot = np.stack([right, down, f])  # rows: camera axes in world coordinates
    c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    roll = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    return roll @ rot


def intrinsics_from_vfov(size_wh: tuple[int, int], vfov_deg: float) -> np.ndarray:
    w, h = size_wh
    f = 0.5 * h / math.tan(math.radians(vfov_deg) / 2)
    return np.array([[f, 0, w / 2.0], [0, f, h / 2.0], [0, 0, 1.0]])


def sample_camera(
    joints_world: np.ndarray,  # (N, 24, 3) SMPL joints of the posed clip
    framing: str,
    rng: np.random.Generator,
    size_wh: tuple[int, int] = (640, 480),
    views: tuple[float, float, float] | None = None,
) -> CameraSpec:
    """A still camera for `framing` (module docstring), aimed using the clip's joints.

    `views`: (front, side, back) probabilities of the camera's side of the person (e.g.
    `WEBCAM_VIEWS`); None keeps the corpus's mix (85 % within ~35 deg of the front).
    """
    if framing not in FRAMINGS:
        raise ValueError(f"unknown framing {framing!r}; choose from {FRAMINGS}")
    mean = joints_world.mean(axis=0)  # (24, 3)
    pelvis, chest, neck, head = mean[0], mean[9], mean[12], mean[15]
    knee = 0.5 * (mean[4] + mean[5])
    facing = _facing(joints_world[0])
    if views is None:
        az = rng.normal(0, 35) if rng.random() < 0.85 else rng.uniform(-180, 180)
    else:
        az = view_azimuth(rng, views)
    w, h = size_wh
    aspect_v = h / w
    vfov = rng.uniform(42, 62) * (aspect_v / 0.75) ** 0.5
    if framing == "upper":
        target = neck + rng.uniform(-0.1, 0.6) * (head - neck) + rng.normal(0, 0.03, 3)
        dist = rng.uniform(0.55, 1.3)
        eye_dy = rng.uniform(-0.1, 0.25)
    elif framing == "knees":
        target = 0.5 * (pelvis + chest) + rng.normal(0, 0.05, 3)
        half = (target[1] - knee[1]) * rng.uniform(1.0, 1.15)
        dist = max(half / math.tan(math.radians(vfov / 2)), 0.9)
        eye_dy = rng.uniform(-0.3, 0.5)
    else:
        top = joints_world[:, 15, 1].max() + 0.15
        target = np.array([pelvis[0], 0.5 * top, pelvis[2]]) + rng.normal(0, 0.05, 3)
        dist = rng.uniform(2.0, 4.0)
        need = 2 * math.degrees(math.atan(0.58 * top / dist))  # whole body + margin
        vfov = max(vfov, need)
        eye_dy = rng.uniform(0.6, 1.9) - target[1]
    if framing == "enter_leave":  # look at the middle of the path, slightly to one side
        target[[0, 2]] = 0.5 * (joints_world[0, 0, [0, 2]] + joints_world[-1, 0, [0, 2]])
        az = rng.normal(0, 15)
        facing = _path_normal(joints_world, facing)
    ang = math.radians(facing + az)
    eye = target + np.array([dist * math.sin(ang), eye_dy, dist * math.cos(ang)])
    R = look_at(eye, target, roll_deg=rng.uniform(-5, 5))
    return CameraSpec(R, -R @ eye, intrinsics_from_vfov(size_wh, vfov), size_wh, framing)


def view_azimuth(rng: np.random.Generator, views: tuple[float, float, float]) -> float:
    """Camera yaw (deg) around the person, 0 = in front: front, side (either) or back."""
    kind = int(rng.choice(3, p=np.asarray(views) / sum(views)))
    if kind == 0:
        return float(rng.normal(0, 25))
    if kind == 1:
        return float(rng.choice((-90.0, 90.0)) + rng.normal(0, 15))
    return float(180.0 + rng.normal(0, 20))


def _facing(joints: np.ndarray) -> float:
    """Yaw (deg, 0 = +Z) the body faces, from its hips (left hip at +X when facing +Z)."""
    across = joints[1] - joints[2]  # right hip -> left hip
    return math.degrees(math.atan2(-across[2], across[0]))


def _path_normal(joints_world: np.ndarray, facing: float) -> float:
    """Yaw of a view perpendicular to the root path, on the side the body mostly faces."""
    d = joints_world[-1, 0] - joints_world[0, 0]
    if np.hypot(d[0], d[2]) < 0.3:
        return facing
    path = math.degrees(math.atan2(d[0], d[2]))
    options = (path + 90, path - 90)
    return min(options, key=lambda a: abs((a - facing + 180) % 360 - 180))


def in_view_fraction(cam: CameraSpec, points_world: np.ndarray) -> np.ndarray:
    """(N,) fraction of each frame's points (N, P, 3) inside the image and in front."""
    pc = cam.to_cam(points_world)
    uv = cam.project(np.where(pc[..., 2:3] > 1e-3, pc, 1e-3))
    w, h = cam.size_wh
    inside = (pc[..., 2] > 0.05) & (uv[..., 0] >= 0) & (uv[..., 0] < w)
    inside &= (uv[..., 1] >= 0) & (uv[..., 1] < h)
    return inside.mean(axis=-1)
