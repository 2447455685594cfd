"""The threaded driver of the live session: capture -> `SessionCore.step` -> subscribers.

Every per-frame decision is in `SessionCore.step` (`stdformer.session.core`); this module only
runs it in a thread, fed by the capture thread, and hands each `SessionResult` to the
subscribers. The GUI (through a thin Qt adapter) and `main.py process` drive a `Session`; views,
recorders, exporters and stats attach as subscribers::

    session = Session(SessionConfig(source="sample"), on_event=print)
    session.subscribe(lambda r: print(r.frame.index, r.display_mesh is not None), name="printer")
    session.start()            # loads models and opens the source in the session thread
    session.send(PickSubject(320, 240))   # commands apply between two steps
    ...
    session.stop()             # ends the loop, drains and closes every subscription

Subscribers each sit behind a `Mailbox` (`stdformer.session.subscribers`): a slow one misses
results, a failing one is reported through `on_event` and detached; capture and the other
subscribers go on.

Under load the session never builds a backlog: capture keeps only the newest frame, and a view
subscribed with `paces=True` makes the loop take its next frame only when the view has taken
the last result (`Mailbox.pace`), so the machine spends no time on frames nobody would see and
frames are dropped evenly at capture (not while recording: a recorder wants every frame).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from stdformer.inference.smoothing import MeshSmoother
from stdformer.paths import BadFileError, MissingFileError
from stdformer.session.capture import CaptureStatus, CaptureThread
from stdformer.session.core import (
    Command,
    Observed,
    PickSubject,
    SessionConfig,
    SessionCore,
    SessionResult,
    SetSmoothing,
)
from stdformer.session.fade import MeshFade
from stdformer.session.mailbox import Mailbox
from stdformer.session.pipeline import LivePipeline, PipelineConfig, several_cpus
from stdformer.session.sources import SourceError, open_source
from stdformer.session.stats import RunStats
from stdformer.session.subscribers import Subscription

log = logging.getLogger(__name__)

# Failures a user can act on (their message says what to do); anything else is a bug, reported
# as an internal error.
USER_ERRORS = (SourceError, MissingFileError, BadFileError, OSError, RuntimeError)

EventKind = Literal["loading", "ready", "capture", "ended", "failed", "subscriber_failed"]


@dataclass(frozen=True)
class SessionEvent:
    """A change of the session's state, for status lines and scripts."""

    kind: EventKind
    message: str


def overlap_enabled(config: SessionConfig) -> bool:
    """Whether the session localizes the next frame while completing this one: as configured,
    else on two or more CPUs (files and live). Measured on a 2-core AMD EPYC without AVX-512
    (`bench_live.py --overlap off on`, idle, one run per pair): live 640x480 fitted body 21.4 vs
    28.0 fps displayed (ratio to the detector 0.71 vs 0.93), latency p50 78 vs 78 ms (p90 96 vs
    116); 1280x720 21.2 vs 24.5 fps, latency p50 79 vs 111 ms; batch 16.7 vs 26.9 fps. Live it
    was on only from 4 CPUs for its latency (p50 74 vs 119 ms then); the network no longer holds
    the GIL (`inference/traced.py`), which took ~8 ms off the overlapped model stage and latency.
    On one core overlap loses (17.8 vs 14.9 fps, latency 92 vs 168 ms): both stages share it."""
    if config.overlap is not None:
        return config.overlap
    return several_cpus()


