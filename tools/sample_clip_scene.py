"""Scene pieces for tools/build_sample_clip.py: camera, clothing colours, room and shadow.

World frame here is anny's: metres, Z up, the body facing -Y, floor at z = 0. The camera uses
the OpenCV convention (x right, y down, z forward) so frames go through
`OffscreenRenderer.render_overlay_bgr` like any reconstructed mesh.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

CAMERA_POS = np.array([0.0, -2.9, 1.05])  # in front of the body, about chest height
CAMERA_TARGET = np.array([0.0, 0.0, 0.88])
VFOV_DEG = 50.0
WALL_Y = 1.8  # back wall plane y = WALL_Y

SHIRT_RGB = (0.72, 0.16, 0.17)
TROUSERS_RGB = (0.14, 0.20, 0.36)
SHOES_RGB = (0.12, 0.11, 0.10)
SKIN_RGB = (0.88, 0.67, 0.54)
HAIR_RGB = (0.20, 0.13, 0.08)
EYES_RGB = (0.22, 0.16, 0.12)


def camera_from_world(size_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(4, 4) OpenCV camera-from-world transform and (3, 3) intrinsics K for the clip."""
    w, h = size_wh
    f = CAMERA_TARGET - CAMERA_POS
    f /= np.linalg.norm(f)
    right = np.cross(f, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    rot = np.stack([right, down, f])  # rows: camera axes in world coordinates
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rot, -rot @ CAMERA_POS
    fy = 0.5 * h / math.tan(math.radians(VFOV_DEG) / 2)
    K = np.array([[fy, 0.0, (w - 1) / 2], [0.0, fy, (h - 1) / 2], [0.0, 0.0, 1.0]])
    return pose, K


def clothing_colors(model: object, seed: int = 0) -> np.ndarray:
    """Per-vertex RGB float colours (V, 3): shirt, trousers, shoes, skin, hair, eyes.

    Regions come from each vertex's dominant skinning bone plus height thresholds in the rest
    pose; a small fixed-seed brightness noise keeps large areas from looking flat.
    """
    import torch

    eye = torch.eye(4).expand(1, model.bone_count, 4, 4)
    rest = model(pose_parameters=eye)
    verts = rest["rest_vertices"][0].double().numpy()  # (V, 3)
    heads = rest["rest_bone_heads"][0].double().numpy()
    labels = list(model.bone_labels)
    idx = {b: i for i, b in enumerate(labels)}
    weights = model.vertex_bone_weights.double().numpy()
    bones = model.vertex_bone_indices.long().numpy()
    dominant = np.asarray(labels, dtype=object)[bones[np.arange(len(bones)), weights.argmax(1)]]

    def bone_is(*prefixes: str) -> np.ndarray:
        return np.array([any(str(d).startswith(p) for p in prefixes) for d in dominant])

    z, y = verts[:, 2], verts[:, 1]
    waist_z = heads[idx["root"], 2] + 0.07
    ankle_z = heads[idx["foot.L"], 2] + 0.05
    eye_z, eye_y = heads[idx["eye.L"], 2], heads[idx["eye.L"], 1]

    colors = np.tile(np.array(SKIN_RGB), (len(verts), 1))
    torso = bone_is("spine", "clavicle", "shoulder01", "upperarm", "root", "pelvis")
    legs = bone_is("upperleg", "lowerleg", "pelvis", "root", "spine05")
    colors[torso & (z >= waist_z)] = SHIRT_RGB
    colors[bone_is("upperarm")] = SHIRT_RGB  # short sleeves
    colors[(legs | torso) & (z < waist_z) & ~bone_is("upperarm")] = TROUSERS_RGB
    colors[bone_is("foot", "toe") | (z < ankle_z)] = SHOES_RGB
    head = bone_is("head")
    hair = head & ((z > eye_z + 0.045) | ((y > eye_y + 0.10) & (z > eye_z - 0.08)))
    colors[hair] = HAIR_RGB
    colors[bone_is("eye")] = EYES_RGB

    rng = np.random.default_rng(seed)
    colors *= 1.0 + 0.05 * rng.standard_normal((len(verts), 1))
    return np.clip(colors, 0.0, 1.0).astype(np.float32)


def draw_background_bgr(
    size_wh: tuple[int, int], cam_from_world: np.ndarray, K: np.ndarray
) -> np.ndarray:
    """A plain room seen by the clip camera: gradient wall, skirting board, wooden floor."""
    w, h = size_wh
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    rays_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    rot = cam_from_world[:3, :3]
    origin = -rot.T @ cam_from_world[:3, 3]
    rays = rays_cam @ rot  # world directions (H, W, 3), rows of rot are the camera axes
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(rays[..., 2] < 0, -origin[2] / rays[..., 2], np.inf)
        t_wall = np.where(rays[..., 1] > 0, (WALL_Y - origin[1]) / rays[..., 1], np.inf)
    floor = t_floor < t_wall
    hit = origin + np.where(floor, t_floor, t_wall)[..., None] * rays

    wall_rgb = np.array([0.80, 0.78, 0.73])[None, None] * (0.85 + 0.12 * (v / h))[..., None]
    skirting = (~floor) & (hit[..., 2] < 0.10)
    wall_rgb = np.where(skirting[..., None], np.array([0.92, 0.91, 0.88]), wall_rgb)
    boards = 0.5 + 0.5 * np.cos(2 * np.pi * hit[..., 0] / 0.22)  # boards run toward the camera
    seams = np.abs(((hit[..., 0] / 0.22) % 1.0) - 0.5) > 0.47
    floor_shade = 0.92 + 0.06 * boards - 0.10 * seams
    depth_fade = np.clip(1.0 - 0.04 * np.nan_to_num(hit[..., 1], nan=0.0), 0.85, 1.05)
    floor_rgb = np.array([0.58, 0.45, 0.33])[None, None] * (floor_shade * depth_fade)[..., None]
    rgb = np.where(floor[..., None], floor_rgb, wall_rgb)
    return np.clip(rgb[..., ::-1] * 255 + 0.5, 0, 255).astype(np.uint8)


def draw_shadow(
    background_bgr: np.ndarray,
    vertices_world: np.ndarray,
    cam_from_world: np.ndarray,
    K: np.ndarray,
    strength: float = 0.45,
) -> np.ndarray:
    """Darken the floor under the body: its vertices dropped onto z = 0, blurred (soft shadow)."""
    h, w = background_bgr.shape[:2]
    ground = vertices_world.copy()
    ground[:, 2] = 0.0
    cam = ground @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    px = cam @ K.T
    px = np.round(px[:, :2] / px[:, 2:3]).astype(int)
    ok = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    mask = np.zeros((h, w), np.float32)
    mask[px[ok, 1], px[ok, 0]] = 1.0
    mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    mask = cv2.GaussianBlur(mask, (0, 0), 5.0)
    shade = 1.0 - strength * np.clip(mask * 1.5, 0.0, 1.0)
    return (background_bgr.astype(np.float32) * shade[..., None]).astype(np.uint8)
