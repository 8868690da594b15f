"""Keyed timers: fire once, reset replaces, cancel reports whether it was pending."""

from __future__ import annotations

import threading

from nomadjail.server.timers import TimerSet
from nomadjail.testing import wait_for


def test_timers_fire_in_deadline_order_and_reset_replaces():
    fired: list[str] = []
    timers = TimerSet("test")
    timers.start()
    try:
        timers.set("late", 0.2, lambda: fired.append("late"))
        timers.set("early", 0.05, lambda: fired.append("early"))
        timers.set("moved", 0.01, lambda: fired.append("moved-old"))
        timers.set("moved", 0.1, lambda: fired.append("moved"))
        wait_for(lambda: len(fired) == 3, timeout=5, message="three timers")
        assert fired == ["early", "moved", "late"]
        assert len(timers) == 0
    finally:
        timers.stop()


def test_cancel_and_pending():
    timers = TimerSet("test")
    timers.start()
    fired = threading.Event()
    try:
        timers.set("k", 0.05, fired.set)
        assert timers.pending("k") and 0 < timers.remaining("k") <= 0.05
        assert timers.cancel("k") is True
        assert timers.cancel("k") is False and timers.remaining("k") is None
        assert not fired.wait(0.15)
    finally:
        timers.stop()


def test_many_resets_keep_the_heap_small():
    timers = TimerSet("test")
    try:
        for _ in range(10_000):
            timers.set("node", 60, lambda: None)
        assert len(timers) == 1 and len(timers._heap) <= 64
    finally:
        timers.stop()
