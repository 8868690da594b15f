"""The pot driver against the pot test double: start, exit codes, stop, recovery, cleanup."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import threading
from pathlib import Path

import psutil
import pytest

from nomadjail.drivers.base import (
    DriverError,
    DriverNetwork,
    MountConfig,
    PortMapping,
    StartRecord,
    TaskHandle,
    TaskNotFound,
    TaskResources,
)
from nomadjail.pot_driver import PotDriver, PotDriverSettings
from nomadjail.structs import DNSConfig, from_api, to_api
from nomadjail.testing import wait_for

from .conftest import pot_task_config
from .double import PotDouble, run_double

SH = "/bin/sh"
# pot's start command for command = "/usr/bin/printf '%s\n'", args = ["'$HOME'", "two", "words"]
COMMAND_LINE = r'''"/usr/bin/printf '%s\n' '$HOME' two words"'''


def shell(script: str) -> dict:
    """``sh -c script``, written as a pot job file writes it: the script quoted for sh."""
    return {"command": SH, "args": ["-c", shlex.quote(script)]}


def read_log(cfg, kind: str = "stdout") -> str:
    try:
        with open(f"{getattr(cfg, kind + '_path')}.0", encoding="utf-8") as src:
            return src.read()
    except FileNotFoundError:
        return ""


def roundtrip(handle: TaskHandle) -> TaskHandle:
    """The handle as the client's state db gives it back after a restart."""
    return TaskHandle(**json.loads(json.dumps(dataclasses.asdict(handle))))


def restarted(pot_driver: PotDriver) -> PotDriver:
    """A new driver instance, as a restarted client builds it."""
    return PotDriver(pot_driver.settings)


def test_runs_the_task_with_its_env_and_keeps_pots_lines_out_of_the_logs(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell('echo "hello $GREETING"; echo oops >&2'),
                      env={"GREETING": "w$orld `x`"})
    handle = pot_driver.start_task(cfg)
    result = pot_driver.wait_task(handle)
    assert (result.exit_code, result.signal, result.err) == (0, 0, "")
    assert read_log(cfg) == "hello w$orld `x`\n"
    assert read_log(cfg, "stderr") == "oops\n"
    pot_driver.destroy_task(handle, True)
    assert pot_double.task_pots() == [] and pot_double.runtime_files() == []


@pytest.mark.parametrize(("script", "exit_code", "signum"), [
    ("exit 0", 0, 0), ("exit 3", 3, 0),
    ("kill -TERM $$", 128 + signal.SIGTERM, signal.SIGTERM)])
def test_exit_codes(pot_driver: PotDriver, task_config, script: str, exit_code: int,
                    signum: int) -> None:
    handle = pot_driver.start_task(task_config(shell(script)))
    result = pot_driver.wait_task(handle)
    assert (result.exit_code, result.signal, result.err) == (exit_code, signum, "")
    pot_driver.destroy_task(handle, True)


