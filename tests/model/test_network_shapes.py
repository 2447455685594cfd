"""Shapes, gradients and frame mixing of the STDFormer network at small sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stdformer.body.levels import SparseRows
from stdformer.inference.model_input import (
    input_crop,
    observation_to_tensor,
    observations_to_tensor,
)
from stdformer.model.config import image_config, landmark_config
from stdformer.model.landmark_frontend import (
    CROP_MARGIN,
    flip_landmark_features,
    landmark_crop,
)
from stdformer.model.stdformer import build_model, build_vertex_mask


def test_landmark_model_clip_shapes(sphere_levels, tiny_landmark_config) -> None:
    model = build_model(tiny_landmark_config, sphere_levels)
    out = model(torch.randn(2, 4, 33, 8))
    assert out.cam_wp.shape == (2, 4, 3)
    assert out.joints.shape == (2, 4, 14, 3)
    assert out.verts_coarse.shape == (2, 4, 42, 3)
    assert out.verts_mid.shape == (2, 4, 162, 3)
    assert out.verts_full.shape == (2, 4, 642, 3)
    with pytest.raises(ValueError, match="T=4"):
        model(torch.randn(1, 3, 33, 8))


def test_image_model_clip_shapes(sphere_levels) -> None:
    cfg = image_config("S", "resnet50", T=2, d_model=(64, 32), ffn_dim=(128, 64), n_heads=(4, 4))
    model = build_model(cfg, sphere_levels).eval()
    with torch.inference_mode():
        out = model(torch.randn(1, 2, 3, 224, 224))
    assert out.verts_full.shape == (1, 2, 642, 3)
    assert out.cam_wp.shape == (1, 2, 3)
    assert model.frontend.n_tokens == 49


def test_gradients_reach_sd_and_td(sphere_levels, tiny_landmark_config) -> None:
    model = build_model(tiny_landmark_config, sphere_levels)
    out = model(torch.randn(2, 4, 33, 8))
    (out.verts_full.square().mean() + out.joints.square().mean()).backward()
    block = model.frontend.disentangle_block
    for name, module in (("SD", block.sd), ("TD", block.td)):
        grads = [p.grad for p in module.parameters()]
        assert grads and all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


def test_td_mixes_frames_in_clip_mode(sphere_levels, tiny_landmark_config) -> None:
    model = build_model(tiny_landmark_config, sphere_levels).eval()
    x = torch.randn(1, 4, 33, 8)
    x2 = x.clone()
    x2[0, 3] += 1.0  # change only the last frame
    with torch.inference_mode():
        a, b = model(x), model(x2)
    # Every earlier frame's output changes: frames interact (through TD only).
    for t in range(3):
        assert not torch.allclose(a.verts_full[0, t], b.verts_full[0, t], atol=1e-6), t


def test_frames_interact_only_in_disentangle(sphere_levels, tiny_landmark_config) -> None:
    """With SD/TD bypassed, changing one frame leaves all other frames' outputs identical."""
    model = build_model(tiny_landmark_config, sphere_levels).eval()
    model.frontend.disentangle = lambda feats: feats  # type: ignore[method-assign]
    x = torch.randn(1, 4, 33, 8)
    x2 = x.clone()
    x2[0, 3] += 1.0
    with torch.inference_mode():
        a, b = model(x), model(x2)
    torch.testing.assert_close(a.verts_full[0, :3], b.verts_full[0, :3])


def test_vertex_mask_follows_adjacency(sphere_levels) -> None:
    adj = torch.as_tensor(sphere_levels.coarse_adjacency)
    mask = build_vertex_mask(14, adj)
    assert mask.shape == (56, 56)
    assert not mask[:14].any()  # joints see everything
    assert not mask[14:, :14].any()  # vertices see all joints
    assert torch.equal(mask[14:, 14:], ~adj)


def test_model_mask_blocks_non_neighbours(sphere_levels, tiny_landmark_config) -> None:
    """A vertex token's output ignores a non-adjacent vertex token (checked on the layer)."""
    model = build_model(tiny_landmark_config, sphere_levels).eval()
    mask = model.query_mask
    assert torch.equal(
        torch.isinf(mask), build_vertex_mask(14, torch.as_tensor(sphere_levels.coarse_adjacency))
    )
    layer = model.stage1.decoder.layers[0]
    tgt, memory = torch.randn(1, 56, 32), torch.randn(1, 33, 32)
    far = int(torch.nonzero(torch.isinf(mask[14])).flatten()[0])  # a vertex not next to vertex 0
    tgt2 = tgt.clone()
    tgt2[0, far] += torch.randn(32)  # not a constant shift: LayerNorm would remove it
    with torch.inference_mode():
        a, b = layer(tgt, memory, mask, None), layer(tgt2, memory, mask, None)
    torch.testing.assert_close(a[0, 14], b[0, 14])  # vertex 0 unaffected
    assert not torch.allclose(a[0, 0], b[0, 0])  # a joint token sees it


