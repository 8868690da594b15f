"""What the driver asks of one pot, against the pot test double: pot's quirks handled."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from nomadjail.drivers.base import DriverError
from nomadjail.pot_driver.exit_status import LastRun
from nomadjail.pot_driver.pot_cli import PotCLI
from nomadjail.pot_driver.pots import (
    PotRoot,
    destroy_pot,
    last_run,
    pot_exists,
    send_signal,
    wait_running,
)

from .double import PotDouble, run_double

IMAGE = ["-U", "https://reg.example.org/", "-p", "nginx", "-t", "1.0"]


def prepare(double: PotDouble, command: str = '"sleep 300"') -> str:
    done = run_double(double, "prepare", *IMAGE, "-N", "public-bridge", "-i", "auto",
                      "-a", "a1", "-n", "web", "-c", command)
    assert done.returncode == 0, done.stdout + done.stderr
    return "web_a1"


@pytest.fixture
def cli(pot_double: PotDouble) -> PotCLI:
    return PotCLI(str(pot_double.bin), timeout=10.0)


def test_a_pot_exists_once_pot_lists_it(pot_double: PotDouble, cli: PotCLI) -> None:
    assert not pot_exists(cli, "web_a1")
    name = prepare(pot_double)
    assert pot_exists(cli, name) and not pot_exists(cli, "web")


def test_destroy_is_retried_until_the_pot_is_gone(pot_double: PotDouble, cli: PotCLI) -> None:
    name = prepare(pot_double)
    pot_double.set_faults(destroy_busy=2)  # "already stopping!" twice
    destroy_pot(cli, name, timeout=20.0)
    assert name not in pot_double.pots() and pot_double.commands().count("destroy") == 3
    destroy_pot(cli, name, timeout=20.0)  # gone already: nothing to do
    assert pot_double.commands().count("destroy") == 3


def test_a_pot_that_cannot_be_destroyed_is_a_recoverable_error(pot_double: PotDouble,
                                                              cli: PotCLI) -> None:
    name = prepare(pot_double)
    pot_double.set_faults(destroy_busy=1000)
    with pytest.raises(DriverError, match=f"pot {name} still exists after 0s") as err:
        destroy_pot(cli, name, timeout=0.2)
    assert err.value.recoverable


def test_a_signal_to_a_pot_that_does_not_run_is_not_sent(pot_double: PotDouble,
                                                         cli: PotCLI, tmp_path: Path) -> None:
    name = prepare(pot_double)
    exited = threading.Event()
    sent, why = send_signal(cli, name, "SIGTERM", cwd=str(tmp_path), exited=exited,
                            deadline=time.monotonic() + 0.3)
    assert not sent and "exited 1" in why
    retries = pot_double.commands().count("signal")
    assert retries >= 1
    exited.set()  # the program is gone: no retry
    assert not send_signal(cli, name, "SIGTERM", cwd=str(tmp_path), exited=exited,
                           deadline=time.monotonic() + 30)[0]
    assert pot_double.commands().count("signal") == retries + 1


def test_waiting_for_a_pot_to_run_gives_up_quietly(pot_double: PotDouble, cli: PotCLI,
                                                   tmp_path: Path, caplog) -> None:
    name = prepare(pot_double)
    exited = threading.Event()
    with caplog.at_level(logging.WARNING, logger="nomadjail.pot_driver"):
        wait_running(cli, name, cwd=str(tmp_path), exited=exited, timeout=0.2)
    assert any("not running 0s after `pot start`" in r.getMessage() for r in caplog.records)
    before = pot_double.commands().count("info")
    exited.set()  # the program already ended: nothing to wait for
    wait_running(cli, name, cwd=str(tmp_path), exited=exited, timeout=30)
    assert pot_double.commands().count("info") == before


def test_the_last_runs_exit_code(pot_double: PotDouble, cli: PotCLI, tmp_path: Path) -> None:
    name = prepare(pot_double, "\"/bin/sh -c 'exit 3'\"")
    assert last_run(cli, name, cwd=str(tmp_path)) == LastRun(None,
                                                             "last-run-stats printed {}")
    assert run_double(pot_double, "start", name).returncode == 125
    assert last_run(cli, name, cwd=str(tmp_path)) == LastRun(3)
    missing = last_run(cli, "nope", cwd=str(tmp_path))
    assert missing.exit_code is None and "`pot last-run-stats -p nope` exited 1" in \
        missing.why_unknown


def test_pots_root_is_asked_once(pot_double: PotDouble, cli: PotCLI) -> None:
    root = PotRoot()
    conf = pot_double.root / "jails" / "web_a1" / "conf"
    assert root.conf_dir(cli, "web_a1", "no matter") == str(conf)
    assert root.last_run_stats_path(cli, "db_a2") == str(
        pot_double.root / "jails" / "db_a2" / "conf" / ".last_run_stats")
    assert pot_double.commands().count("config") == 1


def test_an_unknown_root_is_logged_with_its_consequence(tmp_path: Path, caplog) -> None:
    fake = tmp_path / "pot"
    fake.write_text("#!/bin/sh\necho relative/root\n")
    fake.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="nomadjail.pot_driver"):
        assert PotRoot().last_run_stats_path(PotCLI(str(fake)), "web_a1") == ""
    assert any("pot's root directory is unknown" in r.getMessage()
               and "will show in the task's logs" in r.getMessage() for r in caplog.records)
