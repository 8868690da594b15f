"""raw_exec with real processes: exit codes, signals, kill escalation, logs, recovery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from nomadjail.drivers.base import DriverError, StartRecord, TaskHandle, TaskNotFound
from nomadjail.drivers.raw_exec import RawExecDriver
from nomadjail.structs import from_api, to_api
from nomadjail.testing import wait_for
from nomadjail.testing.driver_tasks import make_task_config, shell_config
from nomadjail.testing.processes import kill_processes_under


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
def test_exit_code_is_reported(driver, task_config, code):
    cfg = task_config(shell_config(f"exit {code}"))
    handle = driver.start_task(cfg)
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal, result.err) == (code, 0, "")
    assert result.successful() is (code == 0)


def test_killed_by_signal_records_the_signal(driver, task_config):
    cfg = task_config(shell_config("kill -TERM $$; sleep 5"))
    result = driver.wait_task(driver.start_task(cfg))
    assert result.signal == signal.SIGTERM
    assert result.exit_code == 128 + signal.SIGTERM  # Nomad's encoding


def test_env_and_working_directory(driver, task_config):
    cfg = task_config(shell_config('echo "$GREETING"; pwd; env'), env={"GREETING": "hello"})
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


def test_stderr_goes_to_its_own_file(driver, task_config):
    cfg = task_config(shell_config("echo out; echo err >&2"))
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


def test_stop_sends_kill_signal_first(driver, task_config):
    cfg = task_config(shell_config(TRAP_AND_EXIT))
    handle = driver.start_task(cfg)
    wait_for(lambda: "ready" in read_log(cfg), message="task ready")
    driver.stop_task(handle, 10.0, "")  # "" means SIGINT, as Nomad
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal) == (0, 0)  # it exited by itself
    assert "got INT" in read_log(cfg)


def test_stop_escalates_to_sigkill_after_timeout(driver, task_config):
    cfg = task_config(shell_config(IGNORE_INT))
    handle = driver.start_task(cfg)
    wait_for(lambda: "ready" in read_log(cfg), message="task ready")
    driver.stop_task(handle, 0.3, "SIGINT")
    result = driver.wait_task(handle)
    assert result.signal == signal.SIGKILL
    assert result.exit_code == 128 + signal.SIGKILL


def test_stop_uses_the_configured_signal(driver, task_config):
    cfg = task_config(shell_config("trap 'echo got TERM; exit 4' TERM; echo ready; "
                                "while true; do sleep 0.05; done"))
    handle = driver.start_task(cfg)
    wait_for(lambda: "ready" in read_log(cfg), message="task ready")
    driver.stop_task(handle, 10.0, "SIGTERM")
    assert driver.wait_task(handle).exit_code == 4


def test_signal_task_reaches_the_task(driver, task_config):
    cfg = task_config(shell_config("trap 'echo got USR1' USR1; echo ready; "
                                "while true; do sleep 0.05; done"))
    handle = driver.start_task(cfg)
    wait_for(lambda: "ready" in read_log(cfg), message="task ready")
    driver.signal_task(handle, "SIGUSR1")
    wait_for(lambda: "got USR1" in read_log(cfg), message="signal handled")
    driver.stop_task(handle, 0.0, "SIGKILL")


def test_logs_rotate_and_old_files_are_purged(driver, task_config):
    cfg = task_config(shell_config("i=0; while [ $i -lt 3300 ]; do "
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


def test_exec_task_uses_task_env_and_cwd(driver, task_config):
    cfg = task_config(shell_config("sleep 30"), env={"SECRET_WORD": "swordfish"})
    handle = driver.start_task(cfg)
    result = driver.exec_task(handle, ["/bin/sh", "-c", 'echo "$SECRET_WORD"; pwd'], 5.0)
    assert result.exit_code == 0
    assert result.stdout.decode().splitlines() == ["swordfish", cfg.task_dir]
    driver.stop_task(handle, 0.0, "SIGKILL")


def test_task_stats_measure_the_process_tree(driver, task_config):
    cfg = task_config(shell_config("sleep 30 & sleep 30"))
    handle = driver.start_task(cfg)
    stats = wait_for(lambda: (s := driver.task_stats(handle)).rss_bytes > 0 and s,
                     message="stats")
    assert stats.timestamp > 0
    driver.stop_task(handle, 0.0, "SIGKILL")


def test_destroy_force_kills_a_running_task(driver, task_config):
    cfg = task_config(shell_config("sleep 30"))
    handle = driver.start_task(cfg)
    with pytest.raises(DriverError, match="cannot destroy running task"):
        driver.destroy_task(handle, False)
    driver.destroy_task(handle, True)
    assert not psutil.pid_exists(handle.pid) or psutil.Process(handle.pid).status() == "zombie"
    driver.destroy_task(handle, True)  # idempotent


def test_disabled_driver_is_undetected_and_refuses_tasks(task_config):
    driver = RawExecDriver(enabled=False)
    fingerprint = driver.fingerprint()
    assert (fingerprint.detected, fingerprint.healthy) == (False, False)
    with pytest.raises(DriverError, match="disabled"):
        driver.start_task(task_config(shell_config("true")))


def test_recover_after_a_new_driver_instance(task_config, tmp_path):
    gate = tmp_path / "finish"
    first = RawExecDriver()
    cfg = task_config(shell_config(f"echo started; while [ ! -e {gate} ]; do sleep 0.05; done; "
                                "exit 7"))
    handle = first.start_task(cfg)
    assert handle.network is None  # a raw_exec task uses the node's network
    # A new driver (a restarted client) finds the task by its persisted handle.
    stored = json.loads(json.dumps(to_api(handle)))
    second = RawExecDriver()
    second.recover_task(from_api(TaskHandle, stored))
    gate.touch()
    assert second.wait_task(handle).exit_code == 7


def test_recover_of_a_vanished_task_raises(task_config):
    driver = RawExecDriver()
    cfg = task_config(shell_config("exit 0"))
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


def test_task_survives_the_death_of_its_starter(task_config, tmp_path):
    gate = tmp_path / "finish"
    cfg = task_config(shell_config(f"i=0; while [ ! -e {gate} ]; do echo tick $i; i=$((i+1)); "
                                "sleep 0.05; done; exit 5"))
    starter = subprocess.Popen([sys.executable, "-c", STARTER, json.dumps(to_api(cfg))],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        handle = from_api(TaskHandle, json.loads(starter.stdout.readline()))
    finally:
        starter.kill()  # SIGKILL: the "agent" dies without cleaning up
        starter.wait()
        starter.stdin.close()
        starter.stdout.close()
    assert psutil.pid_exists(handle.pid)
    ticks = read_log(cfg).count("tick")
    wait_for(lambda: read_log(cfg).count("tick") > ticks + 2, message="logs keep flowing")
    driver = RawExecDriver()
    driver.recover_task(handle)
    gate.touch()
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal) == (5, 0)


# -- a start interrupted by the death of the agent --------------------------------------

START_AND_HANG = textwrap.dedent("""
    import json, sys
    from nomadjail.drivers.base import TaskConfig
    from nomadjail.drivers.raw_exec import RawExecDriver
    from nomadjail.structs import from_api, to_api
    cfg = from_api(TaskConfig, json.loads(sys.argv[1]))
    driver = RawExecDriver()
    print(json.dumps(to_api(driver.start_record(cfg))), flush=True)  # "persisted"
    driver.start_task(cfg)
    sys.stdin.read()  # the handle is never persisted: wait to be killed
