"""raw_exec's supervision API for other drivers: a tool supervised as a task, its own
messages diverted by the phase of the program it runs, found again after a restart."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from nomadjail.drivers.base import DriverError, TaskNotFound
from nomadjail.drivers.raw_exec import (
    OutputDiversion,
    RawExecDriver,
    SupervisedCommand,
    Supervision,
    SupervisionPlan,
)
from nomadjail.testing import wait_for

SH = "/bin/sh"

# A tool in the manner of `pot start`: its messages, then the program's output, then it
# records the program's exit in a witness file, then more messages of its own.
TOOL = """
echo "===> preparing"
echo "===> program starts now"
echo "===> a program line that looks like a message"
echo "plain program line"
echo "===> tool notice"
echo "tool's own plain notice"
while [ ! -e "$FLAG" ]; do sleep 0.05; done
echo "exited" > "$WITNESS"
echo "===> the program ended"
echo "tool: done"
echo "###> tool error" >&2
exit 7
"""


def diversion(tmp_path: Path) -> OutputDiversion:
    return OutputDiversion(prefixes=("===> ", "###> "), start_line="===> program starts now",
                           running_lines=("===> tool notice", "tool's own plain notice"),
                           end_witness=str(tmp_path / "witness"),
                           ended_pattern=r"tool: [a-z]+")


def read(path: str) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return ""


def test_a_supervised_tool_keeps_its_programs_lines_and_diverts_its_own(
        task_config, tmp_path: Path) -> None:
    driver = RawExecDriver(enabled=False)  # the API does not depend on raw_exec being enabled
    flag = tmp_path / "flag"
    cfg = task_config({})
    plan = driver.plan_supervision(cfg)
    supervision = driver.supervise(cfg, SupervisedCommand(
        executable=SH, args=("-c", TOOL),
        env={"PATH": "/usr/bin:/bin", "FLAG": str(flag), "WITNESS": str(tmp_path / "witness")},
        diversion=diversion(tmp_path)))
    assert supervision.diverted_path == plan.diverted_path
    wait_for(lambda: "plain program line" in read(cfg.stdout_path + ".0"),
             message="the program's output")
    flag.touch()
    result = driver.wait_supervised(supervision)
    assert (result.exit_code, result.signal) == (7, 0)
    assert read(cfg.stdout_path + ".0") == ("===> a program line that looks like a message\n"
                                            "plain program line\n")
    assert read(cfg.stderr_path + ".0") == ""
    assert sorted(read(plan.diverted_path).splitlines()) == sorted([
        "===> preparing", "===> program starts now", "===> tool notice",
        "tool's own plain notice", "===> the program ended", "tool: done",
        "###> tool error"])
    driver.release_supervised(supervision)
    driver.release_supervised(supervision)  # idempotent


def test_a_supervision_is_found_again_from_its_state(task_config) -> None:
    cfg = task_config({})
    first = RawExecDriver()
    supervision = first.supervise(cfg, SupervisedCommand(
        executable=SH, args=("-c", "echo up; exec sleep 300"), env={"PATH": "/usr/bin:/bin"}))
    saved = json.loads(json.dumps(supervision.to_state()))
    again = RawExecDriver()  # a restarted client
    restored = Supervision.from_state(saved)
    again.reattach_supervised(restored)
    wait_for(lambda: "up" in read(cfg.stdout_path + ".0"), message="the command to run")
    again.kill_supervised(restored)
    assert again.wait_supervised(restored).signal == signal.SIGKILL
    again.release_supervised(restored)


def test_reattaching_to_a_command_that_left_no_trace_is_refused(task_config) -> None:
    cfg = task_config({})
    driver = RawExecDriver()
    plan = driver.plan_supervision(cfg)
    ghost = Supervision(task_id=cfg.id, pid=2 ** 22 + 7, started_at=1, diverted_path="",
                        raw_state={"task_pid": 2 ** 22 + 7, "supervisor_pid": 2 ** 22 + 8,
                                   "status_path": plan.status_path})
    with pytest.raises(TaskNotFound, match="is gone"):
        driver.reattach_supervised(ghost)


def test_an_interrupted_supervise_is_recovered_from_its_plan(task_config) -> None:
    cfg = task_config({})
    driver = RawExecDriver()
    plan = driver.plan_supervision(cfg)
    saved = SupervisionPlan.from_state(cfg.id, json.loads(json.dumps(plan.to_state())))
    supervision = driver.supervise(cfg, SupervisedCommand(
        executable=SH, args=("-c", "exec sleep 300"), env={"PATH": "/usr/bin:/bin"}))
    recovered = RawExecDriver().recover_supervision(saved)  # ... the client died meanwhile
    assert recovered is not None and recovered.pid == supervision.pid
    driver.release_supervised(supervision)


def test_bad_states_and_commands_are_refused_with_their_reason(task_config) -> None:
    with pytest.raises(ValueError, match="supervision state: missing or bad 'pid'"):
        Supervision.from_state({"task_id": "a/b/c", "started_at": 1, "raw": {}})
    with pytest.raises(ValueError, match="'spec_path'"):
        SupervisionPlan.from_state("a/b/c", {})
    with pytest.raises(DriverError, match="must be an absolute path"):
        RawExecDriver().supervise(task_config({}), SupervisedCommand(executable="sh"))
