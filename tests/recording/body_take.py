"""Recordings of the default body in known poses (BodyParams -> BodyModel -> MeshResult-like
records), and a version 1 recording written byte by byte as the previous program did."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import torch

from stdformer.body.body_model import BodyModel, load_body_model
from stdformer.body.smpl_file import SMPL_JOINT_NAMES
from stdformer.recording import FrameRecord, RecordingInfo, RecordingWriter
from stdformer.recording.format import END_FILE, FACES_FILE, FRAMES_FILE, HEADER_FILE, record_crc
from stdformer.types import BodyParams
from tests.recording.synthetic import frame_record

BETAS = np.linspace(-0.8, 0.8, 10).astype(np.float32)  # a shape far from the mean
FACING_CAMERA = np.array([np.pi, 0.0, 0.0], np.float32)  # Y-up rest -> OpenCV camera, facing it


@cache
def default_body() -> BodyModel:
    return load_body_model()


def _joint(name: str) -> slice:
    j = SMPL_JOINT_NAMES.index(name) - 1
    return slice(3 * j, 3 * j + 3)


def body_params(i: int) -> BodyParams:
    """Frame i: turning slowly, walking in place, the left arm rising, 3 m from the camera."""
    from scipy.spatial.transform import Rotation

    yaw = Rotation.from_rotvec([0.0, 0.05 * i - 0.6, 0.0])  # about the body's up axis
    orient = (Rotation.from_rotvec(FACING_CAMERA) * yaw).as_rotvec()
    pose = np.zeros(69, np.float32)
    s = np.sin(0.3 * i)
    pose[_joint("left_hip")] = (0.5 * s, 0.0, 0.1)
    pose[_joint("right_hip")] = (-0.5 * s, 0.0, -0.1)
    pose[_joint("left_knee")] = (0.6 + 0.5 * s, 0.0, 0.0)
    pose[_joint("left_shoulder")] = (0.2, -0.3, 0.8 * s + 0.4)
    pose[_joint("right_elbow")] = (0.0, 1.2 + 0.2 * s, 0.0)
    pose[_joint("spine2")] = (0.1, 0.3 * s, 0.0)
    pose[_joint("neck")] = (0.2 * s, 0.1, 0.0)
    return BodyParams(
        betas=BETAS.copy(),
        global_orient=orient.astype(np.float32),
        body_pose=pose,
        transl=np.array([0.05 * np.cos(0.2 * i), 0.1, 3.0 + 0.01 * i], np.float32),
    )


def posed(params: BodyParams) -> tuple[np.ndarray, np.ndarray]:  # (V, 3), (24, 3) camera frame
    with torch.no_grad():
        out = default_body()(
            betas=params.betas[None],
            global_orient=params.global_orient[None],
            body_pose=params.body_pose[None],
            transl=params.transl[None],
        )
    return out.vertices[0].numpy(), out.joints[0].numpy()


def body_record(i: int, has_mesh: bool = True, with_body: bool = True) -> FrameRecord:
    params = body_params(i)
    vertices, joints = posed(params)
    return frame_record(i, vertices, joints, has_mesh, params if with_body else None)


def write_body_take(
    parent: Path,
    n_frames: int,
    missing: tuple[int, ...] = (),
    with_body: bool = True,
    store_vertices: bool = True,
    body_model_sha256: str = "",
) -> Path:
    """A complete recording of the default body, fitted parameters stored per frame (and the
    vertices, unless `store_vertices` is False: a posed-body recording)."""
    body = default_body()
    name = body.source_path.name
    info = RecordingInfo(
        30.0, "synthetic body", (640, 480), body_model=name, body_model_sha256=body_model_sha256
    )
    with RecordingWriter.create(
        parent, info, body.faces, body.num_vertices, 24, store_vertices=store_vertices
    ) as writer:
        for i in range(n_frames):
            writer.write(body_record(i, i not in missing, with_body))
    return writer.path


# The record layout of format version 1 (the previous program's), for backward-compatibility tests.
def _v1_fields(n_vertices: int) -> list[tuple[str, str, tuple[int, ...]]]:
    return [
        ("index", "<i8", ()),
        ("t_ns", "<i8", ()),
        ("tracked", "u1", ()),
        ("has_mesh", "u1", ()),
        ("bbox_xyxy", "<f4", (4,)),
        ("K", "<f4", (3, 3)),
        ("transl", "<f4", (3,)),
        ("joints", "<f4", (24, 3)),
        ("vertices", "<f4", (n_vertices, 3)),
        ("landmarks_px", "<f4", (33, 3)),
        ("landmark_visibility", "<f4", (33,)),
        ("world_landmarks", "<f4", (33, 3)),
        ("source_offset", "<i8", ()),
        ("source_length", "<i8", ()),
        ("crc32", "<u4", ()),
    ]


def write_v1_take(path: Path, n_frames: int, missing: tuple[int, ...] = ()) -> Path:
    """A version 1 recording of the default body (pelvis in `transl`, no body parameters)."""
    body = default_body()
    fields = _v1_fields(body.num_vertices)
    dtype = np.dtype([(n, t, s) for n, t, s in fields])
    path.mkdir(parents=True)
    np.save(path / FACES_FILE, body.faces.astype(np.int32))
    rows = np.zeros(n_frames, dtype)
    for i in range(n_frames):
        r = body_record(i, i not in missing)
        row = rows[i]
        row["index"], row["t_ns"], row["tracked"], row["has_mesh"] = i, r.t_ns, 1, r.has_mesh
        row["bbox_xyxy"], row["K"], row["transl"] = r.bbox_xyxy, r.K, r.joints[0]
        row["joints"], row["vertices"] = r.joints, r.vertices
        row["landmarks_px"], row["landmark_visibility"] = r.landmarks_px, r.landmark_visibility
        row["world_landmarks"], row["source_offset"], row["source_length"] = 0, -1, 0
        row["crc32"] = record_crc(rows[i : i + 1].view(np.uint8).data)
    rows.tofile(path / FRAMES_FILE)
    header = {
        "format": "stdformer-recording",
        "version": 1,
        "created_utc": "2026-01-01T00:00:00+00:00",
        "units": "metres; OpenCV camera frame (x right, y down, z forward); pixels for boxes",
        "n_vertices": body.num_vertices,
        "n_joints": 24,
        "joint_order": "SMPL-24 (body-model joint order)",
        "n_faces": len(body.faces),
        "record_size": dtype.itemsize,
        "record_fields": [[n, t, list(s)] for n, t, s in fields],
        "files": {"frames": FRAMES_FILE, "faces": FACES_FILE, "end": END_FILE},
        "fps": 30.0,
        "source": "version 1 take",
        "image_size_wh": [640, 480],
        "body_model": body.source_path.name,
        "body_model_sha256": "",
        "weights": "stdformer_landmarks.pt",
        "weights_sha256": "",
        "lookahead": 0,
        "software_version": "stdformer-live 0.x",
        "extra": {},
    }
    (path / HEADER_FILE).write_text(json.dumps(header))
    (path / END_FILE).write_text(f'{{"frames": {n_frames}, "clean": true}}\n')
    return path
