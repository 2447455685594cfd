"""Mesh levels for the vertex head: coarse (~431) <- middle (~1723) <- full (V) vertices.

The network predicts coarse-mesh vertex tokens, upsamples them to the middle level with a
learnable map and from the middle to the full mesh with the fixed `up_mid_to_full` matrix. The
self-attention mask between vertex tokens comes from `coarse_adjacency`.

This module holds the data container and its file format; computing levels for a body lives
in the body package's builder (see `compute_mesh_levels`).
"""

from __future__ import annotations

import functools
import hashlib
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stdformer.paths import BadFileError


@dataclass(frozen=True)
class MeshLevels:
    """Down/up-sampling matrices between the three mesh levels (dense float32, row-stochastic).

    `down_*` average full-mesh quantities onto fewer vertices, `up_*` interpolate back
    (each row sums to 1). Dense storage keeps the format simple; the biggest matrix,
    (6890, 1723) float32, is 47 MB in memory and is applied with a matmul.
    """

    down_full_to_mid: np.ndarray  # (Vm, Vf) float32
    down_mid_to_coarse: np.ndarray  # (Vc, Vm) float32
    up_coarse_to_mid: np.ndarray  # (Vm, Vc) float32, initial value of the learnable map
    up_mid_to_full: np.ndarray  # (Vf, Vm) float32, fixed
    coarse_adjacency: np.ndarray  # (Vc, Vc) bool, symmetric, True on the diagonal
    coarse_faces: np.ndarray  # (Fc, 3) int64 triangles of the coarse mesh (for display/edges)
    mid_faces: np.ndarray  # (Fm, 3) int64 triangles of the middle mesh (edge/normal losses)

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(Vc, Vm, Vf)."""
        return (
            self.down_mid_to_coarse.shape[0],
            self.down_full_to_mid.shape[0],
            self.down_full_to_mid.shape[1],
        )

    def fingerprint(self) -> str:
        """Short hash identifying the topology (used to match checkpoints to bodies)."""
        h = hashlib.sha1()
        for a in (self.coarse_faces, self.mid_faces, self.coarse_adjacency):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(np.asarray(self.sizes, np.int64).tobytes())
        return h.hexdigest()[:16]

    @functools.cached_property
    def _down_sparse(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(full->mid, mid->coarse) as sparse COO: each row has at most a few non-zeros."""
        return (
            torch.from_numpy(np.ascontiguousarray(self.down_full_to_mid)).to_sparse(),
            torch.from_numpy(np.ascontiguousarray(self.down_mid_to_coarse)).to_sparse(),
        )

    def downsample(self, verts_full: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, Vf, 3) -> (coarse (B, Vc, 3), mid (B, Vm, 3)), sparse matmuls (~0.1 ms on CPU)."""
        d_fm, d_mc = (m.to(verts_full.device, verts_full.dtype) for m in self._down_sparse)
        mid = _apply_rows(d_fm, verts_full)
        return _apply_rows(d_mc, mid), mid

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, **{k: getattr(self, k) for k in _FIELDS})

    @classmethod
    def load(cls, path: str | Path) -> MeshLevels:
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in _FIELDS if k not in z.files]
                if missing:
                    raise BadFileError(
                        f"{path}: mesh-levels file lacks {missing}. Rebuild it with "
                        "`python tools/build_mesh_levels.py`, or delete a stale cache file."
                    )
                return cls(**{k: z[k] for k in _FIELDS})
        except BadFileError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise BadFileError(
                f"{path}: not a readable mesh-levels .npz ({type(exc).__name__}: {exc}). Rebuild "
                "it with `python tools/build_mesh_levels.py` or write it with "
                "`tools/convert_official.py --save-levels`."
            ) from exc


def _apply_rows(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(M, V) sparse @ (B, V, C) -> (B, M, C)."""
    b, v, c = x.shape
    flat = x.permute(1, 0, 2).reshape(v, b * c)  # (V, B*C)
    return (matrix @ flat).reshape(-1, b, c).permute(1, 0, 2)


_FIELDS = (
    "down_full_to_mid",
    "down_mid_to_coarse",
    "up_coarse_to_mid",
    "up_mid_to_full",
    "coarse_adjacency",
    "coarse_faces",
    "mid_faces",
)
