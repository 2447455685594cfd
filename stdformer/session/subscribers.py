"""Delivery of session results to subscribers, each in its own thread.

The session loop never calls subscriber code itself: it drops each result into every
subscription's mailbox and moves on, so a slow or failing subscriber cannot block or kill
capture. Two kinds of mailbox:

- keep-latest (`every_frame=False`, views): one slot; a result not yet taken is replaced by the
  newer one (counted in `dropped`).
- every frame (`every_frame=True`, recorders, exporters): a bounded FIFO of `queue_size`; when
  the subscriber falls that far behind, new results are dropped and counted, never queued
  without bound and never waited for.

A view can also pace the session (`paces=True`): the session then takes its next frame only
once the view has taken the last result (see `Session.subscribe`), so no frame is processed
that the view would never show.

An exception raised by a subscriber is logged, kept in `Subscription.error`, passed to the
session's error callback, and ends that subscription (the others and capture go on).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Subscription(Generic[T]):
    """One subscriber's mailbox and delivery thread. Made by `Session.subscribe`."""

    def __init__(
        self,
        name: str,
        on_result: Callable[[T], None],
        *,
        every_frame: bool = False,
        queue_size: int = 64,
        on_close: Callable[[], None] | None = None,
        on_error: Callable[[Subscription[T], str], None] | None = None,
        paces: bool = False,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.name = name
        self.every_frame = every_frame
        self.paces = paces  # the session waits for this subscriber (see wait_idle)
        self._on_result, self._on_close, self._on_error = on_result, on_close, on_error
        self._items: deque[T] = deque(maxlen=None if every_frame else 1)
        self._capacity = queue_size if every_frame else 1
        self._cond = threading.Condition()
        self._closing = False  # no more results will come: drain, call on_close, end
        self._cancelled = False  # end now, skip what is queued
        self._busy = False  # inside on_result
        self.delivered = 0
        self.dropped = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"subscriber-{name}", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        """Still accepting results (not failed, not closed)."""
        return self.error is None and not (self._closing or self._cancelled)

    def offer(self, item: T) -> None:
        """Hand over a result without waiting (called by the session loop)."""
        with self._cond:
            if not self.active:
                return
            if len(self._items) >= self._capacity:
                if self.every_frame:
                    self.dropped += 1  # the subscriber is too slow: drop the new result
                    return
                self._items.popleft()  # keep-latest: the unseen older result goes
                self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every offered result was handled (nothing queued, none in progress), at
        most `timeout` s; True when idle (also once the subscription ended)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._items or self._busy) or not self.active, timeout
            )

    def close(self, timeout: float | None = 5.0) -> bool:
        """Deliver what is queued, call `on_close`, end the thread; True when it ended in time."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel(self) -> None:
        """Stop delivering at once (queued results are dropped; `on_close` still runs)."""
        with self._cond:
            self._cancelled = True
            self.dropped += len(self._items)
            self._items.clear()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._items or self._closing or self._cancelled)
                if self._cancelled or (not self._items and self._closing) or self.error:
                    break
                item = self._items.popleft()
                self._busy = True
            try:
                self._on_result(item)
            except Exception as exc:  # a subscriber's bug must not reach the session
                self._fail("failed", exc)
                break
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            self.delivered += 1
        with self._cond:
            self._items.clear()
        if self._on_close is not None:
            try:
                self._on_close()
            except Exception as exc:
                self._fail("failed while closing", exc)

    def _fail(self, what: str, exc: Exception) -> None:
        log.exception("subscriber %r %s", self.name, what)
        with self._cond:
            self.error = f"{self.name} {what}: {type(exc).__name__}: {exc}"
            self._items.clear()
        if self._on_error is not None:
            self._on_error(self, self.error)
