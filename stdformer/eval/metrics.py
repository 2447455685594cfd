"""Evaluation metrics of human mesh recovery: MPJPE, PA-MPJPE, MPVPE, acceleration error.

All functions take torch tensors or numpy arrays of points `(..., P, 3)` in the same units
(metres in, metres out; multiply by 1000 for the mm numbers papers report) and return the
mean over every leading axis as a float64 tensor, or per sample with `reduce=False`.
Callers centre joints on the pelvis first (`root_relative`), as the paper's evaluation does.
"""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray


def _t(x: ArrayLike) -> torch.Tensor:
    return torch.as_tensor(x).to(torch.float64)


def _check(pred: torch.Tensor, gt: torch.Tensor) -> None:
    if pred.shape != gt.shape or pred.ndim < 2:
        shapes = f"{tuple(pred.shape)} and {tuple(gt.shape)}"
        raise ValueError(f"need matching (..., P, D) shapes, got {shapes}")


def root_relative(points: ArrayLike, root: int | tuple[int, ...]) -> torch.Tensor:
    """Subtract the root point (mean of the given indices, e.g. both hips) from (..., P, 3)."""
    p = _t(points)
    idx = [root] if isinstance(root, int) else list(root)
    return p - p[..., idx, :].mean(dim=-2, keepdim=True)


def mean_point_error(pred: ArrayLike, gt: ArrayLike, reduce: bool = True) -> torch.Tensor:
    """Mean Euclidean distance between corresponding points; per sample (...,) if not reduced."""
    p, g = _t(pred), _t(gt)
    _check(p, g)
    per_sample = (p - g).norm(dim=-1).mean(dim=-1)  # (...,)
    return per_sample.mean() if reduce else per_sample


def mpjpe(pred_joints: ArrayLike, gt_joints: ArrayLike, reduce: bool = True) -> torch.Tensor:
    """Mean per-joint position error of (..., J, 3) joints (already root-relative)."""
    return mean_point_error(pred_joints, gt_joints, reduce)


def mpvpe(pred_verts: ArrayLike, gt_verts: ArrayLike, reduce: bool = True) -> torch.Tensor:
    """Mean per-vertex position error of (..., V, 3) meshes (already root-relative)."""
    return mean_point_error(pred_verts, gt_verts, reduce)


def similarity_align(pred: ArrayLike, gt: ArrayLike) -> torch.Tensor:
    """Procrustes with scale (Umeyama): s R pred + t closest to gt, per sample; (..., P, 3).

    Solves min_{s, R, t} sum_i || s R p_i + t - g_i ||^2 with R a proper rotation
    (det R = +1, reflections excluded).
    """
    p, g = _t(pred), _t(gt)
    _check(p, g)
    mu_p, mu_g = p.mean(dim=-2, keepdim=True), g.mean(dim=-2, keepdim=True)
    p0, g0 = p - mu_p, g - mu_g  # (..., P, 3)
    var_p = (p0**2).sum(dim=(-2, -1))  # (...,)
    cov = p0.transpose(-2, -1) @ g0  # (..., 3, 3) = sum_i p_i g_i^T
    u, sig, vh = torch.linalg.svd(cov)
    v = vh.transpose(-2, -1)
    # R = V D U^T with D = diag(1, 1, det(V U^T)) to exclude reflections.
    d = torch.sign(torch.linalg.det(v @ u.transpose(-2, -1)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    sig_d = torch.cat([sig[..., :2], (sig[..., 2] * d)[..., None]], dim=-1)  # (..., 3)
    diag = torch.ones_like(sig)
    diag[..., 2] = d
    rot = v @ torch.diag_embed(diag) @ u.transpose(-2, -1)  # (..., 3, 3)
    scale = sig_d.sum(dim=-1) / var_p.clamp_min(1e-30)  # (...,) = trace(R cov) / var
    t = mu_g - scale[..., None, None] * (mu_p @ rot.transpose(-2, -1))
    return scale[..., None, None] * (p @ rot.transpose(-2, -1)) + t


def pa_mpjpe(pred_joints: ArrayLike, gt_joints: ArrayLike, reduce: bool = True) -> torch.Tensor:
    """MPJPE after similarity (Procrustes) alignment of each sample to its ground truth."""
    return mean_point_error(similarity_align(pred_joints, gt_joints), gt_joints, reduce)


def accel_error(pred_seq: ArrayLike, gt_seq: ArrayLike, reduce: bool = True) -> torch.Tensor:
    """Acceleration error of sequences (..., T, P, 3), T >= 3, in units per frame^2.

    Second differences a[t] = x[t+1] - 2 x[t] + x[t-1] for t = 1..T-2; the error is the mean
    Euclidean norm of a_pred - a_gt over those frames and the points (per sequence (...,)).
    """
    p, g = _t(pred_seq), _t(gt_seq)
    _check(p, g)
    if p.ndim < 3 or p.shape[-3] < 3:
        raise ValueError(f"acceleration needs (..., T>=3, P, 3) sequences, got {tuple(p.shape)}")
    acc_p = p[..., 2:, :, :] - 2 * p[..., 1:-1, :, :] + p[..., :-2, :, :]
    acc_g = g[..., 2:, :, :] - 2 * g[..., 1:-1, :, :] + g[..., :-2, :, :]
    per_seq = (acc_p - acc_g).norm(dim=-1).mean(dim=(-2, -1))  # (...,)
    return per_seq.mean() if reduce else per_seq
