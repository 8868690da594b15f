"""Validation reports every problem at once, each with where it is."""

import pytest

from nomadjail.structs import (
    Constraint,
    Job,
    ReschedulePolicy,
    Resources,
    Task,
    TaskGroup,
    ValidationError,
    version_matches,
)
from nomadjail.structs.resources import NetworkResource, Port


def job_with(**group_fields) -> Job:
    tasks = group_fields.pop("tasks", [Task(name="t", driver="raw_exec")])
    job = Job(id="example", task_groups=[TaskGroup(name="web", tasks=tasks, **group_fields)])
    job.canonicalize()
    return job


def errors_of(job: Job) -> list[str]:
    with pytest.raises(ValidationError) as err:
        job.validate()
    return err.value.errors


def test_valid_job_passes():
    job_with().validate()


def test_every_error_is_reported_with_its_location():
    job = job_with(count=-1, tasks=[Task(name="t", driver="", resources=Resources(memory_mb=1))])
    job.id = "has space"
    errors = errors_of(job)
    assert any("Job ID 'has space'" in e for e in errors)
    assert any(e.startswith("Task group web validation failed: Task group count") for e in errors)
    assert ("Task group web validation failed: Task t validation failed: Missing task driver"
            in errors)
    assert any("Minimum MemoryMB value is 10; got 1" in e for e in errors)


def test_duplicate_groups_and_ports():
    job = job_with(networks=[NetworkResource(dynamic_ports=[Port(label="http"),
                                                            Port(label="http")])])
    job.task_groups.append(job.task_groups[0])
    errors = errors_of(job)
    assert "Job task group 2 redefines 'web' from group 1" in errors
    assert any("port label 'http' is defined more than once" in e for e in errors)


def test_bad_constraints():
    job = job_with(constraints=[Constraint("${attr.kernel.name}", "linux", "~="),
                                Constraint("${attr.a}", "(", "regexp"),
                                Constraint("${attr.a}", "", "=")])
    errors = errors_of(job)
    assert any("Constraint 1 validation failed: Unknown constraint type '~='" in e for e in errors)
    assert any("Constraint 2 validation failed: Regular expression failed" in e for e in errors)
    assert any("Constraint 3 validation failed: No RTarget" in e for e in errors)


def test_ambiguous_reschedule_policy_is_rejected_like_nomad():
    job = job_with(reschedule_policy=ReschedulePolicy(attempts=3, interval=3600 * 10**9))
    assert any("ambiguous" in e for e in errors_of(job))
    job = job_with(reschedule_policy=ReschedulePolicy(attempts=3, interval=3600 * 10**9,
                                                      unlimited=False))
    job.validate()


def test_system_job_count_limited():
    job = job_with(count=3)
    job.type = "system"
    assert any("Count cannot exceed 1" in e for e in errors_of(job))


@pytest.mark.parametrize("version, constraint, ok", [
    ("13.2", ">= 13.0", True), ("12.4", ">= 13.0", False), ("1.2.3", "~> 1.2", True),
    ("2.0.0", "~> 1.2", False), ("1.2.9", "~> 1.2.3", True), ("1.3.0", "~> 1.2.3", False),
    ("1.0.0-beta", "< 1.0.0", True), ("v1.5", ">= 1.0, < 2.0", True), ("bad", "> 1", False),
])
def test_version_constraints(version, constraint, ok):
    assert version_matches(version, constraint) is ok
