"""The STDFormer network: a front-end (SD/TD inside) + two FastMETRO stages + mesh heads.

Query tokens: 1 camera token (encoder side), `n_joints` joint tokens and Vc coarse-vertex tokens
(decoder side). Stage 1 runs at d_model[0], a linear map reduces every stream to d_model[1] and
stage 2 repeats the structure. Heads (FastMETRO names): `cam_predictor` (weak perspective
s, tx, ty), `xyz_regressor` (one shared 3-vector head for joint and vertex tokens),
`mesh_upsampling` (learnable Vc -> Vm, initialised from the body's `up_coarse_to_mid`) and the
fixed Vm -> Vf matrix `up_mid_to_full` (a non-persistent buffer: it comes from the mesh levels,
which checkpoints identify by fingerprint instead of storing).

Coordinates: 3D outputs are root-relative metres in the crop camera's axes (x right, y down,
z forward). The weak-perspective camera maps them to crop-normalised 2D,
`xy_crop = s * (XY + (tx, ty))`, where (-1, -1) is the crop's top-left and (1, 1) its
bottom-right corner (see `project_weak_perspective`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from stdformer.body.levels import MeshLevels
from stdformer.model.config import ModelConfig
from stdformer.model.frontend import FrontEnd, sine_position_encoding
from stdformer.model.transformer import Stage


@dataclass
class ModelOutput:
    """Network predictions; leading axes `...` are (B, T) in clip mode and (N,) per frame."""

    cam_wp: torch.Tensor  # (..., 3) weak-perspective (s, tx, ty)
    joints: torch.Tensor  # (..., J, 3) root-relative 3D joints from the joint tokens
    verts_coarse: torch.Tensor  # (..., Vc, 3)
    verts_mid: torch.Tensor  # (..., Vm, 3)
    verts_full: torch.Tensor | None  # (..., Vf, 3); None when not requested

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> ModelOutput:
        """Apply `fn` to every tensor (reshape, index a frame, detach...)."""
        return ModelOutput(
            fn(self.cam_wp),
            fn(self.joints),
            fn(self.verts_coarse),
            fn(self.verts_mid),
            None if self.verts_full is None else fn(self.verts_full),
        )


def project_weak_perspective(points: torch.Tensor, cam_wp: torch.Tensor) -> torch.Tensor:
    """(..., P, 3) points and (..., 3) camera -> (..., P, 2) crop-normalised 2D points."""
    s, t = cam_wp[..., None, :1], cam_wp[..., None, 1:]
    return s * (points[..., :2] + t)


def build_vertex_mask(n_joints: int, coarse_adjacency: torch.Tensor) -> torch.Tensor:
    """Decoder self-attention mask (Q, Q) bool, True = blocked, Q = n_joints + Vc.

    Joint tokens see every token; a vertex token sees all joints and its coarse-mesh neighbours
    (adjacency includes the vertex itself).
    """
    vc = coarse_adjacency.shape[0]
    q = n_joints + vc
    mask = torch.zeros(q, q, dtype=torch.bool)
    mask[n_joints:, n_joints:] = ~coarse_adjacency.bool()
    return mask


class STDFormer(nn.Module):
    """The whole network. `forward` is clip mode; `head` runs the per-frame transformer part.

    Streaming (`stdformer.inference.predictor`) splits clip mode in two: `encode_frame` once per new
    frame (its output is cached), `decode_window` once per output over the cached window.
    """

    def __init__(self, config: ModelConfig, levels: MeshLevels, frontend: FrontEnd) -> None:
        super().__init__()
        vc, vm, vf = levels.sizes
        if config.mesh_sizes is not None and tuple(config.mesh_sizes) != (vc, vm, vf):
            raise ValueError(
                f"config is for mesh sizes {config.mesh_sizes}, levels are {vc, vm, vf}"
            )
        if frontend.d_model != config.d_model[0]:
            raise ValueError(f"front-end width {frontend.d_model} != d_model {config.d_model[0]}")
        self.config = config.replace(mesh_sizes=(vc, vm, vf))
        self.levels_fingerprint = levels.fingerprint()
        d1, d2 = config.d_model
        j = config.n_joints
        self.frontend = frontend
        self.cam_token_embed = nn.Embedding(1, d1)
        self.joint_token_embed = nn.Embedding(j, d1)
        self.vertex_token_embed = nn.Embedding(vc, d1)
        n, drop = config.n_layers, config.dropout
        self.stage1 = Stage(n, d1, config.n_heads[0], config.ffn_dim[0], drop)
        self.dim_reduce_enc_cam = nn.Linear(d1, d2)
        self.dim_reduce_enc_img = nn.Linear(d1, d2)
        self.dim_reduce_dec = nn.Linear(d1, d2)
        self.stage2 = Stage(n, d2, config.n_heads[1], config.ffn_dim[1], drop)
        self.cam_predictor = nn.Linear(d2, 3)
        self.xyz_regressor = nn.Linear(d2, 3)
        self.mesh_upsampling = nn.Linear(vc, vm)
        with torch.no_grad():
            self.mesh_upsampling.weight.copy_(torch.as_tensor(levels.up_coarse_to_mid))
            self.mesh_upsampling.bias.zero_()
        h, w = frontend.token_grid_hw
        self.register_buffer("pos1", sine_position_encoding(h, w, d1)[None], persistent=False)
        self.register_buffer("pos2", sine_position_encoding(h, w, d2)[None], persistent=False)
        adjacency = torch.as_tensor(levels.coarse_adjacency)
        blocked = build_vertex_mask(j, adjacency)  # (J+Vc, J+Vc) bool
        additive = torch.zeros(blocked.shape).masked_fill(blocked, float("-inf"))
        self.register_buffer("query_mask", additive, persistent=False)  # 0 / -inf
        self._query_cache: tuple[tuple, torch.Tensor] | None = None
        up = levels.rows("up_mid_to_full")  # a gather: ~100x cheaper than the dense matmul
        self.register_buffer("up_full_index", torch.from_numpy(up.index), persistent=False)
        self.register_buffer("up_full_weight", torch.from_numpy(up.weight), persistent=False)

    @property
    def T(self) -> int:
        return self.config.T

    def head(self, tokens: torch.Tensor, full: bool = True) -> ModelOutput:
        """Per-frame transformer + heads: tokens (N, n_tokens, d1) -> ModelOutput with (N, ...)."""
        n = tokens.shape[0]
        j = self.config.n_joints
        cam = self.cam_token_embed.weight[None].expand(n, -1, -1)  # (N, 1, d1)
        # Stage 1's first decoder self-attention sees only the learned query tokens: the same
        # for every frame, so it runs once per call (cached across calls in inference).
        if not self.training and not torch.is_grad_enabled():
            queries = self._constant_queries()  # (J+Vc, d1)
        else:
            queries = self._first_self_block()
        queries = queries[None].expand(n, -1, -1)  # (N, J+Vc, d1)
        cam, img, dec = self.stage1(cam, tokens, self.pos1, queries, self.query_mask, True)
        cam, img, dec = self.stage2(
            self.dim_reduce_enc_cam(cam),
            self.dim_reduce_enc_img(img),
            self.pos2,
            self.dim_reduce_dec(dec),
            self.query_mask,
        )
        cam_wp = self.cam_predictor(cam[:, 0])  # (N, 3)
        xyz = self.xyz_regressor(dec)  # (N, J+Vc, 3)
        joints, verts_coarse = xyz[:, :j], xyz[:, j:]
        # contiguous: F.linear on the strided transpose falls off the fast GEMM path (~2.5x slower)
        verts_mid = self.mesh_upsampling(verts_coarse.transpose(1, 2).contiguous()).transpose(1, 2)
        verts_full = self.upsample_full(verts_mid) if full else None
        return ModelOutput(cam_wp, joints, verts_coarse, verts_mid, verts_full)

    def encode_frame(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame front-end features, (N, *in) -> (N, *feat); no frame interaction."""
        return self.frontend.encode_frame(x)

    def decode_window(self, window: torch.Tensor, position: int, full: bool = True) -> ModelOutput:
        """One frame of a window of cached features: (B, T, *feat) -> ModelOutput with (B, ...).

        SD/TD/fusion read the whole window, the transformer and heads run for window position
        `position` only; the same values as `forward(x)[:, position]` on the clip behind it.
        """
        fused = self.frontend.disentangle_frame(window, position)  # (B, *feat)
        return self.head(self.frontend.tokens(fused), full=full)

    def _constant_queries(self) -> torch.Tensor:
        """Stage 1's first decoder self-attention on the learned query tokens, cached.

        Its input is the learned tokens only, so in inference it is the same for every frame:
        computing it once saves one of the two (J+Vc)^2 attentions per frame. The cache is keyed
        on the parameters' in-place version counters (optimiser steps, load_state_dict, copy_),
        their storage (a replaced `param.data`) and device/dtype, so it never goes stale; it is
        used only without autograd.
        """
        layer = self.stage1.decoder.layers[0]
        params = [self.joint_token_embed.weight, self.vertex_token_embed.weight]
        params += [*layer.norm1.parameters(), *layer.self_attn.parameters(), self.query_mask]
        key = tuple((p.device, p.dtype, p._version, p.data_ptr()) for p in params)
        if self._query_cache is None or self._query_cache[0] != key:
            with torch.autocast(self.query_mask.device.type, enabled=False):
                value = self._first_self_block()
            self._query_cache = (key, value)
        return self._query_cache[1]

    def _first_self_block(self) -> torch.Tensor:
        """(J+Vc, d1): the learned query tokens after stage 1's first decoder self-attention."""
        layer = self.stage1.decoder.layers[0]
        queries = torch.cat([self.joint_token_embed.weight, self.vertex_token_embed.weight])
        return layer.self_block(queries[None], self.query_mask)[0]

    def upsample_full(self, verts_mid: torch.Tensor) -> torch.Tensor:
        """(..., Vm, 3) -> (..., Vf, 3) with the fixed body-model matrix (as gathered rows)."""
        idx = self.up_full_index  # (Vf, k)
        gathered = verts_mid.index_select(-2, idx.flatten())  # (..., Vf*k, 3)
        gathered = gathered.reshape(*verts_mid.shape[:-2], *idx.shape, 3)  # (..., Vf, k, 3)
        return torch.einsum("vk,...vkc->...vc", self.up_full_weight.to(verts_mid.dtype), gathered)

    def forward(
        self, x: torch.Tensor, full: bool = True, frames: slice | None = None
    ) -> ModelOutput:
        """Clip mode: x (B, T, *in) -> ModelOutput with (B, T', ...) tensors, one per frame.

        `frames` picks the window positions to decode (T' of them; default all T). SD/TD always
        see the whole clip; training may decode only the positions streaming reads out (the
        last `lookahead + 1`), which costs a fraction of the per-frame transformer.
        """
        b, t = x.shape[:2]
        if t != self.config.T:
            raise ValueError(f"model expects clips of T={self.config.T} frames, got {t}")
        tok = self.frontend(x)  # (B, T, n_tokens, d1)
        if frames is not None:
            tok = tok[:, frames]
            t = tok.shape[1]
        out = self.head(tok.flatten(0, 1), full=full)
        return out.map(lambda a: a.reshape(b, t, *a.shape[1:]))


def build_frontend(config: ModelConfig) -> FrontEnd:
    """The front-end named by the config (imported lazily: the image one pulls the backbones)."""
    if config.frontend == "landmarks":
        from stdformer.model.landmark_frontend import LandmarkFrontEnd

        return LandmarkFrontEnd(config)
    from stdformer.model.image_frontend import ImageFrontEnd

    return ImageFrontEnd(config)


def build_model(config: ModelConfig, levels: MeshLevels) -> STDFormer:
    """Build an untrained network for a body's mesh levels (weights come from `checkpoint`)."""
    return STDFormer(config, levels, build_frontend(config))
