"""A lighter mesh for the live views, computed from the full mesh each frame.

Drawing the full body (13,718 vertices for the default body) in the live 3D view and the
camera overlay is the largest CPU cost of a live frame on software OpenGL; a person on a
webcam-sized panel looks the same with the body's middle mesh level (about 1,700 vertices,
8x fewer). `DisplayLod` maps full-mesh vertices onto such a level with the mesh levels'
down-sampling rows (each lighter vertex is a weighted average of a few full vertices, ~0.1 ms
per frame) and carries the level's triangles. Only the views use it: recordings, exports and
`SessionResult.meshes` keep the full mesh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from stdformer.body.levels import MeshLevels

DisplayLevel = Literal["full", "mid", "coarse"]
DISPLAY_LEVELS: tuple[str, ...] = ("full", "mid", "coarse")


@dataclass(frozen=True)
class DisplayLod:
    """Full-mesh vertices -> a lighter level: `vertices(full)` and its `faces`."""

    level: str  # "mid" or "coarse"
    rows: np.ndarray  # (Vd, k) int64 full-mesh vertex indices (padding has weight 0)
    weights: np.ndarray  # (Vd, k) float32, each row sums to 1
    faces: np.ndarray  # (Fd, 3) int64 triangles over the Vd vertices
    n_full: int  # vertices of the full mesh it reads

    def vertices(self, vertices_full: np.ndarray) -> np.ndarray:  # (Vd, 3) float32
        """The lighter mesh's vertices for full-mesh vertices (Vf, 3) (same frame, metres)."""
        v = np.asarray(vertices_full, np.float32)
        if v.shape != (self.n_full, 3):
            raise ValueError(f"need full-mesh vertices ({self.n_full}, 3), got {v.shape}")
        return np.einsum("vk,vkc->vc", self.weights, v[self.rows])

    @classmethod
    def from_levels(cls, levels: MeshLevels, level: DisplayLevel) -> DisplayLod | None:
        """The `level` of `levels` ("full": None, draw the full mesh)."""
        if level not in DISPLAY_LEVELS:
            raise ValueError(f"display level must be one of {DISPLAY_LEVELS}, got {level!r}")
        if level == "full":
            return None
        rows, weights = _sparse_rows(levels.down_full_to_mid)  # (Vm, k)
        faces = levels.mid_faces
        if level == "coarse":
            c_rows, c_weights = _sparse_rows(levels.down_mid_to_coarse)  # (Vc, kc) mid indices
            n = len(c_rows)
            rows = rows[c_rows].reshape(n, -1)  # (Vc, kc * k) full indices
            weights = (c_weights[:, :, None] * weights[c_rows]).reshape(n, -1)
            faces = levels.coarse_faces
        weights = weights / np.maximum(weights.sum(1, keepdims=True), 1e-12)
        for array in (rows, weights):
            array.setflags(write=False)
        faces = np.array(faces, np.int64)
        faces.setflags(write=False)
        return cls(level, rows, weights.astype(np.float32), faces, levels.sizes[2])


def _sparse_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (M, N) mostly-zero matrix as per-row (indices (M, k), weights (M, k)), zero-padded."""
    r, c = np.nonzero(matrix)  # row-major: rows ascending
    counts = np.bincount(r, minlength=len(matrix))
    k = max(int(counts.max()), 1)
    slot = np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
    rows, weights = np.zeros((len(matrix), k), np.int64), np.zeros((len(matrix), k), np.float32)
    rows[r, slot], weights[r, slot] = c, matrix[r, c]
    return rows, weights
