"""The status bar's text: rates, per-stage times, latency, network buffer and device.

Session-side numbers come from the newest `SessionResult` on screen (its counters, buffer and
device), display-side ones (displayed fps, render and overlay times, latency to the screen)
from the run statistics the display writes; nothing reads the session's internals.
"""

from __future__ import annotations

from stdformer.session.core import SessionResult
from stdformer.session.stats import RunStats

BUSY_FRACTION = 0.9  # showing fewer than this share of the camera's frames: say the app is busy


def status_text(stats: RunStats, result: SessionResult | None, running: bool) -> str:
    """One line for the status bar. `result`: the newest result shown (None before the first);
    `running`: a session runs (otherwise no rates)."""

    def ms(stage: str) -> str:
        v = stats.recent_median(stage)
        return "–" if v is None else f"{v:.0f} ms"

    if not running:
        rates = "not running"
    elif result is None:  # still loading models or opening the source
        rates = "capture –"
    else:
        c, shown = result.counters, stats.display_fps()
        rates = (
            f"capture {c.capture_fps:.1f} fps, dropped {c.frames_dropped} | "
            f"processed {c.processed_fps:.1f} fps | displayed {shown:.1f} fps"
        )
        if c.capture_fps > 1.0 and 0.0 < shown < BUSY_FRACTION * c.capture_fps:
            rates += f" (busy: 1 in {c.capture_fps / shown:.1f} frames shown, skipped evenly)"
    parts = [rates, f"localize {ms('localize')}"]
    if stats.recent_median("mesh") is not None:
        parts.append(f"model {ms('mesh')}")
    render = f"render {ms('render')}"
    if stats.recent_median("overlay") is not None:
        render += f" + overlay {ms('overlay')}"
    parts += [render, f"latency {ms('display_latency')}"]
    if result is not None:
        if result.buffer_size:
            parts.append(f"buffer {result.buffer_fill}/{result.buffer_size}")
        if result.device:
            parts.append(result.device)
        c = result.counters
        parts.append(
            f"frames {c.frames_seen}, person {c.frames_with_person}, mesh {c.frames_with_mesh}"
        )
    return " | ".join(parts)
