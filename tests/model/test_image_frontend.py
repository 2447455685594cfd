"""Image front-end: backbone split shapes, parameter counts, clip protocol, crop geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stdformer.inference.model_input import input_crop, prepare
from stdformer.model.backbones import build_backbone, count_parameters
from stdformer.model.config import image_config
from stdformer.model.image_frontend import (
    IMAGENET_MEAN_RGB,
    IMAGENET_STD_RGB,
    ImageFrontEnd,
    crop_affine,
    crop_and_normalize,
    crop_box_from_center_scale,
)
from stdformer.types import Observation

# Golden counts without the unused ImageNet classifier (fc 2048 -> 1000 = 2,049,000 params).
# With it they equal the published figures: HRNet-W64-C 128,059,944 (the authors' training log,
# "128.06 M"), HRNet-W32-C 41,232,680, torchvision ResNet-50 25,557,032.
CLASSIFIER_PARAMS = 2048 * 1000 + 1000
GOLDEN_PARAMS = {"hrnet_w64": 126_010_944, "hrnet_w32": 39_183_680, "resnet50": 23_508_032}


@pytest.mark.parametrize("name", sorted(GOLDEN_PARAMS))
def test_backbone_parameter_counts(name: str) -> None:
    assert count_parameters(build_backbone(name)) == GOLDEN_PARAMS[name]
    if name == "hrnet_w64":
        assert GOLDEN_PARAMS[name] + CLASSIFIER_PARAMS == 128_059_944


@pytest.mark.parametrize("name", ["resnet50", "hrnet_w32"])
def test_backbone_split_shapes_at_224(name: str) -> None:
    torch.manual_seed(0)
    net = build_backbone(name).eval()
    with torch.no_grad():
        f = net.stem_layer1(torch.randn(1, 3, 224, 224))
        assert f.shape == (1, 256, 56, 56)
        y = net.rest(f)
    assert y.shape == (1, 2048, 7, 7)
    assert torch.isfinite(y).all()


def test_unknown_backbone_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("vgg16")


@pytest.fixture(scope="module")
def frontend() -> ImageFrontEnd:
    torch.manual_seed(0)
    return ImageFrontEnd(image_config(preset="S", backbone="resnet50", T=3)).eval()


def test_frontend_protocol_shapes_and_clip_equivalence(frontend: ImageFrontEnd) -> None:
    assert (frontend.kind, frontend.n_tokens, frontend.token_grid_hw) == ("image", 49, (7, 7))
    torch.manual_seed(1)
    x = torch.randn(1, 3, 3, 224, 224)  # (B, T, 3, 224, 224)
    with torch.no_grad():
        feats = frontend.encode_frame(x[0])  # (T, 256, 56, 56)
        assert feats.shape == (3, 256, 56, 56)
        fused = frontend.disentangle(feats[None])
        assert fused.shape == (1, 3, 256, 56, 56)
        tok = frontend.tokens(fused[0])
        assert tok.shape == (3, 49, 512)
        clip = frontend(x)
    assert clip.shape == (1, 3, 49, 512)
    torch.testing.assert_close(clip[0], tok)
    with torch.no_grad():
        last = frontend.disentangle_frame(feats[None], 2)  # streaming: newest frame only
    torch.testing.assert_close(last, fused[:, 2], rtol=1e-5, atol=1e-5)
    # Token order is row-major over the 7x7 grid of conv_1x1's output.
    with torch.no_grad():
        grid = frontend.conv_1x1(frontend.feature_map(fused[0]))  # (T, 512, 7, 7)
    torch.testing.assert_close(tok[:, 7 * 2 + 5], grid[:, :, 2, 5])


def test_frontend_frames_interact_only_through_disentangle(frontend: ImageFrontEnd) -> None:
    torch.manual_seed(2)
    feats = torch.randn(1, 3, 256, 56, 56)
    changed = feats.clone()
    changed[:, 2] += torch.randn(256, 56, 56)
    with torch.no_grad():
        a, b = frontend.disentangle(feats), frontend.disentangle(changed)
    assert (a[:, 0] - b[:, 0]).abs().max() > 1e-6  # TD carried frame 2 into frame 0
    with torch.no_grad():
        t0 = frontend.tokens(a[:, 0])
        t0_again = frontend.tokens(torch.cat([a[:, 0], b[:, 1]]))[:1]
    torch.testing.assert_close(t0, t0_again)  # tokens() is per frame (eval-mode BN)


def test_sd_td_parameters_get_gradients_through_the_frontend() -> None:
    torch.manual_seed(3)
    fe = ImageFrontEnd(image_config(preset="S", backbone="resnet50", T=2)).train()
    x = torch.randn(1, 2, 3, 64, 64)  # small crops keep this fast; shapes scale down
    fe(x).square().mean().backward()
    for name, p in fe.disentangle_block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def _gradient_image(h: int = 300, w: int = 400) -> np.ndarray:
    """B channel = x index, G channel = y index (mod 256), R = 0: a sampling ruler."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = (np.arange(w)[None, :] % 256).astype(np.uint8)
    img[:, :, 1] = (np.arange(h)[:, None] % 256).astype(np.uint8)
    return img


