"""Checkpoint round trip and the errors a wrong file produces."""

from __future__ import annotations

import pytest
import torch

from stdformer.model.checkpoint import load_model, read_checkpoint, save_checkpoint
from stdformer.model.stdformer import build_model
from stdformer.paths import BadFileError, MissingFileError


@pytest.fixture
def saved(tmp_path, sphere_levels, tiny_landmark_config):
    model = build_model(tiny_landmark_config, sphere_levels).eval()
    path = save_checkpoint(tmp_path / "w" / "net.pt", model, {"steps": 3, "data": "unit test"})
    return model, path


def test_round_trip_restores_outputs(saved, sphere_levels) -> None:
    model, path = saved
    loaded = load_model(sphere_levels, path)
    assert loaded.config == model.config
    x = torch.randn(1, 4, 33, 8)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x).verts_full, model(x).verts_full)
    assert read_checkpoint(path).meta == {"steps": 3, "data": "unit test"}


def test_weights_resolved_from_environment(saved, sphere_levels, monkeypatch) -> None:
    _, path = saved
    monkeypatch.setenv("STDFORMER_WEIGHTS", str(path))
    assert load_model(sphere_levels).config.frontend == "landmarks"
    monkeypatch.setenv("STDFORMER_WEIGHTS", str(path) + ".missing")
    with pytest.raises(MissingFileError, match="STDFORMER_WEIGHTS"):
        load_model(sphere_levels)


def test_other_body_topology_is_refused(saved, observation_factory) -> None:
    import numpy as np
    import trimesh

    from stdformer.body.mesh_levels import compute_mesh_levels

    _, path = saved
    mesh = trimesh.creation.icosphere(subdivisions=3)
    other = compute_mesh_levels(np.asarray(mesh.vertices), np.asarray(mesh.faces), 40, 160)
    with pytest.raises(BadFileError, match="another body topology"):
        load_model(other, path)


def test_other_preset_is_refused(saved, sphere_levels, tiny_landmark_config) -> None:
    _, path = saved
    with pytest.raises(BadFileError, match="preset: file 'S' vs requested 'M'"):
        load_model(sphere_levels, path, expected=tiny_landmark_config.replace(preset="M"))


def test_not_a_checkpoint(tmp_path, sphere_levels) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(BadFileError, match="not a loadable"):
        load_model(sphere_levels, junk)
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(BadFileError, match="not an STDFormer checkpoint"):
        load_model(sphere_levels, plain)


def test_tampered_weights_fail_strict_loading(saved, sphere_levels) -> None:
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop("cam_predictor.bias")
    torch.save(payload, path)
    with pytest.raises(BadFileError, match=r"cam_predictor\.bias"):
        load_model(sphere_levels, path)


def test_unsafe_pickle_is_not_executed(tmp_path, sphere_levels) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "stdformer-checkpoint", "x": Evil()}, path)
    with pytest.raises(BadFileError, match="not a loadable"):
        load_model(sphere_levels, path)


def test_config_dict_round_trip_and_validation() -> None:
    from stdformer.model.config import ModelConfig, image_config, landmark_config

    for cfg in (image_config("M", "hrnet_w32"), landmark_config("L", T=4)):
        assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model-config fields"):
        ModelConfig.from_dict({"preset": "S", "colour": "red"})
    with pytest.raises(ValueError, match="preset"):
        ModelConfig(preset="XL")
    with pytest.raises(ValueError, match="backbone"):
        image_config("S", "vgg16")
    assert image_config("L").n_layers == 3 and landmark_config("S").n_layers == 1