def test_pot_failing_to_start_is_reported_with_its_message(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    pot_double.set_faults(start=True)
    handle = pot_driver.start_task(task_config(shell("exit 0")))
    result = pot_driver.wait_task(handle)
    assert result.exit_code == 1
    assert result.err.startswith("pot failed to start: Mount failed")
    pot_driver.destroy_task(handle, True)
    assert pot_double.task_pots() == []


def test_a_dotted_task_name_gets_the_name_pot_gives_it(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("echo v2; exit 5"), name="web.v2")
    handle = pot_driver.start_task(cfg)
    name = handle.state["pot_name"]
    assert name == f"web_v2_{cfg.id.rsplit('/', 1)[1]}_{cfg.alloc_id}"
    assert pot_driver.wait_task(handle).exit_code == 5
    assert read_log(cfg) == "v2\n"
    assert ["last-run-stats", "-p", name] in pot_double.calls()
    pot_driver.destroy_task(handle, True)
    assert pot_double.task_pots() == []


def test_the_start_sequence_is_exactly_these_pot_commands(
        pot_driver: PotDriver, pot_double: PotDouble, task_config, tmp_path) -> None:
    volume, data = tmp_path / "volume", tmp_path / "data"
    volume.mkdir()
    data.mkdir()
    (tmp_path / "file.conf").write_text("x")
    cfg = task_config({
        "command": "/usr/bin/printf '%s\\n'", "args": ["'$HOME'", "two", "words"],
        "port_map": [{"http": "80"}],
        "copy": [f"{tmp_path}/file.conf:/etc/file.conf"],
        "mount": [f"{data}:/srv/data"], "mount_read_only": [f"{tmp_path}:/srv/ro"],
        "extra_hosts": ["db:10.0.0.5"], "attributes": ["mlock:YES"]}, env={"K": "v$"})
    cfg = dataclasses.replace(
        cfg, resources=TaskResources(memory_mb=128, memory_max_mb=256,
                                     ports=[PortMapping(label="http", value=23456)]),
        mounts=[MountConfig(f"{cfg.alloc_dir}/alloc", "/alloc"),
                MountConfig(f"{cfg.task_dir}/local", "/local"),
                MountConfig(f"{cfg.task_dir}/secrets", "/secrets"),
                MountConfig(str(volume), "/data", readonly=True)])
    os.makedirs(f"{cfg.alloc_dir}/alloc", exist_ok=True)
    os.makedirs(f"{cfg.task_dir}/secrets", exist_ok=True)
    handle = pot_driver.start_task(cfg)
    name = handle.state["pot_name"]
    invocation = cfg.id.rsplit("/", 1)[1]
    pot_driver.wait_task(handle)
    # `info -q -r` polls (until the pot runs) interleave with `start`: left out here.
    calls = [argv for argv in pot_double.calls() if argv[0] != "info"]
    assert ["info", "-q", "-r", "-p", name] in pot_double.calls()
    start = calls.index(["start", name])
    assert calls[:start + 1] == [
        ["prepare", "-U", "https://pot-registry.example.org/registry/", "-p", "nginx-only",
         "-t", "1.0", "-c", COMMAND_LINE, "-N",
         "public-bridge", "-i", "auto", "-e", "80:23456", "-a",
         f"{invocation}_{cfg.alloc_id}", "-n", "web"],
        ["ls", "-q"],
        ["set-attribute", "-p", name, "-A", "mlock", "-V", "YES"],
        ["copy-in", "-p", name, "-s", f"{tmp_path}/file.conf", "-d", "/etc/file.conf"],
        ["mount-in", "-p", name, "-d", f"{cfg.alloc_dir}/alloc", "-m", "/alloc"],
        ["mount-in", "-p", name, "-d", f"{cfg.task_dir}/local", "-m", "/local"],
        ["mount-in", "-p", name, "-d", f"{cfg.task_dir}/secrets", "-m", "/secrets"],
        ["mount-in", "-p", name, "-d", str(volume), "-m", "/data", "-r"],
        ["mount-in", "-p", name, "-d", str(data), "-m", "/srv/data"],
        ["mount-in", "-p", name, "-d", str(tmp_path), "-m", "/srv/ro", "-r"],
        ["set-env", "-p", name, "-E", f"PATH={cfg.env['PATH']}", "-E", "K=v\\$"],
        ["set-hosts", "-p", name, "-H", "db:10.0.0.5"],
        ["set-rss", "-p", name, "-M", "256M"],
        ["config", "-q", "-g", "fs_root"],  # where pot's last-run-stats file lives
        ["start", name]]
    assert read_log(cfg) == "$HOME\ntwo\nwords\n"  # sh read the command line
    assert f"{volume} /data ro" in pot_double.fscomp(name)
    pot_driver.destroy_task(handle, True)
    assert pot_double.calls()[-3:] == [["ls", "-q"], ["destroy", "-p", name, "-F"],
                                       ["ls", "-q"]]


def test_host_networking_is_pots_inherit_without_exports(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    handle = pot_driver.start_task(task_config({**shell("exit 0"), "network_mode": "host",
                                                "port_map": {"http": "80"}}))
    pot_driver.wait_task(handle)
    prepare = pot_double.calls()[0]
    assert prepare[prepare.index("-N") + 1] == "inherit"
    assert "-e" not in prepare and "-i" not in prepare
    pot_driver.destroy_task(handle, True)


ALIAS = {"network_mode": "alias", "ip": "lo0|10.0.0.50", "port_map": {"http": "8080"}}


def persisted(handle: TaskHandle) -> TaskHandle:
    """The handle as the client's state db stores and reads it (the structs codec)."""
    return from_api(TaskHandle, json.loads(json.dumps(to_api(handle))), "handle")


def test_an_alias_pot_is_reached_on_the_address_pot_gives_it(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    """Services advertise an alias pot's own address and the port_map ports; pot, not the
    config's text, says which address (``em0|...`` and IPv6 are pot's to sort out)."""
    cfg = task_config({**shell("exec sleep 300"), **ALIAS,
                       "ip": ["fd00::50", "lo0|10.0.0.50"]})
    handle = pot_driver.start_task(cfg)
    name = handle.state["pot_name"]
    network = DriverNetwork(ip="10.0.0.50", port_map={"http": 8080}, auto_advertise=True)
    assert handle.network == network
    prepare = pot_double.calls()[0]
    assert prepare[prepare.index("-N"):prepare.index("-a")] == [
        "-N", "alias", "-i", "fd00::50", "-i", "lo0|10.0.0.50"]  # and no exports
    assert ["info", "-p", name, "-E"] in pot_double.calls()

    again = restarted(pot_driver)  # the client restarts with the handle it persisted
    saved = persisted(handle)
    assert saved.network == network
    again.recover_task(saved)
    again.stop_task(saved, 5.0, "SIGTERM")
    again.destroy_task(saved, True)
    assert pot_double.task_pots() == []


def test_bridged_and_host_pots_use_the_nodes_network(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    for config in ({}, {"network_mode": "host"}):
        handle = pot_driver.start_task(task_config({**shell("exit 0"), **config}))
        assert handle.network is None
        pot_driver.wait_task(handle)
        pot_driver.destroy_task(handle, True)
    assert not [argv for argv in pot_double.calls() if argv[:1] == ["info"] and "-E" in argv]


def test_an_interrupted_alias_start_gets_its_network_back(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config({**shell("exec sleep 300"), **ALIAS})
    record = pot_driver.start_record(cfg)
    handle = pot_driver.start_task(cfg)  # ... and the client died before saving the handle
    again = restarted(pot_driver)
    recovered = again.recover_start(StartRecord(**json.loads(json.dumps(
        dataclasses.asdict(record)))))
    assert recovered is not None and recovered.network == handle.network
    assert recovered.network == DriverNetwork(ip="10.0.0.50", port_map={"http": 8080},
                                              auto_advertise=True)
    again.stop_task(recovered, 5.0, "SIGTERM")
    again.destroy_task(recovered, True)
    assert pot_double.task_pots() == []


def test_an_alias_address_pot_refuses_fails_the_start_and_leaves_no_pot(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    """An IPv6-only alias on pot's default ipv4 stack: pot's clone refuses it (and prepare
    still exits 0)."""
    with pytest.raises(DriverError, match="pot prepare did not create the pot .*Stack is "
                                          "ipv4 but not ipv4 address has been provided"):
        pot_driver.start_task(task_config({**shell("exit 0"), **ALIAS, "ip": "fd00::50"}))
    assert pot_double.task_pots() == [] and "start" not in pot_double.commands()


def test_a_port_label_without_an_allocated_port_fails_the_start(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    with pytest.raises(DriverError, match='port_map label "http": no port with that label'):
        pot_driver.start_task(task_config({**shell("exit 0"), "port_map": {"http": "80"}}))
    assert pot_double.calls() == []


def test_legacy_task_ports_come_from_the_environment(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    handle = pot_driver.start_task(task_config({**shell("exit 0"), "port_map": {"http": "80"}},
                                               env={"NOMAD_HOST_PORT_http": "24000"}))
    assert "80:24000" in pot_double.calls()[0]
    pot_driver.wait_task(handle)
    pot_driver.destroy_task(handle, True)


def test_prepare_that_silently_failed_to_clone_is_caught(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    pot_double.set_faults(clone=True)
    with pytest.raises(DriverError, match="pot prepare did not create the pot .*Not able to "
                                          "clone imported pot"):
        pot_driver.start_task(task_config(shell("exit 0")))
    assert pot_double.task_pots() == [] and "start" not in pot_double.commands()


def test_a_failed_configuration_step_destroys_the_pot(
        pot_driver: PotDriver, pot_double: PotDouble, task_config, tmp_path) -> None:
    cfg = task_config({**shell("exit 0"), "mount": [f"{tmp_path}/missing:/mnt"]})
    with pytest.raises(DriverError, match="mount-in.*exited 1: .*missing is not a directory"):
        pot_driver.start_task(cfg)
    assert pot_double.task_pots() == [] and "destroy" in pot_double.commands()
    assert not os.path.exists(pot_driver.start_record(cfg).state["env_path"])


def test_stop_sends_the_kill_signal_and_returns_when_the_task_obeys(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    handle = pot_driver.start_task(task_config(shell("echo up; exec sleep 300")))
    wait_for(lambda: ["start", handle.state["pot_name"]] in pot_double.calls(),
             message="pot start")
    pot_driver.stop_task(handle, 30.0, "SIGTERM")
    result = pot_driver.wait_task(handle)
    assert (result.exit_code, result.signal) == (128 + signal.SIGTERM, signal.SIGTERM)
    assert ["destroy", "-p", handle.state["pot_name"], "-F"] not in pot_double.calls()
    pot_driver.destroy_task(handle, True)
    assert pot_double.task_pots() == []


def test_stop_destroys_the_pot_after_the_kill_timeout(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("trap 'echo got INT' INT; echo up; while :; do sleep 0.1; done"))
    handle = pot_driver.start_task(cfg)
    name = handle.state["pot_name"]
    wait_for(lambda: "up" in read_log(cfg), message="the task to run")
    pot_driver.stop_task(handle, 1.0, "")  # Nomad's default kill_signal: SIGINT
    result = pot_driver.wait_task(handle)
    assert (result.exit_code, result.signal) == (128 + signal.SIGKILL, signal.SIGKILL)
    assert "got INT" in read_log(cfg)
    log = [json.loads(line) for line in pot_double.log_path.read_text().splitlines()]
    destroyed = next(e["time"] for e in log if e["argv"] == ["destroy", "-p", name, "-F"])
    signalled = max(e["time"] for e in log if e["time"] < destroyed
                    and e["argv"] == ["signal", "-s", "SIGINT", "-p", name])
    assert destroyed - signalled >= 0.7  # the 1s kill timeout was waited out, then destroyed
    pot_driver.destroy_task(handle, True)
    assert pot_double.task_pots() == [] and pot_double.runtime_files() == []


def test_destroy_is_retried_while_pot_answers_already_stopping(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    handle = pot_driver.start_task(task_config(shell("exit 0")))
    pot_driver.wait_task(handle)
    pot_double.set_faults(destroy_busy=2)
    pot_driver.destroy_task(handle, True)
    assert pot_double.commands().count("destroy") == 3
    assert pot_double.task_pots() == []


def test_a_stop_that_destroys_and_the_clients_destroy_run_one_pot_destroy(
        pot_driver: PotDriver, pot_double: PotDouble, task_config, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="nomadjail.pot_driver")
    cfg = task_config(shell("trap '' TERM; echo up; while :; do sleep 0.1; done"))
    handle = pot_driver.start_task(cfg)
    name = handle.state["pot_name"]
    wait_for(lambda: "up" in read_log(cfg), message="the task to run")
    pot_double.set_faults(delay={"destroy": 1.0})  # the stop's destroy takes a while
    stopper = threading.Thread(target=pot_driver.stop_task, args=(handle, 0.2, "SIGTERM"))
    stopper.start()
    try:
        wait_for(lambda: "destroy" in pot_double.commands(), message="the stop's destroy")
        pot_driver.destroy_task(handle, True)  # the client destroys meanwhile
    finally:
        stopper.join(30)
    assert pot_double.calls().count(["destroy", "-p", name, "-F"]) == 1
    # (pot signal may fail while pot does not know the program's pid yet: retried)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
            and "signal" not in r.getMessage()] == []
    assert pot_double.task_pots() == [] and pot_driver._destroying.held() == []


def test_signal_exec_and_stats_while_running(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("trap 'echo got USR1' USR1; echo up; "
                            "while :; do sleep 0.1; done"), env={"SECRET_WORD": "swordfish"})
    handle = pot_driver.start_task(cfg)
    wait_for(lambda: "up" in read_log(cfg), message="the task to run")
    pot_driver.signal_task(handle, "SIGUSR1")
    wait_for(lambda: "got USR1" in read_log(cfg), message="the signal to arrive")
    with pytest.raises(DriverError, match="unknown signal"):
        pot_driver.signal_task(handle, "SIGPWR")
    done = pot_driver.exec_task(handle, [SH, "-c", 'echo "$SECRET_WORD"; exit 2'], 10.0)
    assert (done.stdout, done.exit_code) == (b"swordfish\n", 2)
    stats = wait_for(lambda: (lambda s: s if s.rss_bytes > 0 else None)(
        pot_driver.task_stats(handle)), message="stats")
    assert stats.timestamp > 0
    pot_driver.stop_task(handle, 5.0, "SIGTERM")
    pot_driver.wait_task(handle)
    with pytest.raises(DriverError, match="not running"):
        pot_driver.signal_task(handle, "SIGUSR1")
    pot_driver.destroy_task(handle, True)


def test_a_restarted_client_reattaches_and_logs_keep_flowing(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done"))
    handle = roundtrip(pot_driver.start_task(cfg))
    wait_for(lambda: "tick 3" in read_log(cfg), message="ticks")
    again = restarted(pot_driver)
    again.recover_task(handle)
    seen = read_log(cfg).count("tick")
    wait_for(lambda: read_log(cfg).count("tick") > seen + 3, message="logs after re-attach")
    again.stop_task(handle, 5.0, "SIGTERM")
    assert again.wait_task(handle).signal == signal.SIGTERM
    again.destroy_task(handle, True)
    assert pot_double.task_pots() == []


def test_a_task_that_exited_while_the_client_was_down_is_reported(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("echo bye; exit 7"))
    handle = roundtrip(pot_driver.start_task(cfg))
    pot_driver.wait_task(handle)  # it exited before "the restart"
    again = restarted(pot_driver)
    again.recover_task(handle)
    result = again.wait_task(handle)
    assert (result.exit_code, result.err) == (7, "")
    again.destroy_task(handle, True)
    assert pot_double.task_pots() == []


def test_a_pot_whose_supervisor_is_gone_is_refused_and_destroyed(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("exec sleep 300"))
    handle = roundtrip(pot_driver.start_task(cfg))
    # (a `pot start` killed while pot still marks the pot "starting" leaves a pot that even
    # `destroy -F` refuses to stop, as real pot does)
    wait_for(lambda: pot_double.status(handle.state["pot_name"]) == "started",
             message="pot start to finish starting")
    raw = handle.state["supervised"]["raw"]
    procs = [psutil.Process(raw["supervisor_pid"]), psutil.Process(raw["task_pid"])]
    for proc in procs:
        proc.kill()
    psutil.wait_procs(procs, timeout=10)
    again = restarted(pot_driver)
    with pytest.raises(TaskNotFound, match="no longer supervised"):
        again.recover_task(handle)
    again.destroy_task(handle, True)  # what the client does with a task it cannot recover
    # (pot itself leaves pot_main_pid_<name> behind when `pot start` is killed)
    assert pot_double.task_pots() == []


def test_an_interrupted_start_after_prepare_destroys_the_pot(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("exit 0"))
    record = pot_driver.start_record(cfg)
    name = record.state["pot_name"]
    # The client died after `pot prepare`: the pot exists, `pot start` never ran.
    prepare = run_double(pot_double, "prepare", "-U", "https://r/", "-p", "nginx-only", "-t",
                         "1.0", "-a", f"{cfg.id.rsplit('/', 1)[1]}_{cfg.alloc_id}", "-n", "web")
    assert prepare.returncode == 0 and name in pot_double.pots()
    saved = StartRecord(**json.loads(json.dumps(dataclasses.asdict(record))))
    assert restarted(pot_driver).recover_start(saved) is None
    assert pot_double.task_pots() == []


def test_an_interrupted_start_waits_for_a_prepare_that_outlived_the_client(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("exit 0"))
    record = pot_driver.start_record(cfg)
    pot_double.set_faults(prepare_delay=1.5)
    # The client died while its `pot prepare` ran; the prepare goes on without it.
    orphan = subprocess.Popen(
        [str(pot_double.bin), "prepare", "-U", "https://r/", "-p", "nginx-only", "-t", "1.0",
         "-a", f"{cfg.id.rsplit('/', 1)[1]}_{cfg.alloc_id}", "-n", "web"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: ["prepare"] == [c[0] for c in pot_double.calls()][:1],
                 message="the orphaned prepare to run")
        assert restarted(pot_driver).recover_start(record) is None
        assert orphan.wait(10) == 0
    finally:
        orphan.kill()
        orphan.wait()
    assert pot_double.task_pots() == []  # created by the orphan, then destroyed


def test_an_interrupted_start_after_pot_start_is_reattached(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("echo first; exec sleep 300"))
    record = pot_driver.start_record(cfg)
    handle = pot_driver.start_task(cfg)  # ... and the client died before saving the handle
    again = restarted(pot_driver)
    recovered = again.recover_start(record)
    assert recovered is not None and recovered.pid == handle.pid
    assert recovered.state["pot_name"] == handle.state["pot_name"]
    again.stop_task(recovered, 5.0, "SIGTERM")
    assert again.wait_task(recovered).signal == signal.SIGTERM
    again.destroy_task(recovered, True)
    assert pot_double.task_pots() == [] and pot_double.commands().count("start") == 1


def test_fingerprint(pot_double: PotDouble) -> None:
    healthy = PotDriver(PotDriverSettings(pot_bin=str(pot_double.bin),
                                          test_only_allow_any_os=True)).fingerprint()
    assert healthy.healthy and healthy.attributes == {"driver.pot.version": "0.16.0"}
    assert "test-only" in healthy.health_description
    linux = PotDriver(PotDriverSettings(pot_bin=str(pot_double.bin))).fingerprint()
    assert not linux.detected and not linux.healthy and "need FreeBSD" in linux.health_description
    missing = PotDriver(PotDriverSettings(pot_bin="/nonexistent/pot",
                                          test_only_allow_any_os=True)).fingerprint()
    assert not missing.detected and "pot not found" in missing.health_description


# -- review fixes ----------------------------------------------------------------------

def test_a_pot_stopped_from_outside_reports_how_its_program_ended(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    handle = pot_driver.start_task(task_config(shell("echo up; exec sleep 300")))
    name = handle.state["pot_name"]
    wait_for(lambda: pot_double.status(name) == "started", message="the pot to be started")
    stopped = run_double(pot_double, "stop", "-p", name)  # an operator, not the driver
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    result = pot_driver.wait_task(handle)  # `pot start` itself exited 0
    assert (result.exit_code, result.signal) == (128 + signal.SIGTERM, signal.SIGTERM)
    assert not result.successful()
    pot_driver.destroy_task(handle, True)
    assert pot_double.task_pots() == []


def test_a_pot_destroyed_from_outside_is_not_a_success(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    handle = pot_driver.start_task(task_config(shell("exec sleep 300")))
    name = handle.state["pot_name"]
    wait_for(lambda: pot_double.status(name) == "started", message="the pot to be started")
    assert run_double(pot_double, "destroy", "-p", name, "-F").returncode == 0
    result = pot_driver.wait_task(handle)
    # depending on who wins, last-run-stats was still readable (SIGTERM) or the pot was gone
    assert not result.successful()
    assert result.signal == signal.SIGTERM or "destroyed from outside" in result.err
    pot_driver.destroy_task(handle, True)


def test_cores_and_the_groups_dns_reach_pot(pot_driver: PotDriver, pot_double: PotDouble,
                                            task_config) -> None:
    cfg = task_config(shell("cat /etc/resolv.conf; exec sleep 300"))
    cfg = dataclasses.replace(
        cfg, resources=TaskResources(memory_mb=128, cores=2),
        dns=DNSConfig(servers=["10.0.0.53", "fd00::53"], searches=["consul", "example.org"],
                      options=["ndots:2"]))
    handle = pot_driver.start_task(cfg)
    name = handle.state["pot_name"]
    prepare = pot_double.calls()[0]
    custom = prepare[prepare.index("-d") + 1]
    assert custom.startswith("custom:") and custom.endswith(".resolv.conf")
    assert not os.path.exists(custom[len("custom:"):])  # pot keeps its own copy
    assert ["set-rss", "-p", name, "-C", "2", "-M", "128M"] in pot_double.calls()
    conf = pot_double.conf(name)
    assert "pot.dns=custom" in conf and "pot.rss.cpus=2" in conf
    expected = ("# written by nomadjail from the group network's dns block\n"
                "nameserver 10.0.0.53\nnameserver fd00::53\nsearch consul example.org\n"
                "options ndots:2\n")
    resolv = pot_double.root / "jails" / name / "m" / "etc" / "resolv.conf"
    wait_for(lambda: resolv.exists() and resolv.read_text() == expected,
             message="the pot's resolv.conf")
    pot_driver.stop_task(handle, 5.0, "SIGTERM")
    pot_driver.wait_task(handle)
    pot_driver.destroy_task(handle, True)


def test_dns_that_pot_cannot_take_fails_the_start_before_any_pot_command(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = dataclasses.replace(task_config(shell("exit 0")),
                              dns=DNSConfig(servers=["dns.example.org"]))
    with pytest.raises(DriverError, match=r"dns.servers\[0\] 'dns.example.org' is not an IP"):
        pot_driver.start_task(cfg)
    assert pot_double.calls() == []


def test_start_returns_the_handle_of_a_started_pot_it_cannot_check(
        pot_double: PotDouble, task_config) -> None:
    driver = PotDriver(PotDriverSettings(pot_bin=str(pot_double.bin),
                                         test_only_allow_any_os=True, command_timeout=1.0,
                                         destroy_timeout=20.0))
    pot_double.set_faults(info_delay=5)  # `pot info -r` hangs: DriverError after 1 s
    cfg = task_config(shell("echo up; exec sleep 300"))
    handle = driver.start_task(cfg)  # not a DriverError that would orphan the pot
    name = handle.state["pot_name"]
    assert ["info", "-q", "-r", "-p", name] in pot_double.calls()
    wait_for(lambda: "up" in read_log(cfg), message="the task to run")
    driver.stop_task(handle, 5.0, "SIGTERM")
    assert driver.wait_task(handle).signal == signal.SIGTERM
    driver.destroy_task(handle, True)
    assert pot_double.task_pots() == [] and pot_double.runtime_files() == []


def test_signal_right_after_start_waits_for_pot_to_know_the_program(
        pot_driver: PotDriver, pot_double: PotDouble, task_config, tmp_path) -> None:
    gate = tmp_path / "main-pid-gate"
    pot_double.set_faults(main_pid_gate=str(gate))  # pot has not recorded the pid yet
    cfg = task_config(shell("trap 'echo got USR1' USR1; echo up; while :; do sleep 0.1; done"))
    handle = pot_driver.start_task(cfg)
    name = handle.state["pot_name"]
    errors: list[BaseException] = []

    def send() -> None:
        try:
            pot_driver.signal_task(handle, "SIGUSR1")
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        # a second attempt means the first one failed and was retried
        wait_for(lambda: errors or pot_double.calls().count(
            ["signal", "-s", "SIGUSR1", "-p", name]) >= 2, message="signal to be retried")
    finally:
        gate.touch()
        sender.join(30)
    assert errors == []
    wait_for(lambda: "got USR1" in read_log(cfg), message="the signal to arrive")
    pot_driver.stop_task(handle, 5.0, "SIGTERM")
    pot_driver.wait_task(handle)
    pot_driver.destroy_task(handle, True)


def test_the_programs_lines_stay_in_its_log_whatever_they_start_with(
        pot_driver: PotDriver, pot_double: PotDouble, task_config, tmp_path) -> None:
    pot_double.set_faults(racct=False)  # pot then prints a notice after "Starting the pot"
    flag = tmp_path / "finish"
    cfg = task_config(shell(f'echo "===> app step 1"; echo "###> app problem" >&2; '
                            f'echo "=====> app debug"; '
                            f'while [ ! -e {flag} ]; do sleep 0.05; done; exit 3'))
    cfg = dataclasses.replace(cfg, resources=TaskResources(memory_mb=64))
    handle = pot_driver.start_task(cfg)
    wait_for(lambda: "=====> app debug" in read_log(cfg), message="the program's lines")
    flag.touch()
    result = pot_driver.wait_task(handle)
    assert (result.exit_code, result.err) == (3, "")
    # pot's own lines before ("Starting the pot"), during (`jail -c`'s unprefixed line, the
    # rctl notice) and after (the bare interface list, "... reported application error")
    # the program are not in the task's logs
    assert read_log(cfg) == "===> app step 1\n=====> app debug\n"
    assert read_log(cfg, "stderr") == "###> app problem\n"
    diverted = Path(handle.state["supervised"]["diverted_path"]).read_text()
    name = handle.state["pot_name"]
    lines = diverted.splitlines()
    assert lines[:3] + lines[4:] == [
        f"===>  Starting the pot {name}", f"{name}: created",
        "===>  memory constraint cannot be applies because rctl is not enabled - ignoring",
        f"###>  {name} reported application error"]
    assert re.fullmatch(r"p4[0-9a-f]{9,13}:", lines[3])  # pot 0.16's epair name
    pot_driver.destroy_task(handle, True)


def test_exec_returns_the_commands_output_untouched(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("echo up; exec sleep 300"))
    handle = pot_driver.start_task(cfg)
    wait_for(lambda: "up" in read_log(cfg), message="the task to run")
    done = pot_driver.exec_task(handle, [SH, "-c", 'echo "===> from exec"; echo "###> too"'],
                                10.0)
    assert (done.stdout, done.exit_code) == (b"===> from exec\n###> too\n", 0)
    pot_driver.stop_task(handle, 5.0, "SIGTERM")
    pot_driver.wait_task(handle)
    pot_driver.destroy_task(handle, True)


def test_legacy_port_labels_are_found_under_the_clients_env_name(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    # the client names the variable with Nomad's CleanEnvVar: non-ASCII letters become "_"
    handle = pot_driver.start_task(task_config({**shell("exit 0"), "port_map": {"wéb": "80"}},
                                               env={"NOMAD_HOST_PORT_w_b": "24001"}))
    assert "80:24001" in pot_double.calls()[0]
    pot_driver.wait_task(handle)
    pot_driver.destroy_task(handle, True)


# -- second review fixes ---------------------------------------------------------------

def quick_driver(pot_double: PotDouble, **settings) -> PotDriver:
    """A driver whose pot commands time out after 1 s (for pot commands made to hang)."""
    return PotDriver(PotDriverSettings(pot_bin=str(pot_double.bin), test_only_allow_any_os=True,
                                       command_timeout=1.0, destroy_timeout=20.0, **settings))


def started(driver: PotDriver, pot_double: PotDouble, cfg) -> TaskHandle:
    handle = driver.start_task(cfg)
    wait_for(lambda: pot_double.status(handle.state["pot_name"]) == "started",
             message="the pot to be started")
    return handle


def test_a_dns_value_the_client_could_not_interpolate_fails_the_start(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = dataclasses.replace(task_config(shell("exit 0")),
                              dns=DNSConfig(servers=["${meta.resolver}"]))
    with pytest.raises(DriverError, match=r"dns.servers\[0\] '\$\{meta.resolver\}' is not an "
                                          "IP address"):
        pot_driver.start_task(cfg)
    assert pot_double.calls() == []


def test_a_dns_block_without_servers_gets_the_hosts(pot_double: PotDouble, task_config,
                                                   tmp_path) -> None:
    host = tmp_path / "host-resolv.conf"
    host.write_text("# the host's\nnameserver 10.9.9.9\nnameserver not-an-ip\n"
                    "search host.example\noptions ndots:3\noptions edns0\n")
    driver = PotDriver(PotDriverSettings(pot_bin=str(pot_double.bin),
                                         test_only_allow_any_os=True, destroy_timeout=20.0,
                                         host_resolv_conf=str(host)))
    cfg = dataclasses.replace(task_config(shell("exit 0")),
                              dns=DNSConfig(searches=["consul"]))
    handle = driver.start_task(cfg)
    conf = pot_double.root / "jails" / handle.state["pot_name"] / "conf" / "resolv.conf"
    # as Nomad's GenerateDNSMount: each empty field from the host, the job's fields kept
    assert conf.read_text() == ("# written by nomadjail from the group network's dns block\n"
                                "nameserver 10.9.9.9\nsearch consul\noptions ndots:3 edns0\n")
    driver.wait_task(handle)
    driver.destroy_task(handle, True)
    host.write_text("search host.example\n")  # no nameserver anywhere: the pot would get none
    with pytest.raises(DriverError, match="names no servers and the host's .* names none"):
        driver.start_task(dataclasses.replace(task_config(shell("exit 0")),
                                              dns=DNSConfig(options=["ndots:1"])))
    host.unlink()
    with pytest.raises(DriverError, match="names no servers and the host's .* cannot be read"):
        driver.start_task(dataclasses.replace(task_config(shell("exit 0")),
                                              dns=DNSConfig(options=["ndots:1"])))
    assert pot_double.task_pots() == []


SECRET = "hunter2-do-not-log"


def assert_no_secret(text: str) -> None:
    assert SECRET not in text
    assert f"API_TOKEN={SECRET}" not in text


def test_environment_values_stay_out_of_errors_and_logs(
        pot_double: PotDouble, task_config, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="nomadjail.pot_driver")
    driver = quick_driver(pot_double)
    env = {"API_TOKEN": SECRET}
    pot_double.set_faults(delay={"set-env": 5})  # `pot set-env` hangs past the timeout
    with pytest.raises(DriverError) as failed:
        driver.start_task(task_config(shell("exit 0"), env=env))
    assert "set-env" in str(failed.value) and "API_TOKEN=<hidden>" in str(failed.value)
    assert_no_secret(str(failed.value))
    pot_double.set_faults()
    cfg = task_config(shell("echo up; exec sleep 300"), env=env)
    handle = driver.start_task(cfg)
    wait_for(lambda: "up" in read_log(cfg), message="the task to run")
    with pytest.raises(DriverError) as hung:  # the exec'd command outlives its timeout
        driver.exec_task(handle, [SH, "-c", "exec sleep 30"], 1.0)
    assert "did not finish" in str(hung.value) and "API_TOKEN=<hidden>" in str(hung.value)
    assert "sleep 30" in str(hung.value)  # the command itself is shown
    assert_no_secret(str(hung.value))
    assert any("running" in r.getMessage() and "set-env" in r.getMessage()
               for r in caplog.records)
    for record in caplog.records:
        assert_no_secret(record.getMessage())
    driver.stop_task(handle, 5.0, "SIGTERM")
    driver.wait_task(handle)
    driver.destroy_task(handle, True)
    assert pot_double.task_pots() == []


def test_a_hung_pot_signal_still_stops_the_task(pot_double: PotDouble, task_config) -> None:
    driver = quick_driver(pot_double)
    handle = started(driver, pot_double, task_config(shell("echo up; exec sleep 300")))
    pot_double.set_faults(delay={"signal": 5})  # `pot signal` hangs past the timeout
    driver.stop_task(handle, 30.0, "SIGTERM")  # no DriverError: on to destroy -F at once
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal, result.err) == (
        128 + signal.SIGKILL, signal.SIGKILL, "")
    assert ["destroy", "-p", handle.state["pot_name"], "-F"] in pot_double.calls()
    assert pot_double.task_pots() == []
    driver.destroy_task(handle, True)


def test_destroying_a_running_task_reports_it_killed(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    handle = started(pot_driver, pot_double, task_config(shell("exec sleep 300")))
    results: list = []
    waiter = threading.Thread(target=lambda: results.append(pot_driver.wait_task(handle)))
    waiter.start()  # the client waits for the task meanwhile
    pot_driver.destroy_task(handle, True)
    waiter.join(30)
    assert [(r.exit_code, r.signal, r.err) for r in results] == [
        (128 + signal.SIGKILL, signal.SIGKILL, "")]
    assert pot_double.task_pots() == []


def test_unreadable_last_run_stats_of_an_existing_pot_is_not_called_destroyed(
        pot_double: PotDouble, task_config) -> None:
    driver = quick_driver(pot_double)
    pot_double.set_faults(delay={"last-run-stats": 5})  # it hangs past the timeout
    handle = driver.start_task(task_config(shell("exit 0")))
    result = driver.wait_task(handle)
    assert result.exit_code == -1 and not result.successful()
    assert result.err.startswith("exit status unknown: `pot start` exited 0")
    assert "did not finish within" in result.err and "from outside" not in result.err
    pot_double.set_faults()
    driver.destroy_task(handle, True)
    assert pot_double.task_pots() == []


def test_a_handle_of_an_unknown_shape_still_gets_its_pot_destroyed(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    handle = roundtrip(started(pot_driver, pot_double, task_config(shell("exec sleep 300"))))
    # as an earlier version of the driver saved it ("runner" for "supervised")
    handle.state["runner"] = handle.state.pop("supervised")
    again = restarted(pot_driver)
    with pytest.raises(TaskNotFound, match="malformed"):
        again.recover_task(handle)
    again.destroy_task(handle, True)  # what the client does with a task it cannot recover
    assert pot_double.task_pots() == []
    with pytest.raises(TaskNotFound):  # nothing to name: nothing to destroy
        again.destroy_task(TaskHandle(driver="pot", task_id=handle.task_id, started_at=1,
                                      state={"runner": {}}), True)


def test_a_start_record_of_an_unknown_shape_still_gets_its_pot_destroyed(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    cfg = task_config(shell("exec sleep 300"))
    record = pot_driver.start_record(cfg)
    started(pot_driver, pot_double, cfg)  # ... and the client died before saving the handle
    old = StartRecord(**json.loads(json.dumps(dataclasses.asdict(record))))
    old.state["runner"] = old.state.pop("supervision")  # an earlier version's record
    assert restarted(pot_driver).recover_start(old) is None
    assert pot_double.task_pots() == []


def test_an_images_own_resolv_conf_does_not_override_the_jobs_dns(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    # pot clone copies the image's conf/resolv.conf over the one from `prepare -d custom:`
    pot_double.set_faults(image_resolv_conf="nameserver 192.0.2.1\n")
    cfg = dataclasses.replace(task_config(shell("cat /etc/resolv.conf; exec sleep 300")),
                              dns=DNSConfig(servers=["10.0.0.53"]))
    handle = pot_driver.start_task(cfg)
    resolv = pot_double.root / "jails" / handle.state["pot_name"] / "m" / "etc" / "resolv.conf"
    expected = ("# written by nomadjail from the group network's dns block\n"
                "nameserver 10.0.0.53\n")
    wait_for(lambda: resolv.exists() and resolv.read_text() == expected,
             message="the job's resolv.conf in the pot")
    pot_driver.stop_task(handle, 5.0, "SIGTERM")
    pot_driver.wait_task(handle)
    pot_driver.destroy_task(handle, True)


def test_a_task_dir_pot_would_split_is_refused_for_the_dns_file(
        pot_driver: PotDriver, pot_double: PotDouble, tmp_path) -> None:
    cfg = dataclasses.replace(pot_task_config(tmp_path / "my allocs", shell("exit 0")),
                              dns=DNSConfig(servers=["10.0.0.53"]))
    with pytest.raises(DriverError, match=r"the resolv.conf path '.*my allocs.*' contains "
                                          r"\[' '\]: pot passes it on unquoted"):
        pot_driver.start_task(cfg)
    assert pot_double.calls() == []
