"""Starts the Qt application: picks the initial source, opens the window, runs the loop."""

from __future__ import annotations

import logging
import signal
import sys

from PyQt6.QtCore import QMessageLogContext, QTimer, QtMsgType, qInstallMessageHandler
from PyQt6.QtWidgets import QApplication

from app.config import AppConfig
from app.main_window import SAMPLE, MainWindow
from stdformer.session.pipeline import MeshStage
from stdformer.session.sources import list_cameras

log = logging.getLogger(__name__)
qt_log = logging.getLogger("qt")

# Qt messages that say nothing to a user (the offscreen platform cannot size a window).
HARMLESS_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


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


def qt_message_to_log(kind: QtMsgType, context: QMessageLogContext, message: str | None) -> None:
    """Route Qt's own messages to logging (instead of raw stderr), dropping known noise."""
    if not message or message in HARMLESS_QT_MESSAGES:
        return
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
    }.get(kind, logging.ERROR)
    qt_log.log(level, "%s", message)


def close_on_signals(window: MainWindow) -> QTimer:
    """Ctrl+C / SIGTERM close the window like its close button (threads stopped, stats written).

    Python runs signal handlers only between bytecodes; while Qt's event loop is in C++ that
    never happens, so a short timer gives the interpreter a chance to run them.
    """

    def close(signum: int, frame: object) -> None:
        log.info("%s received: closing", signal.Signals(signum).name)
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close)
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    return timer


def run_app(config: AppConfig, preloaded: MeshStage | None = None) -> int:
    """Open the window and run until it closes; `preloaded`: the mesh stage main.py loaded
    for `config` while checking the inputs (the first run reuses it)."""
    qInstallMessageHandler(qt_message_to_log)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    cameras = [] if config.source is not None else list_cameras(config.max_camera_index)
    source, note = choose_initial_source(config, cameras)
    if note:
        log.warning(note)
    window = MainWindow(config, cameras, source, preloaded=preloaded)
    window.unattended |= app.platformName() == "offscreen"
    close_on_signals(window)
    window.show()
    log.info("window shown")
    if note:
        window.statusBar().showMessage(note, 10_000)
        window.source_box.setToolTip(note)
    if app.platformName() == "offscreen" and config.quit_after_s is None:
        log.warning(
            "No window is shown (offscreen): stop with Ctrl+C or use --quit-after; an error or "
            "the end of a --no-loop file ends the run."
        )
    window.start()
    if config.quit_after_s is not None:
        QTimer.singleShot(int(config.quit_after_s * 1000), window.close)
    code = app.exec()
    return 1 if window.last_error and window.unattended else code