class Session:
    """Runs `SessionCore.step` in its own thread and publishes the results (module doc)."""

    def __init__(
        self,
        config: SessionConfig,
        on_event: Callable[[SessionEvent], None] | None = None,
        stats: RunStats | None = None,
        pipeline_factory: Callable[[PipelineConfig], LivePipeline] | None = None,
    ) -> None:
        # validate in the caller's thread
        MeshSmoother(config.smoothing, config.smoothing_lag_s, None, config.pipeline.lookahead)
        MeshFade(config.hold_s, config.fade_s)
        self.config = config
        self.stats = stats or RunStats()
        self._on_event = on_event
        self._pipeline_factory = pipeline_factory
        self._subs: list[Subscription[SessionResult]] = []
        self._subs_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._capture: CaptureThread | None = None
        self._commands: deque[Command] = deque()  # handed to the core before each step
        self.error: str | None = None  # why the loop stopped, when it failed
        self.ended = False  # a non-looping file reached its end
        self.mesh_status = ""  # how the mesh is produced (or why not), once loaded
        self.device = ""  # where the network runs ("" without weights)

    def send(self, command: Command) -> None:
        """Queue a command (`PickSubject`, `SetSmoothing`) from any thread; it applies before
        the next frame is processed (also when sent while the models are still loading)."""
        if not isinstance(command, PickSubject | SetSmoothing):
            raise TypeError(f"not a session command: {command!r}")
        self._commands.append(command)

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(
        self,
        on_result: Callable[[SessionResult], None] | None = None,
        *,
        name: str,
        every_frame: bool = False,
        queue_size: int = 64,
        on_close: Callable[[], None] | None = None,
        paces: bool = False,
        mailbox: Mailbox[SessionResult] | None = None,
    ) -> Subscription[SessionResult]:
        """Attach a subscriber: `on_result` runs in the subscription's own thread, or results go
        to `mailbox`, read by a thread the subscriber has (the GUI's display thread).

        Views take the newest result (`every_frame=False`); recorders and exporters want every
        result (`every_frame=True`, dropped and counted beyond `queue_size` pending). `on_close`
        runs after the last result when the session stops (finish a file there). `paces`
        (a view that shows every result it takes): the loop waits (`Mailbox.pace`) for this
        subscriber to take the last result before it takes the next frame, unless an
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
            mailbox=mailbox,
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
        """The capture thread's state (for benchmarks; views read `SessionResult.counters`)."""
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
        try:
            if self._stop.is_set():  # stopped while the models were loading
                return
            log.debug("models loaded")  # start-up milestone (benchmarks/bench_startup.py)
            core = SessionCore(pipeline, self.config)
            self.mesh_status, self.device = core.mesh_status, core.device
            try:
                source = open_source(self.config.source, loop=self.config.loop)
            except USER_ERRORS as exc:
                return self._fail(str(exc))
            log.debug("source opened")
            self._emit("ready", self.mesh_status)
            batch = self.config.batch and not source.is_live
            capture = CaptureThread(source, realtime=False if batch else None, drop_stale=not batch)
            self._capture = capture.start()
            try:
                self._loop(core, capture)
            finally:
                capture.stop()
                self.stats.set_dropped(capture.status().frames_dropped)
        finally:
            pipeline.close()

    def _loop(self, core: SessionCore, capture: CaptureThread) -> None:
        """Observe (localize) frames from the capture and complete them, in one thread or, with
        `config.overlap`, observing the next frame in a second thread while this one completes
        (at most one observed frame waits: `Mailbox` "wait")."""
        self._input_end: str | None = None
        last = None
        if not overlap_enabled(self.config):
            for observed in self._observed(core, capture, pace=True):
                if (result := self._complete(core, observed)) is None:
                    return  # failed: the error is reported
                last = result
            return self._finish(core, last)
        box: Mailbox[Observed] = Mailbox(1, "wait")

        def observe() -> None:
            try:
                for observed in self._observed(core, capture, pace=False, ahead=box):
                    if not box.put(observed):
                        return
            finally:
                box.close()

        thread = threading.Thread(target=observe, name="session-observe", daemon=True)
        thread.start()
        try:
            while True:
                self._pace_views()
                observed = box.get(timeout=0.1)
                if observed is None:
                    if box.closed and not len(box):
                        break
                    continue
                result = self._complete(core, observed)
                if result is None:  # failed: the error is reported
                    self._stop.set()
                    return
                last = result
        finally:
            box.close()  # an observer waiting for room returns
            thread.join()
        self._finish(core, last)

    def _observed(
        self,
        core: SessionCore,
        capture: CaptureThread,
        pace: bool,
        ahead: Mailbox[Observed] | None = None,
    ) -> Iterator[Observed]:
        """Frames from the capture, localized, until stopped, the input ends (`_input_end`
        says how) or fails. `pace`: wait for the views first; `ahead`: wait until the
        completing thread has taken the last observed frame, so the next one is taken from
        the capture as late as possible (fresh: a frame never ages waiting to be completed)."""
        last_message = None
        while not self._stop.is_set():
            if pace:
                self._pace_views()
            while ahead is not None and not ahead.pace(timeout=0.1):
                if self._stop.is_set():
                    return
            frame = capture.get(timeout=0.1)
            status = capture.status()
            if status.message != last_message:
                last_message = status.message
                self._emit("capture", status.message)
            if frame is None:
                if status.state == "ended":
                    self._input_end = f"Finished: {status.message}."
                    return
                if status.state == "error":
                    self._fail(f"Reading {status.source} failed: {status.message}")
                    return
                continue
            while self._commands:
                core.send(self._commands.popleft())
            try:
                yield core.observe(frame, status)
            except USER_ERRORS as exc:
                log.exception("processing stopped")
                self._fail(f"Processing stopped: {exc}")
                return

    def _complete(self, core: SessionCore, observed: Observed) -> SessionResult | None:
        """Complete one observed frame and hand the result out (None: failed, reported)."""
        try:
            result = core.complete(observed)
        except USER_ERRORS as exc:
            log.exception("processing stopped")
            self._fail(f"Processing stopped: {exc}")
            return None
        self._deliver(result)
        return result

    def _finish(self, core: SessionCore, last: SessionResult | None) -> None:
        """At the end of the input: the meshes still owed, then the "ended" event."""
        if self._input_end is None or self.error:
            return
        final = None if last is None else core.finish(last)
        for sub in self.subscriptions if final is not None else ():
            sub.offer(final)  # the meshes still owed (same frame: not counted)
        self.ended = True
        self._emit("ended", self._input_end)

    def _deliver(self, result: SessionResult) -> None:
        self._count(result)
        for sub in self.subscriptions:
            sub.offer(result)

    def _count(self, result: SessionResult) -> None:
        """Add the result's timings and counts to the run statistics (--stats-json)."""
        for stage, ms in result.timings_ms.items():
            self.stats.add_time(stage, ms)
        self.stats.add_time("latency", result.latency_ms)
        self.stats.count_frame(result.observation is not None, bool(result.meshes))
        self.stats.set_dropped(result.counters.frames_dropped)

    def _pace_views(self) -> None:
        """Let views that pace the session take the last result first (module doc)."""
        subs = self.subscriptions
        if any(s.every_frame and s.active for s in subs):
            return
        for sub in subs:
            if sub.paces and sub.active:
                sub.mailbox.pace()
