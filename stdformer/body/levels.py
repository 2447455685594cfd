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
    """Down/up-sampling matrices between the three mesh levels (float32, row-stochastic).

    `down_*` average full-mesh quantities onto fewer vertices, `up_*` interpolate back
    (each row sums to 1). Each row has a few non-zeros: files store the matrices by rows
    (`rows`), and a level set loaded from a file builds a dense matrix only when that field
    is read (the two big ones, (13718, 1723) float32, are 94 MB each: the live app never
    reads them densely, so start-up neither decompresses nor allocates them).
    """

    down_full_to_mid: np.ndarray  # (Vm, Vf) float32
    down_mid_to_coarse: np.ndarray  # (Vc, Vm) float32
    up_coarse_to_mid: np.ndarray  # (Vm, Vc) float32, initial value of the learnable map
    up_mid_to_full: np.ndarray  # (Vf, Vm) float32, fixed
    coarse_adjacency: np.ndarray  # (Vc, Vc) bool, symmetric, True on the diagonal
    coarse_faces: np.ndarray  # (Fc, 3) int64 triangles of the coarse mesh (for display/edges)
    mid_faces: np.ndarray  # (Fm, 3) int64 triangles of the middle mesh (edge/normal losses)

    def __getattr__(self, name: str) -> np.ndarray:
        """A matrix field of levels loaded from a file, made dense on first read (class doc).
        Called only for attributes not set on the instance."""
        rows = self.__dict__.get("_rows", {})
        if name not in MATRICES or name not in rows:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        dense = rows[name].dense()
        object.__setattr__(self, name, dense)
        return dense

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(Vc, Vm, Vf)."""
        vm, vf = self._shape("down_full_to_mid")
        return self._shape("down_mid_to_coarse")[0], vm, vf

    def _shape(self, name: str) -> tuple[int, int]:
        dense = self.__dict__.get(name)
        return dense.shape if dense is not None else self.rows(name).shape

    def rows(self, name: str) -> SparseRows:
        """Matrix field `name` by rows (its non-zeros), computed once from the dense field
        when the levels were not read from a file."""
        cache = self.__dict__.setdefault("_rows", {})
        if name not in cache:
            if name not in MATRICES:
                raise KeyError(f"not a mesh-levels matrix: {name!r}")
            cache[name] = SparseRows.of(self.__dict__[name])
        return cache[name]

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
            self.rows("down_full_to_mid").to_torch_sparse(),
            self.rows("down_mid_to_coarse").to_torch_sparse(),
        )

    def downsample(self, verts_full: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, Vf, 3) -> (coarse (B, Vc, 3), mid (B, Vm, 3)), sparse matmuls (~0.1 ms on CPU)."""
        d_fm, d_mc = (m.to(verts_full.device, verts_full.dtype) for m in self._down_sparse)
        mid = _apply_rows(d_fm, verts_full)
        return _apply_rows(d_mc, mid), mid

    def arrays(self) -> dict[str, np.ndarray]:
        """The file's arrays: matrices by rows (`NAME.index`, `NAME.weight`, `NAME.cols`), the
        rest as they are."""
        out: dict[str, np.ndarray] = {}
        for name in _FIELDS:
            if name in MATRICES:
                r = self.rows(name)
                out |= {f"{name}.index": r.index, f"{name}.weight": r.weight,
                        f"{name}.cols": np.array(r.shape[1], np.int64)}  # fmt: skip
            else:
                out[name] = getattr(self, name)
        return out

    def save(self, path: str | Path, **extra: np.ndarray) -> None:
        """Write the levels (and `extra` arrays, e.g. a cache key) as a compressed .npz."""
        np.savez_compressed(path, **self.arrays(), **extra)

    @classmethod
    def load(cls, path: str | Path) -> MeshLevels:
        """Levels from a file `save` wrote (or an older one with dense matrices)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                files = set(z.files)
                missing = [
                    k
                    for k in _FIELDS
                    if k not in files and not (k in MATRICES and f"{k}.index" in files)
                ]
                if missing:
                    raise BadFileError(
                        f"{path}: mesh-levels file lacks {missing}. Rebuild it with "
                        "`python tools/build_mesh_levels.py`, or delete a stale cache file."
                    )
                levels = cls.__new__(cls)
                rows = {}
                for k in _FIELDS:
                    if k in files:
                        object.__setattr__(levels, k, z[k])
                    else:
                        rows[k] = SparseRows.read(z, k)
                object.__setattr__(levels, "_rows", rows)
                return levels
        except BadFileError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise BadFileError(
                f"{path}: not a readable mesh-levels .npz ({type(exc).__name__}: {exc}). Rebuild "
                "it with `python tools/build_mesh_levels.py` or write it with "
                "`tools/convert_official.py --save-levels`."
            ) from exc


@dataclass(frozen=True)
class SparseRows:
    """A matrix with a few non-zeros per row, as each row's non-zero columns (in order) and
    weights; rows with fewer than k non-zeros are padded with column 0 and weight 0, so
    `(x[index] * weight).sum(1)` is the matrix product."""

    index: np.ndarray  # (R, k) int64 columns
    weight: np.ndarray  # (R, k) float32
    shape: tuple[int, int]  # (R, C) of the dense matrix

    @classmethod
    def of(cls, dense: np.ndarray) -> SparseRows:
        dense = np.asarray(dense, dtype=np.float32)
        rows, cols = np.nonzero(dense)  # row-major: each row's columns ascending
        counts = np.bincount(rows, minlength=dense.shape[0])
        k = max(int(counts.max(initial=0)), 1)
        slot = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        index = np.zeros((dense.shape[0], k), np.int64)
        weight = np.zeros((dense.shape[0], k), np.float32)
        index[rows, slot] = cols
        weight[rows, slot] = dense[rows, cols]
        return cls(index, weight, (int(dense.shape[0]), int(dense.shape[1])))

    @classmethod
    def read(cls, z: np.lib.npyio.NpzFile, name: str) -> SparseRows:
        """Matrix `name` from a file `MeshLevels.save` wrote (ValueError when malformed)."""
        index = z[f"{name}.index"].astype(np.int64)
        weight = z[f"{name}.weight"].astype(np.float32)
        n_cols = int(z[f"{name}.cols"])
        if index.ndim != 2 or index.shape != weight.shape or index.size == 0:
            raise ValueError(f"{name}: index {index.shape} and weight {weight.shape} differ")
        if index.min() < 0 or index.max() >= n_cols:
            raise ValueError(f"{name}: column index out of range 0..{n_cols - 1}")
        return cls(index, weight, (index.shape[0], n_cols))

    def dense(self) -> np.ndarray:
        """(R, C) float32."""
        out = np.zeros(self.shape, np.float32)
        keep = self.weight != 0  # padding (column 0, weight 0) must not overwrite column 0
        out[np.nonzero(keep)[0], self.index[keep]] = self.weight[keep]
        return out

    def to_torch_sparse(self) -> torch.Tensor:
        """(R, C) sparse COO tensor, float32."""
        keep = self.weight != 0
        rows = np.nonzero(keep)[0]
        indices = torch.from_numpy(np.stack([rows, self.index[keep]]))
        values = torch.from_numpy(self.weight[keep])
        sparse = torch.sparse_coo_tensor(indices, values, self.shape, check_invariants=True)
        return sparse.coalesce()


def _apply_rows(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(M, V) sparse @ (B, V, C) -> (B, M, C)."""
    b, v, c = x.shape
    flat = x.permute(1, 0, 2).reshape(v, b * c)  # (V, B*C)
    return (matrix @ flat).reshape(-1, b, c).permute(1, 0, 2)


MATRICES = ("down_full_to_mid", "down_mid_to_coarse", "up_coarse_to_mid", "up_mid_to_full")
_FIELDS = (*MATRICES, "coarse_adjacency", "coarse_faces", "mid_faces")
