"""Official-checkpoint converter: FastMETRO/HRNet key names -> ours, with a full report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stdformer.body.levels import MeshLevels
from stdformer.model.config import image_config
from stdformer.model.convert_official import (
    SD_PREFIX,
    TD_PREFIX,
    apply_conversion,
    convert_state_dict,
    load_official_state_dict,
    official_to_ours,
    ours_to_official,
)
from stdformer.model.stdformer import build_model
from stdformer.paths import BadFileError, MissingFileError

VC, VM, VF = 12, 24, 48
W = 32  # HRNet-W32 keeps the model small; key layout is the same as W64


def _levels() -> MeshLevels:
    """Tiny nested mesh levels (only sizes matter for key names and shapes)."""
    up_cm = np.zeros((VM, VC), np.float32)
    up_cm[np.arange(VM), np.arange(VM) // 2] = 1
    up_mf = np.zeros((VF, VM), np.float32)
    up_mf[np.arange(VF), np.arange(VF) // 2] = 1
    ring = np.abs(np.arange(VC)[:, None] - np.arange(VC)[None, :])
    faces_c = np.stack([np.arange(VC), (np.arange(VC) + 1) % VC, (np.arange(VC) + 2) % VC], 1)
    faces_m = np.stack([np.arange(VM), (np.arange(VM) + 1) % VM, (np.arange(VM) + 2) % VM], 1)
    return MeshLevels(
        down_full_to_mid=(up_mf.T / 2).copy(),
        down_mid_to_coarse=(up_cm.T / 2).copy(),
        up_coarse_to_mid=up_cm,
        up_mid_to_full=up_mf,
        coarse_adjacency=np.minimum(ring, VC - ring) <= 1,
        coarse_faces=faces_c.astype(np.int64),
        mid_faces=faces_m.astype(np.int64),
    )


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(image_config(preset="S", backbone="hrnet_w32", T=8), _levels())


def _official_from(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A synthetic release: our tensors (randomised) under the official names.

    SD/TD sit under made-up names, as the release's names are unknown; the converter must find
    them by their EMA parameter names and group widths. The unused ImageNet classifier is there
    like in the real file.
    """
    gen = torch.Generator().manual_seed(1)
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if key.startswith(SD_PREFIX):
            name = "backbone.ema_spatial." + key[len(SD_PREFIX) :]
        elif key.startswith(TD_PREFIX):
            name = "backbone.ema_temporal." + key[len(TD_PREFIX) :]
        else:
            name = ours_to_official(key)
            assert name is not None, key
        if value.dtype.is_floating_point:
            out[name] = torch.randn(value.shape, generator=gen)
        else:
            out[name] = torch.full_like(value, 7)
    out["backbone.classifier.weight"] = torch.randn(1000, 2048, generator=gen)
    out["backbone.classifier.bias"] = torch.randn(1000, generator=gen)
    return out


def test_official_names_map_to_ours() -> None:
    cases = {
        "backbone.transition1.1.0.0.weight": "frontend.backbone.transition1.1.0.0.weight",
        "transformer_1.encoder.layers.2.linear1.weight": "stage1.encoder.layers.2.ffn.0.weight",
        "transformer_2.decoder.layers.0.multihead_attn.in_proj_weight": (
            "stage2.decoder.layers.0.cross_attn.in_proj_weight"
        ),
        "transformer_2.decoder.layers.1.linear2.bias": "stage2.decoder.layers.1.ffn.3.bias",
        "transformer_1.decoder.norm.weight": "stage1.decoder.norm.weight",
        "coarse2intermediate_upsample.weight": "mesh_upsampling.weight",
        "upsampling.bias": "mesh_upsampling.bias",
        "conv_1x1.weight": "frontend.conv_1x1.weight",
        "cam_token_embed.weight": "cam_token_embed.weight",
    }
    for official, ours in cases.items():
        assert official_to_ours(official) == ours
    assert official_to_ours("smpl_parameter_regressor.fc1.weight") is None


