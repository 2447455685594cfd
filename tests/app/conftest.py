"""GUI test set-up: saved settings go to a temporary folder, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QSettings


@pytest.fixture(autouse=True)
def _private_settings(tmp_path: Path) -> None:
    """Each test starts from empty settings (QSettings(org, app) resolves under this path)."""
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))


@pytest.fixture(scope="session")
def placed_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained landmark checkpoint whose camera head always says "the body fills the crop"
    (weak-perspective scale 0.9, no offset), so its (random-looking) mesh lands on the person
    and is big enough to see in the overlay and the 3D view."""
    import torch

    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import mesh_levels_for_body
    from stdformer.model.checkpoint import save_checkpoint
    from stdformer.model.config import landmark_config
    from stdformer.model.stdformer import build_model

    torch.manual_seed(0)
    model = build_model(landmark_config(), mesh_levels_for_body(load_body_model()))
    heads = [m for name, m in model.named_modules() if name.endswith("cam_predictor")]
    assert len(heads) == 1, "the network's camera head was renamed: update this fixture"
    with torch.no_grad():
        heads[0].weight.zero_()
        heads[0].bias.copy_(torch.tensor([0.9, 0.0, 0.0]))
    path = tmp_path_factory.mktemp("weights") / "placed.pt"
    save_checkpoint(path, model)
    return path
