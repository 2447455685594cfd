"""Synthetic recordings: a sphere that moves, deterministic per frame (no network needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from stdformer.recording import FrameRecord, RecordingInfo, RecordingWriter
from stdformer.types import BodyParams

_SPHERE = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
SPHERE_VERTICES = np.asarray(_SPHERE.vertices, np.float32)  # (162, 3)
SPHERE_FACES = np.asarray(_SPHERE.faces, np.int32)  # (320, 3)
N_JOINTS = 24
K_640 = np.array([[640, 0, 320], [0, 640, 240], [0, 0, 1]], np.float32)


def synthetic_record(
    i: int, vertices: np.ndarray = SPHERE_VERTICES, has_mesh: bool = True
) -> FrameRecord:
    """Frame i: the mesh 3 m in front of the camera, sliding right 1 cm and squashing per frame."""
    v = vertices * np.array([1.0, 1.0 - 0.002 * (i % 50), 1.0], np.float32)
    v = v + np.array([0.01 * i - 0.3, 0.0, 3.0], np.float32)
    joints = v[np.linspace(0, len(v) - 1, N_JOINTS).astype(int)]
    return frame_record(i, v, joints, has_mesh)


def frame_record(
    i: int,
    vertices: np.ndarray,  # (V, 3)
    joints: np.ndarray,  # (J, 3)
    has_mesh: bool = True,
    body: BodyParams | None = None,
) -> FrameRecord:
    """Record i of a take at 30 fps with these vertices/joints (NaN without a mesh)."""
    nan = np.float32(np.nan)
    return FrameRecord(
        index=i,
        t_ns=i * 33_333_333,
        tracked=has_mesh,
        has_mesh=has_mesh,
        vertices=vertices if has_mesh else np.full_like(vertices, nan),
        joints=joints if has_mesh else np.full_like(joints, nan),
        K=K_640,
        bbox_xyxy=np.array([100, 50, 300, 400], np.float32),
        landmarks_px=np.full((33, 3), i, np.float32),
        landmark_visibility=np.ones(33, np.float32),
        world_landmarks=np.zeros((33, 3), np.float32),
        body=body if has_mesh else None,
    )


def write_synthetic(
    parent: Path,
    n_frames: int,
    vertices: np.ndarray = SPHERE_VERTICES,
    faces: np.ndarray = SPHERE_FACES,
    missing: tuple[int, ...] = (),
    fps: float = 30.0,
) -> Path:
    """A complete recording of n_frames synthetic frames (no mesh at the `missing` ones)."""
    info = RecordingInfo(fps=fps, source="synthetic sphere", image_size_wh=(640, 480))
    with RecordingWriter.create(parent, info, faces, len(vertices), N_JOINTS) as writer:
        for i in range(n_frames):
            writer.write(synthetic_record(i, vertices, has_mesh=i not in missing))
    return writer.path