def _unnormalize(crop: torch.Tensor) -> np.ndarray:
    """(3, S, S) normalised RGB -> (S, S, 3) BGR in 0..255 float."""
    rgb = crop.numpy().transpose(1, 2, 0) * IMAGENET_STD_RGB + IMAGENET_MEAN_RGB
    return rgb[:, :, ::-1] * 255.0


def test_crop_maps_box_centre_to_crop_centre_and_scales() -> None:
    img = _gradient_image()
    box = np.array([100.0, 40.0, 212.0, 152.0], np.float32)  # side 112 -> zoom x2, centre 156,96
    crop = _unnormalize(crop_and_normalize(img, box))  # (224, 224, 3)
    assert crop.shape == (224, 224, 3)
    # The crop centre lies between crop pixels 111 and 112; the box centre (156, 96) in
    # continuous coordinates is between image pixels 155 and 156 (x), 95 and 96 (y).
    x_at_centre = 0.5 * (crop[112, 111, 0] + crop[112, 112, 0])
    y_at_centre = 0.5 * (crop[111, 112, 1] + crop[112, 112, 1])
    assert x_at_centre == pytest.approx(155.5, abs=0.6)
    assert y_at_centre == pytest.approx(95.5, abs=0.6)
    # Zoom 2: 100 crop pixels span 50 image pixels.
    assert crop[112, 160, 0] - crop[112, 60, 0] == pytest.approx(50.0, abs=1.0)
    # Matrix form agrees: box corner -> crop corner (continuous), i.e. index -0.5.
    m = crop_affine(box)
    corner_idx = m @ np.array([100.0 - 0.5, 40.0 - 0.5, 1.0])
    np.testing.assert_allclose(corner_idx, [-0.5, -0.5], atol=1e-9)


def test_crop_outside_image_is_black_and_non_square_box_is_extended() -> None:
    img = np.full((100, 100, 3), 200, np.uint8)
    box = np.array([50.0, -50.0, 150.0, 50.0], np.float32)  # right/top half leaves the image
    crop = _unnormalize(crop_and_normalize(img, box))
    assert np.allclose(crop[168, 56], 200, atol=1)  # inside the image (x 75, y 25)
    assert np.allclose(crop[168, 168], 0, atol=1)  # right of the image
    assert np.allclose(crop[20, 56], 0, atol=1)  # above the image
    with pytest.raises(ValueError, match="uint8"):
        crop_and_normalize(img.astype(np.float32), box)
    tall = np.array([40.0, 0.0, 60.0, 100.0])  # 20 x 100 -> square of side 100 around (50, 50)
    np.testing.assert_allclose(crop_affine(tall), crop_affine([0.0, 0.0, 100.0, 100.0]))


