"""Pure-numpy geometry for the renderer: frames, the orbit camera, skeleton and grid.

Kept apart from `render.py` so it can be tested and used without an OpenGL context.

Frames used here:
- "cam" (OpenCV): x right, y down, z forward, metres. MediaPipe world landmarks use the same
  axes (hip-centred, camera-aligned), and so do `MeshResult.vertices_cam`.
- "world" (display, Y-up like SMPL/glTF): x right as seen from the front, y up, z pointing from
  the subject toward the viewer of the front view, metres. `yup_from_opencv` maps cam -> world
  (a 180 degree turn about x, so handedness is kept). A subject seen by the camera faces +z.
- OpenGL camera: x right, y up, looking down -z (what pyrender expects for camera poses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from stdformer.detect.pose_topology import POSE_CONNECTIONS, POSE_LANDMARK_NAMES

# Diagonal of the 180 degree rotation about x that maps OpenCV axes onto Y-up/OpenGL axes.
_FLIP_YZ = np.array([1.0, -1.0, -1.0], dtype=np.float32)


def yup_from_opencv(points: np.ndarray) -> np.ndarray:
    """Map points (..., 3) from OpenCV/MediaPipe axes (y down, z forward) to Y-up world axes."""
    return np.asarray(points, dtype=np.float32) * _FLIP_YZ


def look_at_pose(eye: np.ndarray, target: np.ndarray, up: np.ndarray | None = None) -> np.ndarray:
    """4x4 OpenGL camera-to-world pose at `eye` looking at `target` (camera -z toward target)."""
    eye = np.asarray(eye, dtype=np.float64)
    up = np.array([0.0, 1.0, 0.0]) if up is None else np.asarray(up, dtype=np.float64)
    back = eye - np.asarray(target, dtype=np.float64)  # camera +z points away from the target
    back /= max(np.linalg.norm(back), 1e-12)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-9:  # looking straight up/down: any horizontal right works
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, true_up, back, eye
    return pose


@dataclass(frozen=True)
class OrbitCamera:
    """A camera orbiting `target` in the Y-up world frame, for the free 3D view.

    azimuth 0 looks from +z (the subject's front, as the input camera saw it); positive azimuth
    moves the eye toward +x. Elevation is the angle above the horizontal plane.
    """

    azimuth_deg: float = 0.0
    elevation_deg: float = 15.0
    distance_m: float = 3.0
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)  # world, metres
    yfov_deg: float = 45.0

    MIN_DISTANCE_M = 0.2
    MAX_DISTANCE_M = 50.0
    MAX_ELEVATION_DEG = 89.0

    def __post_init__(self) -> None:
        # Accept any (3,) sequence/array for target but store a hashable tuple of floats.
        t = tuple(float(v) for v in np.asarray(self.target, dtype=np.float64).reshape(3))
        object.__setattr__(self, "target", t)

    def orbit(self, d_azimuth_deg: float, d_elevation_deg: float = 0.0) -> OrbitCamera:
        """Turn around the target; elevation is clamped short of the poles."""
        el = float(
            np.clip(
                self.elevation_deg + d_elevation_deg,
                -self.MAX_ELEVATION_DEG,
                self.MAX_ELEVATION_DEG,
            )
        )
        az = (self.azimuth_deg + d_azimuth_deg + 180.0) % 360.0 - 180.0
        return replace(self, azimuth_deg=az, elevation_deg=el)

    def zoom(self, factor: float) -> OrbitCamera:
        """Multiply the distance by `factor` (< 1 moves closer), clamped to a sane range."""
        if factor <= 0:
            raise ValueError(f"zoom factor must be positive, got {factor}")
        d = float(np.clip(self.distance_m * factor, self.MIN_DISTANCE_M, self.MAX_DISTANCE_M))
        return replace(self, distance_m=d)

    def pan(self, right_m: float, up_m: float) -> OrbitCamera:
        """Move eye and target together along the camera's right and up axes."""
        pose = self.pose_world_from_gl()
        t = np.asarray(self.target) + right_m * pose[:3, 0] + up_m * pose[:3, 1]
        return replace(self, target=tuple(float(v) for v in t))

    def eye(self) -> np.ndarray:  # (3,) world
        az, el = math.radians(self.azimuth_deg), math.radians(self.elevation_deg)
        offset = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        return np.asarray(self.target) + self.distance_m * offset

    def pose_world_from_gl(self) -> np.ndarray:  # (4, 4) OpenGL camera -> world
        return look_at_pose(self.eye(), np.asarray(self.target))


# The 3D view's framing, shared by the live views, playback and video export (`frame_box`).
VIEW_YFOV_DEG = 40.0  # vertical field of view
VIEW_ELEVATION_DEG = 10.0  # from the front and slightly above
VIEW_MARGIN = 1.15  # the box's height or width fills 1 / 1.15 of the view
MIN_HALF_EXTENT_M = 0.1  # a box smaller than 20 cm (a few points) is framed as 20 cm


def frame_box(
    lo: np.ndarray,
    hi: np.ndarray,
    size_wh: tuple[int, int],
    azimuth_deg: float = 0.0,
    elevation_deg: float = VIEW_ELEVATION_DEG,
) -> OrbitCamera:
    """The one framing of the 3D view: an orbit camera aimed at the centre of the box `lo`..`hi`
    ((3,) each, world, Y-up, metres), far enough that the box's height and width fill a view of
    `size_wh` pixels (with `VIEW_MARGIN`) and its near face is in front of the camera (half its
    depth is added). Tight on the body: a bounding sphere leaves a standing person small.

    The live views frame the (smoothed) visible part of the body and add the user's orbit, zoom
    and pan; playback and video export frame a whole take from the front.
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    half = np.maximum(0.5 * (hi - lo), MIN_HALF_EXTENT_M)  # (3,)
    w, h = size_wh
    tan_v = math.tan(math.radians(VIEW_YFOV_DEG) / 2.0)
    fit = max(half[1] / tan_v, half[0] / (tan_v * w / max(h, 1)))
    distance = VIEW_MARGIN * fit + half[2]
    return OrbitCamera(
        azimuth_deg=azimuth_deg,
        elevation_deg=elevation_deg,
        distance_m=float(np.clip(distance, OrbitCamera.MIN_DISTANCE_M, OrbitCamera.MAX_DISTANCE_M)),
        target=tuple(0.5 * (lo + hi)),
        yfov_deg=VIEW_YFOV_DEG,
    )


def as_float_rgba(colors: np.ndarray, n: int) -> np.ndarray:
    """Per-vertex colours (n, 3|4), uint8 0-255 or float 0-1, as float32 RGBA in [0, 1].

    pyrender reads integer colour arrays as 0-255, so `[1, 1, 1]` ints would come out almost
    black; converting here removes that trap.
    """
    c = np.asarray(colors)
    if c.shape[0] != n or c.ndim != 2 or c.shape[1] not in (3, 4):
        raise ValueError(f"vertex colours must be ({n}, 3|4), got {c.shape}")
    c = c.astype(np.float32) / 255.0 if np.issubdtype(c.dtype, np.integer) else c.astype(np.float32)
    if c.shape[1] == 3:
        c = np.concatenate([c, np.ones((n, 1), np.float32)], axis=1)
    return np.clip(c, 0.0, 1.0)


# Skeleton colours: the person's left warm, right cool, midline light (MediaPipe's habit).
LEFT_RGB = (1.0, 0.55, 0.15)
RIGHT_RGB = (0.2, 0.6, 1.0)
MID_RGB = (0.9, 0.9, 0.9)


def _side_of(i: int) -> int:
    name = POSE_LANDMARK_NAMES[i] if i < len(POSE_LANDMARK_NAMES) else ""
    if name.startswith("left_") or name == "mouth_left":
        return 1
    if name.startswith("right_") or name == "mouth_right":
        return 2
    return 0


def _unit_sphere(rings: int = 6, segments: int = 10) -> tuple[np.ndarray, np.ndarray]:
    theta = np.linspace(0.0, np.pi, rings + 1)
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    pts = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    faces = []
    for r in range(rings):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            c, d = a + segments, b + segments
            faces += [(a, c, b), (b, c, d)]
    return pts.astype(np.float32), np.asarray(faces, dtype=np.int32)


_SPHERE = _unit_sphere()


def skeleton_mesh(
    joints_world: np.ndarray,
    bones: tuple[tuple[int, int], ...] = POSE_CONNECTIONS,
    visibility: np.ndarray | None = None,
    min_visibility: float = 0.0,
    bone_radius_m: float = 0.015,
    joint_radius_m: float = 0.028,
    segments: int = 8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One triangle mesh for a stick figure: a cylinder per bone, a sphere per joint.

    Returns positions (N, 3), normals (N, 3), colours (N, 4) float32 and faces (M, 3) int32.
    Joints with visibility below `min_visibility` are left out with their bones. Building one
    merged mesh keeps it to a single draw call per frame.
    """
    j = np.asarray(joints_world, dtype=np.float32).reshape(-1, 3)
    keep = np.ones(len(j), bool) if visibility is None else np.asarray(visibility) >= min_visibility
    keep &= np.isfinite(j).all(axis=1)
    sides = np.array([_side_of(i) for i in range(len(j))])
    palette = np.array([MID_RGB, LEFT_RGB, RIGHT_RGB], np.float32)
    parts_p, parts_n, parts_c, parts_f = [], [], [], []
    offset = 0

    sp, sf = _SPHERE
    for i in np.flatnonzero(keep):
        parts_p.append(j[i] + joint_radius_m * sp)
        parts_n.append(sp)
        parts_c.append(np.broadcast_to(palette[sides[i]], sp.shape))
        parts_f.append(sf + offset)
        offset += len(sp)

    pairs = np.array([b for b in bones if keep[b[0]] and keep[b[1]]], dtype=np.int64)
    if len(pairs):
        a, b = j[pairs[:, 0]], j[pairs[:, 1]]
        axis = b - a
        length = np.linalg.norm(axis, axis=1, keepdims=True)
        ok = length[:, 0] > 1e-6
        a, axis, length, pairs = a[ok], axis[ok], length[ok], pairs[ok]
        d = axis / length  # (B, 3)
        helper = np.where(np.abs(d[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
        u = np.cross(d, helper)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        v = np.cross(d, u)
        ang = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
        ring = np.cos(ang)[None, :, None] * u[:, None] + np.sin(ang)[None, :, None] * v[:, None]
        bottom = a[:, None] + bone_radius_m * ring  # (B, S, 3)
        top = bottom + axis[:, None]
        n_b = len(pairs)
        pos = np.concatenate([bottom, top], axis=1).reshape(-1, 3)
        nrm = np.concatenate([ring, ring], axis=1).reshape(-1, 3)
        s = np.arange(segments)
        s1 = (s + 1) % segments
        quad = np.stack([s, s1, s + segments, s1, s1 + segments, s + segments], 1).reshape(-1, 3)
        faces = quad[None] + (np.arange(n_b) * 2 * segments)[:, None, None]
        side_a, side_b = sides[pairs[:, 0]], sides[pairs[:, 1]]
        bone_side = np.where(side_a == side_b, side_a, 0)
        col = np.repeat(palette[bone_side], 2 * segments, axis=0)
        parts_p.append(pos)
        parts_n.append(nrm)
        parts_c.append(col)
        parts_f.append(faces.reshape(-1, 3) + offset)

    if not parts_p:
        empty = np.zeros((0, 3), np.float32)
        return empty, empty, np.zeros((0, 4), np.float32), np.zeros((0, 3), np.int32)
    colors = np.concatenate(parts_c).astype(np.float32)
    colors = np.concatenate([colors, np.ones((len(colors), 1), np.float32)], axis=1)
    return (
        np.concatenate(parts_p).astype(np.float32),
        np.concatenate(parts_n).astype(np.float32),
        colors,
        np.concatenate(parts_f).astype(np.int32),
    )


def grid_lines(half_extent_m: float = 4.0, step_m: float = 0.5) -> np.ndarray:
    """Line-segment endpoints (2L, 3) of a square grid on the plane y = 0, centred at the origin.

    Each line is split where it crosses the others (segments one step long), so lighting
    evaluated at the vertices (the live views) follows the lines as closely as per pixel.
    """
    ticks = np.arange(-half_extent_m, half_extent_m + 1e-6, step_m, dtype=np.float32)
    a, b = np.meshgrid(ticks, ticks[:-1], indexing="ij")  # (line, segment start)
    c = b + np.float32(step_m)  # segment ends
    zero = np.zeros_like(a)
    along_x = np.stack([np.stack([b, zero, a], -1), np.stack([c, zero, a], -1)], 2)
    along_z = np.stack([np.stack([a, zero, b], -1), np.stack([a, zero, c], -1)], 2)
    return np.concatenate([along_x.reshape(-1, 3), along_z.reshape(-1, 3)]).astype(np.float32)
