"""Offscreen tests of what a user does with the window: picking sources, Stop/Start, end of a
file, failures that must not kill the process, closing with Ctrl+C."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QtMsgType

import app.main_window as main_window_module
import app.workers as workers_module
import stdformer.session.session as session_module
from app.application import close_on_signals, qt_message_to_log
from app.config import AppConfig
from app.main_window import OPEN_FILE, SAMPLE, MainWindow, source_label
from stdformer.paths import MissingFileError, resolve_file
from stdformer.render.views import ViewControl


def make_window(qtbot, config: AppConfig | None = None, source: str = SAMPLE) -> MainWindow:
    window = MainWindow(config or AppConfig(), cameras=[], initial_source=source)
    qtbot.addWidget(window)
    return window


@pytest.fixture
def short_clip(tmp_path: Path) -> Path:
    """A folder of the sample clip's first 6 frames (0.2 s at 30 fps): ends quickly."""
    cap = cv2.VideoCapture(str(resolve_file("sample_clip")))
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(6):
        ok, image = cap.read()
        assert ok
        cv2.imwrite(str(folder / f"frame{i}.png"), image)
    cap.release()
    return folder


def test_source_labels_name_cameras_and_files() -> None:
    assert source_label("0") == "Camera 0"
    assert source_label("sample") == "Sample clip"
    assert source_label("/videos/walk.mp4") == "walk.mp4"


def test_camera_given_on_command_line_is_labelled_as_camera(qtbot) -> None:
    window = make_window(qtbot, source="1")
    assert window.source_box.currentText() == "Camera 1"
    assert window.current_source() == "1"


def test_cancelled_open_file_keeps_the_previous_source(qtbot, monkeypatch) -> None:
    window = make_window(qtbot)
    monkeypatch.setattr(window, "_ask_video_file", lambda: "")
    starts = []
    monkeypatch.setattr(window, "start", lambda: starts.append(window.current_source()))
    index = window.source_box.findData(OPEN_FILE)
    window.source_box.setCurrentIndex(index)  # what the combo shows after the user's click
    window._source_picked(index)
    assert window.current_source() == SAMPLE
    assert starts == []  # nothing (re)started: Start would otherwise open "__open_file__"


def test_picking_the_same_file_twice_adds_it_once(qtbot, monkeypatch, tmp_path: Path) -> None:
    window = make_window(qtbot)
    clip = str(tmp_path / "walk.mp4")
    monkeypatch.setattr(window, "_ask_video_file", lambda: clip)
    starts = []
    monkeypatch.setattr(window, "start", lambda: starts.append(window.current_source()))
    for _ in range(2):
        index = window.source_box.findData(OPEN_FILE)
        window.source_box.setCurrentIndex(index)
        window._source_picked(index)
    items = [window.source_box.itemData(i) for i in range(window.source_box.count())]
    assert items.count(clip) == 1
    assert starts == [clip, clip]
    # Cancelling now goes back to the file, not to the entry that was first in the list.
    monkeypatch.setattr(window, "_ask_video_file", lambda: "")
    index = window.source_box.findData(OPEN_FILE)
    window.source_box.setCurrentIndex(index)
    window._source_picked(index)
    assert window.current_source() == clip


def test_end_of_file_without_loop_says_so_and_enables_start(qtbot, short_clip: Path) -> None:
    window = make_window(qtbot, AppConfig(loop=False), source=str(short_clip))
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.start_button.isEnabled(), timeout=30_000)
    assert not window.stop_button.isEnabled()
    qtbot.waitUntil(lambda: "Finished" in window.state_label.text(), timeout=5_000)
    assert "Start" in window.state_label.text()
    assert window.stats.frames_seen >= 1
    window._update_status()
    assert window.status_label.text().startswith("not running")
    assert "fps" not in window.status_label.text()  # no stale rate once nothing runs
    window.close()


def test_scripted_run_without_loop_closes_at_the_end(qtbot, short_clip: Path) -> None:
    """--no-loop --quit-after N: done at the end of the file, not after N seconds."""
    config = AppConfig(loop=False, quit_after_s=600.0)
    window = make_window(qtbot, config, source=str(short_clip))
    window.show()
    window.start()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    assert window.last_error is None and window.stats.frames_seen >= 1


def test_unexpected_exception_in_processing_is_reported_not_fatal(qtbot, monkeypatch) -> None:
    """PyQt aborts the process on an exception escaping QThread.run; the user gets a message."""

    def broken(config):
        raise KeyError("boom")

    monkeypatch.setattr(session_module, "LivePipeline", broken)
    window = make_window(qtbot, AppConfig(quit_after_s=30.0))
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10_000)
    assert "internal error" in window.last_error and "boom" in window.last_error
    # A scripted run (--quit-after) does not sit out its time after a failure: it closes.
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert window.start_button.isEnabled()


def test_setting_out_of_range_is_reported(qtbot, monkeypatch) -> None:
    def bad_setting(config):
        raise ValueError("lookahead must be in [0, T-1=7], got 9")

    monkeypatch.setattr(session_module, "LivePipeline", bad_setting)
    window = make_window(qtbot, AppConfig(quit_after_s=30.0))
    window.start()
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=10_000)
    assert window.last_error.startswith("Invalid setting") and "lookahead" in window.last_error


