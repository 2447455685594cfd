"""Streaming inference: equality with clip mode, causality, warm-up, look-ahead, camera."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from stdformer.inference.buffer import FeatureBuffer
from stdformer.inference.model_input import input_crop, observations_to_tensor
from stdformer.inference.predictor import (
    Predictor,
    PredictorConfig,
    focal_length_px,
    weak_to_full_translation,
)
from stdformer.inference.roll import quarter_rotation, turn_observation
from stdformer.model.stdformer import build_model, project_weak_perspective


@pytest.fixture
def model(sphere_levels, tiny_landmark_config):
    return build_model(tiny_landmark_config, sphere_levels).eval()


def _clip_window(x: torch.Tensor, i: int, T: int) -> torch.Tensor:
    """Frames i-T+1..i of x (N, ...), indices < 0 replaced by frame 0 (the warm-up padding)."""
    idx = [max(j, 0) for j in range(i - T + 1, i + 1)]
    return x[idx]


@pytest.mark.parametrize("lookahead", [0, 2])
def test_streaming_equals_clip_mode(model, observations, lookahead) -> None:
    T = model.T
    pred = Predictor(model, PredictorConfig(lookahead=lookahead, device="cpu"))
    x = observations_to_tensor(observations)  # (N, 33, 8)
    results = [pred.push(o) for o in observations]
    assert all(r is None for r in results[:lookahead])
    assert all(r is not None for r in results[lookahead:])
    for i in range(lookahead, len(observations)):
        res = results[i]
        frame = i - lookahead
        assert res.index == observations[frame].index
        with torch.inference_mode():
            out = model(_clip_window(x, i, T)[None])  # the same window in clip mode
        slot = T - 1 - lookahead
        cam = out.cam_wp[0, slot].numpy()
        obs = observations[frame]
        f = focal_length_px(obs.image_size_wh)
        transl = weak_to_full_translation(cam, input_crop("landmarks", obs), obs.image_size_wh, f)
        expected = out.verts_full[0, slot].numpy() + transl
        np.testing.assert_allclose(res.vertices_cam, expected, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(
            res.joints_cam, out.joints[0, slot].numpy() + transl, atol=1e-5, rtol=1e-5
        )
    tail = pred.flush()
    assert [r.index for r in tail] == [
        o.index for o in observations[len(observations) - lookahead :]
    ]


def test_a_person_lying_down_midstream_turns_the_whole_window(model, observations) -> None:
    """Upright for 4 frames, then lying (head to the right): once that held 0.2 s (frame 11,
    frames 33 ms apart), every frame of the window is shown to the network upright (the
    earlier ones encoded again), and the output is the clip-mode output of that window turned
    back."""
    T = model.T
    sure = np.zeros(33, np.float32)
    sure[[11, 12, 23, 24, 25, 26, 27, 28]] = 0.9  # shoulders, hips, legs in view
    observations = [
        dataclasses.replace(o, visibility=np.maximum(o.visibility, sure),
                            presence=np.maximum(o.presence, sure))
        for o in observations
    ]  # fmt: skip
    obs = [o if i < 4 else turn_observation(o, 1) for i, o in enumerate(observations)]
    pred = Predictor(model, PredictorConfig(device="cpu"))
    results = [pred.push(o) for o in obs]
    assert pred.quarter == 1
    upright = observations_to_tensor([turn_observation(o, -1) for o in obs])
    for i in range(11, len(obs)):
        start = max(0, i - T + 1)
        with torch.inference_mode():
            out = model(upright[[max(j, start) for j in range(i - T + 1, i + 1)]][None])
        seen = turn_observation(obs[i], -1)
        f = focal_length_px(seen.image_size_wh)
        cam = out.cam_wp[0, T - 1].numpy()
        transl = weak_to_full_translation(cam, input_crop("landmarks", seen), seen.image_size_wh, f)
        expected = (out.verts_full[0, T - 1].numpy() + transl) @ quarter_rotation(1).T
        np.testing.assert_allclose(results[i].vertices_cam, expected, atol=1e-4, rtol=1e-4)


def test_causal_output_ignores_future_frames(model, observations, observation_factory) -> None:
    """The mesh emitted for frame i is the same whatever frames come after it."""
    other_future = [observation_factory(i, np.random.default_rng(99)) for i in range(6, 12)]
    a = Predictor(model, PredictorConfig(device="cpu"))
    b = Predictor(model, PredictorConfig(device="cpu"))
    res_a = [a.push(o) for o in observations]
    res_b = [b.push(o) for o in observations[:6] + other_future]
    for i in range(6):
        np.testing.assert_array_equal(res_a[i].vertices_cam, res_b[i].vertices_cam)
    assert not np.allclose(res_a[6].vertices_cam, res_b[6].vertices_cam)


def test_lookahead_output_uses_the_future(model, observations, observation_factory) -> None:
    """With look-ahead 2, frame i's mesh depends on frame i+2 (that is what the latency buys)."""
    alt = [*observations[:5], observation_factory(5, np.random.default_rng(7))]
    a = Predictor(model, PredictorConfig(lookahead=2, device="cpu"))
    b = Predictor(model, PredictorConfig(lookahead=2, device="cpu"))
    ra = [a.push(o) for o in observations[:6]][-1]
    rb = [b.push(o) for o in alt][-1]
    assert ra.index == rb.index == 3
    assert not np.allclose(ra.vertices_cam, rb.vertices_cam)