def test_hrnet_keys_follow_the_official_layout(model: torch.nn.Module) -> None:
    """Names and shapes the HRNet classification code produces (W = 32 here)."""
    state = model.state_dict()
    golden = {
        "backbone.conv1.weight": (64, 3, 3, 3),
        "backbone.layer1.0.downsample.1.running_var": (256,),
        "backbone.transition1.0.0.weight": (W, 256, 3, 3),
        "backbone.transition1.1.0.0.weight": (2 * W, 256, 3, 3),
        "backbone.transition3.3.0.1.weight": (8 * W,),
        "backbone.stage2.0.branches.1.3.conv2.weight": (2 * W, 2 * W, 3, 3),
        "backbone.stage2.0.fuse_layers.1.0.0.0.weight": (2 * W, W, 3, 3),
        "backbone.stage3.3.fuse_layers.2.0.0.1.bias": (W,),
        "backbone.stage3.3.fuse_layers.2.0.1.0.weight": (4 * W, W, 3, 3),
        "backbone.stage4.2.fuse_layers.0.3.0.weight": (W, 8 * W, 1, 1),
        "backbone.incre_modules.3.0.downsample.0.weight": (1024, 8 * W, 1, 1),
        "backbone.downsamp_modules.2.0.bias": (1024,),
        "backbone.final_layer.0.weight": (2048, 1024, 1, 1),
        "backbone.final_layer.1.running_mean": (2048,),
    }
    for official, shape in golden.items():
        ours = official_to_ours(official)
        assert ours in state, official
        assert tuple(state[ours].shape) == shape, official


def test_full_round_trip_loads_every_tensor(model: torch.nn.Module) -> None:
    official = _official_from(model)
    report = convert_state_dict(official, model.state_dict(), num_frames=8)
    assert report.complete, report.summary()
    assert sorted(report.ignored) == ["backbone.classifier.bias", "backbone.classifier.weight"]
    assert any("ema_spatial" in n and "SD" in n for n in report.notes)
    assert any("ema_temporal" in n and "TD" in n for n in report.notes)
    apply_conversion(model, report)
    state = model.state_dict()
    torch.testing.assert_close(
        state["frontend.disentangle_block.td.ema.conv3x3.weight"],
        official["backbone.ema_temporal.conv3x3.weight"],
    )
    torch.testing.assert_close(
        state["stage1.encoder.layers.0.ffn.0.weight"],
        official["transformer_1.encoder.layers.0.linear1.weight"],
    )
    torch.testing.assert_close(
        state["frontend.backbone.stage4.2.fuse_layers.3.0.2.0.weight"],
        official["backbone.stage4.2.fuse_layers.3.0.2.0.weight"],
    )


def test_report_lists_every_problem_and_refuses_to_load(model: torch.nn.Module) -> None:
    official = _official_from(model)
    official.pop("cam_predictor.bias")  # missing on the source side
    official["smpl_parameter_regressor.fc1.weight"] = torch.zeros(3, 3)  # extra
    official["vertex_token_embed.weight"] = torch.zeros(VC + 1, 512)  # wrong shape
    official = {"module." + k: v for k, v in official.items()}  # DataParallel prefix
    report = convert_state_dict(official, model.state_dict(), num_frames=8)
    assert not report.complete
    assert report.missing_target == ["cam_predictor.bias"]
    assert report.unmatched_source == ["smpl_parameter_regressor.fc1.weight"]
    assert report.shape_mismatch == [
        ("vertex_token_embed.weight", "vertex_token_embed.weight", (VC + 1, 512), (VC, 512))
    ]
    text = report.summary()
    for needle in ("cam_predictor.bias", "smpl_parameter_regressor", "vertex_token_embed"):
        assert needle in text
    before = model.state_dict()["cam_predictor.weight"].clone()
    with pytest.raises(BadFileError, match=r"cam_predictor\.bias"):
        apply_conversion(model, report)
    torch.testing.assert_close(model.state_dict()["cam_predictor.weight"], before)


