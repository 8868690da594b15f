"""The one timer service: keyed timers fire once, reset replaces, cancel reports
whether it was pending; handles from call_later cancel what they scheduled; a
stopped service runs nothing."""

from __future__ import annotations

import threading

from nomadjail.helper.timers import Timer, Timers
from nomadjail.testing import wait_for


def test_timers_fire_in_deadline_order_and_reset_replaces():
    fired: list[str] = []
    timers = Timers("test")
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
    timers = Timers("test")
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
    timers = Timers("test")
    try:
        for _ in range(10_000):
            timers.set("node", 60, lambda: None)
        assert len(timers) == 1 and len(timers._heap) <= 64
    finally:
        timers.stop()


def test_call_later_handles_fire_once_or_cancel() -> None:
    fired: list[str] = []
    timers = Timers("test")  # no start(): the first timer starts the thread
    try:
        kept = timers.call_later(0.01, lambda: fired.append("kept"))
        dropped = timers.call_later(0.01, lambda: fired.append("dropped"))
        assert isinstance(kept, Timer) and kept.pending and len(timers) == 2
        assert dropped.cancel() is True and dropped.cancel() is False
        wait_for(lambda: fired == ["kept"], timeout=5, message="the kept timer")
        assert not kept.pending and kept.cancel() is False
    finally:
        timers.stop()
    assert fired == ["kept"]


def test_handles_and_keys_share_one_thread_named_after_the_service() -> None:
    timers = Timers("shared-test")
    done = threading.Event()
    seen: list[str] = []
    try:
        timers.set("k", 0, lambda: seen.append(threading.current_thread().name))
        timers.call_later(0, lambda: (seen.append(threading.current_thread().name),
                                      done.set()))
        assert done.wait(5)
        wait_for(lambda: len(seen) == 2, timeout=5, message="both callbacks")
        assert seen == ["timers-shared-test"] * 2
    finally:
        timers.stop()


def test_a_stopped_service_runs_nothing_until_started_again() -> None:
    fired: list[str] = []
    timers = Timers("test")
    timers.set("pending", 60, lambda: fired.append("pending"))
    timers.stop()  # drops it
    timers.set("late", 0, lambda: fired.append("late"))  # ignored while stopped
    handle = timers.call_later(0, lambda: fired.append("handle"))
    assert not handle.pending and len(timers) == 0
    timers.start()
    try:
        timers.set("again", 0, lambda: fired.append("again"))
        wait_for(lambda: "again" in fired, timeout=5, message="a timer after start()")
        assert fired == ["again"]
    finally:
        timers.stop()


def test_a_failing_callback_does_not_stop_the_others() -> None:
    fired = threading.Event()

    def fail() -> None:
        raise RuntimeError("boom")

    timers = Timers("test")
    try:
        timers.set("bad", 0, fail)
        timers.set("good", 0.01, fired.set)
        assert fired.wait(5)
    finally:
        timers.stop()


def test_callbacks_may_set_and_cancel_timers_and_stop_the_service() -> None:
    fired: list[str] = []
    timers = Timers("test")

    def first() -> None:
        fired.append("first")
        timers.set("second", 0, second)

    def second() -> None:
        fired.append("second")
        timers.stop()  # from the timer thread itself: must not join itself

    timers.set("first", 0, first)
    wait_for(lambda: fired == ["first", "second"], timeout=5, message="the chain")
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == "timers-test"
                          and t.is_alive()], timeout=5, message="the thread ends")


def test_an_injected_clock_sets_the_deadlines() -> None:
    now = [1000.0]
    timers = Timers("test", clock=lambda: now[0])
    try:
        timers.set("k", 30, lambda: None)
        assert timers.remaining("k") == 30
        now[0] += 10
        assert timers.remaining("k") == 20
    finally:
        timers.stop()
