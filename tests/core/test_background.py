"""ReadAhead and WriteBehind: order, errors where they happened, clean-up, sticky failures."""

from __future__ import annotations

import threading

import pytest

from tiktok_portability.background import ReadAhead, WriteBehind


def test_read_ahead_yields_every_item_in_order_then_stops():
    items = ReadAhead(lambda: iter(range(1000)), depth=3)
    assert list(items) == list(range(1000))
    assert next(items, "end") == "end"  # stays ended


def test_read_ahead_raises_the_producers_error_after_the_items_before_it():
    def produce():
        yield "a"
        yield "b"
        raise OSError("disk gone")

    items = ReadAhead(produce, depth=1)
    assert next(items) == "a"
    assert next(items) == "b"
    with pytest.raises(OSError, match="disk gone"):
        next(items)
    assert next(items, "end") == "end"


def test_read_ahead_clean_up_has_run_when_the_consumer_sees_the_end():
    cleaned = []

    def produce():
        try:
            yield 1
        finally:
            cleaned.append(True)

    items = ReadAhead(produce)
    assert next(items) == 1
    assert next(items, "end") == "end"
    assert cleaned == [True]


def test_closing_early_stops_the_producer_and_runs_its_clean_up():
    cleaned = threading.Event()
    produced = []

    def produce():
        try:
            for n in range(10_000):
                produced.append(n)
                yield n
        finally:
            cleaned.set()

    items = ReadAhead(produce, depth=2)
    assert next(items) == 0
    items.close()
    assert cleaned.is_set()  # before close() returned
    assert len(produced) < 10_000
    assert next(items, "end") == "end"


def test_write_behind_runs_calls_in_order_off_the_calling_thread():
    seen: list[tuple[int, str]] = []
    behind = WriteBehind(depth=2)
    for n in range(50):
        behind.submit(lambda n=n: seen.append((n, threading.current_thread().name)))
    behind.close()
    assert [n for n, _ in seen] == list(range(50))
    assert {name for _, name in seen} != {threading.current_thread().name}


def test_write_behind_failure_sticks_to_every_later_call():
    behind = WriteBehind(depth=1)
    ran = []

    def fail():
        raise OSError("no space left")

    behind.submit(fail)
    with pytest.raises(OSError, match="no space"):
        behind.submit(lambda: ran.append("second"))  # depth 1: collects the failed call first
    with pytest.raises(OSError, match="no space"):
        behind.run(lambda: ran.append("here"))
    with pytest.raises(OSError, match="no space"):
        behind.wait()
    with pytest.raises(OSError, match="no space"):
        behind.close()
    assert ran == []  # nothing ran after the failure, as if the write had gone on
    assert not behind.started  # the thread is stopped all the same


def test_write_behind_run_waits_for_what_is_queued():
    order = []
    behind = WriteBehind(depth=4)
    gate = threading.Event()
    behind.submit(lambda: (gate.wait(5), order.append("queued")))
    gate.set()
    behind.run(lambda: order.append("here"))
    assert order == ["queued", "here"]
    behind.close()