def test_reset_starts_a_new_clip(model, observations) -> None:
    pred = Predictor(model, PredictorConfig(device="cpu"))
    for o in observations[:7]:
        pred.push(o)
    pred.reset()
    fresh = Predictor(model, PredictorConfig(device="cpu"))
    np.testing.assert_array_equal(
        pred.push(observations[8]).vertices_cam, fresh.push(observations[8]).vertices_cam
    )


def test_buffer_pads_with_first_frame() -> None:
    buf = FeatureBuffer(4)
    with pytest.raises(RuntimeError):
        buf.window()
    for v in (1.0, 2.0):
        buf.push(torch.tensor([v]))
    assert buf.window().flatten().tolist() == [1.0, 1.0, 1.0, 2.0]
    for v in (3.0, 4.0, 5.0):
        buf.push(torch.tensor([v]))
    assert buf.window().flatten().tolist() == [2.0, 3.0, 4.0, 5.0]
    buf.reset()
    assert len(buf) == 0 and buf.frames_pushed == 0


def test_camera_projection_lands_on_weak_perspective_2d(observation_factory) -> None:
    """K @ vertices_cam reproduces the weak-perspective 2D prediction in full-image pixels."""
    obs = observation_factory(0, np.random.default_rng(3), (1280, 720))
    rng = np.random.default_rng(4)
    points = rng.normal(0, 0.3, (50, 3))
    cam = np.array([0.9, 0.05, -0.1])
    f = focal_length_px(obs.image_size_wh)
    assert f == pytest.approx(640.0 / np.tan(np.radians(30.0)))  # 60 deg across the long side
    transl = weak_to_full_translation(cam, obs.crop_xyxy, obs.image_size_wh, f)
    K = np.array([[f, 0, 640.0], [0, f, 360.0], [0, 0, 1]])

    def to_pixels(p3):
        uvw = (p3 + transl) @ K.T
        return uvw[:, :2] / uvw[:, 2:]

    crop = obs.crop_xyxy.astype(np.float64)
    centre, half = 0.5 * (crop[:2] + crop[2:]), 0.5 * (crop[2] - crop[0])
    xy_n = project_weak_perspective(torch.as_tensor(points), torch.as_tensor(cam)).numpy()
    expected = centre + half * xy_n  # crop-normalised -> full-image pixels
    flat = points.copy()
    flat[:, 2] = 0.0  # at the root's depth the two cameras agree exactly
    np.testing.assert_allclose(to_pixels(flat), centre + half * xy_n, atol=1e-6)
    # elsewhere: the weak-perspective error, bounded by the relative depth |Z| / Tz
    err = np.linalg.norm(to_pixels(points) - expected, axis=1)
    offset = np.linalg.norm(expected - [640.0, 360.0], axis=1)
    assert np.all(err <= offset * np.abs(points[:, 2]) / (transl[2] - np.abs(points[:, 2])) + 1e-6)


