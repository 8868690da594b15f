"""raw_exec with real processes: exit codes, signals, kill escalation, logs, recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from nomadjail.drivers.base import DriverError, TaskHandle, TaskNotFound
from nomadjail.drivers.raw_exec import RawExecDriver
from nomadjail.structs import from_api, to_api
from nomadjail.testing import wait_for


def read_log(cfg, kind: str = "stdout", index: int = 0) -> str:
    path = f"{getattr(cfg, kind + '_path')}.{index}"
    try:
        with open(path, encoding="utf-8") as src:
            return src.read()
    except FileNotFoundError:
        return ""


@pytest.fixture
def driver():
    return RawExecDriver()


@pytest.mark.parametrize("code", [0, 3])
def test_exit_code_is_reported(driver, task_config, sh, code):
    cfg = task_config(sh.script(f"exit {code}"))
    handle = driver.start_task(cfg)
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal, result.err) == (code, 0, "")
    assert result.successful() is (code == 0)


def test_killed_by_signal_records_the_signal(driver, task_config, sh):
    cfg = task_config(sh.script("kill -TERM $$; sleep 5"))
    result = driver.wait_task(driver.start_task(cfg))
    assert result.signal == signal.SIGTERM
    assert result.exit_code == 128 + signal.SIGTERM  # Nomad's encoding


def test_env_and_working_directory(driver, task_config, sh):
    cfg = task_config(sh.script('echo "$GREETING"; pwd; env'), env={"GREETING": "hello"})
    driver.wait_task(driver.start_task(cfg))
    lines = read_log(cfg).splitlines()
    assert lines[0] == "hello"
    assert lines[1] == cfg.task_dir
    env_names = {line.split("=", 1)[0] for line in lines[2:] if "=" in line}
    assert "GREETING" in env_names
    assert "PYTHONPATH" not in env_names  # the supervisor's own env does not leak


def test_work_dir_and_args(driver, task_config, tmp_path):
    cfg = task_config({"command": "pwd", "work_dir": str(tmp_path)})
    driver.wait_task(driver.start_task(cfg))
    assert read_log(cfg).strip() == str(tmp_path)


def test_stderr_goes_to_its_own_file(driver, task_config, sh):
    cfg = task_config(sh.script("echo out; echo err >&2"))
    driver.wait_task(driver.start_task(cfg))
    assert read_log(cfg, "stdout") == "out\n"
    assert read_log(cfg, "stderr") == "err\n"


def test_command_found_in_task_local_dir(driver, task_config):
    cfg = task_config({"command": "hello.sh"})
    script = os.path.join(cfg.task_dir, "local", "hello.sh")
    with open(script, "w") as out:
        out.write("#!/bin/sh\necho from local\n")
    os.chmod(script, 0o755)
    driver.wait_task(driver.start_task(cfg))
    assert read_log(cfg) == "from local\n"


def test_missing_command_fails_to_start(driver, task_config):
    cfg = task_config({"command": "no-such-command-xyz"})
    with pytest.raises(DriverError, match="no-such-command-xyz"):
        driver.start_task(cfg)


def test_validate_config_names_each_key(driver):
    assert driver.validate_config({"command": "/bin/true", "args": ["-x"]}) == []
    problems = driver.validate_config({"args": "not-a-list", "comand": "x",
                                       "work_dir": "relative"})
    text = "\n".join(problems)
    assert "'command' is required" in text
    assert "'args' must be a list of strings" in text
    assert 'unknown key \'comand\' in raw_exec config; did you mean "command"?' in text
    assert "'work_dir' must be an absolute path" in text


TRAP_AND_EXIT = textwrap.dedent("""
    trap 'echo got INT; exit 0' INT
    echo ready
    while true; do sleep 0.05; done
""")
IGNORE_INT = textwrap.dedent("""
    trap '' INT
    echo ready
    while true; do sleep 0.05; done
