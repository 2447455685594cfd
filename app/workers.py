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

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtGui import QImage

from app.video_view import bgr_to_qimage, rgb_to_qimage
from stdformer.live.capture import CaptureStatus, CaptureThread
from stdformer.live.pipeline import LivePipeline, PipelineConfig
from stdformer.live.sources import SourceError, open_source
from stdformer.live.stats import RunStats
from stdformer.paths import BadFileError, MissingFileError
from stdformer.render import OffscreenRenderer, OrbitCamera, yup_from_opencv
from stdformer.types import MeshResult, Observation

log = logging.getLogger(__name__)
USER_ERRORS = (SourceError, MissingFileError, BadFileError, OSError, RuntimeError)


@dataclass(frozen=True)
class ProcessedFrame:
    """What the processing thread hands to the GUI for one frame."""

    image: QImage  # owned copy, safe to paint in the GUI thread
    observation: Observation | None
    mesh: MeshResult | None
    index: int
    latency_ms: float  # capture -> processed


class ProcessingThread(QThread):
    """Opens the pipeline and the source in this thread, then processes the newest frames."""

    frame_processed = pyqtSignal(object)  # ProcessedFrame
    status_changed = pyqtSignal(str)  # capture state messages (retrying camera, end of file)
    mesh_status = pyqtSignal(str)  # whether/how the body mesh is produced
    ended = pyqtSignal(str)  # a file/folder without loop reached its end; the thread has stopped
    failed = pyqtSignal(str)  # a user-facing error; the thread has stopped

    def __init__(
        self, source_spec: str, loop: bool, pipeline: PipelineConfig, stats: RunStats
    ) -> None:
        super().__init__()
        self._spec, self._loop, self._cfg, self.stats = source_spec, loop, pipeline, stats
        self._stop = threading.Event()
        self.on_result = None  # optional callable(ProcessedFrame), e.g. the render thread
        self.faces: np.ndarray | None = None  # (F, 3) of the body mesh, set once loaded
        self.capture_status: CaptureStatus | None = None  # latest snapshot, read by the GUI

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        # An exception escaping QThread.run would abort the whole process (PyQt calls qFatal):
        # everything unexpected is logged and shown to the user like any other failure.
        try:
            self._run()
        except Exception as e:
            log.exception("processing thread failed")
            self.failed.emit(f"Processing stopped by an internal error ({type(e).__name__}: {e}).")

    def _run(self) -> None:
        try:
            pipeline = LivePipeline(self._cfg)
        except USER_ERRORS as e:
            self.failed.emit(str(e))
            return
        except ValueError as e:  # a setting out of range (e.g. --lookahead): say which
            self.failed.emit(f"Invalid setting: {e}")
            return
        if self._stop.is_set():  # stopped while the models were loading
            pipeline.close()
            return
        self.faces = pipeline.faces
        self.mesh_status.emit(pipeline.mesh_status)
        try:
            capture = CaptureThread(open_source(self._spec, loop=self._loop))
        except USER_ERRORS as e:
            pipeline.close()
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
                    if status.state == "ended":
                        self.ended.emit(f"Finished: {status.message}. Press Start to replay.")
                        break
                    if status.state == "error":
                        self.failed.emit(f"Reading {status.source} failed: {status.message}")
                        break
                    continue
                result = pipeline.process(frame)
                latency_ms = (time.perf_counter_ns() - frame.wall_ns) / 1e6
                for stage, ms in result.timings_ms.items():
                    self.stats.add_time(stage, ms)
                self.stats.add_time("latency", latency_ms)
                self.stats.count_frame(result.observation is not None)
                processed = ProcessedFrame(
                    bgr_to_qimage(frame.image_bgr),
                    result.observation,
                    result.mesh,
                    frame.index,
                    latency_ms,
                )
                if self.on_result is not None:
                    self.on_result(processed)
                self.frame_processed.emit(processed)
        except USER_ERRORS as e:
            log.exception("processing stopped")
            self.failed.emit(f"Processing stopped: {e}")
        finally:
            capture.stop()
            pipeline.close()


class RenderThread(QThread):
    """Owns the offscreen renderer; redraws when a new result arrives or the view changes."""

    image_ready = pyqtSignal(QImage)
    failed = pyqtSignal(str)

    def __init__(
        self,
        stats: RunStats,
        size_wh: tuple[int, int] = (480, 480),
        orbit: OrbitCamera | None = None,
    ) -> None:
        super().__init__()
        self.stats = stats
        self._cond = threading.Condition()
        self._latest: ProcessedFrame | None = None
        self._faces: np.ndarray | None = None
        self._dirty = True
        self._stop = False
        self._size = size_wh
        self._orbit = orbit or OrbitCamera()

    @property
    def orbit_camera(self) -> OrbitCamera:
        """The current view, e.g. to keep it when the source is restarted."""
        with self._cond:
            return self._orbit

    # --- called from other threads -------------------------------------------------------
    def submit(self, result: ProcessedFrame) -> None:
        """Newest result; a frame without a person keeps the last pose on screen."""
        with self._cond:
            if result.observation is not None:
                self._latest = result
                self._dirty = True
                self._cond.notify()

    def set_faces(self, faces: np.ndarray | None) -> None:
        with self._cond:
            self._faces = faces

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
                    latest, orbit, size, self._dirty = self._latest, self._orbit, self._size, False
                    faces = self._faces
                if renderer is None:
                    renderer = OffscreenRenderer(*size)
                t0 = time.perf_counter()
                rgb = render_result(renderer, orbit, size, latest, faces)
                self.stats.add_time("render", (time.perf_counter() - t0) * 1e3)
                self.image_ready.emit(rgb_to_qimage(rgb))
        except USER_ERRORS as e:  # e.g. no working OpenGL: the message says what to install
            self.failed.emit(f"3D view unavailable: {e}")
        except Exception as e:  # escaping QThread.run would abort the process (qFatal)
            log.exception("3D rendering failed")
            self.failed.emit(f"3D view unavailable: {e}")
        finally:
            if renderer is not None:
                renderer.close()


def render_result(
    renderer: OffscreenRenderer,
    orbit: OrbitCamera,
    size_wh: tuple[int, int],
    result: ProcessedFrame | None,
    faces: np.ndarray | None,
) -> np.ndarray:  # (H, W, 3) uint8 RGB
    """The body mesh when there is one, else the MediaPipe world skeleton, root at the origin."""
    if result is not None and result.mesh is not None and faces is not None:
        mesh = result.mesh
        vertices = yup_from_opencv(mesh.vertices_cam - mesh.joints_cam[0])  # pelvis-centred
        return renderer.render_view_rgb(orbit, vertices, faces, size_wh=size_wh)
    obs = None if result is None else result.observation
    if obs is None:
        return renderer.render_view_rgb(orbit, size_wh=size_wh)
    return renderer.render_view_rgb(
        orbit,
        skeleton_world=yup_from_opencv(obs.world_landmarks),
        visibility=obs.visibility,
        min_visibility=0.5,
        size_wh=size_wh,
    )
