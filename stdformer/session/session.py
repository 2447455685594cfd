"""The live session: source -> localizer -> predictor, one immutable result per frame, published.

This is the one per-frame loop of the program. The GUI (through a thin Qt adapter), scripted
runs and future batch commands all drive a `Session`; views, recorders, exporters and stats
attach as subscribers::

    session = Session(SessionConfig(source="sample"), on_event=print)
    session.subscribe(lambda r: print(r.frame.index, r.display_mesh is not None), name="printer")
    session.start()            # loads models and opens the source in the session thread
    ...
    session.stop()             # ends the loop, drains and closes every subscription

Each frame gives one `SessionResult` (frozen; arrays are read-only): the frame, the subject's
observation, the meshes completed by this frame (for recorders), what a view should draw now
(`display_mesh` with `display_alpha`, see `stdformer.session.presence`), the body topology
(`faces`), per-stage timings, latency and counters. Subscribers run in their own threads
(`stdformer.session.subscribers`): a slow one misses results, a failing one is reported through
`on_event` and detached; capture and the other subscribers go on.

Under load the session never builds a backlog: capture keeps only the newest frame, and a view
subscribed with `paces=True` makes the loop take its next frame only when the view has taken
the last result, so the machine spends no time on frames nobody would see and frames are
dropped evenly at capture (not while recording: a recorder wants every frame it can get).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

from stdformer.inference.smoothing import MeshSmoother
from stdformer.paths import BadFileError, MissingFileError
from stdformer.render.display_mesh import DisplayLod
from stdformer.session.capture import CaptureStatus, CaptureThread
from stdformer.session.pipeline import LivePipeline, PipelineConfig
from stdformer.session.presence import SubjectPresence, SubjectState
from stdformer.session.sources import SourceError, open_source
from stdformer.session.stats import RunStats
from stdformer.session.subscribers import Subscription
from stdformer.types import Frame, MeshResult, Observation

log = logging.getLogger(__name__)

# Failures a user can act on (their message says what to do); anything else is a bug, reported
# as an internal error.
USER_ERRORS = (SourceError, MissingFileError, BadFileError, OSError, RuntimeError)

PACE_TIMEOUT_S = 0.5  # a stuck pacing view never holds the loop longer than this per frame

EventKind = Literal["loading", "ready", "capture", "ended", "failed", "subscriber_failed"]


@dataclass(frozen=True)
class SessionConfig:
    """One run: where frames come from, the pipeline, and how the mesh is shown."""

    source: str = "sample"  # camera index, video file, image folder, or "sample"
    loop: bool = True  # restart a file at its end
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    smoothing: float = 0.0  # One-Euro strength in [0, 1] applied to the mesh; 0 = off
    batch: bool = False  # a file: every frame, as fast as possible (not paced, none dropped)
    hold_s: float = 0.15  # the last mesh stays this long after the subject is lost...
    fade_s: float = 0.5  # ...then fades out over this long


@dataclass(frozen=True)
class SessionCounters:
    """Running counts of the session, as of the result that carries them."""

    frames_seen: int
    frames_with_person: int
    frames_with_mesh: int
    frames_dropped: int  # replaced in the capture slot before the loop took them
    capture_fps: float
    processed_fps: float


@dataclass(frozen=True)
class SessionResult:
    """Everything the session knows about one frame. Shared by all subscribers: do not modify
    the arrays (they are read-only); copy before drawing into them."""

    frame: Frame
    observation: Observation | None  # the main subject, None when not in view
    meshes: tuple[MeshResult, ...]  # completed by this frame, oldest first (smoothed)
    display_mesh: MeshResult | None  # what a view draws now (newest, or fading after a loss)
    display_alpha: float  # opacity in [0, 1] for display_mesh
    subject: SubjectState  # "tracking", "lost" (mesh fading) or "absent"
    faces: np.ndarray | None  # (F, 3) int64 topology of every mesh; None without weights
    timings_ms: Mapping[str, float]  # this frame: localize, mesh
    latency_ms: float  # capture -> published
    counters: SessionCounters
    buffer_fill: int  # frames in the network's window (0 without weights)
    buffer_size: int  # the window length T (0 without weights)
    display_lod: DisplayLod | None = None  # the lighter mesh views draw; None: full `faces`


@dataclass(frozen=True)
class SessionEvent:
    """A change of the session's state, for status lines and scripts."""

    kind: EventKind
    message: str