def test_mesh_result_uses_configured_fov(model, observations) -> None:
    pred = Predictor(model, PredictorConfig(device="cpu", fov_deg=90.0))
    res = pred.push(observations[0])
    w, h = observations[0].image_size_wh
    np.testing.assert_allclose(res.K, [[w / 2, 0, w / 2], [0, w / 2, h / 2], [0, 0, 1]], rtol=1e-6)
    assert res.vertices_cam.dtype == np.float32 and res.vertices_cam.shape == (642, 3)
    assert np.all(res.vertices_cam[:, 2] != 0) and "network" in res.timings_ms


def test_bad_options_are_rejected(model) -> None:
    with pytest.raises(ValueError, match="lookahead"):
        Predictor(model, PredictorConfig(lookahead=4, device="cpu"))
    with pytest.raises(ValueError, match="precision"):
        Predictor(model, PredictorConfig(precision="fp8", device="cpu"))


@pytest.mark.requires_cuda
def test_cuda_streaming_matches_cpu(sphere_levels, tiny_landmark_config, observations) -> None:
    cpu_model = build_model(tiny_landmark_config, sphere_levels).eval()
    cuda_model = build_model(tiny_landmark_config, sphere_levels).eval()
    cuda_model.load_state_dict(cpu_model.state_dict())
    a = Predictor(cpu_model, PredictorConfig(device="cpu"))
    b = Predictor(cuda_model, PredictorConfig(device="cuda"))
    for o in observations:
        np.testing.assert_allclose(a.push(o).vertices_cam, b.push(o).vertices_cam, atol=1e-4)


def test_image_frontend_streaming_equals_clip_mode(sphere_levels, observations) -> None:
    """The image path (crop -> ResNet-50 layer1 cache -> SD/TD -> rest) streams exactly too."""
    from stdformer.model.config import image_config
    from stdformer.model.image_frontend import crop_and_normalize

    cfg = image_config("S", "resnet50", T=2, d_model=(32, 16), ffn_dim=(64, 32), n_heads=(4, 4))
    model = build_model(cfg, sphere_levels).eval()
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(3)]
    pred = Predictor(model, PredictorConfig(device="cpu"))
    results = [pred.push(o, im) for o, im in zip(observations[:3], images, strict=True)]
    crops = torch.stack(
        [
            crop_and_normalize(im, o.crop_xyxy)
            for o, im in zip(observations[:3], images, strict=True)
        ]
    )  # (3, 3, 224, 224)
    with torch.inference_mode():
        out = model(crops[[1, 2]][None])  # window of frame 2
    obs = observations[2]
    f = focal_length_px(obs.image_size_wh)
    transl = weak_to_full_translation(out.cam_wp[0, 1].numpy(), obs.crop_xyxy, obs.image_size_wh, f)
    np.testing.assert_allclose(
        results[2].vertices_cam, out.verts_full[0, 1].numpy() + transl, atol=1e-5, rtol=1e-5
    )
    with pytest.raises(ValueError, match="image"):
        pred.push(observations[3])  # the image front-end cannot run without the frame


def test_a_wider_field_of_view_brings_the_body_nearer_on_the_same_pixels(model, observations):
    """The field of view only places the body: with f 1.5x shorter the same body sits at about
    1/1.5 of the depth and projects onto the same pixels (the default is a 60 deg webcam)."""
    size = observations[0].image_size_wh
    assert focal_length_px(size) == pytest.approx(0.5 * max(size) / np.tan(np.radians(30)))
    narrow = Predictor(model, PredictorConfig(device="cpu", fov_deg=60.0)).push(observations[0])
    f_wide = focal_length_px(size) / 1.5
    wide_deg = 2 * np.degrees(np.arctan(0.5 * max(size) / f_wide))
    wide = Predictor(model, PredictorConfig(device="cpu", fov_deg=wide_deg)).push(observations[0])
    moved = wide.vertices_cam - narrow.vertices_cam  # the same body, translated
    assert np.ptp(moved, axis=0).max() < 1e-4
    assert moved[0, 2] / narrow.joints_cam[0, 2] == pytest.approx(1 / 1.5 - 1, abs=0.02)

    def pixels(res):
        uvw = res.vertices_cam @ res.K.T
        return uvw[:, :2] / uvw[:, 2:]

    assert np.abs(pixels(wide) - pixels(narrow)).max() < 0.05 * max(size)
