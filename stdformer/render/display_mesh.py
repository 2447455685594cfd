"""A lighter mesh for the live views, taken from the full mesh each frame.

Drawing the full body (13,718 vertices for the default body) in the live 3D view and the
camera overlay is the largest CPU cost of a live frame on software OpenGL; a person on a
webcam-sized panel looks the same with about 1,700 vertices (8x fewer) if they sit where the
shape needs them. `DisplayLod` is such a mesh: a shape-preserving decimation of the body's rest
mesh (quadric edge collapse, `even_decimate` with a large shape weight), each of its vertices
following one full-mesh vertex (a gather, ~0.05 ms per frame), with its own triangles.

It is not the network's middle mesh level: that level spreads its vertices evenly over the
body (what the network's tokens need), so the face gets a few dozen of them, some inside the
eye sockets and the mouth, and a head-and-shoulders view showed dark holes at the eyes and
mouth and a faceted head. The display mesh keeps eyes, nose, mouth and ears readable at the
same vertex count. Only the views use it: recordings, exports and `SessionResult.meshes` keep
the full mesh.

The default body's display meshes are committed (`assets/default_body_display.npz`, built by
`tools/build_display_mesh.py`); any other body's are computed once (a few seconds) and cached,
like its mesh levels.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from stdformer.body.even_decimation import even_decimate
from stdformer.body.mesh_levels import default_cache_dir
from stdformer.paths import ASSETS_DIR

log = logging.getLogger(__name__)

DisplayLevel = Literal["full", "mid", "coarse"]
DISPLAY_LEVELS: tuple[str, ...] = ("full", "mid", "coarse")
DISPLAY_SIZES = {"mid": 1723, "coarse": 431}  # vertices, as the network's mesh levels
DISPLAY_SHAPE_WEIGHT = 1000.0  # quadric error dominates: detail where the surface bends
DISPLAY_VERSION = 1  # bump when the decimation changes so stale files are not reused
DEFAULT_DISPLAY_FILE = ASSETS_DIR / "default_body_display.npz"


@dataclass(frozen=True)
class DisplayLod:
    """Full-mesh vertices -> a lighter mesh: `vertices(full)` and its `faces`."""

    level: str  # "mid" or "coarse"
    rows: np.ndarray  # (Vd,) int64 the full-mesh vertex each display vertex follows
    faces: np.ndarray  # (Fd, 3) int64 triangles over the Vd vertices
    n_full: int  # vertices of the full mesh it reads

    def vertices(self, vertices_full: np.ndarray) -> np.ndarray:  # (Vd, 3) float32
        """The lighter mesh's vertices for full-mesh vertices (Vf, 3) (same frame, metres)."""
        v = np.asarray(vertices_full, np.float32)
        if v.shape != (self.n_full, 3):
            raise ValueError(f"need full-mesh vertices ({self.n_full}, 3), got {v.shape}")
        return v[self.rows]

    @classmethod
    def for_body(
        cls,
        vertices_rest: np.ndarray,  # (V, 3) the body's rest mesh
        faces: np.ndarray,  # (F, 3)
        level: DisplayLevel,
        cache_dir: str | Path | None = None,
    ) -> DisplayLod | None:
        """The `level` display mesh of a body ("full": None, draw the full mesh): the committed
        file for the default body, else the disk cache, else computed and cached."""
        if level not in DISPLAY_LEVELS:
            raise ValueError(f"display level must be one of {DISPLAY_LEVELS}, got {level!r}")
        if level == "full":
            return None
        key = display_key(vertices_rest, faces, level)
        cache = Path(cache_dir or default_cache_dir()) / "display_mesh" / f"{level}-{key}.npz"
        for path in (DEFAULT_DISPLAY_FILE, cache):
            lod = _load(path, level, key, len(vertices_rest))
            if lod is not None:
                return lod
        log.info("computing the %s display mesh of a %d-vertex body (cached at %s)", level,
                 len(vertices_rest), cache)  # fmt: skip
        lod = compute_display_lod(vertices_rest, faces, level)
        try:
            save_display_lods({level: lod}, {level: key}, cache)
        except OSError as exc:  # a read-only home must not stop the program; it only costs time
            log.warning("could not cache the display mesh at %s: %s", cache, exc)
        return lod


def display_key(vertices: np.ndarray, faces: np.ndarray, level: str) -> str:
    """Hash of what a display mesh depends on: faces, rest vertices (to 0.1 mm), level, version."""
    h = hashlib.sha1()
    h.update(np.asarray([DISPLAY_VERSION, DISPLAY_SIZES[level]], np.int64).tobytes())
    h.update(np.ascontiguousarray(np.asarray(faces, np.int64)).tobytes())
    h.update(np.round(np.asarray(vertices, np.float64) * 1e4).astype(np.int64).tobytes())
    return h.hexdigest()[:20]


def compute_display_lod(vertices: np.ndarray, faces: np.ndarray, level: str) -> DisplayLod:
    """Decimate the rest mesh to the level's size; each kept point follows the full-mesh vertex
    of its cluster nearest to it."""
    v = np.asarray(vertices, np.float64)
    points, dec_faces, cluster = even_decimate(
        v, np.asarray(faces, np.int64), DISPLAY_SIZES[level], DISPLAY_SHAPE_WEIGHT
    )
    order = np.argsort(cluster, kind="stable")  # full vertices grouped by cluster
    members = order[cluster[order] >= 0]
    starts = np.searchsorted(cluster[members], np.arange(len(points)))
    ends = np.append(starts[1:], len(members))
    rows = np.array(
        [members[s + np.argmin(((v[members[s:e]] - p) ** 2).sum(1))]
         for p, s, e in zip(points, starts, ends, strict=True)],
        np.int64,
    )  # fmt: skip
    return DisplayLod(level, rows, np.asarray(dec_faces, np.int64), len(v))


def save_display_lods(lods: dict[str, DisplayLod], keys: dict[str, str], path: Path) -> None:
    """Write display meshes (one file may hold several levels) with the keys they were built for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for level, lod in lods.items():
        arrays[f"{level}_rows"] = lod.rows.astype(np.int32)
        arrays[f"{level}_faces"] = lod.faces.astype(np.int32)
        arrays[f"{level}_key"] = np.array(keys[level])
    np.savez_compressed(path, **arrays)


def _load(path: Path, level: str, key: str, n_full: int) -> DisplayLod | None:
    try:
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as z:
            if f"{level}_key" not in z.files or str(z[f"{level}_key"]) != key:
                return None
            rows = z[f"{level}_rows"].astype(np.int64)
            faces = z[f"{level}_faces"].astype(np.int64)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        log.warning("ignoring unreadable display mesh file %s: %s", path, exc)
        return None
    if rows.size == 0 or rows.max() >= n_full or faces.max() >= len(rows):
        log.warning("ignoring inconsistent display mesh file %s", path)
        return None
    for array in (rows, faces):
        array.setflags(write=False)
    return DisplayLod(level, rows, faces, n_full)
