"""A small BVH reader with its own forward kinematics, independent of the exporter's code:
it follows the file format (channels in file order, rotations multiplied in channel order,
OFFSET + position channels for the root) with hand-written axis matrices."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:  # (T,) -> (T, 3, 3)
    a = np.deg2rad(degrees)
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    rows = {
        "X": [[o, z, z], [z, c, -s], [z, s, c]],
        "Y": [[c, z, s], [z, o, z], [-s, z, c]],
        "Z": [[c, -s, z], [s, c, z], [z, z, o]],
    }[axis]
    return np.moveaxis(np.array(rows), -1, 0)


def read_bvh(text: str) -> tuple[list[BvhJoint], np.ndarray, float]:
    """(joints in file order, motion values (T, C), frame time)."""
    tokens = text.split()
    joints: list[BvhJoint] = []
    stack: list[int] = []
    i = 0
    while tokens[i] != "MOTION":
        t = tokens[i]
        if t in ("ROOT", "JOINT"):
            joints.append(BvhJoint(tokens[i + 1], stack[-1] if stack else -1, np.zeros(3)))
            i += 2
        elif t == "End":  # End Site { OFFSET x y z }: skipped
            i += 8
        elif t == "{":
            stack.append(len(joints) - 1)
            i += 1
        elif t == "}":
            stack.pop()
            i += 1
        elif t == "OFFSET":
            joints[-1].offset = np.array(tokens[i + 1 : i + 4], float)
            i += 4
        elif t == "CHANNELS":
            n = int(tokens[i + 1])
            joints[-1].channels = tokens[i + 2 : i + 2 + n]
            i += 2 + n
        else:
            i += 1
    n_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    values = np.array(tokens[i + 6 :], float).reshape(n_frames, -1)
    return joints, values, frame_time


def bvh_world_positions(text: str) -> tuple[list[str], np.ndarray, float]:
    """Joint names, world positions (T, J, 3) of every frame, frame time."""
    joints, values, frame_time = read_bvh(text)
    n = len(values)
    rot = np.empty((n, len(joints), 3, 3))
    pos = np.empty((n, len(joints), 3))
    col = 0
    for j, joint in enumerate(joints):
        local_r = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
        local_t = np.broadcast_to(joint.offset, (n, 3)).copy()
        for ch in joint.channels:
            v = values[:, col]
            col += 1
            if ch.endswith("position"):
                local_t[:, "XYZ".index(ch[0])] += v
            else:
                local_r = local_r @ _axis_rotation(ch[0], v)
        if joint.parent < 0:
            rot[:, j], pos[:, j] = local_r, local_t
        else:
            p = joint.parent
            rot[:, j] = rot[:, p] @ local_r
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", rot[:, p], local_t)
    return [j.name for j in joints], pos, frame_time
