"""Fixtures for the recording tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.recording.synthetic import write_synthetic


@pytest.fixture
def sphere_recording(tmp_path: Path) -> Path:
    """45 frames at 30 fps; frames 10 and 11 have no mesh (subject lost)."""
    return write_synthetic(tmp_path / "takes", 45, missing=(10, 11))
