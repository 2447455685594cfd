"""Pipeline objects -> `FrameRecord`: what the recorder and `main.py process` write per frame."""

from __future__ import annotations

import cv2
import numpy as np

from stdformer.recording.format import N_BETAS, N_LANDMARKS, FrameRecord
from stdformer.types import MeshResult, Observation

JPEG_QUALITY = 90  # source video frames: ~40-60 KB at 640x480, visually lossless for overlays


def encode_jpeg(image_bgr: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """(H, W, 3) uint8 BGR -> JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"could not encode a {image_bgr.shape} image as JPEG")
    return buf.tobytes()


def _nan(*shape: int) -> np.ndarray:
    return np.full(shape, np.nan, np.float32)


def frame_record(
    index: int,
    t_ns: int,
    observation: Observation | None,
    mesh: MeshResult | None,
    n_vertices: int,
    n_joints: int = 24,
    source_jpeg: bytes | None = None,
) -> FrameRecord:
    """One record for frame `index`: the subject's observation and mesh, NaN where absent.

    With look-ahead a mesh arrives frames after its observation: pass the mesh together with
    `mesh.observation` (and the mesh's own index / t_ns), not the current frame's.
    """
    if mesh is not None and mesh.vertices_cam.shape != (n_vertices, 3):
        raise ValueError(f"mesh has {mesh.vertices_cam.shape} vertices, recording {n_vertices}")
    if mesh is not None and mesh.joints_cam.shape != (n_joints, 3):
        raise ValueError(f"mesh has {mesh.joints_cam.shape} joints, recording {n_joints}")
    if mesh is not None and mesh.body is not None and mesh.body.betas.shape != (N_BETAS,):
        raise ValueError(f"body has {mesh.body.betas.shape} betas, recordings store {N_BETAS}")
    obs = observation
    if mesh is not None:
        joints = np.asarray(mesh.joints_cam, np.float32)
        vertices, K = np.asarray(mesh.vertices_cam, np.float32), mesh.K
    else:
        joints, vertices, K = _nan(n_joints, 3), _nan(n_vertices, 3), _nan(3, 3)
    if mesh is not None:
        bbox = mesh.bbox_xyxy
    elif obs is not None:
        bbox = obs.bbox_xyxy
    else:
        bbox = _nan(4)
    return FrameRecord(
        index=int(index),
        t_ns=int(t_ns),
        tracked=obs is not None,
        has_mesh=mesh is not None,
        vertices=vertices,
        joints=joints,
        K=np.asarray(K, np.float32),
        bbox_xyxy=np.asarray(bbox, np.float32),
        landmarks_px=obs.landmarks_px if obs is not None else _nan(N_LANDMARKS, 3),
        landmark_visibility=obs.visibility if obs is not None else _nan(N_LANDMARKS),
        world_landmarks=obs.world_landmarks if obs is not None else _nan(N_LANDMARKS, 3),
        source_jpeg=source_jpeg,
        body=None if mesh is None else mesh.body,
    )
