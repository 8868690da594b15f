"""Opt-in: the pot test double against pot 0.16's real shell scripts.

``POT_REAL_SCRIPTS=<checkout of bsdpot/pot>`` runs the same pot command sequence against
the double (tests/pot_driver/pot) and against pot's own scripts with the FreeBSD tools
stubbed (real_pot.py, freebsd_tools), and compares what the driver relies on: exit
codes, the messages it parses, and what a bridged task that ends by itself leaves in
its logs (``pot start`` run under the drivers' supervisor with the driver's diversion,
exactly as the driver runs it).  Then the driver itself runs tasks on the real scripts:
its whole command sequence (prepare -- which clones the image already on disk --,
set-env, set-rss, start, signal, last-run-stats, destroy) must be accepted and leave
only the image behind.  Skipped, with the reason, without the variable.

The real scripts print one message the double does not: "Internal network not found!
Calling vnet-start to fix the issue" (pot's check for its network needs a /dev/pf
character device, which no stub can provide; the double models a host where pot's
network is up).  It comes before "Starting the pot", where the driver diverts every pot
message, and is left out of the comparison.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadjail.drivers.supervision import SupervisedCommand, Supervisor
from nomadjail.pot_driver import PotDriver, PotDriverSettings
from nomadjail.pot_driver.pot_cli import PotCLI, PotResult, pot_environment
from nomadjail.pot_driver.pot_output import (
    ENDED_LINE_PATTERN,
    MessageLevel,
    jail_created_line,
    parse_last_run_exit_code,
    start_diversion,
    start_line,
)
from nomadjail.testing import wait_for
from nomadjail.testing.driver_tasks import make_task_config
from nomadjail.testing.processes import kill_processes_under

from .conftest import pot_task_config
from .double import make_pot_double, run_double
from .real_pot import checkout_problem, install_real_pot

CHECKOUT = os.environ.get("POT_REAL_SCRIPTS", "")
PROBLEM = checkout_problem(CHECKOUT)
pytestmark = pytest.mark.skipif(bool(PROBLEM), reason=PROBLEM or "runs")

ENVIRONMENT_ONLY = "Internal network not found! Calling vnet-start to fix the issue"
IMAGE = ["-U", "https://potluck.example.org/registry/", "-p", "web", "-t", "1.0"]
PROGRAM = "/bin/sh -c 'echo hello; echo oops >&2; exit 3'"


class Pots:
    """The same pot in the double and in pot's real scripts; ``cli[kind]`` runs pot."""

    def __init__(self, base: Path) -> None:
        double = make_pot_double(base / "double")
        prepared = run_double(double, "prepare", *IMAGE, "-c", PROGRAM, "-N", "public-bridge",
                              "-i", "auto", "-a", "a1", "-n", "t1")
        assert prepared.returncode == 0, prepared.stdout + prepared.stderr
        self.name = "t1_a1"
        real = install_real_pot(Path(CHECKOUT), base / "real")
        real.adopt_pot(double.root / "jails" / self.name)
        self.roots = {"double": double.root, "real": real.root}
        self.cli = {"double": PotCLI(str(double.bin), timeout=60),
                    "real": PotCLI(str(real.bin), timeout=60)}
        self.base = base

    def run(self, *argv: str) -> dict[str, PotResult]:
        return {kind: cli.run(list(argv)) for kind, cli in self.cli.items()}


@pytest.fixture
def pots(tmp_path: Path) -> Iterator[Pots]:
    yield Pots(tmp_path)
    kill_processes_under(tmp_path)


def messages(result: PotResult) -> list[tuple[MessageLevel, str]]:
    return [(m.level, m.text) for m in result.messages if m.text != ENVIRONMENT_ONLY]


def supervised_start(pots: Pots, kind: str) -> tuple[int, str, str, list[str]]:
    """``pot start`` as the driver runs it: (exit code, the task's stdout and stderr logs,
    the lines the diversion took out)."""
    cfg = make_task_config(pots.base / f"allocs-{kind}", {})
    witness = pots.roots[kind] / "jails" / pots.name / "conf" / ".last_run_stats"
    supervisor = Supervisor()
    supervision = supervisor.launch(cfg, SupervisedCommand(
        executable=pots.cli[kind].pot_bin, args=("start", pots.name), env=pot_environment(),
        diversion=start_diversion(pots.name, str(witness))))
    result = supervisor.wait(supervision)

    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except FileNotFoundError:
            return ""

    diverted = read(supervision.diverted_path).splitlines()
    return (result.exit_code, read(f"{cfg.stdout_path}.0"), read(f"{cfg.stderr_path}.0"),
            diverted)


def test_a_bridged_task_that_ends_by_itself_keeps_only_its_own_lines(pots: Pots) -> None:
    for kind in ("double", "real"):
        code, stdout, stderr, diverted = supervised_start(pots, kind)
        assert (code, stdout, stderr) == (125, "hello\n", "oops\n"), (kind, diverted)
        ended = [line for line in diverted if re.fullmatch(ENDED_LINE_PATTERN, line)]
        assert len(ended) == 1 and re.fullmatch(r"p4[0-9a-f]{9,13}:", ended[0]), (kind,
                                                                                  diverted)
        kept = [line for line in diverted if line not in ended
                and ENVIRONMENT_ONLY not in line]
        assert kept == [start_line(pots.name), jail_created_line(pots.name),
                        f"###>  {pots.name} reported application error"], (kind, diverted)
    stats = pots.run("last-run-stats", "-p", pots.name)
    assert {k: parse_last_run_exit_code(r.stdout) for k, r in stats.items()} == {
        "double": 3, "real": 3}


