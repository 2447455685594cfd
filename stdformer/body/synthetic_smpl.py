"""A procedural SMPL-layout body model for tests and benchmarks (no licensed data).

CI and contributors without SMPL files still need to exercise the SMPL code path (smplx loading,
6890-vertex topology, regressors and mesh levels defined for SMPL's vertex count).
`make_synthetic_smpl()` builds, in well under a second, a model with SMPL's layout: 6890 vertices
and 13776 faces (a closed UV sphere with 84 rings x 82 segments stretched into a 1.7 m
body-sized ellipsoid), SMPL's 24-joint tree with T-pose joints (Y up, facing +Z, left = +X),
skinning weights from the distance to each joint's bone segment (3 nearest bones, so each joint
has local support), 10 smooth shape directions and pose blend shapes that only touch the vertices
a joint skins. It is not a human shape and must never be presented as one.
"""

from __future__ import annotations

import numpy as np

PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
# Rest joints in SMPL's frame (metres, Y up, facing +Z; the body's left is +X), T-pose.
JOINTS = np.array([
    [0.0, 0.95, 0.0], [0.09, 0.87, 0.0], [-0.09, 0.87, 0.0], [0.0, 1.05, 0.0],
    [0.10, 0.50, 0.0], [-0.10, 0.50, 0.0], [0.0, 1.18, 0.0], [0.10, 0.10, 0.0],
    [-0.10, 0.10, 0.0], [0.0, 1.24, 0.0], [0.10, 0.03, 0.12], [-0.10, 0.03, 0.12],
    [0.0, 1.45, 0.0], [0.08, 1.38, 0.0], [-0.08, 1.38, 0.0], [0.0, 1.55, 0.0],
    [0.18, 1.40, 0.0], [-0.18, 1.40, 0.0], [0.45, 1.40, 0.0], [-0.45, 1.40, 0.0],
    [0.70, 1.40, 0.0], [-0.70, 1.40, 0.0], [0.78, 1.40, 0.0], [-0.78, 1.40, 0.0],
])  # fmt: skip
# Where each joint's bone segment ends (its main child, or a short tip for leaves).
SEGMENT_END = {0: 3, 1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 9: 12, 12: 15,
               13: 16, 14: 17, 16: 18, 17: 19, 18: 20, 19: 21, 20: 22, 21: 23}  # fmt: skip
LEAF_TIPS = {10: [0.0, 0.0, 0.08], 11: [0.0, 0.0, 0.08], 15: [0.0, 0.2, 0.0],
             22: [0.1, 0.0, 0.0], 23: [-0.1, 0.0, 0.0]}  # fmt: skip


def _uv_sphere(rings: int = 84, segments: int = 82) -> tuple[np.ndarray, np.ndarray]:
    """Closed genus-0 UV sphere: rings*segments+2 vertices, 2*rings*segments faces."""
    theta = np.linspace(0, np.pi, rings + 2)[1:-1]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0.0, 1.0, 0.0]], ring, [[0.0, -1.0, 0.0]]])
    faces = []
    idx = lambda r, s: 1 + r * segments + (s % segments)  # noqa: E731
    for s in range(segments):
        faces.append([0, idx(0, s + 1), idx(0, s)])
        faces.append([len(verts) - 1, idx(rings - 1, s), idx(rings - 1, s + 1)])
    for r in range(rings - 1):
        for s in range(segments):
            a, b, c, d = idx(r, s), idx(r, s + 1), idx(r + 1, s), idx(r + 1, s + 1)
            faces += [[a, b, c], [b, d, c]]
    return verts, np.asarray(faces, np.int64)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def make_synthetic_smpl(seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays of a procedural SMPL-layout model (float64), keyed like an official SMPL file."""
    rng = np.random.default_rng(seed)
    unit, faces = _uv_sphere()
    v_template = unit * np.array([0.85, 0.85, 0.15]) + np.array([0.0, 0.85, 0.0])
    n = len(v_template)
    dist = np.empty((n, 24))
    for j in range(24):
        end = JOINTS[SEGMENT_END[j]] if j in SEGMENT_END else JOINTS[j] + LEAF_TIPS[j]
        dist[:, j] = _segment_distance(v_template, JOINTS[j], end)
    nearest = np.argsort(dist, axis=1)[:, :3]
    d_near = np.take_along_axis(dist, nearest, 1)
    w_near = np.exp(-((d_near - d_near[:, :1]) ** 2) / 0.05**2)
    weights = np.zeros((n, 24))
    np.put_along_axis(weights, nearest, w_near / w_near.sum(1, keepdims=True), 1)
    weights[weights < 1e-4] = 0.0
    weights /= weights.sum(1, keepdims=True)
    # Joint regressor: normalised Gaussian of the 30 vertices nearest to each joint.
    j_regressor = np.zeros((24, n))
    for j in range(24):
        d = np.linalg.norm(v_template - JOINTS[j], axis=1)
        ring = np.argsort(d)[:30]
        j_regressor[j, ring] = np.exp(-d[ring] / 0.05)
    j_regressor /= j_regressor.sum(1, keepdims=True)
    # Shape directions: global scalings plus smooth bumps (cm scale per unit beta).
    basis = [v_template * [0, 1, 0], v_template * [1, 0, 0], v_template * [0, 0, 1]]
    for _ in range(7):
        c, k = rng.normal(size=3) * 0.3, rng.normal(size=3)
        basis.append(np.exp(-np.sum((unit - c) ** 2, 1))[:, None] * k)
    shapedirs = 0.02 * np.stack(basis, -1)  # (V, 3, 10)
    # Pose blend shapes: joint j's 9 columns only move vertices that j skins.
    posedirs = np.zeros((n, 3, 207))
    for j in range(1, 24):
        cols = slice(9 * (j - 1), 9 * j)
        mask = weights[:, j] > 0
        posedirs[mask, :, cols] = 0.005 * rng.normal(size=(int(mask.sum()), 3, 9))
    kintree = np.stack([np.array(PARENTS), np.arange(24)]).astype(np.int64)
    kintree[0, 0] = 2**32 - 1  # official files store uint32(-1) for the root's parent
    return {
        "v_template": v_template,
        "f": faces.astype(np.uint32),
        "J_regressor": j_regressor,
        "weights": weights,
        "posedirs": posedirs,
        "shapedirs": shapedirs,
        "kintree_table": kintree,
    }
