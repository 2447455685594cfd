"""The one hand-over between threads: a bounded mailbox, and the one pacing rule.

Capture -> session, session -> every subscriber (views, recorders, the GUI's display) and the
playback window's renderer all hand items over through a `Mailbox`. What happens when it is
full is the only difference between them:

- "replace" (keep-latest, capacity 1: live capture, views, playback requests): the unseen
  older item is dropped (counted in `dropped`) and the new one kept;
- "drop_new" (recorders, exporters: a FIFO of `capacity`): the new item is dropped and
  counted, nothing queues without bound and the producer never waits;
- "wait" (batch processing of a file: every frame): the producer waits for room.

The pacing rule (`pace`): a producer that should not run ahead of a consumer (the session
ahead of the display that shows each result) waits until the consumer has taken everything it
was given, at most `PACE_TIMEOUT_S`, so a stuck consumer cannot hold the producer.

A consumer may also be woken without an item (`wake`: e.g. the 3D view moved and must be drawn
again); `get` then returns None once.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
WhenFull = Literal["replace", "drop_new", "wait"]
PACE_TIMEOUT_S = 0.5  # a stuck consumer never holds its producer longer than this per item


class Mailbox(Generic[T]):
    """A bounded, thread-safe hand-over of items from producers to one consumer (module doc)."""

    def __init__(self, capacity: int = 1, when_full: WhenFull = "replace") -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if when_full not in ("replace", "drop_new", "wait"):
            raise ValueError(f"when_full must be replace, drop_new or wait, got {when_full!r}")
        self.capacity, self.when_full = capacity, when_full
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._woken = False
        self.dropped = 0  # items that never reached the consumer

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> bool:
        """Hand over `item`; False when it was dropped or the mailbox is closed."""
        with self._cond:
            if self._closed:
                return False
            if len(self._items) >= self.capacity:
                if self.when_full == "wait":
                    self._cond.wait_for(lambda: len(self._items) < self.capacity or self._closed)
                    if self._closed:
                        return False
                elif self.when_full == "drop_new":
                    self.dropped += 1
                    return False
                else:
                    self._items.popleft()
                    self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest item; None after `timeout` s, after a `wake`, or once closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed or self._woken, timeout)
            self._woken = False
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()  # a producer waiting for room or pacing may go on
            return item

    def pace(self, timeout: float = PACE_TIMEOUT_S) -> bool:
        """The pacing rule: wait until the consumer has taken every item, at most `timeout` s.
        True when it has (or the mailbox is closed)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items or self._closed, timeout)

    def wake(self) -> None:
        """Make the consumer's next (or current) `get` return, with None if nothing is queued."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def clear(self) -> None:
        """Drop what is queued (counted in `dropped`)."""
        with self._cond:
            self.dropped += len(self._items)
            self._items.clear()
            self._cond.notify_all()

    def close(self) -> None:
        """No more items: waiting producers and the consumer return (queued items are still
        returned by `get`)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
