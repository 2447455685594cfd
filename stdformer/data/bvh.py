"""A small BVH reader with forward kinematics (numpy): joints, offsets, channels, motion.

BVH (Biovision hierarchy): a joint tree with rest offsets (in the parent's frame) and per-frame
channels (root position plus Euler angles in the order the file lists them, degrees). The
rotation channels of a joint compose left to right as written ("Zrotation Yrotation
Xrotation" -> R = Rz @ Ry @ Rx), the local transform is translate(offset + position channels)
@ R, and a joint's world transform is its parent's times its local one. End sites carry no
channels and are not kept. Units and axes are the file's own (the caller converts them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation


class BvhError(ValueError):
    """The text is not a BVH file this reader understands; the message says where it failed."""


@dataclass(frozen=True)
class Bvh:
    """A parsed BVH file (J joints, N frames)."""

    names: tuple[str, ...]  # (J,) joint names, file order (parents before children)
    parents: np.ndarray  # (J,) int, -1 for the root
    offsets: np.ndarray  # (J, 3) rest offsets in the parent's frame, file units
    channels: tuple[tuple[str, ...], ...]  # (J,) channel names per joint
    motion: np.ndarray  # (N, C) channel values, file order
    frame_time: float  # seconds

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"joint {name!r} not in the BVH hierarchy") from None


def parse_bvh(text: str) -> Bvh:
    """Parse BVH text (raises `BvhError` with the failing token on malformed input)."""
    tokens = text.split()
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise BvhError("unexpected end of file")
        pos += 1
        return tokens[pos - 1]

    def number(kind: type = float) -> float:
        tok = take()
        try:
            return kind(tok)
        except ValueError:
            raise BvhError(f"expected a number, got {tok!r} (token {pos})") from None

    def expect(word: str) -> None:
        got = take()
        if got.upper() != word.upper():
            raise BvhError(f"expected {word!r}, got {got!r} (token {pos})")

    expect("HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []
    kind = take()
    if kind.upper() != "ROOT":
        raise BvhError(f"expected ROOT, got {kind!r}")
    while True:
        if kind.upper() in ("ROOT", "JOINT"):
            names.append(take())
            parents.append(stack[-1] if stack else -1)
            expect("{")
            expect("OFFSET")
            offsets.append([number() for _ in range(3)])
            expect("CHANNELS")
            channels.append(tuple(take() for _ in range(int(number(int)))))
            stack.append(len(names) - 1)
        elif kind.upper() == "END":
            take()  # "Site"
            expect("{")
            expect("OFFSET")
            [number() for _ in range(3)]
            expect("}")
        elif kind == "}":
            stack.pop()
            if not stack:
                break
        else:
            raise BvhError(f"unexpected token {kind!r} in the hierarchy (token {pos})")
        kind = take()
    expect("MOTION")
    expect("Frames:")
    n = int(number(int))
    expect("Frame")
    expect("Time:")
    frame_time = number()
    n_ch = sum(len(c) for c in channels)
    try:
        values = np.asarray(tokens[pos : pos + n * n_ch], np.float64)
    except ValueError:
        raise BvhError("the motion block holds a value that is not a number") from None
    if values.size != n * n_ch or frame_time <= 0:
        raise BvhError(f"motion block has {values.size} values, expected {n} x {n_ch}")
    return Bvh(
        tuple(names),
        np.asarray(parents, np.int64),
        np.asarray(offsets, np.float64),
        tuple(channels),
        values.reshape(n, n_ch),
        frame_time,
    )


def read_bvh(path: Path) -> Bvh:
    return parse_bvh(Path(path).read_text(encoding="utf-8", errors="replace"))


def forward_kinematics(bvh: Bvh) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (N, J, 3, 3) and positions (N, J, 3) of every joint, file units/axes."""
    n, J = bvh.n_frames, len(bvh.names)
    rot_world = np.empty((n, J, 3, 3))
    pos_world = np.empty((n, J, 3))
    col = 0
    for j, chans in enumerate(bvh.channels):
        vals = bvh.motion[:, col : col + len(chans)]
        col += len(chans)
        local_t = np.broadcast_to(bvh.offsets[j], (n, 3)).copy()
        axes, angles = "", []
        for c, name in enumerate(chans):
            axis, kind = name[0].upper(), name[1:].lower()
            if kind == "position":
                local_t[:, "XYZ".index(axis)] += vals[:, c]
            elif kind == "rotation":
                axes += axis
                angles.append(vals[:, c])
            else:
                raise BvhError(f"unknown channel {name!r} of joint {bvh.names[j]!r}")
        if axes:  # upper case = intrinsic: R = R_a1 @ R_a2 @ R_a3 as written
            local_r = Rotation.from_euler(axes, np.stack(angles, 1), degrees=True).as_matrix()
        else:
            local_r = np.broadcast_to(np.eye(3), (n, 3, 3))
        p = bvh.parents[j]
        if p < 0:
            rot_world[:, j], pos_world[:, j] = local_r, local_t
        else:
            rot_world[:, j] = rot_world[:, p] @ local_r
            pos_world[:, j] = pos_world[:, p] + np.einsum("nab,nb->na", rot_world[:, p], local_t)
    return rot_world, pos_world
