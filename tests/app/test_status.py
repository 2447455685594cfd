"""The status bar says when the machine cannot keep up (frames are skipped evenly), and reads
the session's numbers from the result on screen."""

from __future__ import annotations

from types import SimpleNamespace

from app.status import status_text
from stdformer.session.core import SessionCounters


class _Stats(SimpleNamespace):
    def display_fps(self) -> float:
        return self.shown

    def recent_median(self, stage: str) -> float | None:
        return 10.0


def _result(capture_fps: float) -> SimpleNamespace:
    counters = SessionCounters(10, 9, 8, 40, capture_fps, 12.0)
    return SimpleNamespace(counters=counters, buffer_fill=3, buffer_size=16, device="cpu")


def test_busy_machine_is_reported_with_the_share_of_frames_shown() -> None:
    stats = _Stats(shown=12.0)
    text = status_text(stats, _result(30.0), running=True)
    assert "busy: 1 in 2.5 frames shown" in text
    assert "dropped 40" in text and "buffer 3/16" in text and "cpu" in text
    assert "frames 10, person 9, mesh 8" in text
    stats.shown = 29.5
    assert "busy" not in status_text(stats, _result(30.0), running=True)


def test_not_running_and_loading_show_no_rates() -> None:
    stats = _Stats(shown=0.0)
    assert status_text(stats, None, running=False).startswith("not running")
    assert status_text(stats, None, running=True).startswith("capture –")
