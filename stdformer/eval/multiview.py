"""Multi-view geometry for the real validation set: cameras, robust triangulation, left/right
swap repair, cross-view person association and a small bundle adjustment.

Pure numpy/scipy, no I/O. World points are in metres; cameras are OpenCV pinhole cameras
(x right, y down, z forward) without distortion, `x_cam = R @ X + t`.
Landmark arrays follow MediaPipe's 33-point BlazePose order.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from dataclasses import dataclass, replace

import numpy as np

log = logging.getLogger(__name__)

# MediaPipe's left/right landmark pairs, split into the groups it swaps independently.
_FACE_PAIRS = ((1, 4), (2, 5), (3, 6), (7, 8), (9, 10))
_ARM_PAIRS = ((11, 12), (13, 14), (15, 16), (17, 18), (19, 20), (21, 22))
_LEG_PAIRS = ((23, 24), (25, 26), (27, 28), (29, 30), (31, 32))
# Swap patterns tried per view and frame: none, everything, arms only, legs only.
SWAP_PATTERNS: tuple[tuple[tuple[int, int], ...], ...] = (
    (),
    _FACE_PAIRS + _ARM_PAIRS + _LEG_PAIRS,
    _ARM_PAIRS,
    _LEG_PAIRS,
)
MIDLINE = (0, 11, 12, 23, 24)  # nose, shoulders, hips: swap-invariant as midpoints


@dataclass(frozen=True)
class Camera:
    """A calibrated pinhole camera."""

    name: str
    K: np.ndarray  # (3, 3) intrinsics, pixels
    R: np.ndarray  # (3, 3) world -> camera rotation
    t: np.ndarray  # (3,) world -> camera translation, metres
    size_wh: tuple[int, int]

    @property
    def P(self) -> np.ndarray:  # (3, 4) projection matrix
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def center(self) -> np.ndarray:  # (3,) camera centre in the world
        return -self.R.T @ self.t

    def to_cam(self, X_world: np.ndarray) -> np.ndarray:
        """(..., 3) world -> (..., 3) camera frame."""
        return X_world @ self.R.T + self.t

    def project(self, X_world: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 2) pixels (NaN in, NaN out)."""
        x = self.to_cam(X_world) @ self.K.T
        return x[..., :2] / x[..., 2:3]


def swap_lr(points: np.ndarray, pattern: tuple[tuple[int, int], ...]) -> np.ndarray:
    """A copy of (..., 33, D) landmarks with the pairs of `pattern` exchanged."""
    out = np.array(points, copy=True)
    for a, b in pattern:
        out[..., [a, b], :] = points[..., [b, a], :]
    return out


