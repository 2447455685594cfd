"""Training losses of STDFormer (paper weights), on clips of predictions `(B, T, ...)`.

L = 1000 * L3D + 100 * Lvert + 100 * Lmesh + 100 * L2D, where

- L3D: pelvis-centred L1 of the joint tokens' 3D joints (and of joints regressed from the full
  mesh when a regressor is given), each plus the velocity loss V;
- Lvert: L1 + V on the coarse, middle and full meshes, weights 0.25 / 0.5 / 0.25 (coarse and
  middle targets are the full target down-sampled with the body's mesh levels);
- Lmesh (middle mesh): 5 * edge-length L1 against the target + 1e-4 * edge self term (mean
  predicted edge length, a shrink prior: FastMETRO's `EdgeLengthSelfLoss` over the unique
  edges) + 0.1 * normal consistency (|cos| between predicted face edges and target
  face normals, as in I2L-MeshNet);
- L2D: L1 of weak-perspective projected joints (both joint sets) against crop-normalised 2D
  targets, weighted by per-joint confidence, plus V (steps weighted by both frames' confidence).

V(P, G) = mean over t, points of || (P[t+1] - P[t]) - (G[t+1] - G[t]) ||_2 (zero for T = 1).
Vertex targets are in the network's frame: root-relative metres, crop-camera axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from stdformer.body.levels import MeshLevels
from stdformer.model.stdformer import ModelOutput, project_weak_perspective

H36M14_PELVIS = (2, 3)  # right and left hip in the 14-joint (LSP/H36M) order


@dataclass(frozen=True)
class LossWeights:
    joints_3d: float = 1000.0
    vertices: float = 100.0
    mesh: float = 100.0
    joints_2d: float = 100.0
    vertex_levels: tuple[float, float, float] = (0.25, 0.5, 0.25)  # coarse, mid, full
    edge: float = 5.0
    edge_self: float = 1e-4
    normal: float = 0.1


@dataclass
class Targets:
    """Ground truth for a batch of clips."""

    verts_full: torch.Tensor  # (B, T, Vf, 3) root-relative
    joints_3d: torch.Tensor  # (B, T, J, 3)
    joints_2d: torch.Tensor  # (B, T, J, 2) crop-normalised, same order as joints_3d
    joints_2d_conf: torch.Tensor | None = None  # (B, T, J) in [0, 1]; None = all 1


def velocity_loss(
    pred: torch.Tensor, gt: torch.Tensor, conf: torch.Tensor | None = None
) -> torch.Tensor:
    """V(.) on (B, T, P, D) sequences; 0 when T < 2.

    `conf` (B, T, P), optional: a step t -> t+1 of a point counts with weight
    conf[t] * conf[t+1], so points without a label (conf 0) are not supervised.
    """
    if pred.shape[1] < 2:
        return pred.new_zeros(())
    dp, dg = pred[:, 1:] - pred[:, :-1], gt[:, 1:] - gt[:, :-1]
    err = (dp - dg).norm(dim=-1)  # (B, T-1, P)
    if conf is not None:
        err = err * (conf[:, 1:] * conf[:, :-1])
    return err.mean()


def pelvis_centred(joints: torch.Tensor, pelvis: tuple[int, ...]) -> torch.Tensor:
    return joints - joints[..., list(pelvis), :].mean(dim=-2, keepdim=True)


def mesh_edges(faces: torch.Tensor) -> torch.Tensor:
    """Unique undirected edges (E, 2) of a triangle list (F, 3)."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return torch.unique(torch.sort(e, dim=1).values, dim=0)


