"""Shared test set-up: headless Qt, deterministic torch threads, skip markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Photos, composed frames and small clips shared by the detect/, session/ and render/ tests.
pytest_plugins = ["tests.image_fixtures"]

# Tests run without a display: Qt renders offscreen. pyrender's GL platform is picked by
# `stdformer.render.gl_platform` (EGL, then OSMesa) unless PYOPENGL_PLATFORM is set.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Turn the hardware/licence markers into explicit skips with a reason."""
    cuda = False
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a runtime dependency
        pass
    smpl = bool(os.environ.get("STDFORMER_SMPL_DIR"))
    for item in items:
        if "requires_cuda" in item.keywords and not cuda:
            item.add_marker(pytest.mark.skip(reason="no CUDA device on this machine"))
        if "requires_smpl" in item.keywords and not smpl:
            item.add_marker(
                pytest.mark.skip(reason="licensed SMPL files not given (set STDFORMER_SMPL_DIR)")
            )


@pytest.fixture(scope="session")
def landmark_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of the landmark network for the default body.

    Untrained (seeded): it exercises the loading and mesh plumbing, not accuracy.
    """
    import torch

    from stdformer.body.body_model import load_body_model
    from stdformer.body.mesh_levels import mesh_levels_for_body
    from stdformer.model.checkpoint import save_checkpoint
    from stdformer.model.config import landmark_config
    from stdformer.model.stdformer import build_model

    torch.manual_seed(0)
    levels = mesh_levels_for_body(load_body_model())
    path = tmp_path_factory.mktemp("weights") / "landmarks.pt"
    save_checkpoint(path, build_model(landmark_config(), levels))
    return path
