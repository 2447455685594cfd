"""Body pose, shape and translation from vertices, joints or image evidence: one solver.

`BodyFitter` turns target points into SMPL-layout parameters of a loaded body (24 joint
rotations, betas held for the whole sequence, root translation), in the frame of the targets
(the camera frame for live results). Everything runs through one damped Gauss-Newton solver
over the 75 pose unknowns of `stdformer.body.kinematics` with exact Jacobians of skinned
points, so the same machinery serves:
- `fit_vertices`: reproduce a mesh (the network's output, recordings without a fit);
- `fit_joints`: reproduce joint positions (motion capture retargeting);
- `solve` with any `Term` list: e.g. image landmarks through the camera plus a prior (the live
  refinement in `stdformer/inference/refine.py`).
Betas enter linearly once rotations are fixed (`solve_betas`: a ridge least squares).
Without a warm start, each bone's rotation is first found by weighted Kabsch alignment of its
vertices and child joints (`kabsch_init`), so large rotations need no iterations to converge.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import sparse
from scipy.linalg import lapack

from stdformer.body.body_model import BodyModel
from stdformer.body.kinematics import (
    NUM_JOINTS,
    NUM_UNKNOWNS,
    PointSet,
    Skeleton,
    apply_step,
    jacobian,
    matrices,
    points,
    rotvecs,
    skew_vector,
)
from stdformer.types import BodyParams

MAX_STEP = 1.0  # radians (rotation blocks) or metres (translation) per Gauss-Newton step
BETA_RIDGE = 1e-3  # betas are unit-variance shape directions: a weak pull toward the mean
BETA_NORM_LIMIT = 3.5  # |betas| of a plausible body (a 10-d unit normal: median 3.1, 95 % 4.3)


@dataclass(frozen=True)
class BodyFit:
    """Fitted parameters of N frames (one shape for all of them)."""

    rot_local: np.ndarray  # (N, 24, 3, 3) local joint rotations, root = global orientation
    transl: np.ndarray  # (N, 3) smplx translation
    betas: np.ndarray  # (B,)

    def __len__(self) -> int:
        return len(self.transl)

    @property
    def global_orient(self) -> np.ndarray:  # (N, 3) axis-angle
        return rotvecs(self.rot_local[:, 0]).astype(np.float32)

    @property
    def body_pose(self) -> np.ndarray:  # (N, 69) axis-angle
        return rotvecs(self.rot_local[:, 1:]).reshape(len(self), -1).astype(np.float32)

    def params(self, i: int) -> BodyParams:
        """Frame i as smplx-convention parameters."""
        rv = rotvecs(self.rot_local[i]).astype(np.float32)  # (24, 3)
        return BodyParams(
            betas=self.betas.astype(np.float32),
            global_orient=rv[0],
            body_pose=rv[1:].reshape(-1),
            transl=self.transl[i].astype(np.float32),
        )

    def frames(self, idx: np.ndarray | slice) -> BodyFit:
        return replace(self, rot_local=self.rot_local[idx], transl=self.transl[idx])

    @classmethod
    def from_params(cls, params: list[BodyParams]) -> BodyFit:
        rv = np.stack([np.concatenate([p.global_orient, p.body_pose]) for p in params])
        return cls(
            rot_local=matrices(rv.reshape(len(params), NUM_JOINTS, 3)),
            transl=np.stack([p.transl for p in params]).astype(np.float64),
            betas=np.asarray(params[-1].betas, np.float64),
        )


@dataclass(frozen=True)
class Term:
    """One residual block: K points of the body against targets, weighted per point.

    3D (`K_cam` None): `y - target` (or, with `centre`, both relative to the mean of the
    `centre` points: shape, not placement). 2D (`K_cam` given): the points projected by the
    pinhole `K_cam` minus `target` pixels. `weight` (N, K) is 1 / sigma^2 per point (0 = unused);
    `robust` is a Cauchy scale in the residual's units (None: plain least squares).
    `axis_weight` (3,) scales a 3D term per camera axis (e.g. trust depth more than x, y).
    `rows`: the term uses only these K of the `points` (terms on one PointSet share its
    Jacobian: the solver evaluates each PointSet once per step).
    """

    points: PointSet
    target: np.ndarray  # (N, K, 3) metres or (N, K, 2) pixels
    weight: np.ndarray  # (N, K)
    K_cam: np.ndarray | None = None  # (3, 3)
    centre: tuple[int, ...] | None = None
    robust: float | None = None
    axis_weight: tuple[float, float, float] | None = None
    rows: np.ndarray | None = None  # (K,) indices into `points`; None: all of them

    @functools.cached_property
    def _point_weight(self) -> np.ndarray:  # (N, K): 0 where the target or weight is missing
        return np.where(
            np.isfinite(self.target).all(-1) & np.isfinite(self.weight), self.weight, 0.0
        )

    def linearise(self, y: np.ndarray, jac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted residuals (N, K*D) and their Jacobian rows (N, K*D, 75), both scaled by
        sqrt(weight), from all posed points y (N, K', 3) and their Jacobians (N, K', 3, 75)."""
        if self.rows is not None:
            y, jac = y[:, self.rows], jac[:, self.rows]
        if self.K_cam is not None:
            z = np.maximum(y[..., 2:3], 1e-3)  # (N, K, 1): points behind the camera clamp
            f, c = np.diag(self.K_cam)[:2], self.K_cam[:2, 2]
            xy = y[..., :2] / z  # (N, K, 2)
            r = f * xy + c - self.target
            # d(uv)/dq = f / z (dP_xy/dq - xy dP_z/dq)
            jac = (f / z)[..., None] * (jac[..., :2, :] - xy[..., None] * jac[..., 2:, :])
        elif self.centre is not None:
            r = (y - _mean_of(y, self.centre)) - (self.target - _mean_of(self.target, self.centre))
            jac = jac - _mean_of(jac, self.centre)
        else:
            r = y - self.target
        w = self._point_weight
        if not np.isfinite(r).all():
            r = np.nan_to_num(r)
        if self.robust is not None:
            w = w / (1.0 + (r**2).sum(-1) / self.robust**2)
        w = w[..., None] if self.axis_weight is None else w[..., None] * self.axis_weight
        s, n = np.sqrt(w), len(r)  # (N, K, 1 or D)
        return (s * r).reshape(n, -1), (s[..., None] * jac).reshape(n, -1, NUM_UNKNOWNS)


