"""Compute the coarse/middle/full mesh levels of a body (like METRO/FastMETRO's 431/1723/6890).

The middle level is an edge-collapse decimation of the full rest mesh and the coarse level a
decimation of the middle one. The collapses spread the vertices evenly over the surface (see
`even_decimation`): plain quadric decimation keeps the densely modelled face, hands and feet
(62 % of the coarse vertices on the default body) and strips the limbs and trunk, which the
network's vertex tokens must cover. Between neighbouring levels:

- down-sampling: each coarser vertex is the point of the finer surface closest to its
  decimated position, i.e. a barycentric average of the 3 finer vertices of that triangle
  (searched only among the triangles that were collapsed into it, so it never lands on another
  body part); on the rest mesh the down-sampled level is the decimated mesh;
- up-sampling: each finer vertex takes the barycentric coordinates of its closest point on a
  coarser triangle near its own geodesic cell (cells grow along mesh edges from each coarser
  vertex, so a vertex never snaps to a triangle across a gap between the legs or fingers);
- the coarse adjacency: edges of the coarse faces plus self-loops; separate surface pieces
  (eyes, the mouth interior) are bridged to their nearest neighbour so the graph is connected.

All matrices are row-stochastic with non-negative weights. Everything is deterministic: the
decimation has no randomness and ties are broken by index. `load_or_compute_mesh_levels`
caches the result on disk, keyed by a hash of the rest mesh.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from stdformer.body.even_decimation import even_decimate
from stdformer.body.levels import MeshLevels
from stdformer.body.surface import closest_barycentric_pairs, face_normals, vertex_normals
from stdformer.paths import ASSETS_DIR, default_cache_dir

if TYPE_CHECKING:
    from stdformer.body.body_model import BodyModel

log = logging.getLogger(__name__)

# Bump when the algorithm changes so stale caches are not reused.
ALGORITHM_VERSION = 3
DEFAULT_LEVELS_FILE = ASSETS_DIR / "default_body_levels.npz"
KNN_HANDICAP_M = 0.004  # see _up_matrix


def compute_mesh_levels(
    vertices: np.ndarray,  # (V, 3) rest-pose vertices, metres
    faces: np.ndarray,  # (F, 3) triangle vertex indices
    n_coarse: int = 431,
    n_mid: int = 1723,
) -> MeshLevels:
    """Build the three mesh levels of a rest mesh and the matrices between them.

    The middle level has `n_mid` vertices and the coarse level `n_coarse` (the defaults are
    the paper's sizes). Takes ~1.5 s for a 6,890-vertex mesh, ~3.5 s for 13,718, on one core.
    """
    vertices, faces = _check_mesh(vertices, faces)
    n_full = vertices.shape[0]
    if not 4 <= n_coarse < n_mid < n_full:
        raise ValueError(f"need 4 <= n_coarse < n_mid < V, got {n_coarse}, {n_mid}, {n_full}")

    down_full_to_mid, mid_faces, cell_full = _next_level(vertices, faces, n_mid)
    mid_vertices = down_full_to_mid @ vertices  # (Vm, 3)
    down_mid_to_coarse, coarse_faces, cell_mid = _next_level(mid_vertices, mid_faces, n_coarse)
    coarse_vertices = down_mid_to_coarse @ mid_vertices  # (Vc, 3)

    up_mid_to_full = _up_matrix(vertices, faces, cell_full, mid_vertices, mid_faces)
    up_coarse_to_mid = _up_matrix(mid_vertices, mid_faces, cell_mid, coarse_vertices, coarse_faces)
    dense = lambda m: m.toarray().astype(np.float32)  # noqa: E731
    return MeshLevels(
        down_full_to_mid=dense(down_full_to_mid),
        down_mid_to_coarse=dense(down_mid_to_coarse),
        up_coarse_to_mid=dense(up_coarse_to_mid),
        up_mid_to_full=dense(up_mid_to_full),
        coarse_adjacency=connected_adjacency(coarse_vertices, coarse_faces),
        coarse_faces=coarse_faces,
        mid_faces=mid_faces,
    )


def decimate(
    vertices: np.ndarray,  # (V, 3)
    faces: np.ndarray,  # (F, 3)
    n_target: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Even edge-collapse decimation to `n_target` vertices (exactly, when reachable).

    Returns (points (n, 3) near the surface, faces (F', 3) int64, cluster (V,) int64: the
    decimated vertex each input vertex was collapsed into, -1 for vertices in no triangle).
    """
    points, dec_faces, cluster = even_decimate(vertices, faces, n_target)
    return points, _clean_faces(dec_faces), cluster


def adjacency_from_faces(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(V, V) bool: True where two vertices share a triangle edge, and on the diagonal."""
    adj = np.eye(n_vertices, dtype=bool)
    edges = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    adj[edges[:, 0], edges[:, 1]] = True
    adj[edges[:, 1], edges[:, 0]] = True
    return adj


def connected_adjacency(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Face adjacency with self-loops, plus one bridge edge per extra surface piece.

    A body mesh may hold separate pieces (eyeballs, the mouth interior); each is joined to the
    rest by an edge between its closest vertex pair, so attention can reach every vertex.
    """
    adj = adjacency_from_faces(faces, vertices.shape[0])
    while True:
        n_parts, part = connected_components(sp.csr_matrix(adj), directed=False)
        if n_parts == 1:
            return adj
        # The piece holding the lowest-numbered vertex outside the largest piece goes first.
        largest = np.bincount(part).argmax()
        piece = part == part[np.flatnonzero(part != largest)[0]]
        inside, outside = np.flatnonzero(piece), np.flatnonzero(~piece)
        d2 = ((vertices[inside, None, :] - vertices[None, outside, :]) ** 2).sum(-1)
        i, j = np.unravel_index(np.argmin(d2), d2.shape)
        adj[inside[i], outside[j]] = adj[outside[j], inside[i]] = True


def mesh_levels_key(
    vertices: np.ndarray, faces: np.ndarray, n_coarse: int = 431, n_mid: int = 1723
) -> str:
    """Hash of what the levels depend on: faces, rest vertices (to 0.1 mm), sizes, version."""
    h = hashlib.sha1()
    h.update(np.asarray([ALGORITHM_VERSION, n_coarse, n_mid], np.int64).tobytes())
    h.update(np.ascontiguousarray(np.asarray(faces, np.int64)).tobytes())
    verts_01mm = np.round(np.asarray(vertices, np.float64) * 1e4).astype(np.int64)
    h.update(np.ascontiguousarray(verts_01mm).tobytes())
    return h.hexdigest()[:20]


def save_mesh_levels(levels: MeshLevels, path: str | Path, key: str) -> None:
    """Write levels plus the key of the mesh they were computed from (atomic replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    levels.save(tmp, levels_key=np.array(key))
    os.replace(tmp, path)


def load_or_compute_mesh_levels(
    body_vertices: np.ndarray,  # (V, 3) rest-pose vertices
    faces: np.ndarray,  # (F, 3)
    cache_dir: str | Path | None = None,
    n_coarse: int = 431,
    n_mid: int = 1723,
) -> MeshLevels:
    """Mesh levels of a body: the committed default-body file, else the disk cache, else compute.

    The committed `assets/default_body_levels.npz` is used when it was built from this very
    mesh; any other body (a user's SMPL file) is computed once (~1.5 s) and cached under
    `cache_dir` (default: `default_cache_dir()`). An unreadable cache file is recomputed.
    """
    key = mesh_levels_key(body_vertices, faces, n_coarse, n_mid)
    committed = _load_if_key_matches(DEFAULT_LEVELS_FILE, key)
    if committed is not None:
        return committed
    cache_path = Path(cache_dir or default_cache_dir()) / "mesh_levels" / f"levels-{key}.npz"
    cached = _load_if_key_matches(cache_path, key)
    if cached is not None:
        log.debug("mesh levels loaded from cache %s", cache_path)
        return cached
    log.info("computing mesh levels for a %d-vertex body (cached at %s)", len(body_vertices),
             cache_path)  # fmt: skip
    levels = compute_mesh_levels(body_vertices, faces, n_coarse, n_mid)
    try:
        save_mesh_levels(levels, cache_path, key)
    except OSError as exc:  # a read-only home must not stop the program; it only costs time
        log.warning("could not cache mesh levels at %s: %s", cache_path, exc)
    return levels


def mesh_levels_for_body(body: BodyModel, cache_dir: str | Path | None = None) -> MeshLevels:
    """Mesh levels of a loaded body model (its zero-shape rest mesh), committed or cached."""
    return load_or_compute_mesh_levels(body.v_template, body.faces, cache_dir)


# --------------------------------------------------------------------------------- internals


def _load_if_key_matches(path: Path, key: str) -> MeshLevels | None:
    try:
        if not path.is_file():  # raises PermissionError for a folder we may not search
            return None
        with np.load(path, allow_pickle=False) as z:
            stored = str(z["levels_key"]) if "levels_key" in z.files else None
        if stored != key:
            return None
        return MeshLevels.load(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        log.warning("ignoring unreadable mesh-levels file %s: %s", path, exc)
        return None


def _check_mesh(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"vertices must be (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must be (F, 3), got {faces.shape}")
    if faces.size and (faces.min() < 0 or faces.max() >= vertices.shape[0]):
        raise ValueError("faces index vertices out of range")
    if not np.isfinite(vertices).all():
        raise ValueError("vertices contain NaN or inf")
    return vertices, faces


def _clean_faces(faces: np.ndarray) -> np.ndarray:
    """Drop triangles that collapsed to an edge and exact repeats (same winding).

    Two triangles on the same vertices with opposite windings are both kept: they are the two
    sides of a feature flattened by the decimation (a fingertip), and dropping one would open a
    hole in the surface.
    """
    ok = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    faces = faces[ok]
    # Rotate each triangle so its smallest index comes first: equal rows = same winding.
    shift = np.argmin(faces, axis=1)
    canonical = np.take_along_axis(faces, (shift[:, None] + np.arange(3)) % 3, axis=1)
    _, first = np.unique(canonical, axis=0, return_index=True)
    return faces[np.sort(first)].astype(np.int64)


def _edge_graph(vertices: np.ndarray, faces: np.ndarray) -> sp.csr_matrix:
    edges = np.unique(np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1), axis=0)
    lengths = np.linalg.norm(vertices[edges[:, 0]] - vertices[edges[:, 1]], axis=1)
    lengths = np.maximum(lengths, 1e-9)  # zero weights would read as "no edge"
    n = vertices.shape[0]
    return sp.coo_matrix((lengths, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()


def _scatter_rows(
    faces: np.ndarray, face: np.ndarray, bary: np.ndarray, n_cols: int
) -> sp.csr_matrix:
    """(P, n_cols) sparse matrix with each row's barycentric weights on its face's vertices."""
    rows = np.repeat(np.arange(face.shape[0]), 3)
    shape = (face.shape[0], n_cols)
    return sp.csr_matrix((bary.reshape(-1), (rows, faces[face].reshape(-1))), shape=shape)


def _next_level(
    vertices: np.ndarray,  # (Vf, 3) finer level
    faces: np.ndarray,  # (Ff, 3)
    n_target: int,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Decimate a level: (down (Vc, Vf) sparse, coarser faces (Fc, 3), cell (Vf,)).

    `cell[i]` is the coarser vertex whose geodesic cell holds finer vertex i (used to find the
    triangles it interpolates from when up-sampling).
    """
    points, coarse_faces, cluster = decimate(vertices, faces, n_target)
    n_fine = vertices.shape[0]
    # Candidates for each decimated vertex: the finer triangles touching what collapsed into it.
    face_cluster = cluster[faces]  # (Ff, 3)
    pairs = np.unique(np.stack([face_cluster.reshape(-1), np.repeat(np.arange(len(faces)), 3)],
                               1), axis=0)  # fmt: skip
    pairs = pairs[pairs[:, 0] >= 0]
    face, bary = closest_barycentric_pairs(points, pairs[:, 0], pairs[:, 1], vertices, faces)
    down = _scatter_rows(faces, face, bary, n_fine)
    # Geodesic cells grown from the finer vertex that weighs most in each decimated vertex.
    anchors = faces[face, bary.argmax(axis=1)]
    cell = _geodesic_cells(vertices, faces, anchors)
    return down, coarse_faces, cell


def _geodesic_cells(vertices: np.ndarray, faces: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(V,) index of the anchor nearest to each vertex along mesh edges.

    Vertices no anchor can reach (isolated pieces) fall back to the Euclidean-nearest anchor.
    """
    graph = _edge_graph(vertices, faces)
    unique_anchors, first = np.unique(anchors, return_index=True)
    _, _, src = dijkstra(graph, directed=False, indices=unique_anchors, min_only=True,
                         return_predecessors=True)  # fmt: skip
    anchor_number = np.full(vertices.shape[0], -1, dtype=np.int64)
    anchor_number[unique_anchors] = first
    cell = np.where(src >= 0, anchor_number[np.maximum(src, 0)], -1)
    lost = np.flatnonzero(cell < 0)
    if lost.size:
        d2 = ((vertices[lost, None, :] - vertices[None, anchors, :]) ** 2).sum(-1)
        cell[lost] = d2.argmin(axis=1)
    return cell


def _up_matrix(
    fine_vertices: np.ndarray,  # (Vf, 3)
    fine_faces: np.ndarray,  # (Ff, 3)
    cell: np.ndarray,  # (Vf,) coarse vertex whose geodesic cell holds each fine vertex
    coarse_vertices: np.ndarray,  # (Vc, 3)
    coarse_faces: np.ndarray,  # (Fc, 3)
) -> sp.csr_matrix:
    """(Vf, Vc) barycentric interpolation from the closest coarse triangle near each vertex.

    Candidates: triangles within two edges of the fine vertex's cell vertex on the coarse mesh,
    plus, handicapped by KNN_HANDICAP_M, the 8 nearest triangles (by centre) that face the same
    way as the surface at the vertex. Neither can be a triangle across a gap (between the legs
    it faces the other way); the second catches long triangles that decimation leaves on flat
    skin out of the ring's reach.
    """
    from scipy.spatial import cKDTree

    n_coarse, n_faces = coarse_vertices.shape[0], coarse_faces.shape[0]
    adj = sp.csr_matrix(adjacency_from_faces(coarse_faces, n_coarse), dtype=np.float32)
    vert_face = sp.csr_matrix(
        (np.ones(3 * n_faces, np.float32),
         (coarse_faces.reshape(-1), np.repeat(np.arange(n_faces), 3))),
        shape=(n_coarse, n_faces),
    )  # fmt: skip
    near_faces = (adj @ adj @ vert_face).tocsr()  # (Vc, Fc) > 0 on faces touching the 2-ring
    ring_vert, ring_face = near_faces[cell].nonzero()
    k = min(8, n_faces)
    _, knn = cKDTree(coarse_vertices[coarse_faces].mean(axis=1)).query(fine_vertices, k=k)
    knn = knn.reshape(len(fine_vertices), k)
    facing = (vertex_normals(fine_vertices, fine_faces)[:, None, :]
              * face_normals(coarse_vertices, coarse_faces)[knn]).sum(-1) > 0.5  # fmt: skip
    knn_vert = np.repeat(np.arange(len(fine_vertices)), k)[facing.reshape(-1)]
    knn_face = knn.reshape(-1)[facing.reshape(-1)]
    # Ring candidates are preferred: a nearest-by-centre triangle wins only when it is closer
    # by more than KNN_HANDICAP_M (it may be a long triangle that stretches when posed).
    penalty = np.r_[np.zeros(len(ring_vert)), np.full(len(knn_vert), KNN_HANDICAP_M)]
    face, bary = closest_barycentric_pairs(
        fine_vertices, np.r_[ring_vert, knn_vert], np.r_[ring_face, knn_face],
        coarse_vertices, coarse_faces, penalty,
    )  # fmt: skip
    return _scatter_rows(coarse_faces, face, bary, n_coarse)
