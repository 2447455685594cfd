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