""")


def test_stop_sends_kill_signal_first(driver, task_config, sh):
    cfg = task_config(sh.script(TRAP_AND_EXIT))
    handle = driver.start_task(cfg)
    wait_for(lambda: "ready" in read_log(cfg), message="task ready")
    driver.stop_task(handle, 10.0, "")  # "" means SIGINT, as Nomad
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal) == (0, 0)  # it exited by itself
    assert "got INT" in read_log(cfg)


def test_stop_escalates_to_sigkill_after_timeout(driver, task_config, sh):
    cfg = task_config(sh.script(IGNORE_INT))
    handle = driver.start_task(cfg)
    wait_for(lambda: "ready" in read_log(cfg), message="task ready")
    driver.stop_task(handle, 0.3, "SIGINT")
    result = driver.wait_task(handle)
    assert result.signal == signal.SIGKILL
    assert result.exit_code == 128 + signal.SIGKILL


def test_stop_uses_the_configured_signal(driver, task_config, sh):
    cfg = task_config(sh.script("trap 'echo got TERM; exit 4' TERM; echo ready; "
                                "while true; do sleep 0.05; done"))
    handle = driver.start_task(cfg)
    wait_for(lambda: "ready" in read_log(cfg), message="task ready")
    driver.stop_task(handle, 10.0, "SIGTERM")
    assert driver.wait_task(handle).exit_code == 4


def test_signal_task_reaches_the_task(driver, task_config, sh):
    cfg = task_config(sh.script("trap 'echo got USR1' USR1; echo ready; "
                                "while true; do sleep 0.05; done"))
    handle = driver.start_task(cfg)
    wait_for(lambda: "ready" in read_log(cfg), message="task ready")
    driver.signal_task(handle, "SIGUSR1")
    wait_for(lambda: "got USR1" in read_log(cfg), message="signal handled")
    driver.stop_task(handle, 0.0, "SIGKILL")


def test_logs_rotate_and_old_files_are_purged(driver, task_config, sh):
    cfg = task_config(sh.script("i=0; while [ $i -lt 3300 ]; do "
                                "printf '%0999d\\n' $i; i=$((i+1)); done"),
                      max_files=2, max_file_size_mb=1)
    assert driver.wait_task(driver.start_task(cfg)).exit_code == 0
    logs = sorted(os.listdir(os.path.dirname(cfg.stdout_path)))
    stdout_files = [name for name in logs if name.startswith("web.stdout.")]
    assert stdout_files == ["web.stdout.2", "web.stdout.3"]
    for name in stdout_files:
        size = os.path.getsize(os.path.join(os.path.dirname(cfg.stdout_path), name))
        assert size <= 1024 * 1024
    # whole lines only: each file starts at a line boundary
    with open(f"{cfg.stdout_path}.3") as src:
        first = src.readline()
    assert len(first) == 1000


def test_exec_task_uses_task_env_and_cwd(driver, task_config, sh):
    cfg = task_config(sh.script("sleep 30"), env={"SECRET_WORD": "swordfish"})
    handle = driver.start_task(cfg)
    result = driver.exec_task(handle, ["/bin/sh", "-c", 'echo "$SECRET_WORD"; pwd'], 5.0)
    assert result.exit_code == 0
    assert result.stdout.decode().splitlines() == ["swordfish", cfg.task_dir]
    driver.stop_task(handle, 0.0, "SIGKILL")


def test_task_stats_measure_the_process_tree(driver, task_config, sh):
    cfg = task_config(sh.script("sleep 30 & sleep 30"))
    handle = driver.start_task(cfg)
    stats = wait_for(lambda: (s := driver.task_stats(handle)).rss_bytes > 0 and s,
                     message="stats")
    assert stats.timestamp > 0
    driver.stop_task(handle, 0.0, "SIGKILL")


def test_destroy_force_kills_a_running_task(driver, task_config, sh):
    cfg = task_config(sh.script("sleep 30"))
    handle = driver.start_task(cfg)
    with pytest.raises(DriverError, match="cannot destroy running task"):
        driver.destroy_task(handle, False)
    driver.destroy_task(handle, True)
    assert not psutil.pid_exists(handle.pid) or psutil.Process(handle.pid).status() == "zombie"
    driver.destroy_task(handle, True)  # idempotent


def test_disabled_driver_is_undetected_and_refuses_tasks(task_config, sh):
    driver = RawExecDriver(enabled=False)
    fingerprint = driver.fingerprint()
    assert (fingerprint.detected, fingerprint.healthy) == (False, False)
    with pytest.raises(DriverError, match="disabled"):
        driver.start_task(task_config(sh.script("true")))


def test_recover_after_a_new_driver_instance(task_config, sh, tmp_path):
    gate = tmp_path / "finish"
    first = RawExecDriver()
    cfg = task_config(sh.script(f"echo started; while [ ! -e {gate} ]; do sleep 0.05; done; "
                                "exit 7"))
    handle = first.start_task(cfg)
    # A new driver (a restarted client) finds the task by its persisted handle.
    stored = json.loads(json.dumps(to_api(handle)))
    second = RawExecDriver()
    second.recover_task(from_api(TaskHandle, stored))
    gate.touch()
    assert second.wait_task(handle).exit_code == 7


def test_recover_of_a_vanished_task_raises(task_config, sh):
    driver = RawExecDriver()
    cfg = task_config(sh.script("exit 0"))
    handle = driver.start_task(cfg)
    driver.wait_task(handle)
    os.unlink(handle.state["status_path"])  # as if the machine rebooted
    with pytest.raises(TaskNotFound):
        RawExecDriver().recover_task(handle)


STARTER = textwrap.dedent("""
    import json, sys
    from nomadjail.drivers.base import TaskConfig, TaskResources
    from nomadjail.drivers.raw_exec import RawExecDriver
    from nomadjail.structs import from_api, to_api
    cfg = from_api(TaskConfig, json.loads(sys.argv[1]))
    handle = RawExecDriver().start_task(cfg)
    print(json.dumps(to_api(handle)), flush=True)
    sys.stdin.read()  # wait to be killed
""")


def test_task_survives_the_death_of_its_starter(task_config, sh, tmp_path):
    gate = tmp_path / "finish"
    cfg = task_config(sh.script(f"i=0; while [ ! -e {gate} ]; do echo tick $i; i=$((i+1)); "
                                "sleep 0.05; done; exit 5"))
    starter = subprocess.Popen([sys.executable, "-c", STARTER, json.dumps(to_api(cfg))],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        handle = from_api(TaskHandle, json.loads(starter.stdout.readline()))
    finally:
        starter.kill()  # SIGKILL: the "agent" dies without cleaning up
        starter.wait()
    assert psutil.pid_exists(handle.pid)
    ticks = read_log(cfg).count("tick")
    wait_for(lambda: read_log(cfg).count("tick") > ticks + 2, message="logs keep flowing")
    driver = RawExecDriver()
    driver.recover_task(handle)
    gate.touch()
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal) == (5, 0)
