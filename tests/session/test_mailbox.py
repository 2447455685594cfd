"""The one mailbox between threads: keep-latest, bounded FIFO and waiting hand-over, the pacing
rule, wake-ups and close. Deterministic: no sleeps, only zero timeouts and events."""

from __future__ import annotations

import threading

import pytest

from stdformer.session.mailbox import Mailbox


def test_keep_latest_delivers_only_the_newest_and_counts_the_rest() -> None:
    box: Mailbox[int] = Mailbox(1, "replace")
    for i in range(3):
        assert box.put(i)
    assert box.get(0) == 2 and box.dropped == 2
    assert box.get(0) is None  # nothing new: no repeat of 2
    box.put(3)
    box.close()
    assert not box.put(4)  # closed: refused
    assert box.get(0) == 3  # a pending item survives close
    assert box.get(None) is None  # closed and drained: returns at once, even without timeout


def test_bounded_fifo_drops_new_items_and_keeps_order() -> None:
    box: Mailbox[int] = Mailbox(3, "drop_new")
    accepted = [box.put(i) for i in range(5)]
    assert accepted == [True, True, True, False, False] and box.dropped == 2
    assert [box.get(0) for _ in range(4)] == [0, 1, 2, None]


def test_waiting_put_hands_over_every_item() -> None:
    box: Mailbox[int] = Mailbox(1, "wait")
    got: list[int] = []

    def consume() -> None:
        while (item := box.get(5)) is not None:
            got.append(item)

    consumer = threading.Thread(target=consume)
    consumer.start()
    for i in range(50):
        box.put(i)  # waits for room instead of dropping
    box.close()
    consumer.join(5)
    assert got == list(range(50)) and box.dropped == 0


def test_close_releases_a_waiting_producer() -> None:
    box: Mailbox[int] = Mailbox(1, "wait")
    box.put(0)
    result: list[bool] = []
    producer = threading.Thread(target=lambda: result.append(box.put(1)))
    producer.start()
    box.close()
    producer.join(5)
    assert result == [False] and not producer.is_alive()


def test_pacing_waits_until_the_consumer_took_everything() -> None:
    box: Mailbox[int] = Mailbox(1, "replace")
    assert box.pace(0)  # empty: nothing to wait for
    box.put(1)
    assert not box.pace(0)  # not taken yet: a zero timeout expires
    taken = threading.Event()
    consumer = threading.Thread(target=lambda: (box.get(5), taken.set()))
    consumer.start()
    assert box.pace(5) and taken.wait(5)
    consumer.join(5)
    box.put(2)
    box.close()
    assert box.pace(0)  # a closed mailbox never holds its producer


def test_wake_returns_none_once_even_when_sent_before_get() -> None:
    box: Mailbox[int] = Mailbox()
    box.wake()  # e.g. the view moved while the consumer was busy drawing
    assert box.get(5) is None  # returns at once
    assert box.get(0) is None  # the wake was used up; this one just times out
    box.put(7)
    box.wake()
    assert box.get(0) == 7  # an item wins over a wake


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Mailbox(0)
    with pytest.raises(ValueError, match="when_full"):
        Mailbox(1, "block")  # type: ignore[arg-type]
