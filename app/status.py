"""The status bar's text: a short line that fits a 1280 px window, and the details as a tooltip.

Session-side numbers come from the newest `SessionResult` on screen (its counters, buffer and
device), display-side ones (displayed fps, render, overlay and video-panel times, latency to
the screen) from the run statistics the display writes; nothing reads the session's internals.

The line keeps what a user watches (frames shown of those captured, how many frames had a
person and a mesh, latency, per-stage times, device); the tooltip adds dropped frames, the
processed rate, the network's frame window and the raw counters. `StatusLabel` elides the line
at the right edge when the window is narrower still, instead of cutting it off unseen.
"""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QResizeEvent
from PyQt6.QtWidgets import QLabel, QSizePolicy, QWidget

from stdformer.session.core import SessionResult
from stdformer.session.stats import RunStats

BUSY_FRACTION = 0.9  # showing fewer than this share of the camera's frames: say the app is busy


@dataclass(frozen=True)
class Status:
    line: str  # one short line for the bar
    details: str  # several lines for the tooltip


def status_text(stats: RunStats, result: SessionResult | None, running: bool) -> Status:
    """The status of a run. `result`: the newest result shown (None before the first);
    `running`: a session runs (otherwise no rates)."""

    def ms(stage: str) -> str:
        v = stats.recent_median(stage)
        return "–" if v is None else f"{v:.0f}"

    line, details = [], []
    if not running:
        line.append("not running")
    elif result is None:  # still loading models or opening the source
        line.append("capture –")
    else:
        c, shown = result.counters, stats.display_fps()
        rate = f"shown {shown:.1f} of {c.capture_fps:.1f} fps"
        if c.capture_fps > 1.0 and 0.0 < shown < BUSY_FRACTION * c.capture_fps:
            rate += f" (busy: 1 in {c.capture_fps / shown:.1f} frames shown)"
            details.append("busy machine: frames are skipped evenly at capture, none queue")
        line.append(rate)
        details += [
            f"capture {c.capture_fps:.1f} fps, dropped {c.frames_dropped}",
            f"processed {c.processed_fps:.1f} fps, displayed {shown:.1f} fps",
        ]
    if result is not None:
        c = result.counters
        line.append(f"person {c.frames_with_person}/{c.frames_seen}, mesh {c.frames_with_mesh}")
    line.append(f"latency {ms('display_latency')} ms")
    stages = f"localize {ms('localize')}"
    if stats.recent_median("mesh") is not None:
        stages += f" · model {ms('mesh')}"
    stages += f" · render {ms('render')}"
    if stats.recent_median("overlay") is not None:
        stages += f" + overlay {ms('overlay')}"
    if stats.recent_median("compose") is not None:  # the video panel's picture (video_view.py)
        stages += f" + video {ms('compose')}"
    line.append(f"{stages} ms")
    details += [f"ms per frame: {stages}", f"latency capture to display {ms('display_latency')} ms"]
    if result is not None:
        if result.buffer_size:
            window = f"{result.buffer_fill}/{result.buffer_size}"
            details.append(f"network frame window {window}")
            if result.buffer_fill < result.buffer_size:
                line.append(f"window {window}")
        if result.device:
            line.append(result.device)
            details.append(f"device {result.device}")
        c = result.counters
        details.append(
            f"frames {c.frames_seen}: with a person {c.frames_with_person}, "
            f"with a mesh {c.frames_with_mesh}"
        )
    return Status(" | ".join(line), "\n".join(details))


class StatusLabel(QLabel):
    """A one-line label that never widens the window: it elides at its width, and its tooltip
    holds the details (and the whole line when elided)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._status = Status("", "")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(1)

    def set_status(self, status: Status) -> None:
        self._status = status
        self._refit()

    def full_text(self) -> str:
        return self._status.line

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._refit()

    def _refit(self) -> None:
        line, details = self._status.line, self._status.details
        shown = self.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, self.width())
        self.setText(shown)
        self.setToolTip(details if shown == line else f"{line}\n\n{details}")