def _mean_of(a: np.ndarray, rows: tuple[int, ...]) -> np.ndarray:
    """(N, 1, ...) the mean of `a` (N, K, ...) over these rows (one row: a view of it)."""
    return (
        a[:, rows[0] : rows[0] + 1] if len(rows) == 1 else a[:, list(rows)].mean(1, keepdims=True)
    )


@dataclass(frozen=True)
class JointPrior:
    """Per-joint weights (24,) each, per radian^2, of `BodyFitter.solve`'s pose prior; zero:
    none. `rest`: the local rotation's distance from the rest pose (every axis); `twist`: the
    twist about the joint's bone only (toward its first child; swing-twist decomposition).
    They keep joints that the points barely tell apart (the three spine joints, whose subtrees
    nearly coincide; twists along a limb) from trading rotations."""

    rest: np.ndarray
    twist: np.ndarray

    @classmethod
    def none(cls) -> JointPrior:
        return cls(np.zeros(NUM_JOINTS), np.zeros(NUM_JOINTS))


class BodyFitter:
    """The fit of one loaded body (see module docstring). Stateless between calls."""

    def __init__(self, body: BodyModel, vertex_budget: int = 480) -> None:
        self.body = body
        self.skel = Skeleton.from_body(body)
        self.mesh_points = PointSet.from_vertices(self.skel, self._spread(vertex_budget))
        self.joint_points = PointSet.from_joints(self.skel)
        # Skinning as one sparse (V, 96) matrix (`_skinning`): its pattern, from the weights.
        self._skin_v, self._skin_j = np.nonzero(self.skel.weights)  # (P,) vertex, bone pairs
        self._skin_cols = (4 * self._skin_j[:, None] + np.arange(4)).ravel()  # (4P,)
        per_vertex = np.bincount(self._skin_v, minlength=len(self.skel.weights))  # (V,)
        self._skin_indptr = 4 * np.concatenate([[0], np.cumsum(per_vertex)])  # (V + 1,)
        # Per-betas caches (skinning matrix, point offsets), the few most recent shapes: a take
        # holds its shape, but its float32 copy in `BodyParams` (re-posing) is a second key.
        self._by_betas: OrderedDict[bytes, dict] = OrderedDict()
        # Each joint's bone at rest (unit, toward its first child; zero at the leaves): the
        # axis of its twist (`solve`'s twist prior). Rest frames are the world's.
        self._bone_axes = np.zeros((NUM_JOINTS, 3))
        for j in range(NUM_JOINTS):
            if len(child := np.flatnonzero(self.skel.parents == j)):
                bone = self.skel.J_template[child[0]] - self.skel.J_template[j]
                self._bone_axes[j] = bone / np.linalg.norm(bone)

    def _cache(self, betas: np.ndarray) -> dict:
        """The cache entry of these betas (least recently used dropped beyond 4)."""
        key = np.asarray(betas, np.float64).tobytes()
        if key in self._by_betas:
            self._by_betas.move_to_end(key)
        else:
            self._by_betas[key] = {}
            while len(self._by_betas) > 4:
                self._by_betas.popitem(last=False)
        return self._by_betas[key]

    def offsets(self, ps: PointSet, betas: np.ndarray) -> np.ndarray:  # (24, K, 3)
        """`ps.offsets` for these betas, cached while the betas stay (a take's shape is held)."""
        cache = self._cache(betas)
        if id(ps) not in cache:
            cache[id(ps)] = (ps, ps.offsets(self.skel, betas))  # ps kept: its id stays valid
        return cache[id(ps)][1]

    def _skinning(self, betas: np.ndarray) -> sparse.csr_matrix:  # (V, 96), cached per betas
        """M with vertex v = M_v @ A, A (96, 3) the bones' stacked [R_j | t_j]^T: row v holds
        W_vj [s_v, 1] in columns 4j..4j+3, s_v the shaped rest vertex (1.8 bones per vertex)."""
        cache = self._cache(betas)
        if "skin" not in cache:
            v = self.skel.v_template + self.skel.shapedirs @ np.asarray(betas, np.float64)
            vh = np.concatenate([v, np.ones((len(v), 1))], 1)[self._skin_v]  # (P, 4)
            data = (self.skel.weights[self._skin_v, self._skin_j][:, None] * vh).ravel()
            shape = (len(v), 4 * NUM_JOINTS)
            cache["skin"] = sparse.csr_matrix((data, self._skin_cols, self._skin_indptr), shape)
        return cache["skin"]

    @property
    def num_betas(self) -> int:
        return self.skel.num_betas

    def _spread(self, budget: int) -> np.ndarray:
        """About `budget` vertices, the same number per bone: among each bone's strongly
        skinned vertices (>= 60 % of its highest weight), farthest-point samples. Every bone
        (spine2 and the collars own no vertex outright) then moves points spread over it, so
        no rotation is left free, and small bones count as much as the trunk."""
        w, v = self.skel.weights, self.skel.v_template
        ids: list[int] = []
        for b in range(NUM_JOINTS):
            cand = np.flatnonzero(w[:, b] >= 0.6 * w[:, b].max())
            picked = [int(cand[np.argmax(w[cand, b])])]
            dist = np.linalg.norm(v[cand] - v[picked[0]], axis=1)
            while len(picked) < min(len(cand), max(1, budget // NUM_JOINTS)):
                picked.append(int(cand[np.argmax(dist)]))
                dist = np.minimum(dist, np.linalg.norm(v[cand] - v[picked[-1]], axis=1))
            ids.extend(picked)
        return np.unique(ids)

    def rest(self, n: int, betas: np.ndarray | None = None) -> BodyFit:
        """N frames of the rest pose (zero rotations, zero translation)."""
        b = np.zeros(self.num_betas) if betas is None else np.asarray(betas, np.float64)
        return BodyFit(np.tile(np.eye(3), (n, NUM_JOINTS, 1, 1)), np.zeros((n, 3)), b)

    def posed_points(
        self, fit: BodyFit, ps: PointSet, posed: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:  # (N, K, 3)
        """The points `ps` of the fitted bodies; `posed`: its (rot_world, joints) if known."""
        rot_world, joints = posed or self.skel.pose(fit.rot_local, fit.transl, fit.betas)
        return points(rot_world, joints, ps, self.offsets(ps, fit.betas))[0]

    def solve(
        self,
        fit: BodyFit,
        terms: list[Term],
        iters: int = 3,
        damping: float = 1e-4,
        posed: tuple[np.ndarray, np.ndarray] | None = None,
        prior: JointPrior | None = None,
    ) -> BodyFit:
        """Damped Gauss-Newton on the pose and translation; betas stay as they are.

        `damping`: a Levenberg term on every unknown (per radian / metre, in the units of the
        weighted residuals), keeping steps small where evidence is thin. Steps are clipped to
        MAX_STEP radians / metres per unknown block. `posed`: `fit`'s (rot_world, joints) if
        known. The normal equations of all terms come from one product of their stacked rows.
        `prior`: held joints (`JointPrior`).
        """
        sets = {id(t.points): t.points for t in terms}  # terms may share points: pose once
        offsets = {k: self.offsets(ps, fit.betas) for k, ps in sets.items()}
        rot_local, transl = fit.rot_local, fit.transl
        n = len(transl)
        diag = np.arange(NUM_UNKNOWNS)
        for i in range(iters):
            if i or posed is None:
                posed = self.skel.pose(rot_local, transl, fit.betas)
            rot_world, joints = posed
            lin = {}
            for k, ps in sets.items():
                y, q = points(rot_world, joints, ps, offsets[k])
                lin[k] = y, jacobian(self.skel, joints, ps, q)
            rows = [t.linearise(*lin[id(t.points)]) for t in terms]
            r = np.concatenate([r for r, _ in rows], 1)  # (N, R)
            A = np.concatenate([a for _, a in rows], 1)  # (N, R, 75)
            At = np.swapaxes(A, 1, 2)  # A^T A of one buffer: a symmetric BLAS product
            H = At @ A  # (N, 75, 75)
            H[:, diag, diag] += damping
            g = (At @ r[..., None])[..., 0]  # (N, 75)
            if prior is not None:
                _add_pose_prior(H, g, rot_local, rot_world, self.skel.parents, prior.rest)
                _add_twist_prior(H, g, rot_local, rot_world, self._bone_axes, prior.twist)
            step = -_solve_spd(H, g)  # (N, 75)
            blocks = step.reshape(n, NUM_JOINTS + 1, 3)
            norm = np.linalg.norm(blocks, axis=-1, keepdims=True)
            step = (blocks * np.minimum(1.0, MAX_STEP / np.maximum(norm, 1e-12))).reshape(n, -1)
            rot_local = apply_step(self.skel, rot_local, rot_world, step)
            transl = transl + step[:, 72:]
        return replace(fit, rot_local=rot_local, transl=transl)

    def solve_betas(
        self, fit: BodyFit, ps: PointSet, target: np.ndarray, weight: np.ndarray | None = None
    ) -> BodyFit:
        """Betas (shared by all frames) and per-frame translations that best place the points
        `ps` on `target` (N, K, 3) with the rotations held: a linear least squares."""
        base = self.posed_points(replace(fit, betas=np.zeros(self.num_betas)), ps)  # (N, K, 3)
        cols = []
        for i in range(self.num_betas):
            unit = np.zeros(self.num_betas)
            unit[i] = 1.0
            cols.append(self.posed_points(replace(fit, betas=unit), ps) - base)
        D = np.stack(cols, -1)  # (N, K, 3, B)
        w = np.ones(target.shape[:2]) if weight is None else weight
        w = w * np.isfinite(target).all(-1)
        wsum = np.maximum(w.sum(1), 1e-9)[:, None, None]  # (N, 1, 1)
        tgt = np.nan_to_num(target)

        def centred(a: np.ndarray) -> np.ndarray:  # remove the weighted per-frame mean
            wa = w.reshape(w.shape + (1,) * (a.ndim - 2))
            return a - (wa * a).sum(1, keepdims=True) / wsum.reshape((-1, 1) + (1,) * (a.ndim - 2))

        A = centred(D) * np.sqrt(w)[..., None, None]
        b = centred(tgt - base) * np.sqrt(w)[..., None]
        A, b = A.reshape(-1, self.num_betas), b.reshape(-1)
        betas = np.linalg.solve(A.T @ A + BETA_RIDGE * len(fit) * np.eye(self.num_betas), A.T @ b)
        posed = base + D @ betas
        shift = (w[..., None] * (tgt - posed)).sum(1) / wsum[:, 0]  # (N, 3)
        return replace(fit, betas=betas, transl=fit.transl + shift)

    def kabsch_init(self, joints_target: np.ndarray, verts_target: np.ndarray | None,
                    betas: np.ndarray) -> BodyFit:  # fmt: skip
        """Per-bone world rotations by weighted Kabsch (root first), then local rotations.

        joints_target (N, 24, 3); verts_target (N, V, 3) or None (joints only). Each bone
        aligns its child joints (and its main vertices) around its joint; where that leaves a
        direction free (one child, no vertices) the parent's frame fills it in.
        """
        skel, n = self.skel, len(joints_target)
        rest = skel.rest_joints(betas)
        ids = self.mesh_points.vertex_ids
        v_rest = skel.v_template[ids] + skel.shapedirs[ids] @ betas
        w_all = skel.weights[ids]  # (U, 24)
        children = [np.flatnonzero(skel.parents == j) for j in range(NUM_JOINTS)]
        rot_world = np.zeros((n, NUM_JOINTS, 3, 3))
        for j in range(NUM_JOINTS):
            src = [rest[children[j]] - rest[j]]
            dst = [joints_target[:, children[j]] - joints_target[:, j : j + 1]]
            wts = [np.full(len(children[j]), 4.0)]
            if verts_target is not None:
                sel = w_all[:, j] > 0.5
                src.append(v_rest[sel] - rest[j])
                dst.append(verts_target[:, ids[sel]] - joints_target[:, j : j + 1])
                wts.append(w_all[sel, j])
            parent = rot_world[:, skel.parents[j]] if j else np.tile(np.eye(3), (n, 1, 1))
            axes = 0.05 * np.eye(3)  # the parent's frame, weakly: fixes free directions
            src.append(axes)
            dst.append(np.swapaxes(parent @ axes.T, 1, 2))
            wts.append(np.full(3, 0.05))
            s, t, w = np.concatenate(src), np.concatenate(dst, 1), np.concatenate(wts)
            cov = np.einsum("k,nka,kb->nab", w, t, s)  # (N, 3, 3) target x source
            u, _, vt = np.linalg.svd(cov)
            sign = np.sign(np.linalg.det(u @ vt))
            u[:, :, 2] *= sign[:, None]
            rot_world[:, j] = u @ vt
        parent_world = rot_world[:, np.maximum(skel.parents, 0)]
        rot_local = np.swapaxes(parent_world, -1, -2) @ rot_world
        rot_local[:, 0] = rot_world[:, 0]
        transl = joints_target[:, 0] - rest[0]
        return BodyFit(rot_local, transl, np.asarray(betas, np.float64))

    def fit_vertices(
        self,
        vertices: np.ndarray,  # (N, V, 3)
        init: BodyFit | None = None,
        betas: np.ndarray | None = None,
        iters: int = 4,
    ) -> BodyFit:
        """Parameters that reproduce meshes of this body's topology. `betas` given: held;
        else solved (shared by the N frames). `init`: a warm start (e.g. the previous frame)."""
        verts = np.asarray(vertices, np.float64)
        tgt = verts[:, self.mesh_points.vertex_ids]
        b = np.zeros(self.num_betas) if betas is None else np.asarray(betas, np.float64)
        if init is None:
            joints = np.einsum("jv,nvc->njc", self.skel.J_regressor, verts)
            fit = self.kabsch_init(joints, verts, b)
        else:
            fit = replace(init, betas=b)
        return self._alternate(fit, self.mesh_points, tgt, betas is None, iters, 1e-6)

    def fit_joints(
        self, joints: np.ndarray, betas: np.ndarray | None = None, iters: int = 4
    ) -> BodyFit:
        """Parameters whose 24 posed joints reproduce `joints` (N, 24, 3) (twist about each
        bone is free in joint positions: it stays at the Kabsch start, the parent's frame)."""
        tgt = np.asarray(joints, np.float64)
        b = np.zeros(self.num_betas) if betas is None else np.asarray(betas, np.float64)
        fit = self.kabsch_init(tgt, None, b)
        return self._alternate(fit, self.joint_points, tgt, betas is None, iters, 1e-4)

    def _alternate(
        self, fit: BodyFit, ps: PointSet, target: np.ndarray, shape: bool, iters: int,
        damping: float,
    ) -> BodyFit:  # fmt: skip
        """Pose steps on `ps` -> `target`, each of the first two after a betas solve (`shape`)."""
        term = Term(ps, target, np.full(target.shape[:2], 1.0))
        for i in range(iters):
            if shape and i < 2:
                fit = self.solve_betas(fit, ps, target)
            fit = self.solve(fit, [term], iters=1, damping=damping)
        return fit

    def vertices(
        self, fit: BodyFit, posed: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """(N, V, 3) float32 full meshes of the fit. Linear blend skinning as one sparse
        product with the shaped template cached per betas (`_skinning`, ~5x faster than the
        torch forward for one frame); bodies with pose blend shapes (SMPL files) go through
        the body model's own forward."""
        if not self.body.has_pose_blendshapes:
            rot_world, joints = posed or self.skel.pose(fit.rot_local, fit.transl, fit.betas)
            rest = self.skel.rest_joints(fit.betas)
            t = joints - (rot_world @ rest[:, :, None])[..., 0]  # (N, 24, 3)
            n = len(t)
            Rt = np.concatenate([rot_world, t[..., None]], -1)  # (N, 24, 3, 4) [R_j | t_j]
            A = Rt.transpose(1, 3, 0, 2).reshape(4 * NUM_JOINTS, 3 * n)  # (96, N*3)
            v = self._skinning(fit.betas) @ A  # (V, N*3)
            return np.ascontiguousarray(v.reshape(-1, n, 3).transpose(1, 0, 2), np.float32)
        with torch.inference_mode():
            out = self.body(
                betas=torch.as_tensor(fit.betas[None], dtype=torch.float32),
                global_orient=torch.as_tensor(fit.global_orient),
                body_pose=torch.as_tensor(fit.body_pose),
                transl=torch.as_tensor(fit.transl, dtype=torch.float32),
            )
        return out.vertices.numpy()


def _add_pose_prior(H: np.ndarray, g: np.ndarray, rot_local: np.ndarray, rot_world: np.ndarray,
                    parents: np.ndarray, weight: np.ndarray) -> None:  # fmt: skip
    """Adds, in place, the residuals sqrt(w_j) r_j to the normal equations H (N, 75, 75),
    g (N, 75): r_j the local rotation vector of joint j (parent axes), which a step w_j
    (world axes, `apply_step`) moves by P_j^T w_j to first order (P_j its parent's world
    rotation, orthonormal: the block of H grows by w_j I)."""
    joints = np.flatnonzero(weight > 0)
    if not len(joints):
        return
    r = rotvecs(rot_local[:, joints])  # (N, J, 3)
    P = rot_world[:, np.maximum(parents[joints], 0)]  # (N, J, 3, 3)
    P[:, parents[joints] < 0] = np.eye(3)
    d = (3 * joints[:, None] + np.arange(3)).ravel()  # the blocks' diagonal
    H[:, d, d] += np.repeat(weight[joints], 3)
    g[:, d] += (weight[joints, None] * (P @ r[..., None])[..., 0]).reshape(len(g), -1)


def _add_twist_prior(H: np.ndarray, g: np.ndarray, rot_local: np.ndarray, rot_world: np.ndarray,
                     axes: np.ndarray, weight: np.ndarray) -> None:  # fmt: skip
    """Adds, in place, residuals sqrt(w_j) tau_j: tau_j the twist of joint j's local rotation R
    about its rest bone a_j (R = swing @ twist(a_j); from R's quaternion (v, w):
    tau = 2 atan2(v . a, w) = 2 atan2(s . a, 1 + tr R), s the vector of R - R^T), which a
    step w_j (world axes) turns by (R_world_j a_j) . w_j to first order (a twist about the
    bone where it now points)."""
    joints = np.flatnonzero(weight > 0)
    if not len(joints):
        return
    R, a = rot_local[:, joints], axes[joints]  # (N, J, 3, 3), (J, 3)
    tau = 2.0 * np.arctan2((skew_vector(R) * a).sum(-1), 1.0 + np.trace(R, axis1=-2, axis2=-1))
    c = (rot_world[:, joints] @ a[:, :, None])[..., 0]  # (N, J, 3) the bone in world axes
    w = weight[joints, None]
    blk = 3 * joints[:, None] + np.arange(3)  # (J, 3)
    H[:, blk[:, :, None], blk[:, None, :]] += w[..., None] * c[..., :, None] * c[..., None, :]
    g[:, blk] += w * tau[..., None] * c


def _solve_spd(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """x (N, 75) with H x = g for symmetric positive definite H (N, 75, 75): one frame by
    LAPACK's Cholesky solver directly (a quarter of np.linalg.solve's time at this size)."""
    if len(H) == 1:
        _, x, info = lapack.dposv(H[0], g[0])
        if info == 0:
            return x[None]
    return np.linalg.solve(H, g[..., None])[..., 0]