def triangulate(cams: list[Camera], uv: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted DLT of N points seen by C cameras.

    uv: (C, N, 2) pixels; w: (C, N) weights (0 = not seen). Returns (N, 3), NaN where fewer
    than two cameras have weight. Rows are scaled by the weight, so a confident view counts more.
    """
    P = np.stack([c.P for c in cams])  # (C, 3, 4)
    uvf = np.nan_to_num(uv)
    rows_u = uvf[..., 0:1] * P[:, None, 2] - P[:, None, 0]  # (C, N, 4)
    rows_v = uvf[..., 1:2] * P[:, None, 2] - P[:, None, 1]
    # Normalise rows so the weight, not the pixel scale, decides each view's say.
    scale = np.linalg.norm(P[:, 2, :3], axis=-1)[:, None, None] * 1000.0
    A = np.concatenate([rows_u, rows_v], axis=0) / np.concatenate([scale, scale])  # (2C, N, 4)
    A = A * np.concatenate([w, w])[..., None]
    _, _, vh = np.linalg.svd(A.transpose(1, 0, 2))  # (N, 4, 4)
    X = vh[:, -1]  # (N, 4)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = X[:, :3] / X[:, 3:4]
    out[(w > 0).sum(0) < 2] = np.nan
    return out


def reprojection_errors(cams: list[Camera], X: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(C, N) pixel distance between each camera's projection of X (N, 3) and uv (C, N, 2)."""
    return np.stack([np.linalg.norm(c.project(X) - uv[i], axis=-1) for i, c in enumerate(cams)])


def triangulate_robust(
    cams: list[Camera], uv: np.ndarray, w: np.ndarray, inlier_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate with view selection: every subset of >= 2 views is tried per point, the one
    with most inlier views (reprojection <= inlier_px), then the lowest inlier error, wins; the
    point is re-triangulated from its inliers.

    Returns X (N, 3) (NaN without two inlier views) and the inlier mask (C, N).
    """
    C, N = w.shape
    seen = w > 0
    best_count = np.zeros(N, int)
    best_err = np.full(N, np.inf)
    best_mask = np.zeros((C, N), bool)
    for k in range(2, C + 1):
        for subset in itertools.combinations(range(C), k):
            ws = np.zeros_like(w)
            ws[list(subset)] = w[list(subset)]
            X = triangulate(cams, uv, ws)
            with np.errstate(invalid="ignore"):
                err = reprojection_errors(cams, X, uv)  # (C, N)
                inl = seen & (err <= inlier_px)
            count = inl.sum(0)
            mean_err = np.where(count > 0, np.where(inl, err, 0).sum(0) / np.maximum(count, 1), 0)
            better = (count > best_count) | ((count == best_count) & (mean_err < best_err))
            better &= count >= 2
            best_count = np.where(better, count, best_count)
            best_err = np.where(better, mean_err, best_err)
            best_mask[:, better] = inl[:, better]
    X = triangulate(cams, uv, np.where(best_mask, w, 0.0))
    return X, best_mask


def repair_swaps(
    cams: list[Camera],
    uv: np.ndarray,
    w: np.ndarray,
    penalty_px: float = 1.0,
    clip_px: float = 50.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Undo MediaPipe's left/right swaps, per view and frame.

    uv: (C, T, 33, 2), w: (C, T, 33). Every combination of SWAP_PATTERNS over the views is
    tried per frame: the points are triangulated from all views and the combination with the
    lowest sum over views of the mean reprojection error (each landmark's clipped at
    `clip_px`, so an outlier counts little but a swapped arm or leg counts) wins, plus
    `penalty_px` per view it changes. Views are judged jointly, so one mirrored view is
    outvoted by the others (judging views one at a time against a triangulation that includes
    the mirrored one can go wrong);
    the penalty breaks the tie between the truth and the whole scene mirrored (every view
    swapped reprojects equally well) in favour of MediaPipe's own labels.
    Returns the repaired uv, w and the chosen pattern index per view and frame (C, T).
    """
    C, T = w.shape[:2]
    n = len(SWAP_PATTERNS)
    var_uv = [[swap_lr(uv[c], p) for p in SWAP_PATTERNS] for c in range(C)]  # (T, 33, 2) each
    var_w = [[swap_lr(w[c][..., None], p)[..., 0] for p in SWAP_PATTERNS] for c in range(C)]
    # At most half the views are relabelled at once: a majority keeps MediaPipe's labels.
    combos = [c for c in itertools.product(range(n), repeat=C) if sum(p > 0 for p in c) <= C // 2]
    costs = np.empty((len(combos), T))
    for k, combo in enumerate(combos):
        cuv = np.stack([var_uv[c][combo[c]] for c in range(C)])  # (C, T, 33, 2)
        cw = np.stack([var_w[c][combo[c]] for c in range(C)])  # (C, T, 33)
        X = triangulate(cams, cuv.reshape(C, -1, 2), cw.reshape(C, -1))
        with np.errstate(invalid="ignore"):
            err = reprojection_errors(cams, X, cuv.reshape(C, -1, 2)).reshape(C, T, 33)
        seen = (cw > 0) & np.isfinite(err)
        clipped = np.where(seen, np.minimum(err, clip_px), 0.0).sum(-1)  # (C, T)
        mid = clipped / np.maximum(seen.sum(-1), 1)
        costs[k] = mid.sum(0) + penalty_px * sum(p > 0 for p in combo)
    best = np.argmin(costs, axis=0)  # (T,)
    chosen = np.array(combos)[best].T  # (C, T)
    out_uv, out_w = uv.copy(), w.copy()
    for c in range(C):
        for p in range(1, n):
            sel = chosen[c] == p
            out_uv[c, sel], out_w[c, sel] = var_uv[c][p][sel], var_w[c][p][sel]
    return out_uv, out_w, chosen


def consistent_labels(X: np.ndarray, swap_cost_m: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Left/right labels of a triangulated track X (T, 33, 3) made consistent over time.

    Where MediaPipe mirrors the person in most of the views at once (a back view read as a
    front view), the per-frame repair (`repair_swaps`) cannot tell: the mirrored scene
    reprojects as well as the truth. Time can: a body does not turn its left side into its
    right from one frame to the next. Per frame one of SWAP_PATTERNS is chosen by dynamic
    programming: a step costs the mean distance (m) of the left/right landmarks from the
    last triangulated frame's, each relabelling `swap_cost_m` per frame, so a stretch whose
    labels jump by ~0.3 m at both ends (a mirrored stretch shorter than ~1 s at 60 fps) is
    relabelled and MediaPipe's labels otherwise kept. Returns X relabelled and the pattern
    index per frame (T,)."""
    pairs = [i for pair in SWAP_PATTERNS[1] for i in pair]  # every left/right landmark
    T, n = len(X), len(SWAP_PATTERNS)
    var = np.stack([swap_lr(X, p) for p in SWAP_PATTERNS])  # (n, T, 33, 3)
    cost = np.where(np.arange(n) > 0, swap_cost_m, 0.0)  # (n,) running cost per pattern
    back = np.zeros((T, n), int)
    last: int | None = None  # the last frame with points
    for t in range(T):
        if not np.isfinite(X[t, pairs]).any():
            back[t] = np.arange(n)
            continue
        if last is not None:
            now, before = var[:, t][:, pairs], var[:, last][:, pairs]  # (n, K, 3) each
            d = np.linalg.norm(now[:, None] - before[None, :], axis=-1)  # (n, n, K)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # no pair seen in both
                step = np.nan_to_num(np.nanmean(d, axis=-1), nan=0.0)  # (n now, n before)
            total = cost[None, :] + step
            back[t] = np.argmin(total, axis=1)
            cost = total[np.arange(n), back[t]] + np.where(np.arange(n) > 0, swap_cost_m, 0.0)
        last = t
    chosen = np.zeros(T, int)
    k = int(np.argmin(cost))
    for t in range(T - 1, -1, -1):
        chosen[t] = k
        k = back[t, k]
    return var[chosen, np.arange(T)], chosen


def fundamental(a: Camera, b: Camera) -> np.ndarray:
    """(3, 3) F with x_b^T F x_a = 0."""
    R = b.R @ a.R.T
    t = b.t - R @ a.t
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    return np.linalg.inv(b.K).T @ tx @ R @ np.linalg.inv(a.K)


def epipolar_distance(F: np.ndarray, xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Symmetric point-to-epipolar-line distance (pixels) of matched points (N, 2), (N, 2)."""
    ha = np.concatenate([xa, np.ones_like(xa[:, :1])], -1)
    hb = np.concatenate([xb, np.ones_like(xb[:, :1])], -1)
    la, lb = ha @ F.T, hb @ F  # lines in b, lines in a
    num = np.abs((hb * la).sum(-1))
    return 0.5 * (
        num / np.linalg.norm(la[:, :2], axis=-1) + num / np.linalg.norm(lb[:, :2], axis=-1)
    )


def midline_points(lm: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Swap-invariant points of one pose: nose, shoulder midpoint, hip midpoint; (3, 2), (3,)."""
    pts = np.stack([lm[0], 0.5 * (lm[11] + lm[12]), 0.5 * (lm[23] + lm[24])])
    c = np.array([conf[0], min(conf[11], conf[12]), min(conf[23], conf[24])])
    return pts, c


def bundle_adjust(
    cams: list[Camera], uv: np.ndarray, w: np.ndarray, X0: np.ndarray, fix: int = 0
) -> list[Camera]:
    """Refine the extrinsics of every camera but `fix` (and the points) to minimise the weighted
    reprojection error (Huber, 3 px). uv: (C, N, 2), w: (C, N), X0: (N, 3) finite start points.
    Returns new cameras (intrinsics kept)."""
    import cv2
    from scipy.optimize import least_squares

    C, N = w.shape
    free = [i for i in range(C) if i != fix]
    rvecs = [cv2.Rodrigues(c.R)[0][:, 0] for c in cams]

    def unpack(x: np.ndarray) -> tuple[list[Camera], np.ndarray]:
        out = list(cams)
        for k, i in enumerate(free):
            R = cv2.Rodrigues(x[6 * k : 6 * k + 3])[0]
            out[i] = Camera(cams[i].name, cams[i].K, R, x[6 * k + 3 : 6 * k + 6], cams[i].size_wh)
        return out, x[6 * len(free) :].reshape(N, 3)

    def residuals(x: np.ndarray) -> np.ndarray:
        cs, X = unpack(x)
        r = np.stack([c.project(X) - uv[i] for i, c in enumerate(cs)])  # (C, N, 2)
        return (np.nan_to_num(r) * np.sqrt(w)[..., None]).ravel()

    # Each residual depends on its camera's 6 parameters and its point's 3: a sparse Jacobian.
    from scipy.sparse import coo_matrix

    r_idx, c_idx = [], []
    for i in range(C):
        rows = (i * N + np.arange(N))[:, None] * 2 + np.arange(2)  # (N, 2) residual rows
        if i != fix:
            cam_cols = 6 * free.index(i) + np.arange(6)
            r_idx.append(np.repeat(rows.ravel(), 6)), c_idx.append(np.tile(cam_cols, 2 * N))
        pt_cols = 6 * len(free) + 3 * np.arange(N)[:, None] + np.arange(3)  # (N, 3)
        r_idx.append(np.repeat(rows, 3, axis=1).ravel())
        c_idx.append(np.tile(pt_cols, (1, 2)).ravel())
    r, c = np.concatenate(r_idx), np.concatenate(c_idx)
    sparsity = coo_matrix((np.ones(len(r)), (r, c)), (C * N * 2, 6 * len(free) + 3 * N)).tocsr()
    x0 = np.concatenate([np.concatenate([rvecs[i], cams[i].t]) for i in free] + [X0.ravel()])
    # x_scale="jac" left the cameras where they were (lsmr stalls on this scaling); unit scale
    # moves them.
    sol = least_squares(residuals, x0, jac_sparsity=sparsity, loss="huber", f_scale=3.0,
                        max_nfev=100)  # fmt: skip
    log.info(
        "bundle adjustment: %s, cost %.1f -> %.1f",
        sol.message,
        0.5 * (residuals(x0) ** 2).sum(),
        sol.cost,
    )
    # Scale is a free direction of the problem: keep the shipped distances between cameras.
    out = unpack(sol.x)[0]
    c0 = cams[fix].center
    before = np.mean([np.linalg.norm(c.center - c0) for c in cams])
    after = np.mean([np.linalg.norm(c.center - c0) for c in out])
    return [replace(c, t=-c.R @ (c0 + before / after * (c.center - c0))) for c in out]
