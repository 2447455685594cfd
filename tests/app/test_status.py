"""The status bar says when the machine cannot keep up (frames are skipped evenly)."""

from __future__ import annotations

from types import SimpleNamespace

from app.status import status_text
from stdformer.session.capture import CaptureStatus


class _Stats(SimpleNamespace):
    def fps(self) -> float:
        return self.shown

    def display_fps(self) -> float:
        return self.shown

    def recent_median(self, stage: str) -> float | None:
        return 10.0


def _session(capture_fps: float) -> SimpleNamespace:
    cap = CaptureStatus("running", "", "cam", capture_fps, 100, 40, 0)
    return SimpleNamespace(capture_status=lambda: cap, buffer_size=0, device="")


def test_busy_machine_is_reported_with_the_share_of_frames_shown() -> None:
    stats = _Stats(shown=12.0, frames_seen=10, frames_with_person=10, frames_with_mesh=10)
    text = status_text(stats, _session(30.0))
    assert "busy: 1 in 2.5 frames shown" in text
    stats.shown = 29.5
    assert "busy" not in status_text(stats, _session(30.0))