def test_upsampling_matches_levels(sphere_levels, tiny_landmark_config) -> None:
    model = build_model(tiny_landmark_config, sphere_levels)
    up_cm = torch.as_tensor(sphere_levels.up_coarse_to_mid)
    torch.testing.assert_close(model.mesh_upsampling.weight.detach(), up_cm)
    mid = torch.randn(3, 162, 3)
    dense = torch.as_tensor(sphere_levels.up_mid_to_full) @ mid
    torch.testing.assert_close(model.upsample_full(mid), dense, atol=1e-5, rtol=1e-5)


def test_sparse_rows_golden() -> None:
    m = np.array([[0.0, 0.3, 0.7], [1.0, 0.0, 0.0], [0.0, 0.0, 0.5]], np.float32)
    rows = SparseRows.of(m)
    assert rows.index.tolist() == [[1, 2], [0, 0], [2, 0]] and rows.shape == (3, 3)
    np.testing.assert_array_equal(rows.weight, np.float32([[0.3, 0.7], [1.0, 0.0], [0.5, 0.0]]))
    np.testing.assert_array_equal(rows.dense(), m)  # padding never overwrites column 0
    np.testing.assert_array_equal(rows.to_torch_sparse().to_dense().numpy(), m)


def test_observation_features(observation_factory) -> None:
    obs = observation_factory(0, np.random.default_rng(1))
    x = observation_to_tensor(obs)
    assert x.shape == (33, 8) and x.dtype == torch.float32
    crop = landmark_crop(obs.landmarks_px, obs.presence)
    np.testing.assert_array_equal(input_crop("landmarks", obs), crop)  # the camera's square
    present = obs.presence >= 0.5
    side = (obs.landmarks_px[present, :2].max(0) - obs.landmarks_px[present, :2].min(0)).max()
    assert crop[2] - crop[0] == pytest.approx(side * (1 + 2 * CROP_MARGIN), rel=1e-5)
    half = 0.5 * (crop[2] - crop[0])
    expected_x = (obs.landmarks_px[:, 0] - 0.5 * (crop[0] + crop[2])) / half
    np.testing.assert_allclose(x[:, 0].numpy(), expected_x, atol=1e-5)
    np.testing.assert_allclose(x[:, 5:].numpy(), obs.world_landmarks)
    # present landmarks sit inside the crop, so they map into [-1, 1]
    assert x[present, :2].abs().max() <= 1.0
    assert observations_to_tensor([obs, obs]).shape == (2, 33, 8)
    flipped = flip_landmark_features(x)
    # left shoulder (11) of the mirror image is the right shoulder (12) with x negated
    assert flipped[11, 0] == pytest.approx(-float(x[12, 0]))
    torch.testing.assert_close(flip_landmark_features(flipped), x)


def test_landmark_default_within_budget(smpl_sized_levels) -> None:
    """The embedded default (S) stays under the 10 M parameter target for SMPL-sized levels."""
    model = build_model(landmark_config("S"), smpl_sized_levels)
    assert sum(p.numel() for p in model.parameters()) <= 10_000_000


def test_paper_parameter_count(smpl_sized_levels) -> None:
    """L + HRNet-W64 with SMPL levels: 153.74 M published (incl. the unused 2.05 M classifier)."""
    model = build_model(image_config("L", "hrnet_w64"), smpl_sized_levels)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 153.74e6) / 153.74e6 < 0.02, n
    transformer = n - sum(p.numel() for p in model.frontend.backbone.parameters())
    transformer -= sum(p.numel() for p in model.frontend.disentangle_block.parameters())
    assert abs(transformer - 25.68e6) < 0.01e6, transformer  # FastMETRO-L part: 25.68 M


def test_cached_query_attention_matches_autograd_path(sphere_levels, tiny_landmark_config) -> None:
    model = build_model(tiny_landmark_config, sphere_levels).eval()
    tok = torch.randn(2, 33, 32)
    with torch.no_grad():
        cached = model.head(tok).verts_full
    reference = model.head(tok).verts_full.detach()  # grad enabled: no cache
    torch.testing.assert_close(cached, reference)
    with torch.no_grad():  # an in-place weight change invalidates the cache
        model.vertex_token_embed.weight.mul_(2.0)
        changed = model.head(tok).verts_full
    torch.testing.assert_close(changed, model.head(tok).verts_full.detach())
    assert not torch.allclose(changed, cached)


def test_sine_position_encoding_golden() -> None:
    from stdformer.model.frontend import sine_position_encoding

    pe = sine_position_encoding(7, 7, 8)  # (49, 8): 4 row features, 4 column features
    assert pe.shape == (49, 8)
    y1 = 1 / (7 + 1e-6) * 2 * np.pi  # first row, normalised angle
    # row features of token 0: sin(y), cos(y), sin(y / 100), cos(y / 100) (dim_t = 10000^(2k/4))
    np.testing.assert_allclose(
        pe[0, :4], [np.sin(y1), np.cos(y1), np.sin(y1 / 100), np.cos(y1 / 100)], atol=1e-6
    )
    torch.testing.assert_close(pe[0, :4], pe[6, :4])  # same row, same row features
    torch.testing.assert_close(pe[0, 4:], pe[7, 4:])  # same column, same column features
    column = sine_position_encoding(33, 1, 16)  # landmarks: all 16 features vary with the row
    assert column.shape == (33, 16)
    assert bool((column.std(dim=0) > 0).all())
