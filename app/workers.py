"""Thin Qt adapters over the live session: its events as signals, and the display worker.

The per-frame loop is `stdformer.session.session.Session` (no Qt). `SessionWorker` starts and stops
it and turns its events into signals. `DisplayThread` is one of the session's subscribers: it
owns the GL context, draws each newest result (3D view and mesh overlay layer, see
`stdformer.render.views`) and hands the GUI one `DisplayFrame` at a time; it redraws the 3D view
alone when the user moves it. Nothing queues without bound: the session keeps only the newest
result for the display, and the display posts a new frame only after the GUI took the last one.
The display paces the session (`Session.subscribe(..., paces=True)`): `submit` returns when
the display has started drawing the result, so the session processes the next frame while
this one is drawn, and no frame the display would skip.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass

from PyQt6.QtCore import QObject, QThread, pyqtSignal
from PyQt6.QtGui import QImage

from app.video_view import bgr_to_qimage, rgb_to_qimage, rgba_to_qimage
from stdformer.render.renderer import OffscreenRenderer
from stdformer.render.views import LiveViews, ViewControl
from stdformer.session.pipeline import LivePipeline, MeshStage
from stdformer.session.session import Session, SessionConfig, SessionResult
from stdformer.session.stats import RunStats

log = logging.getLogger(__name__)
SUBMIT_WAIT_S = 0.5  # a stuck display never holds the session longer than this per frame


class SessionWorker(QObject):
    """Runs one `Session` (one Start) and re-emits its events in the GUI thread."""

    event = pyqtSignal(object)  # SessionEvent

    def __init__(
        self, config: SessionConfig, stats: RunStats, stage: MeshStage | None = None
    ) -> None:
        """`stage`: the mesh stage already loaded for `config.pipeline` (None: load it)."""
        super().__init__()
        factory = None if stage is None else functools.partial(LivePipeline, stage=stage)
        self.session = Session(
            config, on_event=self.event.emit, stats=stats, pipeline_factory=factory
        )

    def start(self) -> None:
        self.session.start()

    def stop(self, wait_s: float | None) -> bool:
        """Stop the loop; wait up to `wait_s` (None: until it ends). True when it has ended."""
        self.session.stop()
        return self.session.join(wait_s)

    @property
    def running(self) -> bool:
        return self.session.running


@dataclass(frozen=True)
class DisplayFrame:
    """What the GUI shows for one result (images are owned copies, safe in the GUI thread)."""

    video: QImage | None  # the camera frame (None: only the 3D view changed)
    overlay: QImage | None  # mesh layer over the video (RGBA, same size), None: no mesh shown
    view: QImage | None  # the 3D view, None when it could not be drawn
    result: SessionResult | None
    displayed_ns: int = 0  # perf_counter_ns when posted (for display latency)


class DisplayThread(QThread):
    """Session subscriber that draws results; the GUI takes frames with `take()`."""

    frame_ready = pyqtSignal()  # a DisplayFrame is waiting in take()
    failed = pyqtSignal(str)  # the 3D view / overlay cannot be drawn; video still flows

    def __init__(self, stats: RunStats, control: ViewControl | None = None) -> None:
        super().__init__()
        self.stats = stats
        self._cond = threading.Condition()
        self._latest: SessionResult | None = None
        self._new_result = False
        self._view_dirty = True
        self._stop = False
        self._size = (480, 480)
        self._control = control or ViewControl()
        self._overlay = True
        self._outbox: DisplayFrame | None = None  # taken by the GUI

    # --- called from other threads -------------------------------------------------------
    def submit(self, result: SessionResult) -> None:
        """The session's subscriber callback: hand over the newest result and wait (at most
        SUBMIT_WAIT_S) until the display thread has taken it (module doc)."""
        with self._cond:
            self._latest, self._new_result = result, True
            self._cond.notify_all()
            if self.isRunning():
                self._cond.wait_for(lambda: not self._new_result or self._stop, SUBMIT_WAIT_S)

    @property
    def control(self) -> ViewControl:
        with self._cond:
            return self._control

    def set_control(self, control: ViewControl) -> None:
        with self._cond:
            self._control, self._view_dirty = control, True
            self._cond.notify_all()

    def set_overlay(self, on: bool) -> None:
        with self._cond:
            self._overlay = on

    def resize(self, width: int, height: int) -> None:
        with self._cond:
            self._size = (max(64, min(width, 1280)), max(64, min(height, 960)))
            self._view_dirty = True
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def take(self) -> DisplayFrame | None:
        """The newest drawn frame (GUI thread); None if it was taken already."""
        with self._cond:
            frame, self._outbox = self._outbox, None
            return frame

    # --- display thread --------------------------------------------------------------------
    def run(self) -> None:
        views: LiveViews | None = None
        try:
            views = LiveViews(OffscreenRenderer(*self._size))
        except Exception as e:  # e.g. no working OpenGL: the message says what to install
            log.error("3D view unavailable: %s", e)
            self.failed.emit(f"3D view unavailable: {e}")
        try:
            self._loop(views)
        except Exception as e:  # escaping QThread.run would abort the process (qFatal)
            log.exception("display failed")
            self.failed.emit(f"Display stopped: {e}")
        finally:
            if views is not None:
                views.renderer.close()

    def _loop(self, views: LiveViews | None) -> None:
        while True:
            with self._cond:
                while not (self._new_result or self._view_dirty or self._stop):
                    self._cond.wait(0.5)
                if self._stop:
                    return
                result, new = self._latest, self._new_result
                control, size, overlay = self._control, self._size, self._overlay
                self._new_result = self._view_dirty = False
                self._cond.notify_all()  # a waiting submit: the session may go on
            rendered = None
            if views is not None:
                try:
                    rendered = views.render(result, control, size, overlay=overlay and new)
                except Exception as e:  # GL broke mid-run: keep showing the video
                    log.exception("3D rendering failed")
                    self.failed.emit(f"3D view unavailable: {e}")
                    views.renderer.close()
                    views = None
            if rendered is not None:
                for stage, ms in rendered.timings_ms.items():
                    self.stats.add_time(stage, ms)
            video = bgr_to_qimage(result.frame.image_bgr) if new and result else None
            self._post(
                DisplayFrame(
                    video=video,
                    overlay=rgba_to_qimage(rendered.overlay_rgba)
                    if rendered is not None and rendered.overlay_rgba is not None
                    else None,
                    view=rgb_to_qimage(rendered.view_rgb)
                    if rendered is not None and rendered.view_rgb is not None
                    else None,
                    result=result if new else None,
                    displayed_ns=time.perf_counter_ns(),
                )
            )

    def _post(self, frame: DisplayFrame) -> None:
        with self._cond:
            pending = self._outbox
            if pending is not None and pending.video is not None and frame.video is None:
                # A view-only redraw must not swallow a video frame the GUI has not shown yet.
                frame = DisplayFrame(
                    pending.video, pending.overlay, frame.view, pending.result, frame.displayed_ns
                )
            self._outbox = frame
        if pending is None:
            self.frame_ready.emit()
