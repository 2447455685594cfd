"""Articulated body maths for fitting: forward kinematics, skinned points and their Jacobians.

A body in SMPL's layout poses a rest-space point p of bone j as `R_j (p - J_j) + x_j`, with R_j
the bone's world rotation, J_j its rest joint and x_j its posed joint. Linear blend skinning
mixes these per vertex, so any fixed combination of vertices (a row of a keypoint regressor, a
vertex, a joint) is exactly

    y_k = sum_j  R_j B_kj + C_kj x_j,     C = L W (K, 24),  B_kj = sum_v L_kv W_vj (v_v - J_j)

for a regressor L (K, V), skinning weights W (V, 24) and shaped rest vertices v (pose blend
shapes ignored: the default body has none; for SMPL files they move points by millimetres). A
posed joint is the point of its parent bone at the joint's rest position. `PointSet` holds C and
the rest-space terms; `Skeleton.pose` gives R, x; `points` and `jacobian` evaluate y and dy/dq
for the 75 pose unknowns q = (24 world-frame rotation increments w_a, each turning joint a's
subtree about x_a, then the translation): dy_k/dw_a = -[sum_{j in sub(a)} q_kj - c_ka x_a]_x with
q_kj = R_j B_kj + C_kj x_j, c_ka = sum_{j in sub(a)} C_kj. All arrays are float64 numpy; a
leading batch axis N runs many frames at once.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from stdformer.body.body_model import BodyModel

NUM_JOINTS = 24
NUM_UNKNOWNS = 3 * NUM_JOINTS + 3  # 24 rotation increments + translation


@dataclass(frozen=True)
class Skeleton:
    """The body-model arrays the fit needs, as float64 numpy (rest pose, Y up, facing +Z)."""

    parents: np.ndarray  # (24,) int, -1 for the root
    subtree: np.ndarray  # (24, 24) float: subtree[a, j] = 1 when j is a or below a
    J_template: np.ndarray  # (24, 3)
    J_shapedirs: np.ndarray  # (24, 3, B)
    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, B)
    weights: np.ndarray  # (V, 24)
    J_regressor: np.ndarray  # (24, V)

    @classmethod
    def from_body(cls, body: BodyModel) -> Skeleton:
        parents = np.asarray(body.parents, np.int64)
        subtree = np.eye(NUM_JOINTS)
        for j in range(NUM_JOINTS - 1, 0, -1):  # parents come before children in SMPL order
            subtree[parents[j]] += subtree[j]
        return cls(
            parents=parents,
            subtree=np.minimum(subtree, 1.0),
            J_template=body.J_template.detach().cpu().double().numpy(),
            J_shapedirs=body.J_shapedirs.detach().cpu().double().numpy(),
            v_template=body.smpl.v_template.detach().cpu().double().numpy(),
            shapedirs=body.smpl.shapedirs.detach().cpu().double().numpy(),
            weights=body.smpl.lbs_weights.detach().cpu().double().numpy(),
            J_regressor=np.asarray(body.J_regressor, np.float64),
        )

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[2])

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:  # (24, 3)
        return self.J_template + self.J_shapedirs @ np.asarray(betas, np.float64)

    @functools.cached_property
    def depth_order(self) -> tuple[np.ndarray, np.ndarray, list[tuple[slice, np.ndarray]]]:
        """Joints sorted by depth in the tree: the order (24,), its inverse (24,), and per
        depth below the root the slice of that order and its joints' parents' places in it."""
        depth = np.zeros(NUM_JOINTS, np.int64)
        for j in range(1, NUM_JOINTS):
            depth[j] = depth[self.parents[j]] + 1
        order = np.argsort(depth, kind="stable")
        inverse = np.argsort(order)
        ends = np.cumsum(np.bincount(depth))
        levels = [(slice(a, b), inverse[self.parents[order[a:b]]])
                  for a, b in itertools.pairwise(ends.tolist())]  # fmt: skip
        return order, inverse, levels

    def pose(
        self, rot_local: np.ndarray, transl: np.ndarray, betas: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """World rotations (N, 24, 3, 3) and posed joints (N, 24, 3) from local rotations
        (N, 24, 3, 3) and translation (N, 3) (smplx: the root turns about its rest joint).
        Rotations compose one step per depth of the tree (joints sorted by depth: slices);
        each joint is then the root plus its ancestors' rotated bone vectors, one product
        over the subtree matrix."""
        order, inverse, levels = self.depth_order
        local = rot_local[:, order]  # (N, 24, 3, 3) by depth
        world = local.copy()
        for sl, par in levels:
            np.matmul(world[:, par], local[:, sl], out=world[:, sl])
        rot_world = world[:, inverse]
        rest = self.rest_joints(betas)
        offsets = rest[1:] - rest[self.parents[1:]]  # (23, 3) bone vectors
        bones = (rot_world[:, self.parents[1:]] @ offsets[:, :, None])[..., 0]  # (N, 23, 3)
        joints = self.subtree.T[:, 1:] @ bones + (rest[0] + transl).reshape(-1, 1, 3)
        return rot_world, joints


@dataclass(frozen=True)
class PointSet:
    """K points that follow the skinned body: rows of a regressor, vertices or joints.

    The rest-space terms are linear in the betas, so they are precomputed once:
    B(betas) = B_template + B_shapedirs @ betas - C * J(betas) (see the module docstring).
    """

    C: np.ndarray  # (K, 24) how much each bone carries each point
    C_sub: np.ndarray  # (K, 24) C @ subtree.T: how much each subtree carries each point
    B_template: np.ndarray  # (K, 24, 3)
    B_shapedirs: np.ndarray  # (K, 24, 3, num_betas)
    vertex_ids: np.ndarray | None = None  # (K,) when the points are mesh vertices

    @classmethod
    def from_rows(cls, skel: Skeleton, rows: np.ndarray) -> PointSet:
        """Points = rows (K, V) over the mesh vertices (each row sums to 1)."""
        rows = np.asarray(rows, np.float64)
        cols = np.flatnonzero(np.abs(rows).sum(0) > 0)
        return cls._skinned(skel, rows[:, cols], cols)

    @classmethod
    def from_vertices(cls, skel: Skeleton, ids: np.ndarray) -> PointSet:
        ids = np.asarray(ids, np.int64)
        return replace(cls._skinned(skel, None, ids), vertex_ids=ids)

    @classmethod
    def _skinned(cls, skel: Skeleton, L: np.ndarray | None, cols: np.ndarray) -> PointSet:
        w = skel.weights[cols]  # (U, 24)
        u, nb = len(cols), skel.num_betas
        wv = (w[:, :, None] * skel.v_template[cols][:, None, :]).reshape(u, -1)  # (U, 72)
        ws = (w[:, :, None, None] * skel.shapedirs[cols][:, None]).reshape(u, -1)  # (U, 72 B)
        if L is not None:  # one matrix product per term instead of a (K, U, 24) tensor
            w, wv, ws = L @ w, L @ wv, L @ ws
        k = len(w)
        return cls(C=w, C_sub=w @ skel.subtree.T, B_template=wv.reshape(k, NUM_JOINTS, 3),
                   B_shapedirs=ws.reshape(k, NUM_JOINTS, 3, nb))  # fmt: skip

    @classmethod
    def from_joints(cls, skel: Skeleton, ids: np.ndarray | None = None) -> PointSet:
        """Posed joints (default all 24): joint j is its parent bone's point at J_j."""
        ids = np.arange(NUM_JOINTS) if ids is None else np.asarray(ids, np.int64)
        k, rows = len(ids), np.arange(len(ids))
        par = np.maximum(skel.parents[ids], 0)
        C = np.zeros((k, NUM_JOINTS))
        C[rows, par] = 1.0
        # B = J_j - J_par (+ C J_par, removed again in `offsets`): the joint's own rest place.
        bt, bs = np.zeros((k, NUM_JOINTS, 3)), np.zeros((k, NUM_JOINTS, 3, skel.num_betas))
        bt[rows, par], bs[rows, par] = skel.J_template[ids], skel.J_shapedirs[ids]
        return cls(C=C, C_sub=C @ skel.subtree.T, B_template=bt, B_shapedirs=bs)

    def __len__(self) -> int:
        return len(self.C)

    def offsets(self, skel: Skeleton, betas: np.ndarray) -> np.ndarray:  # (24, K, 3)
        """B_kj: each point's rest-space offset from bone j's joint, weighted by C_kj, laid
        out by bone (contiguous: `points` multiplies each bone's block by its rotation)."""
        betas = np.asarray(betas, np.float64)
        rest = skel.rest_joints(betas)  # (24, 3)
        b = self.B_template + self.B_shapedirs @ betas - self.C[:, :, None] * rest[None]
        return np.ascontiguousarray(np.swapaxes(b, 0, 1))

    @functools.cached_property
    def carried(self) -> tuple[np.ndarray, np.ndarray]:  # (1, 24, K, 1) each
        """C^T and C_sub^T shaped (and laid out contiguously) to scale posed joints (N, 24, 1,
        3): a broadcast over transposed views cost `points` and `jacobian` a third more."""
        return tuple(np.ascontiguousarray(c.T)[None, :, :, None] for c in (self.C, self.C_sub))


