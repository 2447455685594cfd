"""FastMETRO-style pre-LayerNorm transformer encoder/decoder used by both STDFormer stages.

DETR conventions: positional encodings are added to queries and keys (never to values) at every
attention layer, so the width-512 and width-128 stages each get their own encoding. Attention
masks follow PyTorch: bool True or an additive -inf means "may not attend".
"""

from __future__ import annotations

import torch
from torch import nn


def _with_pos(x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
    return x if pos is None else x + pos


class FeedForward(nn.Sequential):
    """Linear -> ReLU -> dropout -> Linear (the FFN of every layer)."""

    def __init__(self, d: int, ffn: int, dropout: float) -> None:
        super().__init__(nn.Linear(d, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, d))


class EncoderLayer(nn.Module):
    """Pre-LN self-attention + FFN with residuals."""

    def __init__(self, d: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.ffn = FeedForward(d, ffn, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
        """x (N, S, d), pos (1 or N, S, d) -> (N, S, d)."""
        h = self.norm1(x)
        q = _with_pos(h, pos)
        x = x + self.drop1(self.self_attn(q, q, h, need_weights=False)[0])
        return x + self.drop2(self.ffn(self.norm2(x)))


class DecoderLayer(nn.Module):
    """Pre-LN masked self-attention, cross-attention to the encoder memory, FFN."""

    def __init__(self, d: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.ffn = FeedForward(d, ffn, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.drop1, self.drop2, self.drop3 = (nn.Dropout(dropout) for _ in range(3))

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None,
        memory_pos: torch.Tensor | None,
        self_done: bool = False,
    ) -> torch.Tensor:
        """tgt (N, Q, d), memory (N, S, d) -> (N, Q, d).

        `self_mask`: (Q, Q) additive float mask (0 = allowed, -inf = blocked) or bool
        (True = blocked); the float form is ~2x faster on the CPU (no per-call conversion).
        `self_done`: tgt already went through `self_block` (a cached constant, see STDFormer).
        """
        if not self_done:
            tgt = self.self_block(tgt, self_mask)
        h = self.norm2(tgt)
        k = _with_pos(memory, memory_pos)
        tgt = tgt + self.drop2(self.cross_attn(h, k, memory, need_weights=False)[0])
        return tgt + self.drop3(self.ffn(self.norm3(tgt)))

    def self_block(self, tgt: torch.Tensor, self_mask: torch.Tensor | None) -> torch.Tensor:
        """The residual masked self-attention block: tgt + SelfAttn(LN(tgt))."""
        h = self.norm1(tgt)
        if self_mask is not None and self_mask.is_floating_point() and self_mask.dtype != h.dtype:
            # additive masks must match q's dtype (autocast); a bool mask stays bool (a cast
            # would turn "blocked" into an additive +1 that blocks nothing)
            self_mask = self_mask.to(h.dtype)
        return tgt + self.drop1(self.self_attn(h, h, h, attn_mask=self_mask, need_weights=False)[0])


class Encoder(nn.Module):
    def __init__(self, n_layers: int, d: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d, heads, ffn, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pos)
        return self.norm(x)


class Decoder(nn.Module):
    def __init__(self, n_layers: int, d: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(d, heads, ffn, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None,
        memory_pos: torch.Tensor | None,
        first_self_done: bool = False,
    ) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            tgt = layer(tgt, memory, self_mask, memory_pos, self_done=first_self_done and i == 0)
        return self.norm(tgt)


class Stage(nn.Module):
    """One FastMETRO stage: encoder over [camera; image tokens], decoder over query tokens.

    The decoder cross-attends to the encoded image tokens only (the camera token is read out
    separately), as the spec describes.
    """

    def __init__(self, n_layers: int, d: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.encoder = Encoder(n_layers, d, heads, ffn, dropout)
        self.decoder = Decoder(n_layers, d, heads, ffn, dropout)

    def forward(
        self,
        cam: torch.Tensor,
        img: torch.Tensor,
        img_pos: torch.Tensor,
        queries: torch.Tensor,
        query_mask: torch.Tensor,
        queries_self_done: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """cam (N, 1, d), img (N, S, d), img_pos (1, S, d), queries (N, Q, d), mask (Q, Q).

        Returns (cam (N, 1, d), encoded image tokens (N, S, d), decoded queries (N, Q, d)).
        `queries_self_done`: the first decoder layer's self-attention block was already applied.
        """
        pos = torch.cat([torch.zeros_like(img_pos[:, :1]), img_pos], dim=1)  # (1, 1+S, d)
        enc = self.encoder(torch.cat([cam, img], dim=1), pos)  # (N, 1+S, d)
        cam_out, img_out = enc[:, :1], enc[:, 1:]
        dec = self.decoder(queries, img_out, query_mask, img_pos, queries_self_done)  # (N, Q, d)
        return cam_out, img_out, dec
