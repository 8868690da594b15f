"""The exact argv of every pot command the driver emits, and the quoting rules behind them."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from nomadjail.pot_driver import argv
from nomadjail.pot_driver.naming import allocation_tag, invocation_of, pot_name, task_name_problem


def test_prepare_bridged_with_command_and_ports() -> None:
    assert argv.prepare(image="https://reg/", pot="nginx", tag="1.2", command="nginx -g x",
                        network_type="public-bridge", exports=["80:23000", "udp:53:23001"],
                        allocation_tag="abcd1234_alloc", name="web.v2") == [
        "prepare", "-U", "https://reg/", "-p", "nginx", "-t", "1.2", "-c", '"nginx -g x"',
        "-N", "public-bridge", "-i", "auto", "-e", "80:23000", "-e", "udp:53:23001",
        "-a", "abcd1234_alloc", "-n", "web.v2"]


def test_prepare_with_a_custom_resolv_conf() -> None:
    assert argv.prepare(image="u", pot="p", tag="t", command="", network_type="inherit",
                        exports=[], allocation_tag="a", name="n",
                        resolv_conf="/alloc/t/.pot/x.resolv.conf") == [
        "prepare", "-U", "u", "-p", "p", "-t", "t", "-N", "inherit",
        "-d", "custom:/alloc/t/.pot/x.resolv.conf", "-a", "a", "-n", "n"]


def test_prepare_inherit_takes_no_address_and_no_ports() -> None:
    assert argv.prepare(image="u", pot="p", tag="t", command="", network_type="inherit",
                        exports=["80:23000"], allocation_tag="a", name="n") == [
        "prepare", "-U", "u", "-p", "p", "-t", "t", "-N", "inherit", "-a", "a", "-n", "n"]


def test_prepare_alias_takes_its_addresses_and_no_ports() -> None:
    assert argv.prepare(image="u", pot="p", tag="t", command="", network_type="alias",
                        exports=["80:23000"], allocation_tag="a", name="n",
                        addresses=["em0|10.0.0.50", "fd00::50"]) == [
        "prepare", "-U", "u", "-p", "p", "-t", "t", "-N", "alias", "-i", "em0|10.0.0.50",
        "-i", "fd00::50", "-a", "a", "-n", "n"]
    with pytest.raises(argv.ArgvError, match="needs an IP address"):
        argv.prepare(image="u", pot="p", tag="t", command="", network_type="alias",
                     exports=[], allocation_tag="a", name="n")
    with pytest.raises(argv.ArgvError, match="split or expand"):
        argv.prepare(image="u", pot="p", tag="t", command="", network_type="alias",
                     exports=[], allocation_tag="a", name="n", addresses=["10.0.0.*"])
    assert argv.info_env("p1") == ["info", "-p", "p1", "-E"]


def test_configuration_commands() -> None:
    assert argv.set_attribute("p1", "mlock", "YES") == [
        "set-attribute", "-p", "p1", "-A", "mlock", "-V", "YES"]
    assert argv.copy_in("p1", "local/a b.conf", "/etc/a:b") == [
        "copy-in", "-p", "p1", "-s", "local/a b.conf", "-d", "/etc/a:b"]
    assert argv.mount_in("p1", "/data", "/mnt/data", read_only=False) == [
        "mount-in", "-p", "p1", "-d", "/data", "-m", "/mnt/data"]
    assert argv.mount_in("p1", "/data", "/mnt/data", read_only=True) == [
        "mount-in", "-p", "p1", "-d", "/data", "-m", "/mnt/data", "-r"]
    assert argv.set_hosts("p1", ["db:10.0.0.5", "v6:fe80::1"]) == [
        "set-hosts", "-p", "p1", "-H", "db:10.0.0.5", "-H", "v6:fe80::1"]
    assert argv.set_rss("p1", memory_mb=256) == ["set-rss", "-p", "p1", "-M", "256M"]
    assert argv.set_rss("p1", memory_mb=256, cpus=2) == [
        "set-rss", "-p", "p1", "-C", "2", "-M", "256M"]
    assert argv.set_rss("p1", cpus=1) == ["set-rss", "-p", "p1", "-C", "1"]
    with pytest.raises(argv.ArgvError):
        argv.set_rss("p1")


def test_runtime_commands() -> None:
    assert argv.start("p1") == ["start", "p1"]
    assert argv.get_rss("p1") == ["get-rss", "-p", "p1", "-J"]
    assert argv.last_run_stats("p1") == ["last-run-stats", "-p", "p1"]
    assert argv.signal("p1", "SIGTERM") == ["signal", "-s", "SIGTERM", "-p", "p1"]
    assert argv.destroy("p1") == ["destroy", "-p", "p1", "-F"]
    assert argv.list_pots() == ["ls", "-q"]
    assert argv.version() == ["version", "-q"]
    assert argv.config_get("fs_root") == ["config", "-q", "-g", "fs_root"]
    assert argv.is_running("p1") == ["info", "-q", "-r", "-p", "p1"]


def test_exec_passes_env_and_keeps_the_command_argv_intact() -> None:
    assert argv.exec_in("p1", ["sh", "-c", "echo -x"], {"A": "1", "B": "x=y z"}) == [
        "exec", "-e", "A=1", "-e", "B=x=y z", "-p", "p1", "--", "sh", "-c", "echo -x"]
    with pytest.raises(argv.ArgvError):
        argv.exec_in("p1", [], {})


def test_set_env_escapes_for_pots_start_script_and_skips_unexportable_names() -> None:
    assert argv.set_env("p1", {"HOME_REF": "$HOME", "BQ": "`id`", "BS": "a\\b", "Q": 'say "hi"',
                               "NOMAD_META_my.key": "x", "PLAIN": "v"}) == [
        "set-env", "-p", "p1", "-E", "HOME_REF=\\$HOME", "-E", "BQ=\\`id\\`", "-E", "BS=a\\\\b",
        "-E", 'Q=say "hi"', "-E", "PLAIN=v"]


def test_set_env_refuses_a_line_break() -> None:
    with pytest.raises(argv.ArgvError, match="SECRET.*line break"):
        argv.set_env("p1", {"SECRET": "a\nb"})


@pytest.mark.parametrize("value", ["$HOME", "`id`", "a\\b", 'q"uote', "$(id) ${X} \\$", "'",
                                   "a\\", "\\\\\"$"])
def test_escaped_values_survive_sh_as_pot_writes_them(value: str) -> None:
    # pot's set-env escapes " itself and writes `export "K=<value>"` into the start script.
    escaped = argv.escape_env_value("K", value).replace('"', '\\"')
    script = f'export "K={escaped}"\nprintf %s "$K"'
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == value


def test_command_line_joins_args_for_sh_as_the_go_driver_does() -> None:
    # potluck's published nginx job: args = ["-g", "'daemon off;'"]
    line = argv.command_line("nginx", ["-g", "'daemon off;'"])
    assert line == "nginx -g 'daemon off;'"
    assert shlex.split(line) == ["nginx", "-g", "daemon off;"]


@pytest.mark.parametrize(("given", "expected"), [
    ("", "SIGINT"), ("SIGTERM", "SIGTERM"), ("term", "SIGTERM"), ("15", "SIGTERM"),
    ("SIGUSR1", "SIGUSR1"), ("INFO", "SIGINFO")])
def test_signal_names_are_pots(given: str, expected: str) -> None:
    assert argv.pot_signal_name(given) == expected


def test_unknown_signal_is_refused() -> None:
    with pytest.raises(argv.ArgvError, match="SIGPWR"):
        argv.pot_signal_name("SIGPWR")


def test_pot_name_follows_pots_rule() -> None:
    alloc = "82171f35-5d34-4869-9760-aaf5a0a7b219"
    assert allocation_tag(alloc, "439994c7") == f"439994c7_{alloc}"
    assert pot_name("web.v2", alloc, "439994c7") == f"web_v2_439994c7_{alloc}"
    assert invocation_of(f"{alloc}/web.v2/439994c7") == "439994c7"
    assert task_name_problem("web.v2") == ""
    assert "cannot be part of a pot name" in task_name_problem("web v2")