def edge_length_loss(pred: torch.Tensor, gt: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """L1 between predicted and target edge lengths; (..., V, 3), edges (E, 2)."""
    lp = (pred[..., edges[:, 0], :] - pred[..., edges[:, 1], :]).norm(dim=-1)
    lg = (gt[..., edges[:, 0], :] - gt[..., edges[:, 1], :]).norm(dim=-1)
    return (lp - lg).abs().mean()


def edge_self_loss(pred: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Mean predicted edge length (FastMETRO's self term; eps keeps the gradient finite at 0)."""
    sq = ((pred[..., edges[:, 0], :] - pred[..., edges[:, 1], :]) ** 2).sum(-1)
    return (sq + 1e-8).sqrt().mean()


def normal_consistency_loss(
    pred: torch.Tensor, gt: torch.Tensor, faces: torch.Tensor
) -> torch.Tensor:
    """Mean |cos| between each predicted face's edges and the target face normal."""

    def tri(v: torch.Tensor, i: int) -> torch.Tensor:
        return v[..., faces[:, i], :]

    n_gt = torch.cross(tri(gt, 1) - tri(gt, 0), tri(gt, 2) - tri(gt, 0), dim=-1)
    n_gt = nn.functional.normalize(n_gt, dim=-1)
    total = pred.new_zeros(())
    for a, b in ((0, 1), (0, 2), (1, 2)):
        e = nn.functional.normalize(tri(pred, b) - tri(pred, a), dim=-1)
        total = total + (e * n_gt).sum(-1).abs().mean()
    return total / 3.0


class STDFormerLoss(nn.Module):
    """The paper's total loss; `forward` returns a dict of named terms plus "total"."""

    def __init__(
        self,
        levels: MeshLevels,
        joint_regressor: torch.Tensor | None = None,  # (J, Vf) mesh -> target joint order
        weights: LossWeights | None = None,
        pelvis: tuple[int, ...] = H36M14_PELVIS,
        full_samples: int | None = None,
    ) -> None:
        """`full_samples`: estimate the full-mesh vertex term on this many random vertices per
        call (an unbiased estimate of the mean), computed from the middle mesh through the fixed
        up-sampling rows; joints are then regressed from the middle mesh with the regressor
        folded through the same matrix (exact). Lets training skip the full mesh (13,718
        vertices of the default body) at ~1/7 of the cost; None evaluates everything."""
        super().__init__()
        self.full_samples = full_samples
        up = levels.rows("up_mid_to_full")
        self.register_buffer("up_index", torch.from_numpy(up.index), persistent=False)  # (Vf, k)
        self.register_buffer("up_weight", torch.from_numpy(up.weight), persistent=False)
        self.weights = weights or LossWeights()
        self.pelvis = pelvis
        self.levels = levels  # sparse down-sampling of the targets (dense: ~18 GFLOP a batch)
        mid_faces = torch.as_tensor(levels.mid_faces, dtype=torch.long)
        self.register_buffer("mid_faces", mid_faces, persistent=False)
        self.register_buffer("mid_edges", mesh_edges(mid_faces), persistent=False)
        reg = None
        reg_mid = None
        if joint_regressor is not None:
            reg = torch.as_tensor(joint_regressor, dtype=torch.float32)  # (J, Vf)
            up = torch.as_tensor(levels.up_mid_to_full, dtype=torch.float32)  # (Vf, Vm)
            reg_mid = reg @ up  # (J, Vm): regress(full) == regress_mid(mid) exactly
        self.register_buffer("regressor", reg, persistent=False)
        self.register_buffer("regressor_mid", reg_mid, persistent=False)

    def _full_sample(self, verts_mid: torch.Tensor, gt_full: torch.Tensor):
        """Predicted and target full-mesh vertices at `full_samples` random vertices."""
        vf = gt_full.shape[-2]
        sub = torch.randperm(vf, device=self.up_index.device)[: self.full_samples]  # (S,)
        idx, wgt = self.up_index[sub], self.up_weight[sub]  # (S, k)
        g = verts_mid.index_select(-2, idx.flatten()).reshape(*verts_mid.shape[:-2], *idx.shape, 3)
        pred = (g * wgt[..., None].to(g.dtype)).sum(-2)  # (..., S, 3)
        return pred, gt_full.index_select(-2, sub)

    def forward(self, out: ModelOutput, tgt: Targets) -> dict[str, torch.Tensor]:
        w = self.weights
        if out.verts_full is None and self.full_samples is None:
            raise ValueError("the loss needs full-mesh vertices: run the model with full=True")
        b, t = tgt.verts_full.shape[:2]
        with torch.no_grad():
            gt_coarse, gt_mid = self.levels.downsample(tgt.verts_full.flatten(0, 1))
        gt_coarse, gt_mid = gt_coarse.reshape(b, t, -1, 3), gt_mid.reshape(b, t, -1, 3)
        terms: dict[str, torch.Tensor] = {}

        if self.full_samples is None:
            pred_full, gt_full = out.verts_full, tgt.verts_full
        else:
            pred_full, gt_full = self._full_sample(out.verts_mid, tgt.verts_full)
        vert = out.verts_mid.new_zeros(())
        for wl, p, g in zip(
            w.vertex_levels,
            (out.verts_coarse, out.verts_mid, pred_full),
            (gt_coarse, gt_mid, gt_full),
            strict=True,
        ):
            vert = vert + wl * ((p - g).abs().mean() + velocity_loss(p, g))
        terms["vertices"] = vert

        gt_j3d = pelvis_centred(tgt.joints_3d, self.pelvis)
        joint_sets = [out.joints]
        if self.regressor is not None and self.full_samples is None:
            joint_sets.append(torch.einsum("jv,btvc->btjc", self.regressor, out.verts_full))
        elif self.regressor is not None:
            joint_sets.append(torch.einsum("jv,btvc->btjc", self.regressor_mid, out.verts_mid))
        j3d = out.joints.new_zeros(())
        j2d = out.joints.new_zeros(())
        conf = tgt.joints_2d_conf
        conf = torch.ones_like(tgt.joints_2d[..., 0]) if conf is None else conf
        for joints in joint_sets:
            pj = pelvis_centred(joints, self.pelvis)
            j3d = j3d + (pj - gt_j3d).abs().mean() + velocity_loss(pj, gt_j3d)
            p2d = project_weak_perspective(joints, out.cam_wp)  # (B, T, J, 2)
            j2d = j2d + ((p2d - tgt.joints_2d).abs() * conf[..., None]).mean()
            j2d = j2d + velocity_loss(p2d, tgt.joints_2d, conf)
        terms["joints_3d"], terms["joints_2d"] = j3d, j2d

        edges, faces = self.mid_edges, self.mid_faces
        terms["mesh"] = (
            w.edge * edge_length_loss(out.verts_mid, gt_mid, edges)
            + w.edge_self * edge_self_loss(out.verts_mid, edges)
            + w.normal * normal_consistency_loss(out.verts_mid, gt_mid, faces)
        )
        terms["total"] = (
            w.joints_3d * terms["joints_3d"]
            + w.vertices * terms["vertices"]
            + w.mesh * terms["mesh"]
            + w.joints_2d * terms["joints_2d"]
        )
        return terms
