"""Thin Qt adapters over the live session: its events as signals, and the display thread.

The per-frame work is `stdformer.session.core.SessionCore.step`, driven by
`stdformer.session.session.Session` (no Qt). `SessionWorker` starts and stops it and turns its
events into signals. `DisplayThread` is the session's display subscriber itself: the session
puts each result into the display's keep-latest `inbox` (no relay thread), the display thread
owns the GL context, draws the newest result (3D view and mesh overlay layer, see
`stdformer.render.views`), composes the video for the video view (`compose_frame`: off the GUI
thread, without Python's lock) and hands the GUI one `DisplayFrame` at a time; a view change
wakes it to redraw the 3D view alone. Nothing queues without bound, and the display paces the
session (`subscribe(..., mailbox=display.inbox, paces=True)`): the session takes its next frame
once the display has taken the last result, so it processes the next frame while this one is
drawn, and no frame the display would skip.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, replace

import numpy as np
from PyQt6.QtCore import QObject, QThread, pyqtSignal
from PyQt6.QtGui import QImage

from app.video_view import ComposedFrame, VideoTarget, compose_frame, rgb_to_qimage
from stdformer.render.gl_platform import forget_gl_platform
from stdformer.render.renderer import OffscreenRenderer
from stdformer.render.views import LiveViews, ViewControl
from stdformer.session.core import SessionConfig, SessionResult
from stdformer.session.mailbox import Mailbox
from stdformer.session.pipeline import LivePipeline, MeshStage
from stdformer.session.session import Session
from stdformer.session.stats import RunStats

log = logging.getLogger(__name__)


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
    """What the GUI shows for one result (QImages are owned copies; the arrays are never changed
    afterwards, so both are safe in the GUI thread)."""

    video: np.ndarray | None  # the camera frame, BGR (None: only the 3D view changed)
    overlay: np.ndarray | None  # mesh layer over the video (RGBA), None: no mesh shown
    view: QImage | None  # the 3D view, None when it could not be drawn
    result: SessionResult | None
    displayed_ns: int = 0  # perf_counter_ns when posted (for display latency)
    composed: ComposedFrame | None = None  # the video panel's picture for its target


class DisplayThread(QThread):
    """The display subscriber: draws results from `inbox`; the GUI takes frames with `take()`."""

    frame_ready = pyqtSignal()  # a DisplayFrame is waiting in take()
    failed = pyqtSignal(str)  # the 3D view / overlay cannot be drawn; video still flows

    def __init__(self, stats: RunStats, control: ViewControl | None = None) -> None:
        super().__init__()
        self.stats = stats
        self.inbox: Mailbox[SessionResult] = Mailbox(1, "replace")  # the session puts here
        self._lock = threading.Lock()
        self._view_dirty = True
        self._stop = False
        self._size = (480, 480)
        self._control = control or ViewControl()
        self._overlay = True
        self._video_target: VideoTarget | None = None  # None: the GUI composes
        self._outbox: DisplayFrame | None = None  # taken by the GUI
        self.inbox.wake()  # draw the empty 3D view once before the first result

    # --- called from other threads -------------------------------------------------------
    @property
    def control(self) -> ViewControl:
        with self._lock:
            return self._control

    def set_control(self, control: ViewControl) -> None:
        with self._lock:
            self._control, self._view_dirty = control, True
        self.inbox.wake()

    def set_overlay(self, on: bool) -> None:
        with self._lock:
            self._overlay = on

    def set_video_target(self, target: VideoTarget | None) -> None:
        """Compose the following frames for the video view's `target` (None: don't)."""
        with self._lock:
            self._video_target = target

    def resize(self, width: int, height: int) -> None:
        with self._lock:
            self._size = (max(64, min(width, 1280)), max(64, min(height, 960)))
            self._view_dirty = True
        self.inbox.wake()

    def stop(self) -> None:
        with self._lock:
            self._stop = True
        self.inbox.close()

    def take(self) -> DisplayFrame | None:
        """The newest drawn frame (GUI thread); None if it was taken already."""
        with self._lock:
            frame, self._outbox = self._outbox, None
            return frame

    # --- display thread --------------------------------------------------------------------
    def run(self) -> None:
        views: LiveViews | None = None
        try:
            views = LiveViews(OffscreenRenderer(*self._size, vertex_lit=True))
            log.debug("3D view ready")  # start-up milestone (benchmarks/bench_startup.py)
        except Exception as e:  # e.g. no working OpenGL: the message says what to install
            forget_gl_platform()  # a cached choice that no longer works: probe next time
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
        latest: SessionResult | None = None
        images = _ImageCache()
        while True:
            taken = self.inbox.get()  # a new result; None: woken (view changed) or stopped
            with self._lock:
                if self._stop:
                    return
                if taken is None and not self._view_dirty:
                    continue
                control, size, overlay = self._control, self._size, self._overlay
                target = self._video_target
                self._view_dirty = False
            new = taken is not None
            result = latest = taken if new else latest
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
            layer = None if rendered is None else rendered.overlay_rgba
            video = composed = None
            if new and result:
                video = result.display_frame.image_bgr
                if target is not None:
                    composed = self._compose(result, layer, target)
            self._post(
                DisplayFrame(
                    video=video,
                    overlay=layer,
                    view=images.get(None if rendered is None else rendered.view_rgb),
                    result=result if new else None,
                    displayed_ns=time.perf_counter_ns(),
                    composed=composed,
                )
            )

    def _compose(
        self, result: SessionResult, layer: np.ndarray | None, target: VideoTarget
    ) -> ComposedFrame:
        """The frame as the video view shows it (`compose_frame`)."""
        t0 = time.perf_counter()
        frame, obs = result.display_frame.image_bgr, result.display_observation
        composed = compose_frame(frame, obs, layer, result.display_alpha, target)
        self.stats.add_time("compose", (time.perf_counter() - t0) * 1e3)
        return composed

    def _post(self, frame: DisplayFrame) -> None:
        with self._lock:
            pending = self._outbox
            if pending is not None and pending.video is not None and frame.video is None:
                # A view-only redraw must not swallow a video frame the GUI has not shown yet.
                # (its composed picture included)
                frame = replace(pending, view=frame.view, displayed_ns=frame.displayed_ns)
            self._outbox = frame
        if pending is None:
            self.frame_ready.emit()


class _ImageCache:
    """The 3D view's QImage; an image `LiveViews` reused (not drawn again) keeps its QImage
    (QImages are implicitly shared: the GUI may hold it)."""

    def __init__(self) -> None:
        self._last: tuple[np.ndarray, QImage] | None = None

    def get(self, image: np.ndarray | None) -> QImage | None:
        if image is None:
            return None
        if self._last is None or self._last[0] is not image:
            self._last = (image, rgb_to_qimage(image))
        return self._last[1]
