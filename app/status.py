"""The status bar's text: rates, per-stage times, latency, network buffer and device."""

from __future__ import annotations

from stdformer.session.session import Session
from stdformer.session.stats import RunStats

BUSY_FRACTION = 0.9  # showing fewer than this share of the camera's frames: say the app is busy


def status_text(stats: RunStats, session: Session | None) -> str:
    """One line for the status bar; `session` None when nothing runs (then no rates)."""

    def ms(stage: str) -> str:
        v = stats.recent_median(stage)
        return "–" if v is None else f"{v:.0f} ms"

    cap = None if session is None else session.capture_status()
    if session is None:
        rates = "not running"
    elif cap is None:  # still loading models or opening the source
        rates = "capture –"
    else:
        rates = (
            f"capture {cap.fps:.1f} fps, dropped {cap.frames_dropped} | "
            f"processed {stats.fps():.1f} fps | displayed {stats.display_fps():.1f} fps"
        )
        shown = stats.display_fps()
        if cap.fps > 1.0 and 0.0 < shown < BUSY_FRACTION * cap.fps:
            rates += f" (busy: 1 in {cap.fps / shown:.1f} frames shown, skipped evenly)"
    parts = [rates, f"localize {ms('localize')}"]
    if stats.recent_median("mesh") is not None:
        parts.append(f"model {ms('mesh')}")
    render = f"render {ms('render')}"
    if stats.recent_median("overlay") is not None:
        render += f" + overlay {ms('overlay')}"
    parts += [render, f"latency {ms('display_latency')}"]
    if session is not None and session.buffer_size:
        parts.append(f"buffer {session.buffer_fill}/{session.buffer_size}")
    if session is not None and session.device:
        parts.append(session.device)
    parts.append(
        f"frames {stats.frames_seen}, person {stats.frames_with_person}, "
        f"mesh {stats.frames_with_mesh}"
    )
    return " | ".join(parts)