def test_the_driver_sequence_gets_the_same_answers(pots: Pots) -> None:
    def same(*argv: str) -> dict[str, PotResult]:
        results = pots.run(*argv)
        double, real = results["double"], results["real"]
        assert double.exit_code == real.exit_code, (argv, double.describe(), real.describe())
        assert messages(double) == messages(real), (argv, double.stdout, real.stdout)
        return results

    listed = same("ls", "-q")
    assert all(pots.name in r.output for r in listed.values())
    host_dir, host_file = pots.base / "hostdir", pots.base / "hostfile"
    host_dir.mkdir()
    host_file.write_text("x\n")
    name = pots.name
    for argv in (["set-env", "-p", name, "-E", "A=1", "-E", "B=two words"],
                 ["set-attribute", "-p", name, "-A", "stop_timeout", "-V", "5"],
                 ["set-rss", "-p", name, "-M", "64M"], ["set-rss", "-p", name, "-C", "1"],
                 ["mount-in", "-p", name, "-d", str(host_dir), "-m", "/data"],
                 ["mount-in", "-p", name, "-d", str(host_dir), "-m", "/again", "-r"],
                 ["copy-in", "-p", name, "-s", str(host_file), "-d", "/etc/hostfile"],
                 ["set-hosts", "-p", name, "-H", "db:10.0.0.1"],
                 ["info", "-p", name, "-E"], ["info", "-p", name, "-r"],
                 ["get-rss", "-p", name, "-J"], ["signal", "-p", name, "-s", "SIGTERM"],
                 ["exec", "-p", name, "--", "/bin/true"], ["start", "no-such-pot"],
                 ["set-env", "-p", "no-such-pot", "-E", "A=1"],
                 ["config", "-q", "-g", "fs_root"], ["version", "-q"]):
        same(*argv)
    assert all(r.exit_code == 0 for r in same("set-cmd", "-p", pots.name, "-c",
                                              "/bin/sh -c 'exit 0'").values())
    started = same("start", pots.name)
    assert started["real"].exit_code == 0
    assert all(parse_last_run_exit_code(r.stdout) == 0
               for r in same("last-run-stats", "-p", pots.name).values())
    same("stop", "-p", pots.name)  # an already stopped pot
    assert same("destroy", "-p", pots.name, "-F")["real"].exit_code == 0
    assert all(pots.name not in r.output for r in same("ls", "-q").values())
    gone = same("destroy", "-p", pots.name, "-F")  # a missing pot
    assert gone["real"].exit_code == 1
    assert messages(gone["real"]) == [
        (MessageLevel.ERROR, f"Pot {pots.name} not found"),
        (MessageLevel.ERROR, f"pot {pots.name} not found or corrupted. Try to use the -F flag")]
    assert gone["real"].stdout == gone["double"].stdout  # the very same lines
    assert same("stop", "-p", "no-such-pot")["real"].exit_code == 0
    assert same("last-run-stats", "-p", "no-such-pot")["real"].exit_code == 1


def driver_on_real_scripts(base: Path) -> tuple[PotDriver, Path]:
    """A driver whose pot is pot's real scripts, holding the image nginx-only 1.0 (written
    by the double's prepare: the stubs do not import images)."""
    double = make_pot_double(base / "image")
    assert run_double(double, "prepare", "-U", "https://potluck.example.org/registry/",
                      "-p", "nginx-only", "-t", "1.0", "-N", "inherit", "-a", "x",
                      "-n", "y").returncode == 0
    real = install_real_pot(Path(CHECKOUT), base / "real")
    real.adopt_pot(double.root / "jails" / "nginx-only_1_0")
    return PotDriver(PotDriverSettings(pot_bin=str(real.bin), test_only_allow_any_os=True,
                                       destroy_timeout=60.0)), real.root


@pytest.fixture
def real_driver(tmp_path: Path) -> Iterator[tuple[PotDriver, Path]]:
    yield driver_on_real_scripts(tmp_path)
    kill_processes_under(tmp_path)


def test_the_driver_runs_a_bridged_task_on_the_real_scripts(real_driver, tmp_path) -> None:
    driver, root = real_driver
    assert driver.fingerprint().attributes["driver.pot.image.nginx-only_1_0"] == "1"
    cfg = pot_task_config(tmp_path / "allocs", {"command": "/bin/sh", "args": [
        "-c", shlex.quote("echo hello; echo oops >&2; exit 3")]})
    handle = driver.start_task(cfg)
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal, result.err) == (3, 0, "")
    assert Path(f"{cfg.stdout_path}.0").read_text() == "hello\n"
    assert Path(f"{cfg.stderr_path}.0").read_text() == "oops\n"
    driver.destroy_task(handle, True)
    assert sorted(p.name for p in (root / "jails").iterdir()) == ["nginx-only_1_0"]


def test_the_driver_stops_a_running_task_on_the_real_scripts(real_driver, tmp_path) -> None:
    driver, root = real_driver
    cfg = pot_task_config(tmp_path / "allocs", {"command": "/bin/sh", "args": [
        "-c", shlex.quote("trap 'echo got TERM; exit 7' TERM; echo up; "
                          "while :; do sleep 0.1; done")]})
    handle = driver.start_task(cfg)
    wait_for(lambda: Path(f"{cfg.stdout_path}.0").read_text() == "up\n", timeout=30,
             message="the task to run")
    driver.stop_task(handle, 10.0, "SIGTERM")
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal) == (7, 0)
    assert Path(f"{cfg.stdout_path}.0").read_text() == "up\ngot TERM\n"
    driver.destroy_task(handle, True)
    assert sorted(p.name for p in (root / "jails").iterdir()) == ["nginx-only_1_0"]
