"""Threads between the pipeline stages: processing (localize) and 3D rendering.

Capture runs in its own plain thread inside `stdformer.live` (keep-latest slot, stale frames are
dropped). The processing thread takes the newest frame, localizes the person and emits one
signal per processed frame; the render thread owns the GL context and redraws the 3D view from
the newest result whenever it or the view changes. Nothing is queued without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtGui import QImage

from app.video_view import bgr_to_qimage, rgb_to_qimage
from stdformer.live.capture import CaptureStatus, CaptureThread
from stdformer.live.localize import LocalizerConfig, PersonLocalizer
from stdformer.live.sources import SourceError, open_source
from stdformer.live.stats import RunStats
from stdformer.paths import BadFileError, MissingFileError
from stdformer.render import OffscreenRenderer, OrbitCamera, yup_from_opencv
from stdformer.types import Observation

log = logging.getLogger(__name__)
USER_ERRORS = (SourceError, MissingFileError, BadFileError, OSError, RuntimeError)


@dataclass(frozen=True)
class ProcessedFrame:
    """What the processing thread hands to the GUI for one frame."""

    image: QImage  # owned copy, safe to paint in the GUI thread
    observation: Observation | None
    index: int
    latency_ms: float  # capture -> processed


class ProcessingThread(QThread):
    """Opens the source and the localizer in this thread, then processes the newest frames."""

    frame_processed = pyqtSignal(object)  # ProcessedFrame
    status_changed = pyqtSignal(str)  # capture state messages (retrying camera, end of file)
    failed = pyqtSignal(str)  # a user-facing error; the thread has stopped

    def __init__(
        self, source_spec: str, loop: bool, localizer: LocalizerConfig, stats: RunStats
    ) -> None:
        super().__init__()
        self._spec, self._loop, self._loc_cfg, self.stats = source_spec, loop, localizer, stats
        self._stop = threading.Event()
        self.on_observation = None  # optional callable(Observation | None), e.g. render thread
        self.capture_status: CaptureStatus | None = None  # latest snapshot, read by the GUI

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        try:
            localizer = PersonLocalizer(self._loc_cfg)
        except USER_ERRORS as e:
            self.failed.emit(str(e))
            return
        try:
            capture = CaptureThread(open_source(self._spec, loop=self._loop))
        except USER_ERRORS as e:
            localizer.close()
            self.failed.emit(str(e))
            return
        capture.start()
        last_state = ""
        try:
            while not self._stop.is_set():
                frame = capture.get(timeout=0.1)
                status = self.capture_status = capture.status()
                if status.message != last_state:
                    last_state = status.message
                    self.status_changed.emit(status.message)
                if frame is None:
                    if status.state in ("ended", "error"):
                        break
                    continue
                t0 = time.perf_counter()
                obs = localizer.process(frame)
                loc_ms = (time.perf_counter() - t0) * 1e3
                latency_ms = (time.perf_counter_ns() - frame.wall_ns) / 1e6
                self.stats.add_time("localize", loc_ms)
                self.stats.add_time("latency", latency_ms)
                self.stats.count_frame(obs is not None)
                if self.on_observation is not None:
                    self.on_observation(obs)
                image = bgr_to_qimage(frame.image_bgr)
                self.frame_processed.emit(ProcessedFrame(image, obs, frame.index, latency_ms))
        except USER_ERRORS as e:
            log.exception("processing stopped")
            self.failed.emit(f"Processing stopped: {e}")
        finally:
            capture.stop()
            localizer.close()


class RenderThread(QThread):
    """Owns the offscreen renderer; redraws when a new result arrives or the view changes."""

    image_ready = pyqtSignal(QImage)
    failed = pyqtSignal(str)

    def __init__(self, stats: RunStats, size_wh: tuple[int, int] = (480, 480)) -> None:
        super().__init__()
        self.stats = stats
        self._cond = threading.Condition()
        self._obs: Observation | None = None
        self._dirty = True
        self._stop = False
        self._size = size_wh
        self._orbit = OrbitCamera()

    # --- called from other threads -------------------------------------------------------
    def submit(self, obs: Observation | None) -> None:
        with self._cond:
            self._obs = obs if obs is not None else self._obs  # keep the last pose on a miss
            self._dirty = True
            self._cond.notify()

    def orbit(self, d_azimuth_deg: float, d_elevation_deg: float) -> None:
        self._change(lambda o: o.orbit(d_azimuth_deg, d_elevation_deg))

    def zoom(self, factor: float) -> None:
        self._change(lambda o: o.zoom(factor))

    def reset_view(self) -> None:
        self._change(lambda o: OrbitCamera())

    def resize(self, width: int, height: int) -> None:
        with self._cond:
            self._size = (max(64, min(width, 1280)), max(64, min(height, 960)))
            self._dirty = True
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    def _change(self, fn) -> None:
        with self._cond:
            self._orbit = fn(self._orbit)
            self._dirty = True
            self._cond.notify()

    # --- render thread ---------------------------------------------------------------------
    def run(self) -> None:
        renderer: OffscreenRenderer | None = None
        try:
            while True:
                with self._cond:
                    while not (self._dirty or self._stop):
                        self._cond.wait(0.5)
                    if self._stop:
                        break
                    obs, orbit, size, self._dirty = self._obs, self._orbit, self._size, False
                if renderer is None:
                    renderer = OffscreenRenderer(*size)
                t0 = time.perf_counter()
                skeleton = None if obs is None else yup_from_opencv(obs.world_landmarks)
                visibility = None if obs is None else obs.visibility
                rgb = renderer.render_view_rgb(
                    orbit, skeleton_world=skeleton, visibility=visibility, size_wh=size
                )
                self.stats.add_time("render", (time.perf_counter() - t0) * 1e3)
                self.image_ready.emit(rgb_to_qimage(rgb))
        except USER_ERRORS as e:
            self.failed.emit(f"3D view unavailable: {e}")
        finally:
            if renderer is not None:
                renderer.close()
