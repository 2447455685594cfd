"""The status bar says when the machine cannot keep up (frames are skipped evenly), reads the
session's numbers from the result on screen, and its line fits the window."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.config import AppConfig
from app.main_window import MainWindow
from app.status import status_text
from stdformer.session.core import SessionCounters


class _Stats(SimpleNamespace):
    def display_fps(self) -> float:
        return self.shown

    def recent_median(self, stage: str) -> float | None:
        return self.ms


def _result(capture_fps: float, counters: tuple = (10, 9, 8, 40), **kw: object) -> SimpleNamespace:
    c = SessionCounters(*counters, capture_fps, 12.0)
    return SimpleNamespace(
        counters=c, **{"buffer_fill": 3, "buffer_size": 16, "device": "cpu", **kw}
    )


def test_busy_machine_is_reported_with_the_share_of_frames_shown() -> None:
    stats = _Stats(shown=12.0, ms=10.0)
    status = status_text(stats, _result(30.0), running=True)
    assert "busy: 1 in 2.5 frames shown" in status.line
    assert "person 9/10, mesh 8" in status.line and "window 3/16" in status.line
    assert "cpu" in status.line and "dropped 40" in status.details
    stats.shown = 29.5
    assert "busy" not in status_text(stats, _result(30.0), running=True).line


def test_not_running_and_loading_show_no_rates() -> None:
    stats = _Stats(shown=0.0, ms=None)
    assert status_text(stats, None, running=False).line.startswith("not running")
    assert status_text(stats, None, running=True).line.startswith("capture –")


@pytest.mark.parametrize("size_wh", [None, (1280, 720)])  # the default size, a 1280x720 screen
def test_status_line_fits_the_window(qtbot, size_wh: tuple[int, int] | None) -> None:
    """A long run on a busy machine (six-digit counters, three-digit timings, the network's
    window still filling, a CUDA device): the whole line shows, person and mesh counts included."""
    window = MainWindow(AppConfig(), cameras=[], initial_source="sample")
    qtbot.addWidget(window)
    if size_wh is not None:
        window.resize(*size_wh)
    window.show()
    qtbot.waitExposed(window)
    window.stats = _Stats(shown=12.3, ms=123.0)
    window.shown = _result(30.0, (123456, 123456, 12345, 234567), buffer_fill=15, device="cuda:0")
    window.worker = SimpleNamespace(running=True)
    try:
        window._update_status()
        label = window.status_label
        text = label.text()
        assert label.fontMetrics().horizontalAdvance(text) <= label.width()
        assert label.geometry().right() <= window.statusBar().width()  # inside the bar
        assert "…" not in text  # not elided
        assert "busy" in text and "person 123456/123456, mesh 12345" in text
        assert "dropped 234567" in label.toolTip()  # the details
    finally:
        window.worker = window.shown = None  # nothing to stop on close
        window.close()
