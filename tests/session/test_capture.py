"""Capture thread: keep-latest delivery, pacing, end of file, camera loss and recovery."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest

from stdformer.session.capture import CaptureThread
from stdformer.session.sources import SourceError, VideoSource, open_source
from stdformer.types import Frame


def make_frame(i: int) -> Frame:
    return Frame(np.zeros((2, 2, 3), np.uint8), t_ns=i * 1000, index=i)


def test_slow_consumer_gets_newest_frames_and_drops_are_counted(write_clip) -> None:
    capture = CaptureThread(open_source(write_clip(40)), realtime=False).start()
    seen = []
    while (frame := capture.get(timeout=2.0)) is not None:
        seen.append(frame.index)
        time.sleep(0.02)  # slower than the reader
    status = capture.status()
    capture.stop()
    assert status.state == "ended" and status.frames_read == 40
    assert status.frames_dropped == 40 - len(seen) > 0
    assert seen == sorted(seen) and seen[-1] == 39  # in order, and the last frame arrives


def test_file_is_paced_to_its_frame_rate(write_clip) -> None:
    """A file plays at its frame rate: the capture sleeps until each frame is due (fake clock:
    each sleep moves the time on, so the test does not depend on the machine's speed)."""
    now = [5_000_000_000]
    sleeps: list[float] = []

    def sleep(seconds: float) -> bool:
        sleeps.append(seconds)
        now[0] += round(seconds * 1e9)
        return False  # not stopped

    source = open_source(write_clip(10, fps=25.0))
    with CaptureThread(source, drop_stale=False, clock_ns=lambda: now[0], sleep=sleep) as capture:
        frames = []
        while (frame := capture.get(timeout=5.0)) is not None:
            frames.append(frame)
    assert [f.index for f in frames] == list(range(10))
    assert sum(sleeps) == pytest.approx(9 * 0.040, abs=1e-6)  # 9 intervals of 40 ms
    gaps = [(b.wall_ns - a.wall_ns) / 1e6 for a, b in itertools.pairwise(frames)]
    assert gaps == pytest.approx([40.0] * 9, abs=1e-3)  # published when due


def test_looping_file_keeps_running_with_monotonic_time(write_clip) -> None:
    with CaptureThread(open_source(write_clip(4), loop=True), realtime=False) as capture:
        frames = [capture.get(timeout=2.0) for _ in range(12)]
        assert capture.status().state == "running"
    t = [f.t_ns for f in frames]
    assert all(b > a for a, b in itertools.pairwise(t))
    assert frames[-1].index >= 11


def test_stop_wakes_waiting_consumer_and_closes_source(write_clip) -> None:
    capture = CaptureThread(open_source(write_clip(3), loop=True)).start()
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(capture.get(timeout=None)))
    capture.get(timeout=2.0)
    waiter.start()
    capture.stop()
    waiter.join(2.0)
    assert not waiter.is_alive()
    assert capture.status().state == "stopped" and not capture.alive


class FlakyCamera(VideoSource):
    """A live source that delivers `good` frames, then fails `fail_reopens` re-opens, then works."""

    is_live = True

    def __init__(self, good: int, fail_reopens: int) -> None:
        super().__init__("camera 7", fps=30.0)
        self.good, self.fail_reopens, self.reopens = good, fail_reopens, 0
        self.closed = False

    def read(self) -> Frame | None:
        if self.good <= 0:
            raise SourceError("camera 7 stopped delivering frames")
        self.good -= 1
        time.sleep(0.005)
        self._index += 1
        return Frame(np.zeros((2, 2, 3), np.uint8), time.monotonic_ns(), self._index - 1)

    def reopen(self) -> None:
        self.reopens += 1
        if self.reopens <= self.fail_reopens:
            raise SourceError("camera 7 is not available")
        self.good = 1000

    def close(self) -> None:
        self.closed = True


def test_camera_loss_is_retried_without_blocking_consumer() -> None:
    cam = FlakyCamera(good=3, fail_reopens=2)
    capture = CaptureThread(cam, retry_delay_s=0.05, max_retry_delay_s=0.1).start()
    states = set()
    deadline = time.perf_counter() + 5.0
    while cam.reopens < 3 and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        capture.get(timeout=0.05)
        assert time.perf_counter() - t0 < 1.0  # the consumer is never stuck on the device
        status = capture.status()
        states.add(status.state)
        if status.state == "retrying":
            assert "camera 7" in status.message and "re-opening" in status.message
    frame = capture.get(timeout=2.0)
    status = capture.status()
    capture.stop()
    assert "retrying" in states
    assert frame is not None and frame.index >= 3  # frames flow again after the re-open
    assert status.state == "running" and status.retries == 3 and cam.closed


def test_unexpected_error_is_reported_in_status() -> None:
    class Broken(VideoSource):
        def read(self) -> Frame | None:
            raise OSError("disk vanished")

    capture = CaptureThread(Broken("broken.mp4", fps=30.0)).start()
    assert capture.get(timeout=2.0) is None
    capture.stop()
    status = capture.status()
    assert status.state == "error" and "disk vanished" in status.message


def test_status_reports_rate_and_source(write_clip) -> None:
    with CaptureThread(open_source(write_clip(20, fps=50.0))) as capture:
        for _ in range(12):
            capture.get(timeout=2.0)
        status = capture.status()
    assert status.source.endswith("clip.avi") and status.state == "running"
    assert 20.0 < status.fps < 80.0  # paced to the file's 50 fps
