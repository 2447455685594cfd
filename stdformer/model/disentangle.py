"""Spatial (SD) and temporal (TD) disentanglement and their sigmoid fusion (STDFormer).

Both SD and TD are EMA attention blocks (`stdformer.model.ema.EMA`) on a clip of per-frame
feature maps X of shape (B, T, C, H, W):

- SD runs EMA on every frame separately, with G groups of C/G channels (paper: 16 x 16 for
  C = 256). Frames never interact here.
- TD regroups X so that each EMA group holds one feature channel's T frames
  ((B, T, C, H, W) -> (B, C*T, H, W), channel index c*T + t) and runs EMA with G = C groups of T
  "channels": inside the block the convs mix frames and the softmax runs over frames. This is
  the only place where frames of a clip interact.
- Fusion: alpha = sigmoid(GAP(SD + TD)) per frame and channel, F = alpha*SD + (1-alpha)*TD.
  F replaces X (no residual to X).

The same modules serve the image front-end (C=256 maps at 56x56) and token features laid out as
(B, T, C, K, 1).
"""

from __future__ import annotations

import torch
from torch import nn

from stdformer.model.ema import EMA


def frames_to_channel_groups(x: torch.Tensor) -> torch.Tensor:
    """(B, T, C, H, W) -> (B, C*T, H, W) with output channel index c*T + t.

    Each run of T consecutive output channels is one feature channel across all frames, so an
    EMA with C groups of T channels attends over time within a channel.
    """
    b, t, c, h, w = x.shape
    return x.permute(0, 2, 1, 3, 4).reshape(b, c * t, h, w)


def channel_groups_to_frames(x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Inverse of `frames_to_channel_groups`: (B, C*T, H, W) -> (B, T, C, H, W)."""
    b, ct, h, w = x.shape
    if ct % num_frames != 0:
        raise ValueError(f"{ct} channels are not a multiple of T={num_frames}")
    return x.reshape(b, ct // num_frames, num_frames, h, w).permute(0, 2, 1, 3, 4)


class SpatialDisentangle(nn.Module):
    """SD: EMA on each frame independently; (B, T, C, H, W) -> (B, T, C, H, W)."""

    def __init__(self, channels: int = 256, groups: int = 16) -> None:
        super().__init__()
        self.ema = EMA(channels, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        return self.ema(x.reshape(b * t, c, h, w)).reshape(b, t, c, h, w)


class TemporalDisentangle(nn.Module):
    """TD: EMA over the channel-wise regrouped clip; (B, T, C, H, W) -> (B, T, C, H, W).

    `num_frames` (T) is fixed at construction: the EMA's convs are T -> T over the frames.
    """

    def __init__(self, channels: int = 256, num_frames: int = 8) -> None:
        super().__init__()
        self.channels = channels
        self.num_frames = num_frames
        self.ema = EMA(channels * num_frames, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if t != self.num_frames:
            raise ValueError(f"TD built for T={self.num_frames} frames, got a clip of {t}")
        # EMA on the regrouped clip is x_regrouped * gate with one gate per channel group, i.e.
        # per feature channel for all T frames: apply it in the (B, T, C, H, W) layout directly.
        gate = self.ema.gate(frames_to_channel_groups(x))  # (B, C, 1, H, W)
        return x * gate[:, None, :, 0]

    def frame(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """TD output of frame `t` only: x (B, T, C, H, W) -> (B, C, H, W).

        TD's re-weighting map is one (H, W) map per feature channel shared by its T frames, so
        it still needs the whole clip; only the final multiply is restricted to frame t.
        """
        if x.shape[1] != self.num_frames:
            raise ValueError(f"TD built for T={self.num_frames} frames, got a clip of {x.shape[1]}")
        gate = self.ema.gate(frames_to_channel_groups(x))  # (B, C, 1, H, W)
        return x[:, t] * gate[:, :, 0]


class SigmoidFusion(nn.Module):
    """F = alpha*SD + (1-alpha)*TD with alpha = sigmoid(GAP(SD + TD)); parameter-free.

    Inputs and output (..., C, H, W); alpha is per leading index and channel (..., C, 1, 1).
    """

    def forward(self, sd: torch.Tensor, td: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid((sd + td).mean(dim=(-2, -1), keepdim=True))  # (..., C, 1, 1)
        return alpha * sd + (1.0 - alpha) * td


class DisentangleBlock(nn.Module):
    """SD and TD on the same clip, fused: (B, T, C, H, W) -> (B, T, C, H, W).

    `sd_groups` is the number of SD channel groups (paper: 16 for C = 256).
    """

    def __init__(self, channels: int = 256, num_frames: int = 8, sd_groups: int = 16) -> None:
        super().__init__()
        self.channels = channels
        self.num_frames = num_frames
        self.sd = SpatialDisentangle(channels, sd_groups)
        self.td = TemporalDisentangle(channels, num_frames)
        self.fusion = SigmoidFusion()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[2] != self.channels:
            raise ValueError(
                f"expected (B, T={self.num_frames}, C={self.channels}, H, W), got {tuple(x.shape)}"
            )
        return self.fusion(self.sd(x), self.td(x))

    def frame(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """Fused output of frame `t` only: x (B, T, C, H, W) -> (B, C, H, W).

        Equals `forward(x)[:, t]` at a fraction of the cost when one frame is needed (streaming):
        SD runs on frame t alone, TD still reads all T frames.
        """
        if x.dim() != 5 or x.shape[2] != self.channels:
            raise ValueError(
                f"expected (B, T={self.num_frames}, C={self.channels}, H, W), got {tuple(x.shape)}"
            )
        return self.fusion(self.sd.ema(x[:, t]), self.td.frame(x, t))