""")


def count_starts(path) -> int:
    try:
        return len(path.read_text().split())
    except FileNotFoundError:
        return 0


def test_a_start_cut_short_is_recovered_not_repeated(task_config, tmp_path):
    gate, starts = tmp_path / "finish", tmp_path / "starts"
    cfg = task_config(shell_config(f"echo $$ >> {starts}; "
                                   f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 6"))
    starter = subprocess.Popen([sys.executable, "-c", START_AND_HANG, json.dumps(to_api(cfg))],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        record = from_api(StartRecord, json.loads(starter.stdout.readline()))
        wait_for(lambda: count_starts(starts) == 1, message="the task launched")
    finally:
        starter.kill()  # the agent dies before it learnt (and persisted) the handle
        starter.wait()
        starter.stdin.close()
        starter.stdout.close()
    driver = RawExecDriver()
    handle = driver.recover_start(record)
    assert handle is not None and handle.pid == int(starts.read_text())
    assert handle.network is None
    gate.touch()
    assert driver.wait_task(handle).exit_code == 6
    assert count_starts(starts) == 1


def test_a_start_that_never_launched_recovers_to_nothing(task_config):
    driver = RawExecDriver()
    cfg = task_config(shell_config("exit 0"))
    assert driver.recover_start(driver.start_record(cfg)) is None


def test_a_supervisor_stuck_before_the_task_started_is_killed(task_config):
    driver = RawExecDriver(start_timeout=0.3)
    cfg = task_config(shell_config("exit 0"))
    record = driver.start_record(cfg)
    os.makedirs(os.path.dirname(record.state["spec_path"]), exist_ok=True)
    # A process that looks like the supervisor of this start (its argv names the spec)
    # but never reports a task.
    stuck = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                              record.state["spec_path"]], start_new_session=True)
    try:
        # (until it has exec'd, its command line is still this test process's)
        wait_for(lambda: record.state["spec_path"] in psutil.Process(stuck.pid).cmdline(),
                 message="the stand-in supervisor to run")
        assert driver.recover_start(record) is None
        stuck.wait(timeout=10)  # killed (the driver may have reaped it already)
    finally:
        if stuck.poll() is None:
            stuck.kill()
            stuck.wait()


def test_a_task_whose_supervisor_died_is_still_found_and_can_be_destroyed(task_config):
    starter = RawExecDriver()
    cfg = task_config(shell_config("sleep 30"))
    record = starter.start_record(cfg)
    handle = starter.start_task(cfg)
    os.kill(handle.state["supervisor_pid"], signal.SIGKILL)  # the task lives on, orphaned
    wait_for(lambda: not psutil.pid_exists(handle.state["supervisor_pid"])
             or psutil.Process(handle.state["supervisor_pid"]).status() == "zombie",
             message="supervisor dead")
    driver = RawExecDriver()
    recovered = driver.recover_start(record)
    assert recovered is not None and recovered.pid == handle.pid
    driver.destroy_task(recovered, True)
    wait_for(lambda: not psutil.pid_exists(handle.pid)
             or psutil.Process(handle.pid).status() == "zombie", message="task killed")


# -- storage errors in the task's logs ---------------------------------------------------

TICK_UNTIL = "i=0; while [ ! -e {gate} ]; do echo tick $i; i=$((i+1)); sleep 0.02; done; exit 7"


def supervisor_log(cfg) -> str:
    runtime = os.path.join(cfg.task_dir, ".raw_exec")
    return "".join(Path(runtime, name).read_text(errors="replace")
                   for name in sorted(os.listdir(runtime)) if name.endswith(".supervisor.log"))


@pytest.mark.parametrize("broken", ["disk full", "a directory in the way"])
def test_log_storage_errors_drop_output_but_never_the_exit_status(driver, task_config,
                                                                  tmp_path, broken):
    gate = tmp_path / "finish"
    cfg = task_config(shell_config(TICK_UNTIL.format(gate=gate)))
    log0 = Path(cfg.stdout_path + ".0")
    if broken == "disk full":
        log0.symlink_to("/dev/full")  # every write fails with ENOSPC
        expected = "No space left on device"
    else:
        log0.mkdir()  # the file cannot even be opened
        expected = "Is a directory"
    handle = driver.start_task(cfg)
    wait_for(lambda: expected in supervisor_log(cfg), message="the storage error reported")
    assert psutil.pid_exists(handle.pid)  # the task runs on
    log0.unlink() if log0.is_symlink() else log0.rmdir()  # space again
    wait_for(lambda: log0.is_file() and "tick" in log0.read_text(),
             message="output stored again once the file can be written")
    gate.touch()
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal, result.err) == (7, 0, "")
    assert "bytes of output dropped in total" in supervisor_log(cfg)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 256 KiB tmpfs mounted inside the test's temp dir (root only)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                           str(mount_point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        kill_processes_under(tmp_path)
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_task_that_fills_the_disk_still_has_its_exit_status_recorded(driver, tiny_tmpfs):
    # The whole allocation (task dir, supervisor files, logs) is on the full disk.
    cfg = make_task_config(tiny_tmpfs, shell_config(
        "i=0; while [ $i -lt 4000 ]; do printf '%0200d\\n' $i; i=$((i+1)); done; exit 5"))
    handle = driver.start_task(cfg)
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal, result.err) == (5, 0, "")
    assert shutil.disk_usage(tiny_tmpfs).free < 8192  # the disk did fill up
    assert os.path.getsize(cfg.stdout_path + ".0") < 4000 * 201  # output was dropped
