"""Restart, reschedule, update and migrate policies: merging, defaults and rules."""

import pytest

from nomadjail.structs import HOUR, MINUTE, SECOND
from nomadjail.structs.policies import (
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    UpdateStrategy,
    default_reschedule_policy,
    default_restart_policy,
    default_update_strategy,
    reschedule_errors,
    restart_errors,
)


def test_merged_onto_keeps_what_is_set_and_takes_the_rest():
    mine = RestartPolicy(attempts=5, mode="delay")
    merged = mine.merged_onto(default_restart_policy("service"))
    assert merged == RestartPolicy(attempts=5, interval=30 * MINUTE, delay=15 * SECOND,
                                   mode="delay", render_templates=False)
    assert mine == RestartPolicy(attempts=5, mode="delay")  # neither side changes
    update = UpdateStrategy(max_parallel=3).merged_onto(default_update_strategy())
    assert update.max_parallel == 3 and update.stagger == 30 * SECOND
    reschedule = ReschedulePolicy(unlimited=False).merged_onto(
        default_reschedule_policy("service"))
    assert reschedule.unlimited is False and reschedule.delay_function == "exponential"


@pytest.mark.parametrize("job_type, attempts, interval", [
    ("service", 2, 30 * MINUTE), ("system", 2, 30 * MINUTE),
    ("batch", 3, 24 * HOUR), ("sysbatch", 3, 24 * HOUR)])
def test_restart_defaults_per_job_type(job_type, attempts, interval):
    policy = default_restart_policy(job_type)
    assert (policy.attempts, policy.interval, policy.mode) == (attempts, interval, "fail")


def test_reschedule_defaults_per_job_type():
    assert default_reschedule_policy("service").unlimited is True
    assert default_reschedule_policy("batch").attempts == 1
    assert default_reschedule_policy("system") is None
    assert default_reschedule_policy("sysbatch") is None


def test_migrate_defaults():
    strategy = MigrateStrategy(max_parallel=2)
    strategy.canonicalize()
    assert strategy == MigrateStrategy(max_parallel=2, health_check="checks",
                                       min_healthy_time=10 * SECOND,
                                       healthy_deadline=5 * MINUTE)


def test_restart_rules():
    assert list(restart_errors(default_restart_policy("batch"))) == []
    errors = list(restart_errors(RestartPolicy(attempts=-1, delay=-1, mode="sometimes")))
    assert errors == ["Unsupported restart mode: 'sometimes'",
                      "Attempts must be non-negative, got -1", "Delay must be non-negative"]
    too_many = RestartPolicy(attempts=10, interval=60 * SECOND, delay=15 * SECOND, mode="fail")
    assert list(restart_errors(too_many)) == [
        "Nomad can't restart the task 10 times with a delay of 15s within an interval of 60s"]


def test_reschedule_rules():
    assert list(reschedule_errors(default_reschedule_policy("service"))) == []
    assert list(reschedule_errors(ReschedulePolicy(attempts=0, unlimited=False))) == []
    errors = list(reschedule_errors(ReschedulePolicy(attempts=2, interval=0, delay=SECOND,
                                                     delay_function="linear",
                                                     unlimited=False)))
    assert "Interval must be a non zero value if Attempts > 0" in errors
    assert "Delay cannot be less than 5s (got 1s)" in errors
    assert any(e.startswith("Invalid delay function 'linear'") for e in errors)
    assert "Interval cannot be less than 5s (got 0s)" in errors


def test_migrate_rules():
    from nomadjail.structs.policies import migrate_errors

    good = MigrateStrategy()
    good.canonicalize()
    assert list(migrate_errors(good)) == []
    bad = MigrateStrategy(max_parallel=-1, health_check="pings", min_healthy_time=-SECOND,
                          healthy_deadline=-2 * SECOND)
    assert list(migrate_errors(bad)) == [
        "MaxParallel must be >= 0 but found -1",
        "Invalid HealthCheck: 'pings' (expected 'checks' or 'task_states')",
        "MinHealthyTime is -1s and must be >= 0", "HealthyDeadline is -2s and must be >= 0",
        "MinHealthyTime must be less than HealthyDeadline"]
    slow = MigrateStrategy(max_parallel=1, health_check="task_states",
                           min_healthy_time=MINUTE, healthy_deadline=SECOND)
    assert list(migrate_errors(slow)) == ["MinHealthyTime must be less than HealthyDeadline"]


def test_a_job_level_migrate_block_is_merged_into_its_groups():
    from nomadjail.testing import mock_job

    job = mock_job(count=1)
    job.migrate = MigrateStrategy(max_parallel=3, min_healthy_time=SECOND)
    job.task_groups[0].migrate = MigrateStrategy(min_healthy_time=2 * SECOND)
    job.canonicalize()
    assert job.task_groups[0].migrate == MigrateStrategy(
        max_parallel=3, health_check="checks", min_healthy_time=2 * SECOND,
        healthy_deadline=5 * MINUTE)


def test_only_service_jobs_may_have_a_migrate_block():
    from nomadjail.structs import ValidationError
    from nomadjail.testing import mock_batch_job, mock_job

    job = mock_batch_job(count=1)
    job.task_groups[0].migrate = MigrateStrategy(max_parallel=1)
    job.canonicalize()
    with pytest.raises(ValidationError, match="Job type 'batch' does not allow migrate block"):
        job.validate()
    job = mock_job(count=1)
    job.task_groups[0].migrate = MigrateStrategy(max_parallel=-2)
    job.canonicalize()
    with pytest.raises(ValidationError, match="migrate: MaxParallel must be >= 0 but found -2"):
        job.validate()


def test_update_rules_list_every_problem_in_nomads_words():
    from nomadjail.structs.policies import update_errors

    bad = UpdateStrategy(stagger=30 * SECOND, max_parallel=-1, health_check="foo",
                         min_healthy_time=-10, healthy_deadline=-15, progress_deadline=-25,
                         canary=-1, auto_revert=False, auto_promote=False)
    assert list(update_errors(bad)) == [
        "Invalid health check given: 'foo'",
        "Max parallel can not be less than zero: -1 < 0",
        "Canary count can not be less than zero: -1 < 0",
        "Minimum healthy time may not be less than zero: -10ns",
        "Healthy deadline must be greater than zero: -15ns",
        "Progress deadline must be zero or greater: -25ns",
        "Minimum healthy time must be less than healthy deadline: -10ns > -15ns",
        "Healthy deadline must be less than progress deadline: -15ns > -25ns",
    ]
    assert list(update_errors(default_update_strategy())) == []
    promote_alone = default_update_strategy()
    promote_alone.auto_promote = True
    assert list(update_errors(promote_alone)) == [
        "Auto Promote requires a Canary count greater than zero"]


def test_a_bad_update_block_fails_job_validation():
    from nomadjail.structs import ValidationError
    from nomadjail.testing import mock_job

    job = mock_job(count=1)
    job.task_groups[0].update = UpdateStrategy(min_healthy_time=10 * MINUTE,
                                               healthy_deadline=5 * MINUTE)
    job.canonicalize()
    with pytest.raises(ValidationError, match="update: Minimum healthy time must be less than "
                                              "healthy deadline: 10m0s > 5m0s"):
        job.validate()
