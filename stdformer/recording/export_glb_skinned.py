"""Export a recording as a skinned, animated glTF binary: the body with a skeleton whose joint
rotations (and root translation) are animated. Far smaller than the morph-target GLB (about
400 bytes per frame instead of ~330 kB) and what character tools retarget.

Layout: node 0 `recording` (extras: fps, frame_count, ...) holds node 1 `body` (the mesh, skin 0)
and the skeleton: one node per SMPL joint, named as in SMPL (`pelvis`, `left_hip`, ...), each
translated by its rest offset from its parent (the root by the pelvis position), so the rest
pose has identity rotations. The mesh is the body's rest pose for the take's shape (`betas`),
Y-up, facing +Z, with JOINTS_0 / WEIGHTS_0 the 4 largest skinning weights of each vertex
renormalised to sum 1 (the body's own weights have up to 24; the difference is measured in the
tests) and inverse bind matrices translate(-rest joint). Pose blend shapes (SMPL files) are not
carried. One animation `motion`: LINEAR rotation keys for every joint and translation keys for
the pelvis, one key per source frame from the first exported frame to the last on the frame
period measured from the timestamps (a lost subject holds the last pose; `animation.py`).
Axes as the morph GLB: OpenCV camera (x, y, z) -> glTF (x, -y, -z), metres.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from stdformer.body.body_model import BodyModel
from stdformer.body.surface import vertex_normals
from stdformer.recording.animation import Motion, Progress, motion_from_recording
from stdformer.recording.export_glb import _BODY_MATERIAL, _Bin, _scalar_times, _vec3
from stdformer.recording.export_mesh import check_new_file, mesh_positions
from stdformer.recording.reader import Recording

_FLOAT, _USHORT, _UINT32 = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
INFLUENCES = 4  # joints per vertex (glTF's JOINTS_0 / WEIGHTS_0)


def top_weights(weights: np.ndarray, k: int = INFLUENCES) -> tuple[np.ndarray, np.ndarray]:
    """(V, J) skinning weights -> the k largest per vertex: joints (V, k) uint16 and weights
    (V, k) float32 renormalised to sum 1."""
    idx = np.argsort(-weights, axis=1)[:, :k]
    w = np.take_along_axis(weights, idx, axis=1)
    w = w / w.sum(axis=1, keepdims=True)
    return idx.astype(np.uint16), w.astype(np.float32)


def continuous_quaternions(rotations: np.ndarray) -> np.ndarray:  # (T, 3, 3) -> (T, 4) xyzw
    """Unit quaternions (glTF order x, y, z, w) with signs chosen so consecutive keys are on the
    same hemisphere (interpolation takes the short way)."""
    q = Rotation.from_matrix(rotations).as_quat()
    flip = np.cumsum(np.r_[0, np.einsum("ti,ti->t", q[1:], q[:-1]) < 0]) % 2 == 1
    q[flip] *= -1
    return q


def _rest_mesh(body: BodyModel, betas: np.ndarray) -> np.ndarray:  # (V, 3) float32
    with torch.no_grad():
        return body(betas=torch.as_tensor(betas[None])).vertices[0].cpu().numpy()


def _parts(motion: Motion, body: BodyModel, extras: dict) -> tuple[dict, list[bytes]]:
    """The glTF JSON and the binary pieces in declared order."""
    bins, parts = _Bin(), []

    def add(data: np.ndarray, accessor: dict, target: int | None = None) -> int:
        raw = np.ascontiguousarray(data).tobytes()
        parts.append(raw)
        return bins.add(len(raw), accessor, target)

    vertices = _rest_mesh(body, motion.betas)
    faces = body.faces.astype("<u4")
    joints_idx, weights = top_weights(body.lbs_weights)
    nv, nj = len(vertices), len(motion.parents)
    attrs = {
        "POSITION": add(vertices, _vec3(nv, vertices.min(0), vertices.max(0)), _ARRAY_BUFFER),
        "NORMAL": add(vertex_normals(vertices, body.faces).astype("<f4"), _vec3(nv), _ARRAY_BUFFER),
        "JOINTS_0": add(
            joints_idx.astype("<u2"),
            {"componentType": _USHORT, "count": nv, "type": "VEC4"},
            _ARRAY_BUFFER,
        ),
        "WEIGHTS_0": add(
            weights.astype("<f4"), {"componentType": _FLOAT, "count": nv, "type": "VEC4"},
            _ARRAY_BUFFER,
        ),
    }  # fmt: skip
    index_acc = {"componentType": _UINT32, "count": faces.size, "type": "SCALAR"}
    indices = add(faces, index_acc, _ELEMENT_ARRAY_BUFFER)
    ibm = np.tile(np.eye(4, dtype="<f4"), (nj, 1, 1))
    ibm[:, 3, :3] = -motion.rest_joints  # column-major: translation in the 4th column
    ibm_acc = add(ibm, {"componentType": _FLOAT, "count": nj, "type": "MAT4"})

    first_joint = 2
    children = [[first_joint + c for c in np.flatnonzero(motion.parents == j)] for j in range(nj)]
    q = np.stack([continuous_quaternions(motion.rotations[:, j]) for j in range(nj)], 1)
    offsets = motion.offsets
    joint_nodes = []
    for j in range(nj):
        node: dict = {
            "name": motion.joint_names[j],
            "translation": [float(x) for x in (motion.root_position[0] if j == 0 else offsets[j])],
            "rotation": [float(x) for x in q[0, j]],
        }
        if children[j]:
            node["children"] = [int(c) for c in children[j]]
        joint_nodes.append(node)
    root_joint = first_joint + int(np.flatnonzero(motion.parents < 0)[0])
    nodes = [
        {"name": "recording", "children": [1, root_joint], "extras": extras},
        {"name": "body", "mesh": 0, "skin": 0},
        *joint_nodes,
    ]
    times = np.arange(motion.n_frames, dtype="<f4") * np.float32(motion.frame_time_s)
    t_acc = add(times, _scalar_times(times))
    samplers = [
        {"input": t_acc, "output": add(motion.root_position.astype("<f4"), _vec3(len(times))),
         "interpolation": "LINEAR"},
    ]  # fmt: skip
    channels = [{"sampler": 0, "target": {"node": root_joint, "path": "translation"}}]
    for j in range(nj):
        out = add(q[:, j].astype("<f4"), {"componentType": _FLOAT, "count": len(times),
                                          "type": "VEC4"})  # fmt: skip
        samplers.append({"input": t_acc, "output": out, "interpolation": "LINEAR"})
        channels.append(
            {"sampler": len(samplers) - 1, "target": {"node": first_joint + j, "path": "rotation"}}
        )
    gltf = {
        "asset": {"version": "2.0", "generator": "stdformer-live skinned export", "extras": extras},
        "scene": 0,
        "scenes": [{"name": "recording", "nodes": [0], "extras": extras}],
        "nodes": nodes,
        "meshes": [{"name": "body", "primitives": [
            {"attributes": attrs, "indices": indices, "material": 0, "mode": 4}]}],
        "skins": [{"name": "smpl", "joints": list(range(first_joint, first_joint + nj)),
                   "inverseBindMatrices": ibm_acc, "skeleton": root_joint}],
        "materials": [_BODY_MATERIAL],
        "animations": [{"name": "motion", "channels": channels, "samplers": samplers}],
        "accessors": bins.accessors,
        "bufferViews": bins.views,
        "buffers": [{"byteLength": bins.size}],
    }  # fmt: skip
    return gltf, parts


def write_skinned_glb(
    motion: Motion, body: BodyModel, out_path: str | os.PathLike[str], extras: dict
) -> Path:
    """Write `motion` on `body` as a skinned .glb (module docstring); returns its path."""
    gltf, parts = _parts(motion, body, extras)
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary = b"".join(p + b"\0" * (-len(p) % 4) for p in parts)
    path = Path(out_path).expanduser()
    with open(path, "xb") as f:
        f.write(struct.pack("<III", 0x46546C67, 2, 12 + 8 + len(js) + 8 + len(binary)))
        f.write(struct.pack("<II", len(js), 0x4E4F534A) + js)
        f.write(struct.pack("<II", len(binary), 0x004E4942) + binary)
    return path


def export_glb_skinned(
    rec: Recording,
    out_path: str | os.PathLike[str],
    frames: np.ndarray | None,
    body: BodyModel,
    progress: Progress | None = None,
) -> Path:
    """The mesh frames of `rec` (or `frames`, recording positions) as a skinned .glb."""
    path, pos = check_new_file(out_path), mesh_positions(rec, frames)
    motion = motion_from_recording(rec, pos, body, progress)
    extras = {
        "fps": 1.0 / motion.frame_time_s,
        "frame_count": motion.n_frames,
        "duration_s": motion.n_frames * motion.frame_time_s,
        "first_source_frame": int(rec.frame_index[pos[0]]),
        "last_source_frame": int(rec.frame_index[pos[-1]]),
        "axes": "Y-up; OpenCV camera (x, y, z) -> (x, -y, -z); metres",
        "skeleton": "SMPL-24, rest pose of the take's shape with identity rotations",
        "betas": [float(b) for b in motion.betas],
        "source": rec.header.info.source,
    }
    write_skinned_glb(motion, body, path, extras)
    if progress:
        progress(len(pos))
    return path