def test_stop_while_models_load_keeps_the_busy_thread(qtbot, monkeypatch) -> None:
    """Stop must not drop a QThread that is still running (Qt would abort the process)."""

    def slow_pipeline(config):
        time.sleep(1.0)
        raise MissingFileError("weights not found (test)")

    monkeypatch.setattr(session_module, "LivePipeline", slow_pipeline)
    monkeypatch.setattr(main_window_module, "STOP_WAIT_S", 0.01)
    window = make_window(qtbot)
    window.start()
    window.stop()
    assert window.worker is None
    busy = list(window._retired)
    assert len(busy) == 1 and busy[0].running
    assert window.start_button.isEnabled()
    window.close()  # waits for the retired session
    assert not busy[0].running
    qtbot.wait(50)
    assert window.last_error is None  # the stopped run's late failure is not shown


def test_view_and_stats_after_stop_and_start(qtbot, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.mp4")  # processing fails at once; the 3D view still runs
    window = make_window(qtbot, source=missing)
    window.show()
    window.start()
    first_stats = window.stats
    window.view3d.orbit_requested.emit(30.0, 0.0)
    assert window.display.control.azimuth_deg == pytest.approx(30.0)
    window.stop()
    window.start()  # the user's view survives Stop/Start; each run counts on its own
    assert window.display.control.azimuth_deg == pytest.approx(30.0)
    assert window.stats is not first_stats
    window.view3d.zoom_requested.emit(0.5)
    window.view3d.pan_requested.emit(0.1, -0.2)
    control = window.display.control
    assert control.zoom == pytest.approx(0.5)
    assert (control.pan_right, control.pan_up) == pytest.approx((0.1, -0.2))
    window.view3d.reset_requested.emit()  # double click: back to the automatic framing
    assert window.display.control == ViewControl()
    window.stop()
    window._update_status()
    assert window.status_label.text().startswith("not running")
    window.close()


def test_unwritable_stats_json_is_logged_not_fatal(qtbot, tmp_path: Path, caplog) -> None:
    window = make_window(qtbot, AppConfig(stats_json=str(tmp_path / "no" / "dir" / "run.json")))
    with caplog.at_level(logging.ERROR):
        window.close()
    assert "stats-json" in caplog.text


def test_sigint_closes_the_window_and_writes_stats(qtbot, tmp_path: Path) -> None:
    stats_path = tmp_path / "run.json"
    window = make_window(qtbot, AppConfig(stats_json=str(stats_path)))
    window.show()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        close_on_signals(window)
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert stats_path.is_file()


def test_qt_noise_is_dropped_and_warnings_are_logged(caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="qt"):
        warn = QtMsgType.QtWarningMsg
        qt_message_to_log(warn, None, "This plugin does not support propagateSizeHints()")
        assert caplog.records == []
        qt_message_to_log(warn, None, "QPainter::begin: Paint device returned engine == 0")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


@pytest.mark.parametrize("view", ["video", "view3d"])
def test_long_messages_are_wrapped_inside_the_views(qtbot, view: str) -> None:
    """An error naming a long path must stay readable: no text drawn outside the widget."""
    window = make_window(qtbot)
    window.resize(900, 500)
    window.show()
    text = "Cannot read video file " + "/very/long/folder" * 12 + "/clip.mp4: unknown format."
    widget = getattr(window, view)
    widget.set_message(text)
    image = widget.grab().toImage()
    # Wrapped text fills several rows of the view; unwrapped it would be a single clipped line.
    rows = image.height()
    lit_rows = 0
    for y in range(rows):
        row = [image.pixelColor(x, y).lightness() for x in range(0, image.width(), 2)]
        lit_rows += int(np.max(row) > 120)
    assert lit_rows > 25


def test_3d_view_failure_is_shown_and_video_keeps_running(qtbot, monkeypatch, tmp_path) -> None:
    """Without working OpenGL the 3D panel says why; localization and the video go on; a GL
    platform cached by an earlier start is forgotten, so the next start probes again."""
    from stdformer.render import gl_platform

    def no_gl(*args, **kwargs):
        raise RuntimeError("no EGL display (test)")

    monkeypatch.setattr(workers_module, "OffscreenRenderer", no_gl)
    monkeypatch.setenv("STDFORMER_CACHE_DIR", str(tmp_path))
    gl_platform._remember_platform("egl")
    assert (tmp_path / "gl_platform.json").is_file()
    window = make_window(qtbot)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.stats.frames_seen >= 3, timeout=30_000)
    qtbot.wait(100)  # frames shown after the failure must not hide it
    assert window.view3d._message.startswith("3D view unavailable")
    assert "no EGL display" in window.view3d._message
    assert window.last_error is None and window.video.composed is not None
    assert not (tmp_path / "gl_platform.json").exists()
    window.close()


def test_mouse_drag_and_wheel_drive_the_3d_view(qtbot) -> None:
    from PyQt6.QtCore import QPoint, QPointF, Qt
    from PyQt6.QtGui import QWheelEvent
    from PyQt6.QtWidgets import QApplication

    from app.view3d import View3D

    view = View3D()
    qtbot.addWidget(view)
    view.show()
    orbits, zooms = [], []
    view.orbit_requested.connect(lambda az, el: orbits.append((az, el)))
    view.zoom_requested.connect(zooms.append)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(view, QPoint(150, 90))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(150, 90))
    assert orbits and sum(az for az, _ in orbits) == pytest.approx(-50 * 0.4)
    assert sum(el for _, el in orbits) == pytest.approx(-10 * 0.4)
    qtbot.mouseMove(view, QPoint(10, 10))  # no button held: no orbit
    assert len(orbits) == 1
    pos = QPointF(50, 50)
    wheel = QWheelEvent(
        pos,
        view.mapToGlobal(pos),
        QPoint(),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view, wheel)
    assert zooms == [pytest.approx(0.9)]  # one notch forward moves closer
