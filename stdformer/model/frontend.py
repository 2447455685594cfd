"""The front-end protocol: what every STDFormer input branch provides to the transformer.

A front-end turns one person's clip of T frames into image (or landmark) tokens in three steps,
split so that streaming inference can cache the expensive per-frame part:

1. `encode_frame(x)`   (N, *in)      -> (N, *feat)   per frame, no frame interaction. Streaming
   caches these outputs in the rolling buffer; a new frame costs exactly one call with N = 1.
   Image front-end: crop (N, 3, 224, 224) -> HRNet stem + layer1 -> (N, 256, 56, 56).
   Landmark front-end: observation features (N, 33, F) -> per-landmark MLP -> (N, C, 33, 1).
2. `disentangle(feats)` (B, T, *feat) -> (B, T, *feat)   SD per frame + TD across the T frames +
   sigmoid fusion F = a * SD + (1 - a) * TD. **The only place where frames interact.**
3. `tokens(fused)`      (N, *feat)   -> (N, n_tokens, d_model)   per frame again.
   Image front-end: HRNet stages 2-4 -> (N, 2048, 7, 7) -> `conv_1x1` (2048 -> d_model, the
   attribute name FastMETRO uses, so the converter maps `conv_1x1.*` to `frontend.conv_1x1.*`)
   -> flatten to 49 tokens (row-major over the 7 x 7 grid).
   Landmark front-end: per-landmark projection -> 33 tokens in landmark order.

Positional encodings are not added here: the transformer adds `sine_position_encoding` of the
front-end's `token_grid_hw` at each attention layer (DETR/FastMETRO style), at both stage widths.

Implementations: `stdformer.model.image_frontend.ImageFrontEnd(config: ModelConfig)` and
`stdformer.model.landmark_frontend.LandmarkFrontEnd(config: ModelConfig)`; `build_frontend` in
`stdformer.model.stdformer` picks one from `config.frontend`.

Live frames become `encode_frame` input in `stdformer.inference.model_input` (`prepare`): the
network knows tensors, not the live pipeline's `Observation`.
"""

from __future__ import annotations

import abc
import math

import torch
from torch import nn

from stdformer.model.disentangle import DisentangleBlock


class FrontEnd(nn.Module, abc.ABC):
    """Base class of the input branches (image, landmarks).

    Subclasses set in `__init__`:
      `kind`: "image" or "landmarks" (stored in checkpoints),
      `n_tokens`: tokens per frame given to the transformer (49 or 33),
      `token_grid_hw`: (h, w) with h * w == n_tokens, the layout the positional encoding uses
        ((7, 7) for the image map, (33, 1) for landmarks),
      `d_model`: width of the tokens (the transformer's stage-1 width),
      `T`: the clip length `disentangle` expects (TD's grouping depends on it).
    """

    kind: str
    n_tokens: int
    token_grid_hw: tuple[int, int]
    d_model: int
    T: int

    @abc.abstractmethod
    def encode_frame(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features, (N, *in) -> (N, *feat); cached by the streaming buffer."""

    disentangle_block: DisentangleBlock  # set by subclasses: SD + TD + fusion on their features

    def disentangle(self, feats: torch.Tensor) -> torch.Tensor:
        """SD + TD + fusion over a clip, (B, T, *feat) -> (B, T, *feat)."""
        return self.disentangle_block(feats)

    def disentangle_frame(self, feats: torch.Tensor, t: int) -> torch.Tensor:
        """Fused features of frame `t` only, (B, T, *feat) -> (B, *feat).

        Same values as `disentangle(feats)[:, t]`; streaming needs one frame, so SD runs on that
        frame alone (TD still reads all T frames).
        """
        return self.disentangle_block.frame(feats, t)

    @abc.abstractmethod
    def tokens(self, fused: torch.Tensor) -> torch.Tensor:
        """Per-frame tokens, (N, *feat) -> (N, n_tokens, d_model)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clip mode: (B, T, *in) -> tokens (B, T, n_tokens, d_model)."""
        b, t = x.shape[:2]
        feats = self.encode_frame(x.flatten(0, 1))  # (B*T, *feat)
        fused = self.disentangle(feats.reshape(b, t, *feats.shape[1:]))  # (B, T, *feat)
        tok = self.tokens(fused.flatten(0, 1))  # (B*T, n_tokens, d_model)
        return tok.reshape(b, t, *tok.shape[1:])


def _sine_1d(pos: torch.Tensor, d: int, temperature: float) -> torch.Tensor:
    """(...,) angles in (0, 2*pi] -> (..., d) interleaved sin/cos at d/2 frequencies."""
    i = torch.arange(d, dtype=torch.float64)
    dim_t = temperature ** (2 * torch.div(i, 2, rounding_mode="floor") / d)  # (d,)
    angles = pos[..., None] / dim_t  # (..., d)
    return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(-2)


def sine_position_encoding(h: int, w: int, d: int, temperature: float = 10000.0) -> torch.Tensor:
    """Fixed sine positional encoding (DETR's normalised variant) of an h x w grid -> (h * w, d).

    2-D grid: the first d/2 features encode the row (y), the last d/2 the column (x). A single
    column (w == 1, e.g. the 33 landmark tokens) uses all d features for the row instead of
    spending half of them on a constant. Positions are normalised to (0, 2*pi] so the encoding
    does not depend on the grid size. Tokens are ordered row-major, like `feature_map.flatten(2)`.
    """
    if d % 4 != 0:
        raise ValueError(f"positional encoding width must be a multiple of 4, got {d}")
    eps = 1e-6
    y = torch.arange(1, h + 1, dtype=torch.float64)[:, None].expand(h, w) / (h + eps) * 2 * math.pi
    x = torch.arange(1, w + 1, dtype=torch.float64)[None, :].expand(h, w) / (w + eps) * 2 * math.pi
    if w == 1:
        return _sine_1d(y.reshape(h), d, temperature).float()  # (h, d)
    pos_y, pos_x = _sine_1d(y, d // 2, temperature), _sine_1d(x, d // 2, temperature)
    return torch.cat((pos_y, pos_x), dim=-1).reshape(h * w, d).float()  # (h*w, d)
