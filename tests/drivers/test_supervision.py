"""The drivers' shared Supervisor: a tool supervised as a task, its own messages diverted
by the phase of the program it runs, found again after a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from nomadjail.drivers.base import DriverError, TaskNotFound
from nomadjail.drivers.supervision import (
    OutputDiversion,
    SupervisedCommand,
    Supervision,
    SupervisionPlan,
    Supervisor,
)
from nomadjail.structs import to_api
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
    supervisor = Supervisor()
    flag = tmp_path / "flag"
    cfg = task_config({})
    plan = supervisor.plan(cfg)
    supervision = supervisor.launch(cfg, SupervisedCommand(
        executable=SH, args=("-c", TOOL),
        env={"PATH": "/usr/bin:/bin", "FLAG": str(flag), "WITNESS": str(tmp_path / "witness")},
        diversion=diversion(tmp_path)))
    assert supervision.diverted_path == plan.diverted_path
    wait_for(lambda: "plain program line" in read(cfg.stdout_path + ".0"),
             message="the program's output")
    flag.touch()
    result = supervisor.wait(supervision)
    assert (result.exit_code, result.signal) == (7, 0)
    assert read(cfg.stdout_path + ".0") == ("===> a program line that looks like a message\n"
                                            "plain program line\n")
    assert read(cfg.stderr_path + ".0") == ""
    assert sorted(read(plan.diverted_path).splitlines()) == sorted([
        "===> preparing", "===> program starts now", "===> tool notice",
        "tool's own plain notice", "===> the program ended", "tool: done",
        "###> tool error"])
    supervisor.release(supervision)
    supervisor.release(supervision)  # idempotent


def test_a_supervision_is_found_again_from_its_state(task_config) -> None:
    cfg = task_config({})
    first = Supervisor()
    supervision = first.launch(cfg, SupervisedCommand(
        executable=SH, args=("-c", "echo up; exec sleep 300"), env={"PATH": "/usr/bin:/bin"}))
    saved = json.loads(json.dumps(supervision.to_state()))
    again = Supervisor()  # a restarted client
    restored = Supervision.from_state(saved)
    again.recover(restored)
    wait_for(lambda: "up" in read(cfg.stdout_path + ".0"), message="the command to run")
    again.kill(restored)
    assert again.wait(restored).signal == signal.SIGKILL
    again.release(restored)


def test_reattaching_to_a_command_that_left_no_trace_is_refused(task_config) -> None:
    cfg = task_config({})
    supervisor = Supervisor()
    plan = supervisor.plan(cfg)
    ghost = Supervision(task_id=cfg.id, pid=2 ** 22 + 7, started_at=1, diverted_path="",
                        process_state={"task_pid": 2 ** 22 + 7, "supervisor_pid": 2 ** 22 + 8,
                                       "status_path": plan.status_path})
    with pytest.raises(TaskNotFound, match="is gone"):
        supervisor.recover(ghost)


def test_an_interrupted_supervise_is_recovered_from_its_plan(task_config) -> None:
    cfg = task_config({})
    supervisor = Supervisor()
    plan = supervisor.plan(cfg)
    saved = SupervisionPlan.from_state(cfg.id, json.loads(json.dumps(plan.to_state())))
    supervision = supervisor.launch(cfg, SupervisedCommand(
        executable=SH, args=("-c", "exec sleep 300"), env={"PATH": "/usr/bin:/bin"}))
    recovered = Supervisor().recover_start(saved)  # ... the client died meanwhile
    assert recovered is not None and recovered.pid == supervision.pid
    supervisor.release(supervision)


def test_bad_states_and_commands_are_refused_with_their_reason(task_config) -> None:
    with pytest.raises(ValueError, match="supervision state: missing or bad 'pid'"):
        Supervision.from_state({"task_id": "a/b/c", "started_at": 1, "raw": {}})
    with pytest.raises(ValueError, match="'spec_path'"):
        SupervisionPlan.from_state("a/b/c", {})
    with pytest.raises(DriverError, match="must be an absolute path"):
        Supervisor().launch(task_config({}), SupervisedCommand(executable="sh"))


# -- the executor's contract: launch, kill, release, recover ----------------------------

def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def shell(script: str, **env: str) -> SupervisedCommand:
    return SupervisedCommand(executable=SH, args=("-c", script),
                             env={"PATH": "/usr/bin:/bin", **env})


# A command with a child in its process group; both print their pids.  The parent ignores
# SIGINT from before it prints (dash's `wait` may still return on one, so it waits again
# while the child lives): only SIGKILL ends it.
FAMILY = ('trap "" INT; sleep 300 & echo "child $!"; echo "parent $$"; '
          'while kill -0 $! 2>/dev/null; do wait; done')


def family_pids(cfg) -> dict[str, int]:
    lines = read(cfg.stdout_path + ".0").split("\n")
    return {kind: int(pid) for kind, pid in (line.split() for line in lines if line)}


def test_kill_signals_the_whole_group_then_sigkills_it(task_config) -> None:
    cfg = task_config({})
    supervisor = Supervisor()
    supervision = supervisor.launch(cfg, shell(FAMILY))
    pids = wait_for(lambda: len(family_pids(cfg)) == 2 and family_pids(cfg),
                    message="both processes up")
    supervisor.kill(supervision, signal=signal.SIGINT, timeout=0.2)  # the shell ignores INT
    assert not alive(pids["parent"]) and not alive(pids["child"])
    result = supervisor.wait(supervision)
    assert (result.exit_code, result.signal) == (128 + signal.SIGKILL, signal.SIGKILL)
    assert supervisor.exited(supervision)
    supervisor.kill(supervision)  # nothing left to kill: no error
    supervisor.release(supervision)


def test_a_command_obeying_its_signal_is_not_killed(task_config) -> None:
    cfg = task_config({})
    supervisor = Supervisor()
    supervision = supervisor.launch(cfg, shell('trap "exit 4" TERM; echo up; '
                                               'while :; do sleep 0.05; done'))
    wait_for(lambda: "up" in read(cfg.stdout_path + ".0"), message="the command to run")
    supervisor.kill(supervision, signal=signal.SIGTERM, timeout=30.0)
    assert (supervisor.wait(supervision).exit_code, supervisor.wait(supervision).signal) == (
        4, 0)
    supervisor.release(supervision)


STARTER = textwrap.dedent("""
    import json, os, sys
    from nomadjail.drivers.base import TaskConfig
    from nomadjail.drivers.supervision import SupervisedCommand, Supervisor
    from nomadjail.structs import from_api
    cfg = from_api(TaskConfig, json.loads(sys.argv[1]))
    with open(sys.argv[2], "w") as pidfile:
        pidfile.write(str(os.getpid()))
    supervision = Supervisor().launch(cfg, SupervisedCommand(
        executable="/bin/sh", args=("-c", sys.argv[3]), env={"PATH": "/usr/bin:/bin"}))
    print(json.dumps(supervision.to_state()), flush=True)
    sys.stdin.read()  # wait to be killed