def points(
    rot_world: np.ndarray, joints: np.ndarray, ps: PointSet, B: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Posed points y (N, K, 3) and per-bone parts q (N, 24, K, 3) with y = q.sum(1); `B`:
    `ps.offsets` (24, K, 3)."""
    q = B @ np.swapaxes(rot_world, -1, -2)  # (N, 24, K, 3): R_j B_kj
    q += ps.carried[0] * joints[:, :, None]
    return q.sum(1), q


def jacobian(skel: Skeleton, joints: np.ndarray, ps: PointSet, q: np.ndarray) -> np.ndarray:
    """dy/dq (N, K, 3, 75) for the 24 subtree rotation increments and the translation."""
    n, _, k, _ = q.shape
    Q = skel.subtree @ q.reshape(n, NUM_JOINTS, -1)  # (N, 24, K*3): each subtree's parts
    v = Q.reshape(q.shape) - ps.carried[1] * joints[:, :, None]  # (N, 24, K, 3)
    v = np.swapaxes(v, 1, 2)  # (N, K, 24, 3)
    jac = np.zeros((n, k, 3, NUM_UNKNOWNS))
    x, y, z = v[..., 0], v[..., 1], v[..., 2]  # -[v]_x: rows (0, z, -y), (-z, 0, x), (y, -x, 0)
    jac[:, :, 0, 1:72:3], jac[:, :, 0, 2:72:3] = z, -y
    jac[:, :, 1, 0:72:3], jac[:, :, 1, 2:72:3] = -z, x
    jac[:, :, 2, 0:72:3], jac[:, :, 2, 1:72:3] = y, -x
    jac[:, :, :, 72:] = np.eye(3)
    return jac


def apply_step(
    skel: Skeleton, rot_local: np.ndarray, rot_world: np.ndarray, step: np.ndarray
) -> np.ndarray:
    """New local rotations after world increments w (N, 24, 3) on each subtree: joint j's
    local rotation becomes P^T exp(w_j) P R_j with P its parent's world rotation."""
    n = len(rot_local)
    exp_w = matrices(step[:, :72].reshape(n, NUM_JOINTS, 3))  # (N, 24, 3, 3)
    parent_world = np.empty_like(rot_world)
    parent_world[:, 0] = np.eye(3)
    parent_world[:, 1:] = rot_world[:, skel.parents[1:]]
    new = np.swapaxes(parent_world, -1, -2) @ exp_w @ parent_world @ rot_local
    # Products drift from orthonormal over many frames: one Bjoerck step toward the nearest
    # rotation (the SVD's polar factor; the drift per step is float noise, squared here).
    return 1.5 * new - 0.5 * new @ np.swapaxes(new, -1, -2) @ new


def rotvecs(rot: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle (the rotation's log), closed form
    (scipy's per-call cost was 4x this for a body's 24 joints; 5x near 180 deg)."""
    rot = np.asarray(rot, np.float64)
    cos = np.clip((np.trace(rot, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    theta = np.arccos(cos)
    sin = np.sqrt(np.maximum(1.0 - cos**2, 0.0))
    small, far = theta < 1e-4, theta > 3.0  # far: sin -> 0, the skew part loses the axis
    factor = np.where(small, 0.5 + theta**2 / 12.0, theta / (2.0 * np.where(small | far, 1.0, sin)))
    out = factor[..., None] * skew_vector(rot)
    if far.any():
        out[far] = _rotvecs_near_half_turn(rot[far], cos[far], theta[far])
    return out


def _rotvecs_near_half_turn(rot: np.ndarray, cos: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(M, 3) axis-angle of rotations (M, 3, 3) turned by theta (M,) near 180 deg: the axis a
    from the symmetric part, (R + R^T) / 2 - cos I = (1 - cos) a a^T (its largest column),
    its sign from the skew part (2 sin(theta) a). The camera-frame root of an upright body
    is such a turn (its Y-up rest to the camera's Y-down): this runs for every live frame."""
    sym = 0.5 * (rot + np.swapaxes(rot, -1, -2)) - cos[:, None, None] * np.eye(3)
    i = np.argmax(np.diagonal(sym, axis1=1, axis2=2), 1)  # (M,) the axis' largest component
    col = sym[np.arange(len(sym)), :, i]  # (M, 3) = (1 - cos) a_i a
    axis = col / np.linalg.norm(col, axis=-1, keepdims=True)
    sign = np.where((axis * skew_vector(rot)).sum(-1) < 0.0, -1.0, 1.0)
    return (sign * theta)[:, None] * axis


def skew_vector(rot: np.ndarray) -> np.ndarray:
    """(..., 3) the vector of R - R^T for (..., 3, 3) R: 2 sin(angle) times the axis."""
    return rot[..., _SKEW_ROWS, _SKEW_COLS] - rot[..., _SKEW_COLS, _SKEW_ROWS]


_SKEW_ROWS, _SKEW_COLS = np.array([2, 0, 1]), np.array([1, 2, 0])  # (2,1), (0,2), (1,0)


def matrices(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices."""
    rv = np.asarray(rotvec, np.float64)
    return Rotation.from_rotvec(rv.reshape(-1, 3)).as_matrix().reshape((*rv.shape[:-1], 3, 3))
