"""Run statistics shared by the session, the GUI status bar and `--stats-json`.

Per-stage timings keep a bounded window of recent samples (medians for the status bar) and the
last `keep` samples for the run's medians and percentiles, so a long session never grows memory.
Stages are named by who times them: the session adds `localize`, `mesh` (the network) and
`latency` (capture -> result published); a display adds `render`, `overlay` and
`display_latency` (capture -> on screen) with `count_display`.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import deque
from pathlib import Path


def percentile(samples: list[float], q: float) -> float:
    """Linear-interpolated q-th percentile (q in [0, 100]) of a non-empty list."""
    s = sorted(samples)
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


class RunStats:
    """Thread-safe counters and per-stage timing samples (milliseconds) of one run."""

    def __init__(self, window: int = 120, keep: int = 5000) -> None:
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._all: dict[str, deque[float]] = {}
        self._added: dict[str, int] = {}  # samples ever added per stage (for readers that poll)
        self._window, self._keep = window, keep
        self._frame_times: deque[float] = deque(maxlen=window)
        self._display_times: deque[float] = deque(maxlen=window)
        self.frames_seen = 0
        self.frames_with_person = 0
        self.frames_with_mesh = 0
        self.frames_displayed = 0
        self.dropped = 0  # frames the capture replaced before processing took them
        self.started = time.perf_counter()

    def add_time(self, stage: str, ms: float) -> None:
        with self._lock:
            self._recent.setdefault(stage, deque(maxlen=self._window)).append(ms)
            self._all.setdefault(stage, deque(maxlen=self._keep)).append(ms)
            self._added[stage] = self._added.get(stage, 0) + 1

    def count_frame(self, has_person: bool, has_mesh: bool = False) -> None:
        with self._lock:
            self.frames_seen += 1
            self.frames_with_person += int(has_person)
            self.frames_with_mesh += int(has_mesh)
            self._frame_times.append(time.perf_counter())

    def count_display(self, latency_ms: float) -> None:
        """A frame reached the screen `latency_ms` after it was captured."""
        self.add_time("display_latency", latency_ms)
        with self._lock:
            self.frames_displayed += 1
            self._display_times.append(time.perf_counter())

    def set_dropped(self, dropped: int) -> None:
        with self._lock:
            self.dropped = int(dropped)

    @staticmethod
    def _rate(times: deque[float]) -> float:
        t = list(times)
        if len(t) < 2 or t[-1] <= t[0] or time.perf_counter() - t[-1] > 1.0:
            return 0.0  # nothing for a second: no stale rate
        return (len(t) - 1) / (t[-1] - t[0])

    def fps(self) -> float:
        """Processed frames per second over the recent window."""
        with self._lock:
            return self._rate(self._frame_times)

    def display_fps(self) -> float:
        """Displayed frames per second over the recent window."""
        with self._lock:
            return self._rate(self._display_times)

    def recent_median(self, stage: str) -> float | None:
        with self._lock:
            samples = list(self._recent.get(stage, ()))
        return statistics.median(samples) if samples else None

    def samples_since(self, stage: str, count: int) -> tuple[list[float], int]:
        """(samples added after the first `count` ever added, new count), oldest first.

        A poller keeps the returned count and passes it back next time; samples older than the
        kept window (`keep`) are lost if it polls too rarely.
        """
        with self._lock:
            total = self._added.get(stage, 0)
            kept = list(self._all.get(stage, ()))
        new = min(total - count, len(kept))
        return (kept[len(kept) - new :] if new > 0 else []), total

    def summary(self) -> dict[str, object]:
        """JSON-ready summary of the run (the `--stats-json` fields)."""
        with self._lock:
            medians = {k: round(statistics.median(v), 3) for k, v in self._all.items() if v}
            latency = list(self._all.get("display_latency") or self._all.get("latency") or ())
            seen, person, mesh = self.frames_seen, self.frames_with_person, self.frames_with_mesh
            displayed, dropped = self.frames_displayed, self.dropped
        elapsed = time.perf_counter() - self.started
        return {
            "frames_seen": seen,
            "frames_with_person": person,
            "frames_with_mesh": mesh,
            "frames_displayed": displayed,
            "dropped": dropped,
            "elapsed_s": round(elapsed, 3),
            "fps": round(seen / elapsed, 2) if elapsed > 0 else 0.0,
            "display_fps": round(displayed / elapsed, 2) if elapsed > 0 else 0.0,
            "latency_ms": {
                "p50": round(percentile(latency, 50), 3) if latency else None,
                "p90": round(percentile(latency, 90), 3) if latency else None,
            },
            "median_ms": medians,
        }

    def write_json(self, path: str | Path, extra: dict[str, object] | None = None) -> None:
        data = self.summary() | (extra or {})
        Path(path).write_text(json.dumps(data, indent=2) + "\n")
