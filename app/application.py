"""Starts the Qt application: picks the initial source, opens the window, runs the loop."""

from __future__ import annotations

import logging
import sys

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from app.main_window import SAMPLE, MainWindow
from stdformer.config import AppConfig
from stdformer.live.sources import list_cameras

log = logging.getLogger(__name__)


def choose_initial_source(config: AppConfig, cameras: list[int]) -> tuple[str, str | None]:
    """The source to start with and, when we fell back to the sample clip, why."""
    if config.source is not None:
        return config.source, None
    if cameras:
        return str(cameras[0]), None
    tried = f"0-{config.max_camera_index}"
    return SAMPLE, (
        f"No camera opened (tried indices {tried}); showing the embedded sample clip. "
        "Use --source INDEX or --source FILE to pick another source."
    )


def run_app(config: AppConfig) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    cameras = [] if config.source is not None else list_cameras(config.max_camera_index)
    source, note = choose_initial_source(config, cameras)
    if note:
        log.warning(note)
    window = MainWindow(config, cameras, source)
    window.show()
    if note:
        window.statusBar().showMessage(note, 10_000)
    window.start()
    if config.quit_after_s is not None:
        QTimer.singleShot(int(config.quit_after_s * 1000), window.close)
    code = app.exec()
    return 1 if window.last_error and config.quit_after_s is not None else code
