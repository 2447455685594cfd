"""Delivery of session results to subscribers, each behind its own `Mailbox`.

The session never calls subscriber code itself: it puts each result into every subscription's
mailbox and moves on, so a slow or failing subscriber cannot block or kill capture.

- keep-latest (`every_frame=False`, views): a result not yet taken is replaced by the newer one
  (counted in `dropped`).
- every frame (`every_frame=True`, recorders, exporters): a FIFO of `queue_size`; when the
  subscriber falls that far behind, new results are dropped and counted, never queued without
  bound and never waited for.

A subscription either runs `on_result` in a thread of its own, or hands results to a thread
the subscriber already has (`mailbox=`: the GUI's display thread reads its mailbox itself, no
relay thread in between). A view can pace the session (`paces=True`, see `Session.subscribe`).

An exception raised by `on_result` is logged, kept in `Subscription.error`, passed to the
session's error callback, and ends that subscription (the others and capture go on).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from stdformer.session.mailbox import Mailbox

log = logging.getLogger(__name__)

T = TypeVar("T")


class Subscription(Generic[T]):
    """One subscriber's mailbox and, with `on_result`, its delivery thread. Made by
    `Session.subscribe`."""

    def __init__(
        self,
        name: str,
        on_result: Callable[[T], None] | None = None,
        *,
        every_frame: bool = False,
        queue_size: int = 64,
        on_close: Callable[[], None] | None = None,
        on_error: Callable[[Subscription[T], str], None] | None = None,
        paces: bool = False,
        mailbox: Mailbox[T] | None = None,
    ) -> None:
        if (on_result is None) == (mailbox is None):
            raise ValueError("give either on_result (a delivery thread) or mailbox (yours)")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.name = name
        self.every_frame = every_frame
        self.paces = paces  # the session waits for this subscriber (Mailbox.pace)
        self._on_result, self._on_close, self._on_error = on_result, on_close, on_error
        if mailbox is None:
            size, when_full = (queue_size, "drop_new") if every_frame else (1, "replace")
            mailbox = Mailbox(size, when_full)
        self.mailbox: Mailbox[T] = mailbox
        self._ended = False  # closed or cancelled: no more results are offered
        self.delivered = 0
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        if on_result is not None:
            self._thread = threading.Thread(
                target=self._run, name=f"subscriber-{name}", daemon=True
            )
            self._thread.start()

    @property
    def active(self) -> bool:
        """Still accepting results (not failed, not closed)."""
        return self.error is None and not self._ended

    @property
    def dropped(self) -> int:
        """Results this subscriber never got."""
        return self.mailbox.dropped

    def offer(self, item: T) -> None:
        """Hand over a result without waiting (called by the session loop)."""
        if self.active:
            self.mailbox.put(item)

    def close(self, timeout: float | None = 5.0) -> bool:
        """No more results: the thread delivers what is queued, calls `on_close` and ends; True
        when it ended in time. A subscriber's own mailbox is left to its owner."""
        self._ended = True
        if self._thread is None:
            if self._on_close is not None:
                self._on_close()
            return True
        self.mailbox.close()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel(self) -> None:
        """Stop delivering at once (queued results are dropped; `on_close` still runs)."""
        self._ended = True
        if self._thread is not None:
            self.mailbox.clear()
            self.mailbox.close()

    def _run(self) -> None:
        assert self._on_result is not None
        while (item := self.mailbox.get()) is not None:
            try:
                self._on_result(item)
            except Exception as exc:  # a subscriber's bug must not reach the session
                self._fail("failed", exc)
                break
            self.delivered += 1
        self.mailbox.clear()
        if self._on_close is not None:
            try:
                self._on_close()
            except Exception as exc:
                self._fail("failed while closing", exc)

    def _fail(self, what: str, exc: Exception) -> None:
        log.exception("subscriber %r %s", self.name, what)
        self.error = f"{self.name} {what}: {type(exc).__name__}: {exc}"
        self.mailbox.close()
        self.mailbox.clear()
        if self._on_error is not None:
            self._on_error(self, self.error)
