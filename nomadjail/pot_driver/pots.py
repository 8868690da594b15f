"""What the driver asks of one pot, with pot's known quirks handled here once.

* pot lists a pot (``ls -q``) as soon as it exists: the only reliable "does it
  exist" (``prepare`` exits 0 even when its clone failed).
* ``destroy -F`` can race pot's own cleanup ("already stopping!"): it is
  retried until the pot is really gone.  Two of the driver's own destroys of
  one pot would race the same way (a stop that has to destroy while the
  client destroys the task): :class:`PotLocks` lets one run at a time, and
  the second then finds the pot gone.
* ``signal`` fails ("Sending signal failed") until pot recorded the
  program's pid, which it does only after the jail is up, the program
  started, a post-start hook ran and half a second passed
  (share/pot/start.sh): it is retried until a deadline.
* Where pot keeps a pot's configuration (``<fs_root>/jails/<name>/conf``) is
  asked once (``config -g fs_root``): the driver needs the ``.last_run_stats``
  file pot writes there when a program ended, and the pot's ``resolv.conf``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..drivers.base import DriverError
from . import argv as pot_argv
from .exit_status import LastRun
from .pot_cli import PotCLI
from .pot_output import PotOutputError, parse_last_run_exit_code

log = logging.getLogger("nomadjail.pot_driver")


def pot_exists(cli: PotCLI, name: str) -> bool:
    """Whether pot lists ``name``; DriverError (recoverable) if it cannot list its pots."""
    listed = cli.run(pot_argv.list_pots())
    if not listed.ok:
        raise DriverError(f"cannot list the pots: {listed.describe()}", recoverable=True)
    return name in {line.strip() for line in listed.output}


def destroy_pot(cli: PotCLI, name: str, *, timeout: float) -> None:
    """``pot destroy -F`` until the pot is gone (pot may be busy stopping it itself);
    DriverError (recoverable) if it still exists after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        if not pot_exists(cli, name):
            return
        result = cli.run(pot_argv.destroy(name))
        if result.ok and not pot_exists(cli, name):
            log.info("pot %s destroyed", name)
            return
        if time.monotonic() >= deadline:
            raise DriverError(f"pot {name} still exists after {timeout:.0f}s of "
                              f"`pot destroy -F`: {result.describe()}", recoverable=True)
        log.debug("pot %s: destroy not done yet (%s); retrying", name, result.describe())
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


class PotLocks:
    """One lock per pot name, held while the driver destroys that pot.  A lock exists
    only while someone holds or waits for it, so the table does not grow with every
    task the node ever ran."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(name, (threading.Lock(), 0))
            self._locks[name] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[name]
                if users == 1:
                    del self._locks[name]
                else:
                    self._locks[name] = (lock, users - 1)

    def held(self) -> list[str]:
        """Names someone holds or waits for (for tests)."""
        with self._guard:
            return sorted(self._locks)


def send_signal(cli: PotCLI, name: str, signal_name: str, *, cwd: str,
                exited: threading.Event, deadline: float) -> tuple[bool, str]:
    """``pot signal`` until it succeeds, the program ``exited`` or ``deadline``
    (monotonic) passed: ``(sent, why not)``.

    Right after the start, "Sending signal failed" means "not yet" (see the
    module doc).  A ``pot signal`` that cannot be run or hangs past the command
    timeout is "not sent" at once -- never an exception: stopping a task must go
    on to destroy its pot whatever ``pot signal`` does.
    """
    delay = 0.05
    while True:
        try:
            sent = cli.run(pot_argv.signal(name, signal_name), cwd=cwd)
        except DriverError as err:
            log.warning("pot %s: %s not sent: %s", name, signal_name, err)
            return False, str(err)
        remaining = deadline - time.monotonic()
        if sent.ok or exited.is_set() or remaining <= 0:
            return sent.ok, "" if sent.ok else sent.describe()
        if exited.wait(min(delay, remaining)):
            return False, sent.describe()
        delay = min(delay * 2, 0.5)


def wait_running(cli: PotCLI, name: str, *, cwd: str, exited: threading.Event,
                 timeout: float) -> None:
    """Return once the pot's jail runs, or its program already ``exited`` (the task's
    exit is then reported by wait_task), or after ``timeout`` seconds (logged)."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not exited.is_set():
        if cli.run(pot_argv.is_running(name), cwd=cwd).ok:
            return
        if time.monotonic() >= deadline:
            log.warning("pot %s: not running %.0fs after `pot start`; leaving it to "
                        "start", name, timeout)
            return
        exited.wait(delay)
        delay = min(delay * 2, 0.5)


def last_run(cli: PotCLI, name: str, *, cwd: str) -> LastRun:
    """``pot last-run-stats``: the program's last exit code, or why it is unknown;
    DriverError if pot cannot be run."""
    result = cli.run(pot_argv.last_run_stats(name), cwd=cwd)
    if not result.ok:
        return LastRun(None, result.describe())
    try:
        code = parse_last_run_exit_code(result.stdout)
    except PotOutputError as err:
        return LastRun(None, str(err))
    return LastRun(code, "" if code is not None else "last-run-stats printed {}")


class PotRoot:
    """Where pot keeps its pots (POT_FS_ROOT), asked of pot once per driver."""

    def __init__(self) -> None:
        self._fs_root = ""

    def conf_dir(self, cli: PotCLI, name: str, consequence: str) -> str:
        """Pot ``name``'s ``conf`` directory; "" when pot does not say where its pots
        live, logged with ``consequence``."""
        if not self._fs_root:
            try:
                result = cli.run(pot_argv.config_get("fs_root"))
                root = next((line.strip() for line in result.output if line.strip()), "")
                problem = result.describe()
            except DriverError as err:
                root, problem = "", str(err)
            if not os.path.isabs(root):
                log.warning("pot's root directory is unknown (%s): %s", problem, consequence)
                return ""
            self._fs_root = root
        return os.path.join(self._fs_root, "jails", name, "conf")

    def last_run_stats_path(self, cli: PotCLI, name: str) -> str:
        """The file pot writes the moment a pot's program exited; "" if pot does not say
        where its pots live (pot's lines after the program's end then stay in the logs)."""
        conf = self.conf_dir(cli, name, "pot's messages after a task's program ended will "
                                        "show in the task's logs")
        return os.path.join(conf, ".last_run_stats") if conf else ""