class Session:
    """Runs the per-frame loop in its own thread and publishes `SessionResult`s (module doc)."""

    def __init__(
        self,
        config: SessionConfig,
        on_event: Callable[[SessionEvent], None] | None = None,
        stats: RunStats | None = None,
        pipeline_factory: Callable[[PipelineConfig], LivePipeline] | None = None,
    ) -> None:
        MeshSmoother(config.smoothing)  # validate settings here, in the caller's thread
        SubjectPresence(config.hold_s, config.fade_s)
        self.config = config
        self.stats = stats or RunStats()
        self._on_event = on_event
        self._pipeline_factory = pipeline_factory
        self._subs: list[Subscription[SessionResult]] = []
        self._subs_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._capture: CaptureThread | None = None
        self.error: str | None = None  # why the loop stopped, when it failed
        self.ended = False  # a non-looping file reached its end
        self.mesh_status = ""  # how the mesh is produced (or why not), once loaded
        self.device = ""  # where the network runs ("" without weights)
        self._smoothing = config.smoothing
        self.buffer_fill = 0  # frames in the network's window, as of the last result
        self._localizer = None  # the running pipeline's, for request_subject_at
        self.buffer_size = 0  # its length T (0 without weights)

    def set_smoothing(self, strength: float) -> None:
        """Change the One-Euro strength while running (applies from the next mesh)."""
        MeshSmoother(strength)  # validates
        self._smoothing = float(strength)

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(
        self,
        on_result: Callable[[SessionResult], None],
        *,
        name: str,
        every_frame: bool = False,
        queue_size: int = 64,
        on_close: Callable[[], None] | None = None,
        paces: bool = False,
    ) -> Subscription[SessionResult]:
        """Attach a subscriber; `on_result` runs in the subscription's own thread.

        Views take the newest result (`every_frame=False`); recorders and exporters want every
        result (`every_frame=True`, dropped and counted beyond `queue_size` pending). `on_close`
        runs after the last result when the session stops (finish a file there). `paces`
        (a view that shows every result it takes): the loop waits, at most `PACE_TIMEOUT_S`,
        for this subscriber to take the last result before it takes the next frame, unless an
        every-frame subscriber (a recorder) is attached.
        """
        sub = Subscription(
            name,
            on_result,
            every_frame=every_frame,
            queue_size=queue_size,
            on_close=on_close,
            on_error=self._subscriber_failed,
            paces=paces,
        )
        with self._subs_lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription[SessionResult]) -> None:
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)
        sub.cancel()
        sub.close(timeout=1.0)

    @property
    def subscriptions(self) -> tuple[Subscription[SessionResult], ...]:
        with self._subs_lock:
            return tuple(self._subs)

    def _subscriber_failed(self, sub: Subscription[SessionResult], message: str) -> None:
        self._emit("subscriber_failed", message)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Session:
        """Run the loop in a new thread (models load there: start returns at once)."""
        if self._thread is not None:
            raise RuntimeError("a Session runs once; make a new one to run again")
        self._thread = threading.Thread(target=self.run, name="session", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the loop to end (returns at once; `join` waits)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the loop thread; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def capture_status(self) -> CaptureStatus | None:
        capture = self._capture
        return None if capture is None else capture.status()

    def run(self) -> None:
        """The loop, in the calling thread; returns when stopped, at the end of a file or on an
        error (then `self.error` says why). Subscriptions are closed on the way out."""
        try:
            self._run()
        except Exception as exc:  # a bug: report it like any failure instead of dying silently
            log.exception("session failed")
            self._fail(f"Processing stopped by an internal error ({type(exc).__name__}: {exc}).")
        finally:
            for sub in self.subscriptions:
                if not sub.close(timeout=5.0):
                    log.warning("subscriber %r did not finish within 5 s", sub.name)

    def _emit(self, kind: EventKind, message: str) -> None:
        if self._on_event is not None:
            try:
                self._on_event(SessionEvent(kind, message))
            except Exception:
                log.exception("session event handler failed")

    def request_subject_at(self, x_px: float, y_px: float) -> None:
        """Follow the person under frame pixel (x, y) from the next frame on (any thread; the
        localizer's tracker applies it). Ignored while no pipeline runs."""
        localizer = self._localizer
        if localizer is not None:
            localizer.request_subject_at(x_px, y_px)

    def _fail(self, message: str) -> None:
        self.error = message
        self._emit("failed", message)

    def _run(self) -> None:
        self._emit("loading", "Loading models…")
        try:
            pipeline = (self._pipeline_factory or LivePipeline)(self.config.pipeline)
        except USER_ERRORS as exc:
            return self._fail(str(exc))
        except ValueError as exc:  # a setting out of range (e.g. look-ahead): say which
            return self._fail(f"Invalid setting: {exc}")
        self._localizer = getattr(pipeline, "localizer", None)
        try:
            if self._stop.is_set():  # stopped while the models were loading
                return
            self.mesh_status = pipeline.mesh_status
            predictor = pipeline.predictor
            self.device = "" if predictor is None else str(predictor.device)
            try:
                source = open_source(self.config.source, loop=self.config.loop)
            except USER_ERRORS as exc:
                return self._fail(str(exc))
            self._emit("ready", self.mesh_status)
            batch = self.config.batch and not source.is_live
            capture = CaptureThread(source, realtime=False if batch else None, drop_stale=not batch)
            self._capture = capture.start()
            try:
                self._loop(pipeline, self._capture)
            finally:
                self._capture.stop()
                self.stats.set_dropped(self._capture.status().frames_dropped)
        finally:
            pipeline.close()

    def _loop(self, pipeline: LivePipeline, capture: CaptureThread) -> None:
        faces = None if pipeline.faces is None else _read_only(pipeline.faces)
        display_lod = getattr(pipeline, "display_lod", None)
        smoother = MeshSmoother(self.config.smoothing)
        presence = SubjectPresence(self.config.hold_s, self.config.fade_s)
        last_message = None
        while not self._stop.is_set():
            self._wait_for_pacing_views()
            frame = capture.get(timeout=0.1)
            status = capture.status()
            if status.message != last_message:
                last_message = status.message
                self._emit("capture", status.message)
            if frame is None:
                if status.state == "ended":
                    self.ended = True
                    self._emit("ended", f"Finished: {status.message}.")
                    return
                if status.state == "error":
                    return self._fail(f"Reading {status.source} failed: {status.message}")
                continue
            try:
                out = pipeline.process(frame)
            except USER_ERRORS as exc:
                log.exception("processing stopped")
                return self._fail(f"Processing stopped: {exc}")
            if smoother.strength != self._smoothing:
                smoother = MeshSmoother(self._smoothing)
            if out.observation is None:
                smoother.reset()  # a new track starts from its own first mesh
            meshes = tuple(_frozen_mesh(smoother(m)) for m in out.meshes)
            shown = presence.update(frame.t_ns, out.observation is not None, meshes)
            latency_ms = (time.perf_counter_ns() - frame.wall_ns) / 1e6
            for stage, ms in out.timings_ms.items():
                self.stats.add_time(stage, ms)
            self.stats.add_time("latency", latency_ms)
            self.stats.count_frame(out.observation is not None, bool(meshes))
            self.stats.set_dropped(status.frames_dropped)
            frame.image_bgr.setflags(write=False)
            buffer = None if pipeline.predictor is None else pipeline.predictor.buffer
            if buffer is not None:
                self.buffer_fill, self.buffer_size = len(buffer), buffer.T
            self._publish(
                SessionResult(
                    frame=frame,
                    observation=out.observation,
                    meshes=meshes,
                    display_mesh=shown.mesh,
                    display_alpha=shown.alpha,
                    subject=shown.state,
                    faces=faces,
                    timings_ms=MappingProxyType(dict(out.timings_ms)),
                    latency_ms=latency_ms,
                    counters=SessionCounters(
                        frames_seen=self.stats.frames_seen,
                        frames_with_person=self.stats.frames_with_person,
                        frames_with_mesh=self.stats.frames_with_mesh,
                        frames_dropped=status.frames_dropped,
                        capture_fps=status.fps,
                        processed_fps=self.stats.fps(),
                    ),
                    buffer_fill=self.buffer_fill,
                    buffer_size=self.buffer_size,
                    display_lod=display_lod,
                )
            )

    def _wait_for_pacing_views(self) -> None:
        """Let views that pace the session take the last result first (module doc)."""
        subs = self.subscriptions
        if any(s.every_frame and s.active for s in subs):
            return
        for sub in subs:
            if sub.paces and sub.active:
                sub.wait_idle(PACE_TIMEOUT_S)

    def _publish(self, result: SessionResult) -> None:
        for sub in self.subscriptions:
            sub.offer(result)


def _read_only(array: np.ndarray) -> np.ndarray:
    out = np.array(array, copy=True)
    out.setflags(write=False)
    return out


def _frozen_mesh(mesh: MeshResult) -> MeshResult:
    """The mesh with read-only arrays (it is shared by every subscriber)."""
    for array in (mesh.vertices_cam, mesh.joints_cam, mesh.K, mesh.bbox_xyxy):
        array.setflags(write=False)
    return mesh
