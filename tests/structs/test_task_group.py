"""A task group's defaults (merged with its job's blocks) and rules, on their own."""

from nomadjail.structs import SECOND
from nomadjail.structs.policies import ReschedulePolicy, RestartPolicy, UpdateStrategy
from nomadjail.structs.resources import NetworkResource, Port, Resources
from nomadjail.structs.task import Task, VolumeMount
from nomadjail.structs.task_group import (
    EphemeralDisk,
    TaskGroup,
    VolumeRequest,
    group_errors,
    network_errors,
)


def group(**fields) -> TaskGroup:
    fields.setdefault("tasks", [Task(name="t", driver="raw_exec")])
    return TaskGroup(name="web", **fields)


def test_defaults_for_a_service_group():
    g = group()
    g.canonicalize("service", None, None)
    assert g.count == 1
    assert g.ephemeral_disk == EphemeralDisk(sticky=False, migrate=False, size_mb=300)
    assert g.update is None  # no update block anywhere: none is made up
    assert g.reschedule_policy.unlimited is True and g.migrate is not None
    assert g.restart_policy.attempts == 2
    assert g.tasks[0].restart_policy == g.restart_policy


def test_batch_groups_get_no_migrate_strategy():
    g = group()
    g.canonicalize("batch", None, None)
    assert g.migrate is None and g.reschedule_policy.attempts == 1


def test_job_blocks_are_merged_under_the_groups_own():
    g = group(update=UpdateStrategy(canary=1),
              reschedule_policy=ReschedulePolicy(delay=10 * SECOND),
              restart_policy=RestartPolicy(attempts=7))
    g.canonicalize("service", UpdateStrategy(max_parallel=4, canary=0),
                   ReschedulePolicy(delay_function="constant", delay=20 * SECOND))
    assert (g.update.canary, g.update.max_parallel, g.update.stagger) == (1, 4, 30 * SECOND)
    assert g.reschedule_policy.delay == 10 * SECOND
    assert g.reschedule_policy.delay_function == "constant"
    assert g.restart_policy.attempts == 7 and g.tasks[0].restart_policy.attempts == 7


def test_a_canonical_group_has_no_errors():
    g = group(volumes={"data": VolumeRequest(name="data", type="host", source="data")},
              tasks=[Task(name="t", driver="raw_exec",
                          volume_mounts=[VolumeMount(volume="data", destination="/d")])])
    g.canonicalize("service", None, None)
    assert list(group_errors(g)) == []


def test_task_problems_say_which_task():
    g = group(count=-1, tasks=[Task(name="a", driver="raw_exec", leader=True),
                               Task(name="a", driver="", leader=True),
                               Task(name="", driver="raw_exec")],
              ephemeral_disk=EphemeralDisk(size_mb=5))
    g.canonicalize("service", None, None)
    errors = list(group_errors(g))
    assert "Task group count can't be negative, got -1" in errors
    assert "Ephemeral disk size must be at least 10 MB, got 5" in errors
    assert "Task 2 redefines 'a' from task 1" in errors
    assert "Task a validation failed: Missing task driver" in errors
    assert "Task 3 missing name" in errors
    assert "Only one task may be marked as leader, got a, a" in errors


def test_port_labels_are_unique_across_the_group():
    g = group(networks=[NetworkResource(dynamic_ports=[Port(label="http")])],
              tasks=[Task(name="t", driver="raw_exec", resources=Resources(
                  networks=[NetworkResource(reserved_ports=[Port(label="http", value=80)])]))])
    assert list(group_errors(g)) == [
        "task t network: port label 'http' is defined more than once"]


def test_network_rules():
    labels: set[str] = set()
    net = NetworkResource(reserved_ports=[Port(label="a", value=70000)],
                          dynamic_ports=[Port(label="b", value=5), Port(label="", to=-2)])
    assert list(network_errors(net, labels, "group network")) == [
        "group network: static port 'a' has invalid value 70000",
        "group network: dynamic port 'b' must not set a value",
        "group network: port without a label",
        "group network: port '' has invalid \"to\" value -2",
    ]
    assert labels == {"a", "b", ""}
