"""SD / TD / fusion: shapes, gradient flow, frame mixing, regrouping order, parameter count."""

from __future__ import annotations

import pytest
import torch

from stdformer.model.disentangle import (
    DisentangleBlock,
    SigmoidFusion,
    SpatialDisentangle,
    TemporalDisentangle,
    channel_groups_to_frames,
    frames_to_channel_groups,
)
from stdformer.model.ema import EMA


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial weights (GroupNorm starts at identity affine; perturb it too)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)


@pytest.mark.parametrize(("h", "w"), [(7, 5), (6, 1), (1, 4), (1, 1)])
def test_ema_shapes_including_singleton_axes(h: int, w: int) -> None:
    ema = EMA(32, groups=4)
    x = torch.randn(3, 32, h, w)
    y = ema(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_ema_output_is_input_times_a_gate_in_0_1() -> None:
    """EMA only re-weights: y / x lies in (0, 1) and is shared by the channels of one group."""
    torch.manual_seed(0)
    ema = EMA(12, groups=3)
    _randomise(ema)
    x = torch.rand(2, 12, 5, 6) + 0.5  # positive, away from 0
    ratio = ema(x) / x  # (2, 12, 5, 6)
    assert (ratio > 0).all() and (ratio < 1).all()
    per_group = ratio.reshape(2, 3, 4, 5, 6)
    torch.testing.assert_close(per_group, per_group[:, :, :1].expand_as(per_group))


def test_ema_rejects_bad_grouping() -> None:
    with pytest.raises(ValueError):
        EMA(30, groups=4)
    with pytest.raises(ValueError):
        EMA(32, groups=4)(torch.randn(1, 16, 3, 3))


def test_regrouping_index_is_c_times_t_plus_t() -> None:
    b, t, c, h, w = 2, 3, 4, 2, 2
    x = torch.randn(b, t, c, h, w)
    y = frames_to_channel_groups(x)  # (B, C*T, H, W)
    assert y.shape == (b, c * t, h, w)
    for ci in range(c):
        for ti in range(t):
            torch.testing.assert_close(y[:, ci * t + ti], x[:, ti, ci], rtol=0, atol=0)
    torch.testing.assert_close(channel_groups_to_frames(y, t), x, rtol=0, atol=0)


def test_block_shapes_token_layout_and_map_layout() -> None:
    block = DisentangleBlock(channels=32, num_frames=4, sd_groups=4)
    for shape in [(2, 4, 32, 9, 7), (2, 4, 32, 17, 1)]:
        x = torch.randn(*shape)
        assert block(x).shape == shape
    with pytest.raises(ValueError):
        block(torch.randn(2, 5, 32, 3, 3))  # wrong T
    with pytest.raises(ValueError):
        block(torch.randn(2, 4, 16, 3, 3))  # wrong C


def test_gradients_reach_sd_td_and_ema_parameters() -> None:
    torch.manual_seed(1)
    block = DisentangleBlock(channels=32, num_frames=4, sd_groups=4)
    _randomise(block)
    x = torch.randn(2, 4, 32, 6, 5, requires_grad=True)
    (block(x) ** 2).sum().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name
    assert x.grad is not None and x.grad.abs().sum() > 0
    names = {n for n, _ in block.named_parameters()}
    for part in ("sd.ema.conv1x1", "sd.ema.conv3x3", "sd.ema.gn", "td.ema.conv1x1", "td.ema.gn"):
        assert any(n.startswith(part) for n in names), part


def _frame_change_effect(module: torch.nn.Module, t_changed: int) -> torch.Tensor:
    """Max abs output change per frame when only frame `t_changed` of the input changes."""
    torch.manual_seed(2)
    x = torch.randn(1, 4, 32, 5, 5)
    x2 = x.clone()
    x2[:, t_changed] += torch.randn_like(x2[:, t_changed])
    with torch.no_grad():
        diff = (module(x2) - module(x)).abs()  # (1, T, C, H, W)
    return diff.amax(dim=(0, 2, 3, 4))  # (T,)


def test_td_mixes_frames_sd_does_not() -> None:
    torch.manual_seed(3)
    sd = SpatialDisentangle(32, groups=4)
    td = TemporalDisentangle(32, num_frames=4)
    block = DisentangleBlock(channels=32, num_frames=4, sd_groups=4)
    for m in (sd, td, block):
        _randomise(m)
    sd_effect = _frame_change_effect(sd, t_changed=1)
    assert sd_effect[1] > 1e-3
    assert torch.all(sd_effect[[0, 2, 3]] == 0)
    for m in (td, block):
        effect = _frame_change_effect(m, t_changed=1)
        assert torch.all(effect > 1e-4), effect


def test_fusion_is_convex_combination_with_sigmoid_gap_weight() -> None:
    sd = torch.randn(2, 3, 4, 5, 5)
    td = torch.randn(2, 3, 4, 5, 5)
    fused = SigmoidFusion()(sd, td)
    alpha = torch.sigmoid((sd + td).mean(dim=(3, 4), keepdim=True))
    torch.testing.assert_close(fused, alpha * sd + (1 - alpha) * td)
    # Golden value: SD+TD with zero mean -> alpha = 0.5 -> plain average.
    a = torch.tensor([[1.0, -1.0], [2.0, -2.0]]).reshape(1, 1, 2, 2)
    b = torch.tensor([[0.0, 0.0], [0.0, 0.0]]).reshape(1, 1, 2, 2)
    torch.testing.assert_close(SigmoidFusion()(a, b), a * 0.5)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_at_paper_size() -> None:
    """C=256, T=8: SD (16 groups of 16) 2624 + TD (256 groups of 8) 672 = 3296 (~3k, spec)."""
    block = DisentangleBlock(channels=256, num_frames=8, sd_groups=16)
    assert count(block.sd) == 16 * 16 + 16 + 9 * 16 * 16 + 16 + 2 * 16 == 2624
    assert count(block.td) == 8 * 8 + 8 + 9 * 8 * 8 + 8 + 2 * 8 == 672
    assert count(block) == 3296


def test_single_frame_path_equals_clip_output() -> None:
    """`frame(x, t)` (streaming: one output frame) == `forward(x)[:, t]` for every t."""
    torch.manual_seed(4)
    block = DisentangleBlock(channels=32, num_frames=4, sd_groups=4)
    _randomise(block)
    x = torch.randn(2, 4, 32, 6, 5)
    with torch.no_grad():
        full = block(x)
        for t in range(4):
            torch.testing.assert_close(block.frame(x, t), full[:, t], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(block.td.frame(x, 2), block.td(x)[:, 2], rtol=1e-5, atol=1e-6)


def test_td_is_ema_on_the_regrouped_clip() -> None:
    """TD == regroup (c*T + t) -> EMA with C groups of T channels -> regroup back (spec)."""
    torch.manual_seed(5)
    td = TemporalDisentangle(32, num_frames=4)
    _randomise(td)
    x = torch.randn(2, 4, 32, 6, 5)
    with torch.no_grad():
        reference = channel_groups_to_frames(td.ema(frames_to_channel_groups(x)), 4)
        torch.testing.assert_close(td(x), reference, rtol=1e-5, atol=1e-6)
    assert td.ema.groups == 32 and td.ema.group_channels == 4


def test_channels_last_fast_path_matches_default_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    import stdformer.model.ema as ema_module

    torch.manual_seed(6)
    ema = EMA(32, groups=4)
    _randomise(ema)
    x = torch.randn(2, 32, 16, 20)  # 320 positions: above the channels-last threshold
    with torch.no_grad():
        fast = ema(x)
        monkeypatch.setattr(ema_module, "_CHANNELS_LAST_MIN_HW", 10**9)
        plain = ema(x)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