def test_crop_rotation_and_flip_augmentation() -> None:
    box = np.array([100.0, 40.0, 212.0, 152.0])  # centre (156, 96), zoom x2

    def to_crop(m: np.ndarray, p: tuple[float, float]) -> np.ndarray:
        """Continuous image point -> continuous crop point (index form is continuous - 0.5)."""
        return m @ np.array([p[0] - 0.5, p[1] - 0.5, 1.0]) + 0.5

    rot = crop_affine(box, rotation_deg=90.0)
    # 90 deg counter-clockwise on screen: a point right of the centre ends up above it.
    np.testing.assert_allclose(to_crop(rot, (166.0, 96.0)), [112.0, 92.0], atol=1e-9)
    np.testing.assert_allclose(to_crop(rot, (156.0, 96.0)), [112.0, 112.0], atol=1e-9)
    flip = crop_affine(box, flip=True)
    np.testing.assert_allclose(to_crop(flip, (166.0, 100.0)), [92.0, 120.0], atol=1e-9)
    img = _gradient_image()
    plain = _unnormalize(crop_and_normalize(img, box.astype(np.float32)))
    mirrored = _unnormalize(crop_and_normalize(img, box.astype(np.float32), flip=True))
    np.testing.assert_allclose(mirrored, plain[:, ::-1], atol=1.01)


def test_center_scale_box_and_prepare() -> None:
    box = crop_box_from_center_scale(np.array([320.0, 240.0]), 1.5)
    np.testing.assert_allclose(box, [170.0, 90.0, 470.0, 390.0])
    obs = Observation(
        landmarks_px=np.zeros((33, 3), np.float32),
        visibility=np.ones(33, np.float32),
        presence=np.ones(33, np.float32),
        world_landmarks=np.zeros((33, 3), np.float32),
        bbox_xyxy=box,
        crop_xyxy=box,
        image_size_wh=(640, 480),
        t_ns=0,
        index=0,
    )
    img = _gradient_image(480, 640)
    x = prepare("image", obs, img)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    torch.testing.assert_close(x, crop_and_normalize(img, box))
    with pytest.raises(ValueError):
        prepare("image", obs, None)
    np.testing.assert_array_equal(input_crop("image", obs), box)


def test_imagenet_weights_load_strictly_dropping_only_the_classifier(tmp_path) -> None:
    from stdformer.model.backbones import load_imagenet_weights
    from stdformer.paths import BadFileError, MissingFileError

    src = build_backbone("resnet50")
    state = dict(src.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    torch.save(state, tmp_path / "resnet50.pth")
    dst = build_backbone("resnet50")
    assert load_imagenet_weights(dst, tmp_path / "resnet50.pth") == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(dst.layer3[2].conv2.weight, src.layer3[2].conv2.weight)
    state.pop("layer4.2.bn3.running_var")
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(BadFileError, match="running_var"):
        load_imagenet_weights(dst, tmp_path / "partial.pth")
    with pytest.raises(MissingFileError):
        load_imagenet_weights(dst, tmp_path / "missing.pth")


@pytest.mark.slow
def test_image_streaming_equals_clip_mode(sphere_levels, observations) -> None:
    """The predictor's cached-feature path with the image front-end == clip mode on crops."""
    from stdformer.inference.predictor import (
        Predictor,
        PredictorConfig,
        focal_length_px,
        weak_to_full_translation,
    )
    from stdformer.model.stdformer import build_model

    cfg = image_config(
        "S", "resnet50", T=3, d_model=(32, 16), ffn_dim=(64, 32), n_heads=(4, 2), dropout=0.0
    )
    model = build_model(cfg, sphere_levels).eval()
    rng = np.random.default_rng(3)
    obs = observations[:3]
    images = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in obs]
    crops = torch.stack(
        [crop_and_normalize(im, o.crop_xyxy) for im, o in zip(images, obs, strict=True)]
    )
    pred = Predictor(model, PredictorConfig(lookahead=1, device="cpu"))
    results = [pred.push(o, im) for o, im in zip(obs, images, strict=True)]
    assert results[0] is None
    for i in range(1, len(obs)):
        window = crops[[max(j, 0) for j in range(i - 2, i + 1)]]  # warm-up pads with frame 0
        with torch.inference_mode():
            out = model(window[None])
        frame, slot = i - 1, 1  # look-ahead 1: the middle of the 3-frame window
        o = obs[frame]
        f = focal_length_px(o.image_size_wh)
        transl = weak_to_full_translation(
            out.cam_wp[0, slot].numpy(), o.crop_xyxy, o.image_size_wh, f
        )
        expected = out.verts_full[0, slot].numpy() + transl
        np.testing.assert_allclose(results[i].vertices_cam, expected, rtol=1e-4, atol=1e-4)