""")


def test_a_command_outlives_the_agent_killed_by_its_pidfile(task_config, tmp_path) -> None:
    cfg = task_config({})
    gate, pidfile = tmp_path / "finish", tmp_path / "agent.pid"
    script = (f"i=0; while [ ! -e {gate} ]; do echo tick $i; i=$((i+1)); sleep 0.05; done; "
              "exit 5")
    starter = subprocess.Popen([sys.executable, "-c", STARTER, json.dumps(to_api(cfg)),
                                str(pidfile), script],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert starter.stdout is not None
        saved = json.loads(starter.stdout.readline())
        os.kill(int(pidfile.read_text()), signal.SIGKILL)  # as production does: kill -9
        starter.wait()
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
        for stream in (starter.stdin, starter.stdout):
            if stream is not None:
                stream.close()
    ticks = read(cfg.stdout_path + ".0").count("tick")
    wait_for(lambda: read(cfg.stdout_path + ".0").count("tick") > ticks + 2,
             message="logs keep flowing without the agent")
    supervisor = Supervisor()  # the restarted agent's
    supervision = Supervision.from_state(saved)
    supervisor.recover(supervision)
    supervisor.recover(supervision)  # already followed: nothing more to do
    gate.touch()
    assert (supervisor.wait(supervision).exit_code, supervisor.wait(supervision).signal) == (
        5, 0)
    supervisor.release(supervision)


def test_a_command_whose_supervisor_was_killed_reports_its_status_unknown(
        task_config) -> None:
    cfg = task_config({})
    supervisor = Supervisor()
    supervision = supervisor.launch(cfg, shell("exec sleep 300"))
    pids = json.loads(Path(supervisor.plan(cfg).pid_path).read_text())
    os.kill(pids["supervisor_pid"], signal.SIGKILL)  # kill -9 of the pid its pid file holds
    wait_for(lambda: not alive(pids["supervisor_pid"]), message="the supervisor dead")
    again = Supervisor()
    again.recover(supervision)  # the command still runs: it is followed again
    assert alive(supervision.pid) and not again.exited(supervision)
    again.kill(supervision)
    result = again.wait(supervision)
    assert result.exit_code == -1 and "exit status is unknown" in result.err
    again.release(supervision)
    supervisor.release(supervision)


def test_release_kills_a_running_command_only_when_forced_and_removes_its_spec(
        task_config) -> None:
    cfg = task_config({})
    supervisor = Supervisor()
    supervision = supervisor.launch(cfg, shell("exec sleep 300", SECRET="x"))
    spec_path = supervisor.plan(cfg).spec_path
    assert supervisor.context(supervision).env["SECRET"] == "x"
    assert supervisor.context(supervision).cwd == cfg.task_dir
    with pytest.raises(DriverError, match="cannot destroy running task"):
        supervisor.release(supervision, force=False)
    assert alive(supervision.pid) and os.path.exists(spec_path)
    supervisor.release(supervision)
    assert not alive(supervision.pid) and not os.path.exists(spec_path)
    assert not supervisor.follows(cfg.id)
    with pytest.raises(TaskNotFound, match="not followed"):
        supervisor.wait(supervision)


def test_a_signal_goes_to_the_command_while_it_runs(task_config) -> None:
    cfg = task_config({})
    supervisor = Supervisor()
    supervision = supervisor.launch(cfg, shell('trap "echo got USR1" USR1; echo up; '
                                               'while :; do sleep 0.05; done'))
    wait_for(lambda: "up" in read(cfg.stdout_path + ".0"), message="the command to run")
    supervisor.signal(supervision, signal.SIGUSR1)
    wait_for(lambda: "got USR1" in read(cfg.stdout_path + ".0"), message="the signal")
    assert supervisor.process(supervision) is not None
    supervisor.kill(supervision)
    supervisor.wait(supervision)
    assert supervisor.process(supervision) is None
    with pytest.raises(DriverError, match="is not running"):
        supervisor.signal(supervision, signal.SIGUSR1)
    supervisor.release(supervision)


def test_a_command_that_cannot_start_is_a_driver_error(task_config, tmp_path) -> None:
    cfg = task_config({})
    supervisor = Supervisor()
    with pytest.raises(DriverError, match="failed to start command"):
        supervisor.launch(cfg, SupervisedCommand(executable=str(tmp_path / "missing")))
    assert not supervisor.follows(cfg.id)
    supervision = supervisor.launch(cfg, shell("exit 0"))  # the same attempt, once more
    with pytest.raises(DriverError, match="already started"):
        supervisor.launch(cfg, shell("exit 0"))
    assert supervisor.wait(supervision).exit_code == 0
    supervisor.release(supervision)


def test_an_interrupted_launch_whose_supervisor_hangs_is_killed_with_its_session(
        task_config) -> None:
    cfg = task_config({})
    supervisor = Supervisor(start_timeout=0.3)
    plan = supervisor.plan(cfg)
    os.makedirs(os.path.dirname(plan.spec_path), exist_ok=True)
    # Looks like this launch's supervisor (its argv names the spec) and started a child
    # in a process group of its own, but never reports a command in its pid file.
    stuck = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         "c = subprocess.Popen(['sleep', '300'], process_group=0); print(c.pid, flush=True); "
         "time.sleep(300)", plan.spec_path],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    child: psutil.Process | None = None
    try:
        assert stuck.stdout is not None
        child = psutil.Process(int(stuck.stdout.readline()))
        assert supervisor.recover_start(plan) is None
        stuck.wait(timeout=10)
        wait_for(lambda: not alive(child.pid), message="the whole session killed")
    finally:
        if stuck.poll() is None:
            stuck.kill()
            stuck.wait()
        if child is not None and child.is_running():  # same pid *and* start time
            child.kill()
        if stuck.stdout is not None:
            stuck.stdout.close()
