"""Shared test set-up: headless Qt, deterministic torch threads, skip markers."""

from __future__ import annotations

import os

import pytest

# Tests run without a display: Qt renders offscreen; pyrender uses EGL unless told otherwise.
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
