"""BackgroundLoop: one named thread per start, steps until stopped, a clean join,
and a restart after a stop (a server that gains leadership again)."""

from __future__ import annotations

import threading

from nomadjail.server.background_loop import BackgroundLoop
from nomadjail.testing import wait_for


def threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


class Steps:
    """A step that counts its calls and blocks briefly, as a dequeue with a timeout does."""

    def __init__(self) -> None:
        self.count = 0
        self.wake = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.wake.wait(0.01)


def test_steps_repeat_on_one_named_daemon_thread_until_stopped() -> None:
    steps = Steps()
    loop = BackgroundLoop("test-loop-a", steps)
    loop.start()
    loop.start()  # already running: no second thread
    try:
        wait_for(lambda: steps.count >= 3, timeout=10, message="three steps")
        [thread] = threads_named("test-loop-a")
        assert thread.daemon and loop.running
    finally:
        loop.stop()
    assert not thread.is_alive() and not loop.running  # no step runs after stop()


def test_a_stopped_loop_starts_again_on_a_new_thread() -> None:
    steps = Steps()
    loop = BackgroundLoop("test-loop-b", steps)
    loop.start()
    wait_for(lambda: steps.count >= 1, timeout=10, message="a first step")
    [first] = threads_named("test-loop-b")
    loop.stop()
    before = steps.count
    loop.start()
    try:
        wait_for(lambda: steps.count > before, timeout=10, message="a step after restart")
        [second] = threads_named("test-loop-b")
        assert second is not first and not first.is_alive()
    finally:
        loop.stop()


def test_signal_stop_lets_the_current_step_finish_and_starts_no_other() -> None:
    entered, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def step() -> None:
        entered.set()
        release.wait(10)
        finished.append(loop.stopping)

    loop = BackgroundLoop("test-loop-c", step)
    loop.start()
    assert entered.wait(10)
    loop.signal_stop()  # returns at once although the step is blocked
    assert loop.stopping and not loop.running
    release.set()
    loop.stop()
    assert finished == [True]  # the step saw the stop request; no second step ran


def test_a_stop_wakes_the_pause_between_steps() -> None:
    steps = Steps()
    loop = BackgroundLoop("test-loop-d", steps, interval=3600, join_timeout=30)
    loop.start()
    wait_for(lambda: steps.count == 1, timeout=10, message="the first step")
    [thread] = threads_named("test-loop-d")
    loop.stop()
    # Had the hour-long pause not been cut short, the join would have given up
    # with the thread still alive.
    assert not thread.is_alive() and steps.count == 1


def test_a_step_may_stop_its_own_loop() -> None:
    calls: list[int] = []

    def step() -> None:
        calls.append(1)
        loop.stop()  # must not try to join its own thread

    loop = BackgroundLoop("test-loop-e", step)
    loop.start()
    wait_for(lambda: not threads_named("test-loop-e"), timeout=10, message="the thread ends")
    assert calls == [1] and not loop.running