def test_explicit_prefix_map_and_unassignable_ema(model: torch.nn.Module) -> None:
    official = _official_from(model)
    # Names the width rule cannot place are given explicitly.
    renamed = {k.replace("backbone.ema_temporal.", "td_block."): v for k, v in official.items()}
    report = convert_state_dict(
        renamed, model.state_dict(), num_frames=8, prefix_map={"td_block.": TD_PREFIX}
    )
    assert report.complete, report.summary()
    # With T = 16 a width-16 block could be SD or TD: nothing is guessed, both are reported.
    report = convert_state_dict(official, model.state_dict(), num_frames=16)
    assert any("not assigned" in n for n in report.notes)
    assert "backbone.ema_spatial.conv1x1.weight" in report.unmatched_source
    assert "backbone.ema_temporal.gn.bias" in report.unmatched_source
    assert f"{SD_PREFIX}gn.bias" in report.missing_target


def test_load_official_file(tmp_path, model: torch.nn.Module) -> None:
    with pytest.raises(MissingFileError):
        load_official_state_dict(tmp_path / "nope.bin")
    sd = {"conv_1x1.weight": torch.zeros(2, 2)}
    torch.save({"model": sd}, tmp_path / "wrapped.bin")
    assert list(load_official_state_dict(tmp_path / "wrapped.bin")) == ["conv_1x1.weight"]
    torch.save({"weights": [1, 2]}, tmp_path / "bad.bin")
    with pytest.raises(BadFileError):
        load_official_state_dict(tmp_path / "bad.bin")
    (tmp_path / "garbage.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(BadFileError):
        load_official_state_dict(tmp_path / "garbage.bin")


def test_command_line_tool_writes_a_loadable_checkpoint(tmp_path, monkeypatch) -> None:
    import importlib.util

    from stdformer.model.checkpoint import model_from_checkpoint, read_checkpoint
    from stdformer.paths import REPO_ROOT

    spec = importlib.util.spec_from_file_location(
        "convert_official_tool", REPO_ROOT / "tools" / "convert_official.py"
    )
    monkeypatch.syspath_prepend(str(REPO_ROOT / "tools"))  # as `python tools/x.py` runs
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    levels = _levels()
    levels.save(tmp_path / "levels.npz")
    # ResNet-50 keeps the files written here small-ish; the HRNet keys are tested above.
    small = build_model(image_config(preset="S", backbone="resnet50", T=8), levels)
    official = _official_from(small)
    torch.save(official, tmp_path / "state_dict.bin")
    common = ["--levels", str(tmp_path / "levels.npz"), "--preset", "S", "--backbone", "resnet50"]
    out = tmp_path / "converted.pt"
    assert tool.main([str(tmp_path / "state_dict.bin"), "--out", str(out), *common]) == 0
    ckpt = read_checkpoint(out)
    assert ckpt.meta["complete"] is True
    loaded = model_from_checkpoint(ckpt, levels)
    torch.testing.assert_close(
        loaded.state_dict()["stage1.decoder.layers.0.cross_attn.out_proj.weight"],
        official["transformer_1.decoder.layers.0.multihead_attn.out_proj.weight"],
    )
    # An incomplete file is refused unless allowed explicitly.
    official.pop("xyz_regressor.weight")
    torch.save(official, tmp_path / "partial.bin")
    out2 = tmp_path / "partial.pt"
    assert tool.main([str(tmp_path / "partial.bin"), "--out", str(out2), *common]) == 1
    assert not out2.exists()
    args = [str(tmp_path / "partial.bin"), "--out", str(out2), "--allow-incomplete", *common]
    assert tool.main(args) == 0
    assert (
        "missing model key: xyz_regressor.weight" in read_checkpoint(out2).meta["conversion_report"]
    )
