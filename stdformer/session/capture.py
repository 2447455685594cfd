"""Capture thread: reads a `VideoSource` and publishes the newest frame into a keep-latest mailbox.

A slow consumer never makes frames pile up: a frame that was not taken before the next one
arrives is dropped (and counted). Files and folders are paced to their frame rate so they play
like a camera; a camera that stops delivering is re-opened with back-off inside this thread, so
the consumer (GUI, predictor) never blocks on it. Status is readable from any thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from stdformer.session.mailbox import Mailbox
from stdformer.session.sources import SourceError, VideoSource
from stdformer.types import Frame

log = logging.getLogger(__name__)

STATES = ("starting", "running", "retrying", "ended", "error", "stopped")


@dataclass(frozen=True)
class CaptureStatus:
    """Snapshot of the capture thread for status bars and scripts."""

    state: str  # one of STATES
    message: str  # why the state is what it is ("" while running)
    source: str  # the source's name (camera index, path)
    fps: float  # frames published per second over the last ~2 s
    frames_read: int
    frames_dropped: int  # published but replaced by a newer frame before anyone took them
    retries: int  # camera re-open attempts so far


class CaptureThread:
    """Run a source in its own thread; consumers call `get(timeout)` for the newest frame.

    `realtime` (default: True for files/folders, False for cameras) paces frames by their
    `t_ns`, so a file plays at its recorded speed. Set it False to read as fast as possible.
    `drop_stale=False` makes the reader wait for the consumer instead of dropping frames (batch
    processing of a file: every frame is processed). The thread owns the source and closes it
    on `stop()`. `clock_ns` and `sleep` (seconds -> True when stopped meanwhile) pace the
    frames; tests pass a fake clock.
    """

    def __init__(
        self,
        source: VideoSource,
        *,
        realtime: bool | None = None,
        retry_delay_s: float = 0.5,
        max_retry_delay_s: float = 5.0,
        drop_stale: bool = True,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.source = source
        self._clock_ns = clock_ns
        self.realtime = (not source.is_live) if realtime is None else realtime
        self.retry_delay_s = retry_delay_s
        self.max_retry_delay_s = max_retry_delay_s
        # Keep-latest for live play; a batch reader waits for the consumer instead.
        self._slot: Mailbox[Frame] = Mailbox(1, "replace" if drop_stale else "wait")
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._lock = threading.Lock()
        self._state, self._message = "starting", ""
        self._frames_read = 0
        self._retries = 0
        self._publish_times: deque[float] = deque(maxlen=120)
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    # -- consumer side ------------------------------------------------------------------------
    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def get(self, timeout: float | None = None) -> Frame | None:
        """Newest frame not returned before; None on timeout or when the source has ended."""
        return self._slot.get(timeout)

    def status(self) -> CaptureStatus:
        now = time.perf_counter()
        with self._lock:
            recent = [t for t in self._publish_times if now - t <= 2.0]
            state, message = self._state, self._message
            frames_read, retries = self._frames_read, self._retries
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
        if recent and now - recent[-1] > 1.0:
            fps = 0.0  # nothing arrived for a second: do not show a stale rate
        return CaptureStatus(
            state, message, self.source.name, fps, frames_read, self._slot.dropped, retries
        )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading, wake consumers and release the source."""
        self._stop.set()
        self._slot.close()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():  # blocked inside a driver call; it is a daemon thread
            log.warning("capture thread of %s did not stop within %.1f s", self.source, timeout)
            return
        self.source.close()
        with self._lock:
            if self._state in ("starting", "running", "retrying"):
                self._state, self._message = "stopped", "stopped by the user"

    def __enter__(self) -> CaptureThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- capture thread -----------------------------------------------------------------------
    def _set_state(self, state: str, message: str = "") -> None:
        with self._lock:
            self._state, self._message = state, message

    def _run(self) -> None:
        self._set_state("running")
        clock: tuple[int, int] | None = None  # (media t_ns, perf_counter_ns) of the pace origin
        try:
            while not self._stop.is_set():
                try:
                    frame = self.source.read()
                except SourceError as err:
                    if not self.source.is_live:
                        raise
                    self._reconnect(err)
                    clock = None
                    continue
                if frame is None:
                    self._set_state("ended", f"end of {self.source.name}")
                    break
                if self.realtime:
                    clock = self._pace(frame, clock)
                    if self._stop.is_set():
                        break
                    # wall_ns marks when the frame became available, for latency measurements.
                    frame = dataclasses.replace(frame, wall_ns=self._clock_ns())
                self._slot.put(frame)
                with self._lock:
                    self._frames_read += 1
                    self._publish_times.append(time.perf_counter())
        except Exception as err:  # anything else ends the capture; the consumer sees why
            log.exception("capture from %s failed", self.source.name)
            self._set_state("error", f"{type(err).__name__}: {err}")
        finally:
            self._slot.close()

    def _pace(self, frame: Frame, clock: tuple[int, int] | None) -> tuple[int, int]:
        """Sleep until the frame's media time; re-anchor when more than 0.5 s behind."""
        now = self._clock_ns()
        if clock is None:
            return frame.t_ns, now
        due = clock[1] + (frame.t_ns - clock[0])
        if now - due > 500_000_000:
            return frame.t_ns, now  # reading fell behind (slow disk/decoder): restart the pace
        if due > now:
            self._sleep((due - now) / 1e9)
        return clock

    def _reconnect(self, err: Exception) -> None:
        """Re-open a live source with exponential back-off until it works or stop() is called."""
        delay = self.retry_delay_s
        log.warning("%s: %s; retrying", self.source.name, err)
        while not self._stop.is_set():
            with self._lock:
                self._retries += 1
                attempt = self._retries
            self._set_state("retrying", f"{err}; re-opening (attempt {attempt}, in {delay:.1f} s)")
            if self._stop.wait(delay):
                return
            try:
                self.source.reopen()
            except SourceError as again:
                err = again
                delay = min(delay * 2.0, self.max_retry_delay_s)
                continue
            log.info("%s re-opened", self.source.name)
            self._set_state("running")
            return
