"""EMA and the encoder layer against independent references written from the spec."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from stdformer.model.disentangle import TemporalDisentangle
from stdformer.model.ema import EMA
from stdformer.model.transformer import EncoderLayer


def _ema_reference(ema: EMA, x: torch.Tensor) -> torch.Tensor:
    """The spec's four EMA steps, one sample and one group at a time (slow, obvious)."""
    n, ch = x.shape[:2]
    c = ch // ema.groups
    out = torch.empty_like(x)
    for i in range(n):
        for g in range(ema.groups):
            xg = x[i, g * c : (g + 1) * c][None]  # (1, c, H, W)
            # 1. gates: pool over W (profile along H) and over H (profile along W), shared 1x1
            gate_h = torch.sigmoid(
                F.conv2d(xg.mean(3, keepdim=True), ema.conv1x1.weight, ema.conv1x1.bias)
            )  # (1, c, H, 1)
            gate_w = torch.sigmoid(
                F.conv2d(xg.mean(2, keepdim=True), ema.conv1x1.weight, ema.conv1x1.bias)
            )  # (1, c, 1, W)
            x1 = F.group_norm(xg * gate_h * gate_w, c, ema.gn.weight, ema.gn.bias, ema.gn.eps)
            # 2. local branch
            x2 = F.conv2d(xg, ema.conv3x3.weight, ema.conv3x3.bias, padding=1)
            # 3. cross-spatial attention
            a1 = torch.softmax(x1.mean(dim=(2, 3))[0], dim=0)  # (c,)
            a2 = torch.softmax(x2.mean(dim=(2, 3))[0], dim=0)
            weight_map = torch.einsum("c,chw->hw", a1, x2[0]) + torch.einsum("c,chw->hw", a2, x1[0])
            # 4. re-weighting
            out[i, g * c : (g + 1) * c] = xg[0] * torch.sigmoid(weight_map)
    return out


def _randomise(module: nn.Module) -> None:
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)


def test_ema_matches_the_spec_reference() -> None:
    ema = EMA(24, groups=3)
    _randomise(ema)
    x = torch.randn(2, 24, 5, 7)
    torch.testing.assert_close(ema(x), _ema_reference(ema, x), atol=1e-5, rtol=1e-5)


def test_td_is_reference_ema_over_frames_of_each_channel() -> None:
    b, t, c, h, w = 1, 3, 4, 4, 5
    td = TemporalDisentangle(c, t)
    _randomise(td)
    x = torch.randn(b, t, c, h, w)
    regrouped = torch.stack([x[:, :, ci] for ci in range(c)], dim=1).reshape(b, c * t, h, w)
    ref = _ema_reference(td.ema, regrouped).reshape(b, c, t, h, w).transpose(1, 2)
    torch.testing.assert_close(td(x), ref, atol=1e-5, rtol=1e-5)


def test_encoder_layer_is_pre_ln_with_pos_on_queries_and_keys_only() -> None:
    torch.manual_seed(0)
    d = 16
    layer = EncoderLayer(d, 4, 32, 0.0).eval()
    ref = nn.TransformerEncoderLayer(d, 4, 32, 0.0, batch_first=True, norm_first=True).eval()
    state = {
        k.replace("ffn.0", "linear1").replace("ffn.3", "linear2"): v
        for k, v in layer.state_dict().items()
    }
    ref.load_state_dict(state, strict=True)
    x, pos = torch.randn(2, 9, d), torch.randn(1, 9, d)
    with torch.no_grad():
        torch.testing.assert_close(layer(x, None), ref(x))
        # With pos: attention reads LN(x)+pos as queries/keys, LN(x) as values.
        h = layer.norm1(x)
        attn = layer.self_attn(h + pos, h + pos, h, need_weights=False)[0]
        y = x + attn
        expected = y + layer.ffn(layer.norm2(y))
        torch.testing.assert_close(layer(x, pos), expected)
