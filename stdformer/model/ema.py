"""Efficient Multi-scale Attention (EMA) block, the building unit of STDFormer's SD and TD.

EMA (Ouyang et al., ICASSP 2023) re-weights every spatial position of a feature map using
attention computed inside channel groups. STDFormer uses it twice: per frame over image channels
(spatial disentanglement, SD) and over a regrouped tensor whose group "channels" are the T frames
of one feature channel (temporal disentanglement, TD). Written from the project's design
notes on the paper (kept outside this repository).

For an input x of shape (N, C, H, W) split into G groups of c = C / G channels, per group:

1. direction gates: average over W -> (c, H, 1) and over H -> (c, 1, W); both pass through one
   shared 1x1 conv (c -> c) and a sigmoid; x1 = GroupNorm(x * gate_h * gate_w).
2. local branch: x2 = 3x3 conv (c -> c) of x.
3. cross-spatial attention: a1 = softmax over the c channels of GAP(x1), a2 = same of GAP(x2);
   weight map = a1 . flatten(x2) + a2 . flatten(x1), reshaped to (1, H, W).
4. output = x * sigmoid(weight map) (the map is shared by the c channels of the group).

H or W may be 1 (token features laid out as (N, C, K, 1) work): the 3x3 conv is zero-padded and
the pools reduce a singleton axis to itself.
"""

from __future__ import annotations

import torch
from torch import nn

_CHANNELS_LAST_MIN_HW = 256  # map size from which the 3x3 branch runs channels-last


class EMA(nn.Module):
    """EMA attention on (N, C, H, W) -> (N, C, H, W) with `groups` groups of C/groups channels.

    Parameters (c = channels // groups): conv1x1 c*c + c, conv3x3 9*c*c + c, GroupNorm 2*c.
    Attribute names (`conv1x1`, `conv3x3`, `gn`) follow the EMA paper's public naming so that
    released checkpoints map one to one.
    """

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        if groups <= 0 or channels % groups != 0:
            raise ValueError(
                f"channels ({channels}) must be a positive multiple of groups ({groups})"
            )
        self.channels = channels
        self.groups = groups
        c = channels // groups
        self.group_channels = c
        self.conv1x1 = nn.Conv2d(c, c, kernel_size=1)  # shared by the H and W gates
        self.conv3x3 = nn.Conv2d(c, c, kernel_size=3, padding=1)  # local branch
        # One norm group per channel: each group channel is normalised over (H, W) on its own,
        # so in TD (channels = frames) the norm never mixes frames.
        self.gn = nn.GroupNorm(c, c)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The re-weighting map sigmoid(weight map): x (N, C, H, W) -> (N, G, 1, H, W).

        One map per group, shared by the group's c channels; `forward` is x times this map.
        """
        n, ch, h, w = x.shape
        if ch != self.channels:
            raise ValueError(f"EMA built for {self.channels} channels, got input with {ch}")
        g, c = self.groups, self.group_channels
        xg = x.reshape(n * g, c, h, w)  # (N*G, c, H, W)

        # 1. Direction gates through one shared 1x1 conv: stack the two pooled profiles along H.
        pooled_h = xg.mean(dim=3, keepdim=True)  # (N*G, c, H, 1)
        pooled_w = xg.mean(dim=2, keepdim=True).transpose(2, 3)  # (N*G, c, W, 1)
        gates = self.conv1x1(torch.cat([pooled_h, pooled_w], dim=2))  # (N*G, c, H+W, 1)
        gate_h, gate_w = torch.split(gates, [h, w], dim=2)
        gate_h = gate_h.sigmoid()  # (N*G, c, H, 1)
        gate_w = gate_w.transpose(2, 3).sigmoid()  # (N*G, c, 1, W)
        x1 = self.gn(xg * gate_h * gate_w)  # (N*G, c, H, W)

        # 2. Local 3x3 branch. On large maps with few channels (56x56, c = 8 or 16) the
        # channels-last kernels are about twice as fast on CPU, conversions included; on small
        # maps (landmark tokens, 33x1) the conversions cost more than they save.
        if h * w >= _CHANNELS_LAST_MIN_HW:
            x2 = self.conv3x3(xg.contiguous(memory_format=torch.channels_last)).contiguous()
        else:
            x2 = self.conv3x3(xg)  # (N*G, c, H, W)

        # 3. Cross-spatial attention: channel softmax of one branch weights the other's map.
        a1 = torch.softmax(x1.mean(dim=(2, 3)), dim=1).unsqueeze(1)  # (N*G, 1, c)
        a2 = torch.softmax(x2.mean(dim=(2, 3)), dim=1).unsqueeze(1)  # (N*G, 1, c)
        weight_map = torch.bmm(a1, x2.reshape(n * g, c, h * w)) + torch.bmm(
            a2, x1.reshape(n * g, c, h * w)
        )  # (N*G, 1, H*W)
        return weight_map.reshape(n, g, 1, h, w).sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, C, H, W) -> (N, C, H, W): 4. x re-weighted per position and group."""
        n, ch, h, w = x.shape
        if ch != self.channels:
            raise ValueError(f"EMA built for {self.channels} channels, got input with {ch}")
        out = x.reshape(n, self.groups, self.group_channels, h, w) * self.gate(x)
        return out.reshape(n, ch, h, w)
