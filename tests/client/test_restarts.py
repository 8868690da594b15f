"""RestartTracker: Nomad's restart policy semantics, with a fake clock."""

from __future__ import annotations

import random

import pytest

from nomadjail.client.restarts import (
    REASON_DELAY,
    REASON_NO_RESTARTS_ALLOWED,
    REASON_UNRECOVERABLE_ERROR,
    REASON_WITHIN_POLICY,
    Decision,
    RestartTracker,
)
from nomadjail.drivers.base import DriverError, ExitResult
from nomadjail.structs import SECOND, RestartPolicy, TaskLifecycle


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def tracker(attempts=2, interval=60, delay=1, mode="fail", job_type="service",
            lifecycle=None, clock=None):
    policy = RestartPolicy(attempts=attempts, interval=interval * SECOND, delay=delay * SECOND,
                           mode=mode)
    return RestartTracker(policy, job_type, lifecycle, clock=clock or Clock(),
                          rng=random.Random(7))


FAIL = ExitResult(exit_code=1)
OK = ExitResult(exit_code=0)


def test_restarts_within_policy_with_jittered_delay():
    t = tracker(delay=10)
    t.set_exit_result(FAIL)
    decision, delay = t.decide()
    assert decision == Decision.RESTART
    assert t.reason == REASON_WITHIN_POLICY
    assert 10 <= delay <= 12.5  # delay plus at most 25 % jitter


def test_mode_fail_gives_up_after_attempts():
    t = tracker(attempts=2)
    for _ in range(2):
        t.set_exit_result(FAIL)
        assert t.decide()[0] == Decision.RESTART
    t.set_exit_result(FAIL)
    assert t.decide() == (Decision.NOT_RESTARTING, 0.0)
    assert t.reason == 'Exceeded allowed attempts 2 in interval 1m0s and mode is "fail"'


def test_mode_delay_waits_for_the_interval_to_end():
    clock = Clock()
    t = tracker(attempts=1, interval=60, mode="delay", clock=clock)
    t.set_exit_result(FAIL)
    assert t.decide()[0] == Decision.RESTART
    clock.now += 20
    t.set_exit_result(FAIL)
    decision, delay = t.decide()
    assert (decision, t.reason) == (Decision.RESTART, REASON_DELAY)
    assert delay == pytest.approx(40)


def test_the_count_resets_when_the_interval_passed():
    clock = Clock()
    t = tracker(attempts=1, interval=10, clock=clock)
    t.set_exit_result(FAIL)
    assert t.decide()[0] == Decision.RESTART
    clock.now += 11
    t.set_exit_result(FAIL)
    assert t.decide()[0] == Decision.RESTART
    assert t.count == 1


def test_batch_success_is_terminal_service_success_restarts():
    batch = tracker(job_type="batch")
    batch.set_exit_result(OK)
    assert batch.decide()[0] == Decision.TERMINATED
    service = tracker(job_type="service")
    service.set_exit_result(OK)
    assert service.decide()[0] == Decision.RESTART


def test_zero_attempts():
    t = tracker(attempts=0, job_type="batch")
    t.set_exit_result(OK)
    assert t.decide()[0] == Decision.TERMINATED
    t.set_exit_result(FAIL)
    assert t.decide()[0] == Decision.NOT_RESTARTING
    assert t.reason == REASON_NO_RESTARTS_ALLOWED


def test_start_errors_restart_only_when_recoverable():
    t = tracker()
    t.set_start_error(DriverError("flaky", recoverable=True))
    assert t.decide()[0] == Decision.RESTART
    t.set_start_error(DriverError("broken"))
    assert t.decide()[0] == Decision.NOT_RESTARTING
    assert t.reason == REASON_UNRECOVERABLE_ERROR


def test_kill_wins_and_a_requested_restart_skips_the_policy():
    t = tracker(attempts=0)
    t.set_exit_result(FAIL)
    t.set_killed()
    assert t.decide() == (Decision.KILLED, 0.0)
    t.set_restart_triggered(False)
    t.set_exit_result(FAIL)
    assert t.decide() == (Decision.RESTART, 0.0)


def test_prestart_sidecar_restarts_on_success_ephemeral_does_not():
    sidecar = tracker(job_type="batch", lifecycle=TaskLifecycle(hook="prestart", sidecar=True))
    sidecar.set_exit_result(OK)
    assert sidecar.decide()[0] == Decision.RESTART
    ephemeral = tracker(job_type="service", lifecycle=TaskLifecycle(hook="prestart"))
    ephemeral.set_exit_result(OK)
    assert ephemeral.decide()[0] == Decision.TERMINATED
