"""A task's defaults and rules, on their own (no job or group around it)."""

from nomadjail.structs import SECOND, from_api, to_api
from nomadjail.structs.policies import RestartPolicy
from nomadjail.structs.resources import Resources
from nomadjail.structs.task import LogConfig, Task, TaskLifecycle, VolumeMount, task_errors

GROUP_RESTART = RestartPolicy(attempts=2, interval=1800 * SECOND, delay=15 * SECOND,
                              mode="fail", render_templates=False)


def test_canonicalize_fills_nomads_defaults():
    task = Task(name="t", driver="raw_exec")
    task.canonicalize(GROUP_RESTART)
    assert (task.resources.cpu, task.resources.memory_mb) == (100, 300)
    assert task.kill_timeout == 5 * SECOND
    assert task.log_config == LogConfig(max_files=10, max_file_size_mb=10, disabled=False)
    assert task.restart_policy == GROUP_RESTART
    assert task.restart_policy is not GROUP_RESTART  # a copy: tasks never share one


def test_a_tasks_restart_policy_is_merged_onto_its_groups():
    task = Task(name="t", driver="raw_exec", restart_policy=RestartPolicy(attempts=0))
    task.canonicalize(GROUP_RESTART)
    assert task.restart_policy.attempts == 0
    assert task.restart_policy.interval == GROUP_RESTART.interval


def test_a_canonical_task_has_no_errors():
    task = Task(name="t", driver="raw_exec")
    task.canonicalize(GROUP_RESTART)
    assert list(task_errors(task, group_volumes=())) == []


def test_every_problem_is_listed():
    task = Task(name="t", driver="", kill_timeout=-1, shutdown_delay=-1,
                resources=Resources(cpu=0, memory_mb=5),
                log_config=LogConfig(max_files=0, max_file_size_mb=0),
                volume_mounts=[VolumeMount(volume="data", destination="/data")])
    assert list(task_errors(task, group_volumes={"logs"})) == [
        "Missing task driver",
        "KillTimeout must be a positive value",
        "ShutdownDelay must be a positive value",
        "Minimum CPU value is 1; got 0",
        "Minimum MemoryMB value is 10; got 5",
        "must have at least one number of files; got 0",
        "max size of log files must be 1MB or more; got 0",
        "Volume Mount referenced undefined volume 'data'",
    ]
    assert "Volume Mount referenced undefined volume 'data'" not in list(
        task_errors(task, group_volumes={"data"}))


def test_lifecycle_round_trips_in_nomads_shape():
    task = Task(name="init", driver="raw_exec",
                lifecycle=TaskLifecycle(hook="prestart", sidecar=True))
    data = to_api(task)
    assert data["Lifecycle"] == {"Hook": "prestart", "Sidecar": True}
    assert from_api(Task, data) == task
