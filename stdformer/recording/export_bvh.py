"""Export a recording as a BVH motion file: the SMPL-24 skeleton of the recorded body with
per-frame joint rotations.

Layout: `ROOT pelvis` with 6 channels (`Xposition Yposition Zposition` then the rotations), every
other joint 3 rotation channels, joint names as in SMPL (`left_hip`, ...), an `End Site` on each
leaf (head, hands, feet) half as long as the leaf's own bone. The skeleton is the body's rest
pose for the take's shape (recorded `betas`), Y-up and facing +Z, in metres or centimetres
(`units`); the root's OFFSET is 0 and its position channels hold the pelvis position in the
Y-up frame (camera at the origin looking down -Z; see `animation.py`), so every reader agrees
whether it adds the root offset or not.

Rotations: Euler angles in degrees, channel order `ZXY` (default; `Zrotation Xrotation
Yrotation`, the BVH convention of CMU/Blender files: R = Rz @ Rx @ Ry, rotating column vectors,
read left to right as intrinsic rotations) or `XYZ` (R = Rx @ Ry @ Rz). Each joint's rotation is
local to its parent, relative to the rest pose (the rest pose has identity rotations). Angles are
unwrapped over time (no 360-degree jumps between frames).

Frame Time: the source frame period measured from the recording's timestamps; one BVH frame per
source frame from the first exported frame to the last (a lost subject holds the last pose).
Blender: File > Import > Motion Capture (.bvh) with Forward -Z, Up Y, scale 1 reproduces the
recorded joints (see README).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from stdformer.body.body_model import BodyModel
from stdformer.recording.animation import Motion, Progress, motion_from_recording
from stdformer.recording.export_mesh import check_new_file, mesh_positions
from stdformer.recording.reader import Recording

EULER_ORDERS = ("ZXY", "XYZ")
UNITS = {"m": 1.0, "cm": 100.0}


def euler_degrees(rotations: np.ndarray, order: str) -> np.ndarray:  # (T, 3, 3) -> (T, 3)
    """Intrinsic Euler angles in `order` (R = R_order[0] @ R_order[1] @ R_order[2]), degrees,
    unwrapped over time."""
    angles = Rotation.from_matrix(rotations).as_euler(order.upper(), degrees=True)
    return np.rad2deg(np.unwrap(np.deg2rad(angles), axis=0))


def _children(parents: np.ndarray) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {j: [] for j in range(len(parents))}
    for j, p in enumerate(parents):
        if p >= 0:
            children[int(p)].append(j)
    return children


def _fmt(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in v)


def _hierarchy(motion: Motion, scale: float, order: str) -> list[str]:
    """The HIERARCHY section, joints depth first (the order of `channel_order`)."""
    children = _children(motion.parents)
    rot_channels = " ".join(f"{axis}rotation" for axis in order)
    offsets = motion.offsets * scale
    lines = ["HIERARCHY"]

    def joint(j: int, depth: int) -> None:
        pad = "  " * depth
        name = motion.joint_names[j]
        if motion.parents[j] < 0:
            head, offset = f"ROOT {name}", np.zeros(3)
            channels = f"CHANNELS 6 Xposition Yposition Zposition {rot_channels}"
        else:
            head, offset = f"JOINT {name}", offsets[j]
            channels = f"CHANNELS 3 {rot_channels}"
        lines.extend([pad + head, pad + "{", f"{pad}  OFFSET {_fmt(offset)}", f"{pad}  {channels}"])
        for c in children[j]:
            joint(c, depth + 1)
        if not children[j]:  # a leaf: End Site continuing the bone by half its length
            end = f"{pad}    OFFSET {_fmt(0.5 * offsets[j])}"
            lines.extend([f"{pad}  End Site", f"{pad}  {{", end, f"{pad}  }}"])
        lines.append(pad + "}")

    joint(channel_order(motion.parents)[0], 0)
    return lines


def channel_order(parents: np.ndarray) -> list[int]:
    """Joints in the order their channels appear in a MOTION line (depth first, as written)."""
    children = _children(parents)
    order: list[int] = []
    stack = [int(np.flatnonzero(parents < 0)[0])]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    return order


def write_bvh(
    motion: Motion, out_path: str | os.PathLike[str], units: str = "m", order: str = "ZXY"
) -> Path:
    """Write `motion` as a BVH file (module docstring); returns its path."""
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    if order.upper() not in EULER_ORDERS:
        raise ValueError(f"Euler order must be one of {', '.join(EULER_ORDERS)}, got {order!r}")
    order, scale = order.upper(), UNITS[units]
    columns = [motion.root_position * scale]
    for j in channel_order(motion.parents):
        columns.append(euler_degrees(motion.rotations[:, j], order))
    values = np.concatenate(columns, axis=1)  # (T, 3 + 3 * 24)
    lines = _hierarchy(motion, scale, order)
    lines += ["MOTION", f"Frames: {motion.n_frames}", f"Frame Time: {motion.frame_time_s:.8f}"]
    path = Path(out_path).expanduser()
    with open(path, "x", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
        np.savetxt(f, values, fmt="%.6f")
    return path


def export_bvh(
    rec: Recording,
    out_path: str | os.PathLike[str],
    frames: np.ndarray | None,
    body: BodyModel,
    units: str = "m",
    order: str = "ZXY",
    progress: Progress | None = None,
) -> Path:
    """The mesh frames of `rec` (or `frames`, recording positions) as a BVH file."""
    path, pos = check_new_file(out_path), mesh_positions(rec, frames)
    motion = motion_from_recording(rec, pos, body, progress)
    write_bvh(motion, path, units, order)
    if progress:
        progress(len(pos))
    return path
