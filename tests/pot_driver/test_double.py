"""The pot test double behaves as pot 0.16 does where the driver depends on it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from nomadjail.testing import wait_for

from .double import DOUBLE, PotDouble, run_double

IMAGE = ["-U", "https://reg.example.org/", "-p", "nginx", "-t", "1.0"]


def prepare(double: PotDouble, *extra: str, name: str = "web", alloc: str = "a1") -> str:
    done = run_double(double, "prepare", *IMAGE, "-N", "public-bridge", "-i", "auto",
                      "-a", alloc, "-n", name, *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return f"{name}_{alloc}".replace(".", "_")


def start_in_background(double: PotDouble, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(DOUBLE), "start", name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"PATH": os.environ["PATH"], **double.env()})


def wait_started(double: PotDouble, name: str) -> None:
    wait_for(lambda: double.status(name) == "started", timeout=10,
             message=f"pot {name} to be started")


def test_refuses_to_run_outside_a_temp_dir(pot_double: PotDouble) -> None:
    done = run_double(pot_double, "version", env={"POT_FS_ROOT": "/opt/pot"})
    assert done.returncode == 1 and "refusing to run" in done.stderr
    done = run_double(pot_double, "version", env={"POT_FS_ROOT": ""})
    assert done.returncode == 1


@pytest.mark.parametrize(("argv", "stderr"), [
    (["prepare", "-Z"], "Illegal option -Z"),
    (["prepare", "-p"], "No arg for -p option"),
    (["start", "-x", "p"], "Illegal option -x"),
    (["get-rss", "-p", "x", "-Q"], "Illegal option -Q"),
    (["destroy", "-Fz", "-p", "x"], "Illegal option -z"),
])
def test_unknown_flags_are_rejected_like_pot(pot_double: PotDouble, argv: list[str],
                                             stderr: str) -> None:
    done = run_double(pot_double, *argv)
    assert done.returncode == 1
    assert stderr in done.stderr and done.stdout.startswith("pot ")  # the command's help


def test_help_flag_exits_zero_and_unknown_command_prints_usage(pot_double: PotDouble) -> None:
    assert run_double(pot_double, "start", "-h").returncode == 0
    done = run_double(pot_double, "frobnicate")
    assert done.returncode == 1 and done.stdout.startswith("Usage: pot command")


def test_prepare_imports_clones_and_configures(pot_double: PotDouble) -> None:
    name = prepare(pot_double, "-c", '"sleep 1"', "-e", "80:23000", name="web.v2",
                   alloc="inv_alloc")
    assert pot_double.pots() == ["nginx_1_0", "web_v2_inv_alloc"]
    conf = pot_double.conf(name)
    for line in ("pot.cmd=sleep 1", "pot.attr.persistent=NO", "pot.attr.no-rc-script=YES",
                 "network_type=public-bridge", "pot.export.ports=80:23000",
                 "pot.potbase=nginx_1_0"):
        assert line in conf
    again = run_double(pot_double, "prepare", *IMAGE, "-a", "inv_alloc", "-n", "web.v2")
    assert again.returncode == 1 and "already exists" in again.stdout


def test_prepare_exits_zero_when_its_clone_failed(pot_double: PotDouble) -> None:
    pot_double.set_faults(clone=True)
    done = run_double(pot_double, "prepare", *IMAGE, "-a", "a1", "-n", "web")
    assert done.returncode == 0
    assert "###>  Not able to clone imported pot as web_a1" in done.stdout
    assert "web_a1" not in pot_double.pots()


def test_prepare_rejects_bad_ports_and_network_types(pot_double: PotDouble) -> None:
    done = run_double(pot_double, "prepare", *IMAGE, "-a", "a", "-n", "n", "-e", "80:")
    assert done.returncode == 1 and "80: is not a valid port number" in done.stdout
    done = run_double(pot_double, "prepare", *IMAGE, "-a", "a", "-n", "n", "-N", "nat")
    assert done.returncode == 1 and "Network type nat not recognized" in done.stdout


@pytest.mark.parametrize(("addresses", "messages"), [
    ([], ["option -i is mandatory with network type is alias"]),
    (["auto"], ["-i auto not usable with network type alias - a real IP address has to be "
                "provided"]),
    (["10.0.0.300"], ["10.0.0.300 is not a valid IP address",
                      "10.0.0.300 is not a valid alias configuration"]),
    (["xl9|10.0.0.5"], ["xl9 is not a valid network interface",
                        "xl9|10.0.0.5 is not a valid alias configuration"]),
    (["fd00::5"], ["Stack is ipv4 but not ipv4 address has been provided",
                   "fd00::5 is not a valid alias configuration"]),
])
def test_an_alias_clone_needs_real_addresses_like_pots(
        pot_double: PotDouble, addresses: list[str], messages: list[str]) -> None:
    """network.sh's _validate_network_param: clone fails with its messages and help, and
    prepare goes on to exit 0 without the pot, as pot does."""
    ips = [arg for address in addresses for arg in ("-i", address)]
    done = run_double(pot_double, "prepare", *IMAGE, "-N", "alias", *ips, "-a", "a1",
                      "-n", "web")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    at = lines.index(f"###>  {messages[0]}")
    assert lines[at:at + len(messages) + 1] == [
        *(f"###>  {m}" for m in messages), "pot clone [-hvF] -p potname -P basepot [-i ipaddr]"]
    assert "###>  Not able to clone imported pot as web_a1" in lines
    assert "web_a1" not in pot_double.pots()


def test_info_env_reports_the_pots_addresses_like_pot(pot_double: PotDouble) -> None:
    """info.sh's _info_pot_env: an alias pot lists the addresses of its stack (ipv4), each
    with its interface (POT_EXTIF when none was given)."""
    done = run_double(pot_double, "prepare", *IMAGE, "-N", "alias", "-i", "lo0|10.0.0.5",
                      "-i", "fd00::5", "-i", "10.0.0.6", "-a", "a1", "-n", "web")
    assert done.returncode == 0, done.stdout
    assert "ip=lo0|10.0.0.5 fd00::5 10.0.0.6" in pot_double.conf("web_a1")
    info = run_double(pot_double, "info", "-p", "web_a1", "-E")
    assert info.stdout.splitlines() == [
        "export _POT_NAME=web_a1", "export _POT_IP=10.0.0.5",
        "export _POT_IP_0=10.0.0.5", "export _POT_NIC_0=lo0",
        "export _POT_IP_1=10.0.0.6", "export _POT_NIC_1=em0",
        "export _POT_IP_LIST=_POT_IP_0\\ _POT_IP_1",
        "export _POT_NIC_LIST=_POT_NIC_0\\ _POT_NIC_1"]
    bridged = prepare(pot_double, name="bridged")
    assert run_double(pot_double, "info", "-p", bridged, "-E").stdout.splitlines() == [
        f"export _POT_NAME={bridged}", "export _POT_IP=10.192.0.5"]
    host = run_double(pot_double, "prepare", *IMAGE, "-N", "inherit", "-a", "a1", "-n", "h")
    assert host.returncode == 0
    assert run_double(pot_double, "info", "-p", "h_a1", "-E").stdout.splitlines() == [
        "export _POT_NAME=h_a1", "export _POT_IP="]


def test_start_blocks_runs_the_command_with_the_env_and_records_the_exit(
        pot_double: PotDouble) -> None:
    name = prepare(pot_double, "-c", "\"/bin/sh -c 'echo $GREETING; exit 3'\"")
    assert run_double(pot_double, "set-env", "-p", name, "-E", 'GREETING=hi "you" \\$HOME'
                      ).returncode == 0
    done = run_double(pot_double, "start", name)
    assert done.returncode == 125
    # unprefixed, as real pot: `jail -c`'s line, and set-status's interface list once the
    # program ended (pot 0.16's "p4<hex time><hex pid>:" -- no IPv6 epair after the colon)
    lines = done.stdout.splitlines()
    assert lines[:3] + lines[4:] == [f"===>  Starting the pot {name}", f"{name}: created",
                                     'hi "you" $HOME', f"###>  {name} reported application error"]
    assert re.fullmatch(r"p4[0-9a-f]{8}[0-9a-f]{1,5}:", lines[3])
    assert run_double(pot_double, "last-run-stats", "-p", name).stdout.strip() == \
        '{ "ExitCode": 3 }'
    assert (pot_double.tmp / f"pot_status_{name}").read_text() == "pot.status=stopped,\n"


def test_signal_reaches_the_main_process_once_pot_recorded_it(
        pot_double: PotDouble, tmp_path) -> None:
    name = prepare(pot_double, "-c", '"sleep 300"')
    gate = tmp_path / "main-pid-gate"
    pot_double.set_faults(main_pid_gate=str(gate))
    proc = start_in_background(pot_double, name)
    try:
        wait_for(lambda: json.loads(run_double(pot_double, "get-rss", "-p", name, "-J")
                                    .stdout)["ResourceUsage"]["MemoryStats"]["RSS"] > 0,
                 timeout=10, message="the pot to run")
        # As in pot: the jail runs before `pot start` recorded the program's pid.
        assert run_double(pot_double, "info", "-q", "-r", "-p", name).returncode == 0
        early = run_double(pot_double, "signal", "-s", "SIGTERM", "-p", name)
        assert early.returncode == 1 and "Sending signal failed" in early.stdout
        assert f"pkill: Cannot open pidfile `{pot_double.tmp}/pot_main_pid_{name}'" in \
            early.stderr
        gate.touch()
        wait_started(pot_double, name)
        assert run_double(pot_double, "signal", "-s", "SIGPWR", "-p", name).returncode == 1
        sent = run_double(pot_double, "signal", "-s", "SIGTERM", "-p", name)
        assert sent.returncode == 0
        assert sent.stdout.strip() == f"===>  Sending SIGTERM to main process of pot {name}"
        assert proc.wait(10) == 125
    finally:
        proc.kill()
        proc.wait()
    assert run_double(pot_double, "last-run-stats", "-p", name).stdout.strip() == \
        f'{{ "ExitCode": {128 + signal.SIGTERM} }}'
    done = run_double(pot_double, "signal", "-s", "SIGTERM", "-p", name)
    assert done.returncode == 1 and "The pot is not running" in done.stdout


def test_destroy_stops_a_running_pot_and_its_start_exits_zero(pot_double: PotDouble) -> None:
    name = prepare(pot_double, "-c", '"sleep 300"')
    proc = start_in_background(pot_double, name)
    try:
        wait_started(pot_double, name)
        done = run_double(pot_double, "destroy", "-p", name, "-F")
        assert done.returncode == 0, done.stdout
        assert proc.wait(15) == 0  # pot start: "already stopping (maybe by a pot stop)"
    finally:
        proc.kill()
        proc.wait()
    assert pot_double.pots() == ["nginx_1_0"] and pot_double.runtime_files() == []
    missing = run_double(pot_double, "destroy", "-p", name, "-F")
    assert missing.returncode == 1 and "not found or corrupted" in missing.stdout


def test_get_rss_prints_pots_format_and_fails_when_not_running(pot_double: PotDouble) -> None:
    name = prepare(pot_double, "-c", '"sleep 300"')
    done = run_double(pot_double, "get-rss", "-p", name, "-J")
    assert done.returncode == 1 and f"The pot {name} is not running" in done.stdout
    proc = start_in_background(pot_double, name)
    try:
        text = wait_for(lambda: (lambda done: done.stdout if done.returncode == 0 else None)(
            run_double(pot_double, "get-rss", "-p", name, "-J")), timeout=10, message="get-rss")
        assert text.startswith('{ "ResourceUsage": { "MemoryStats": { "RSS" : ')
        pot_double.set_faults(racct=False)
        off = run_double(pot_double, "get-rss", "-p", name, "-J")
        assert off.returncode == 1 and "rctl has to be enabled" in off.stdout
        wait_started(pot_double, name)  # (a pot still starting cannot be stopped)
    finally:
        run_double(pot_double, "stop", name)
        proc.wait(15)


def test_exec_runs_in_the_pot_with_a_clean_env(pot_double: PotDouble) -> None:
    name = prepare(pot_double, "-c", '"sleep 300"')
    proc = start_in_background(pot_double, name)
    try:
        wait_started(pot_double, name)
        done = run_double(pot_double, "exec", "-e", "A=1 2", "-p", name, "--", "/bin/sh", "-c",
                          'echo "$A|$POT_FS_ROOT"; exit 4')
        assert done.returncode == 4 and done.stdout == "1 2|\n"
    finally:
        run_double(pot_double, "stop", name)
        proc.wait(15)


def test_concurrent_stop_answers_already_stopping(pot_double: PotDouble) -> None:
    name = prepare(pot_double, "-c", '"/bin/sh -c \"trap \'\' TERM; exec sleep 300\""')
    run_double(pot_double, "set-attribute", "-p", name, "-A", "stop_timeout", "-V", "2")
    proc = start_in_background(pot_double, name)
    try:
        wait_started(pot_double, name)
        first = subprocess.Popen([sys.executable, str(DOUBLE), "stop", name],
                                 stdout=subprocess.DEVNULL, env={"PATH": os.environ["PATH"],
                                                                 **pot_double.env()})
        wait_for(lambda: "stopping" in (pot_double.tmp / f"pot_status_{name}").read_text(),
                 timeout=10, message="the first stop to begin")
        second = run_double(pot_double, "destroy", "-p", name, "-F")
        assert second.returncode == 1 and f"pot {name} is already stopping!" in second.stdout
        assert first.wait(15) == 0
    finally:
        proc.kill()
        proc.wait()
    assert run_double(pot_double, "destroy", "-p", name, "-F").returncode == 0
