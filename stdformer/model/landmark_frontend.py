"""Landmark front-end: MediaPipe observations -> 33 tokens, with the paper's SD/TD in between.

Per frame each of the 33 landmarks becomes one feature vector (`landmark_features`; the live
adapter `stdformer.inference.model_input` builds it from an observation):

    [x, y, z_rel, visibility, presence, world_x, world_y, world_z]      (F = 8)

with x, y normalised to the square `landmark_crop` ((-1, -1) top-left, (1, 1) bottom-right
corner, the frame the weak-perspective camera predicts in), z_rel the landmark's relative depth
divided by the same half crop side, and world xyz the hip-centred metric landmarks.

`encode_frame`: a per-landmark MLP (F -> hidden -> C) plus a learned landmark embedding gives
(N, C, 33, 1): channels first and the landmarks laid out as a 33 x 1 "image", so the SD/TD EMA
blocks run unchanged. In that layout EMA's height pooling summarises a channel over all landmarks,
its width pooling is the identity, GroupNorm normalises each channel over the landmarks and the
3x3 conv sees landmarks i-1, i, i+1 of MediaPipe's index order (face 0-10, arms 11-22,
legs 23-32, so neighbours are mostly on the same body part).
`disentangle`: `DisentangleBlock` (SD per frame with `landmark_sd_groups` groups, TD over the
T frames, sigmoid fusion) on (B, T, C, 33, 1).
`tokens`: LayerNorm + Linear C -> d_model per landmark -> (N, 33, d_model).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from stdformer.detect.pose_topology import FLIP_PERMUTATION
from stdformer.model.config import ModelConfig
from stdformer.model.disentangle import DisentangleBlock
from stdformer.model.frontend import FrontEnd
from stdformer.types import NUM_POSE_LANDMARKS

LANDMARK_FEATURES = 8  # F
CROP_MARGIN = 0.15  # of the landmark box's longer side, on every side
_FLIP_SIGN = np.array([-1, 1, 1, 1, 1, -1, 1, 1], np.float32)  # x and world x change sign


def landmark_crop(
    landmarks_px: np.ndarray,  # (..., 33, 3)
    presence: np.ndarray,  # (..., 33)
    margin: float = CROP_MARGIN,
) -> np.ndarray:  # (..., 4) float32 xyxy
    """The square the landmark features are normalised to, from the landmarks alone.

    Box of the landmarks with presence >= 0.5 (all of them when fewer than two qualify), squared
    on its longer side and grown by `margin` of that side on every side. The network owns this
    definition (not the localizer's display box) so trained weights see the same normalisation
    whatever box the app draws.
    """
    xy = np.asarray(landmarks_px, np.float64)[..., :2]
    keep = np.asarray(presence) >= 0.5  # (..., 33)
    few = keep.sum(axis=-1, keepdims=True) < 2
    keep = keep | few
    lo = np.where(keep[..., None], xy, np.inf).min(axis=-2)  # (..., 2)
    hi = np.where(keep[..., None], xy, -np.inf).max(axis=-2)
    center = 0.5 * (lo + hi)
    half = 0.5 * np.maximum((hi - lo).max(axis=-1), 1.0) * (1.0 + 2.0 * margin)  # (...,)
    return np.concatenate([center - half[..., None], center + half[..., None]], -1).astype(
        np.float32
    )


def landmark_features(
    landmarks_px: np.ndarray,  # (..., 33, 3) x, y pixels, z relative depth (pixel scale)
    visibility: np.ndarray,  # (..., 33)
    presence: np.ndarray,  # (..., 33)
    world_landmarks: np.ndarray,  # (..., 33, 3) metres
) -> tuple[np.ndarray, np.ndarray]:
    """Features (..., 33, 8) float32 (module docstring) and the crop (..., 4) they refer to."""
    crop = landmark_crop(landmarks_px, presence)
    center = 0.5 * (crop[..., :2] + crop[..., 2:])  # (..., 2)
    half = 0.5 * (crop[..., 2] - crop[..., 0])  # (...,)
    lm = np.asarray(landmarks_px, np.float64)
    out = np.empty((*lm.shape[:-1], LANDMARK_FEATURES), np.float32)
    out[..., 0:2] = (lm[..., :2] - center[..., None, :]) / half[..., None, None]
    out[..., 2] = lm[..., 2] / half[..., None]
    out[..., 3] = visibility
    out[..., 4] = presence
    out[..., 5:8] = world_landmarks
    return out, crop


def flip_landmark_features(x: torch.Tensor) -> torch.Tensor:
    """Features of the horizontally mirrored image: (..., 33, 8) -> (..., 33, 8).

    Mirroring negates the crop x and the world x and swaps left/right landmarks; used by
    training augmentation (the image front-end flips pixels instead).
    """
    sign = torch.as_tensor(_FLIP_SIGN, dtype=x.dtype, device=x.device)
    perm = torch.as_tensor(FLIP_PERMUTATION, device=x.device)
    return (x * sign).index_select(-2, perm)


class LandmarkFrontEnd(FrontEnd):
    """33 landmark tokens per frame; SD/TD on (B, T, C, 33, 1) landmark features."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c, hidden = config.landmark_channels, config.landmark_hidden
        self.kind = "landmarks"
        self.n_tokens = NUM_POSE_LANDMARKS
        self.token_grid_hw = (NUM_POSE_LANDMARKS, 1)
        self.d_model = config.d_model[0]
        self.T = config.T
        self.channels = c
        self.point_mlp = nn.Sequential(
            nn.Linear(LANDMARK_FEATURES, hidden), nn.GELU(), nn.Linear(hidden, c)
        )
        self.landmark_embed = nn.Parameter(torch.randn(NUM_POSE_LANDMARKS, c) * 0.02)
        self.disentangle_block = DisentangleBlock(c, config.T, config.landmark_sd_groups)
        self.token_norm = nn.LayerNorm(c)
        self.token_proj = nn.Linear(c, self.d_model)

    def encode_frame(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 33, 8) -> (N, C, 33, 1)."""
        h = self.point_mlp(x) + self.landmark_embed  # (N, 33, C)
        return h.transpose(1, 2).unsqueeze(-1)

    def tokens(self, fused: torch.Tensor) -> torch.Tensor:
        """(N, C, 33, 1) -> (N, 33, d_model)."""
        h = fused.squeeze(-1).transpose(1, 2)  # (N, 33, C)
        return self.token_proj(self.token_norm(h))
