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
    decision_record,
    job_type_of,
    restartable,
    restarts_on_success,
    task_restart_policy,
)
from nomadjail.drivers.base import DriverError, ExitResult
from nomadjail.structs import (
    SECOND,
    JobType,
    RestartMode,
    RestartPolicy,
    Task,
    TaskEventType,
    TaskLifecycle,
    TaskStateName,
    default_restart_policy,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node


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


def test_only_sidecars_of_the_lifecycle_hooks_restart_on_success():
    assert restarts_on_success("service", None)
    assert not restarts_on_success("batch", None) and not restarts_on_success("sysbatch", None)
    assert restarts_on_success("batch", TaskLifecycle(hook="poststart", sidecar=True))
    assert not restarts_on_success("service", TaskLifecycle(hook="poststart"))
    assert not restarts_on_success("service", TaskLifecycle(hook="poststop", sidecar=True))
    assert restarts_on_success("service", TaskLifecycle(hook="whenever"))  # runs as main


def test_a_restored_tracker_counts_on_where_the_last_client_stopped():
    clock = Clock()
    t = tracker(attempts=2, interval=60, clock=clock)
    t.restore(2, clock.now - 30)  # two restarts, 30 s into the interval
    t.set_exit_result(FAIL)
    assert t.decide() == (Decision.NOT_RESTARTING, 0.0)
    fresh = tracker(clock=clock)
    fresh.restore(1, 0.0)  # no interval start stored: the tracker's own stands
    assert (fresh.count, fresh.interval_start) == (1, clock.now)


def test_the_job_type_defaults_to_service():
    job = mock_job(job_type=JobType.BATCH)
    assert job_type_of(mock_alloc(job, mock_node())) == JobType.BATCH
    job.type = None
    assert job_type_of(mock_alloc(job, mock_node())) == JobType.SERVICE
    alloc = mock_alloc(job, mock_node())
    alloc.job = None
    assert job_type_of(alloc) == JobType.SERVICE


def test_the_tasks_policy_is_merged_onto_the_job_types_default():
    assert task_restart_policy(Task(name="web"), "batch") == default_restart_policy("batch")
    mine = Task(name="web", restart_policy=RestartPolicy(attempts=7, mode=RestartMode.DELAY))
    merged = task_restart_policy(mine, "service")
    default = default_restart_policy("service")
    assert (merged.attempts, merged.mode) == (7, RestartMode.DELAY)
    assert (merged.interval, merged.delay) == (default.interval, default.delay)


def test_what_each_decision_records():
    state, event = decision_record(Decision.RESTART, 2.5, REASON_WITHIN_POLICY)
    assert state == TaskStateName.PENDING and event is not None
    assert (event.type, event.start_delay, event.restart_reason) == (
        TaskEventType.RESTARTING, 2_500_000_000, REASON_WITHIN_POLICY)
    state, event = decision_record(Decision.NOT_RESTARTING, 0.0, REASON_UNRECOVERABLE_ERROR)
    assert state == TaskStateName.DEAD and event is not None
    assert (event.type, event.restart_reason, event.fails_task) == (
        TaskEventType.NOT_RESTARTING, REASON_UNRECOVERABLE_ERROR, True)
    assert decision_record(Decision.TERMINATED, 0.0, "") == (None, None)
    state, event = decision_record(Decision.KILLED, 0.0, "", "no such process")
    assert state is None and event is not None
    assert (event.type, event.kill_error) == (TaskEventType.KILLED, "no such process")


def test_which_restarts_an_operator_may_ask_for():
    assert restartable(TaskStateName.RUNNING, force=False, settled=False)
    assert not restartable(TaskStateName.PENDING, force=True, settled=False)
    assert not restartable(TaskStateName.DEAD, force=False, settled=False)
    assert restartable(TaskStateName.DEAD, force=True, settled=False)  # the runner still waits
    assert not restartable(TaskStateName.DEAD, force=True, settled=True)
