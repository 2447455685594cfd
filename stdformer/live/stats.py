"""Run statistics shared by the GUI status bar, `--stats-json` and the headless CLI.

Per-stage timings keep a bounded window of recent samples (medians for display) and all-run
medians come from a fixed-size reservoir, so a long session never grows memory.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import deque
from pathlib import Path


class RunStats:
    """Thread-safe counters and per-stage timing samples (milliseconds)."""

    def __init__(self, window: int = 120, keep: int = 5000) -> None:
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._all: dict[str, deque[float]] = {}
        self._window, self._keep = window, keep
        self._frame_times: deque[float] = deque(maxlen=window)
        self.frames_seen = 0
        self.frames_with_person = 0
        self.started = time.perf_counter()

    def add_time(self, stage: str, ms: float) -> None:
        with self._lock:
            self._recent.setdefault(stage, deque(maxlen=self._window)).append(ms)
            self._all.setdefault(stage, deque(maxlen=self._keep)).append(ms)

    def count_frame(self, has_person: bool) -> None:
        with self._lock:
            self.frames_seen += 1
            self.frames_with_person += int(has_person)
            self._frame_times.append(time.perf_counter())

    def fps(self) -> float:
        """Processed frames per second over the recent window."""
        with self._lock:
            t = list(self._frame_times)
        if len(t) < 2 or t[-1] <= t[0]:
            return 0.0
        return (len(t) - 1) / (t[-1] - t[0])

    def recent_median(self, stage: str) -> float | None:
        with self._lock:
            samples = list(self._recent.get(stage, ()))
        return statistics.median(samples) if samples else None

    def summary(self) -> dict[str, object]:
        """JSON-ready summary: counts, processed fps over the run, per-stage median ms."""
        with self._lock:
            medians = {k: round(statistics.median(v), 3) for k, v in self._all.items() if v}
            seen, person = self.frames_seen, self.frames_with_person
        elapsed = time.perf_counter() - self.started
        return {
            "frames_seen": seen,
            "frames_with_person": person,
            "elapsed_s": round(elapsed, 3),
            "fps": round(seen / elapsed, 2) if elapsed > 0 else 0.0,
            "median_ms": medians,
        }

    def write_json(self, path: str | Path, extra: dict[str, object] | None = None) -> None:
        data = self.summary() | (extra or {})
        Path(path).write_text(json.dumps(data, indent=2) + "\n")
