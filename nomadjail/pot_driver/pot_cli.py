"""Running one ``pot`` command and reading its answer.

Every command runs with a small fixed environment (``PATH`` only): pot
needs nothing else, and ``pot start`` passes its environment on to the
jailed program, so the agent's own variables (tokens included) must never
reach it.  Commands run in the task directory, which is where relative host
paths of the task config (``local/app.conf``) are found.

Environment values are secrets as often as not (tokens, passwords): every
command line this module logs or puts into a message (and so into task
events) shows ``set-env -E`` and ``exec -e`` pairs as ``KEY=<hidden>``
(:func:`masked_argv`); only the keys are told.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..drivers.base import DriverError
from .pot_output import MessageLevel, PotMessage, split_output

log = logging.getLogger("nomadjail.pot_driver")

# FreeBSD's standard PATH: pot calls jail, zfs, pfctl, ifconfig, rctl ...
POT_PATH = "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin"


# The option that carries KEY=VALUE environment pairs, per pot command.
_ENV_OPTIONS = {"set-env": "-E", "exec": "-e"}
HIDDEN = "<hidden>"


def masked_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with the value of every environment pair hidden (the key kept).

    Only the options pot reads as environment pairs are masked, and for
    ``exec`` only before ``--``: what follows is the command run in the pot,
    whose own ``-e`` means something else.
    """
    option = _ENV_OPTIONS.get(argv[0]) if argv else None
    if option is None:
        return list(argv)
    masked = [argv[0]]
    hide_next = False
    for index, arg in enumerate(argv[1:], start=1):
        if hide_next:
            key, sep, _ = arg.partition("=")
            masked.append(f"{key}={HIDDEN}" if sep else HIDDEN)
            hide_next = False
        elif arg == "--":
            return masked + list(argv[index:])
        else:
            masked.append(arg)
            hide_next = arg == option
    return masked


def find_pot(pot_bin: str) -> str | None:
    """The absolute path of the pot executable ``pot_bin`` names (a path, or a name looked
    up in FreeBSD's standard PATH, then the agent's), or None."""
    if os.sep in pot_bin:
        found: str | None = pot_bin if os.path.isfile(pot_bin) and os.access(
            pot_bin, os.X_OK) else None
    else:
        found = shutil.which(pot_bin, path=POT_PATH + os.pathsep + os.environ.get("PATH", ""))
    return os.path.abspath(found) if found else None


def pot_environment() -> dict[str, str]:
    """The environment every pot command (``pot start`` included) runs with."""
    return {"PATH": POT_PATH}


@dataclass(slots=True)
class PotResult:
    """What one pot command did."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    messages: list[PotMessage] = field(default_factory=list)
    output: list[str] = field(default_factory=list)  # lines that are not pot messages
    raw_stdout: bytes = b""  # exactly what the command printed
    raw_stderr: bytes = b""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def errors(self) -> list[str]:
        return [m.text for m in self.messages if m.level is MessageLevel.ERROR]

    def describe(self) -> str:
        """A one-line account for errors and events: the command (environment values
        hidden), its exit code and pot's error messages (else its last output, which
        holds stdout's and stderr's other lines)."""
        detail = "; ".join(self.errors()) or "; ".join(
            [line for line in self.output if line.strip()][-3:])
        text = f"`pot {shlex.join(masked_argv(self.argv))}` exited {self.exit_code}"
        return f"{text}: {detail}" if detail else text


class PotCLI:
    """Runs ``pot`` at ``pot_bin``; every run is logged with its argv (environment values
    hidden, see :func:`masked_argv`)."""

    def __init__(self, pot_bin: str, *, timeout: float = 60.0) -> None:
        self.pot_bin = pot_bin
        self.timeout = timeout

    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            timeout: float | None = None, log_messages: bool = True) -> PotResult:
        """Run ``pot <argv>``; raises DriverError if it cannot be run or times out
        (a non-zero exit is the caller's to judge: ``PotResult.ok``).

        ``log_messages=False`` for commands whose output is not pot's own
        (``exec``): lines that look like pot messages are then not logged.
        """
        limit = self.timeout if timeout is None else timeout
        command = [self.pot_bin, *argv]
        log.debug("running %s %s", shlex.quote(self.pot_bin), shlex.join(masked_argv(argv)))
        try:
            done = subprocess.run(command, cwd=cwd, env=pot_environment(),
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=limit)
        except subprocess.TimeoutExpired:
            raise DriverError(f"`pot {shlex.join(masked_argv(argv))}` did not finish within "
                              f"{limit:.0f}s",
                              recoverable=True) from None
        except OSError as err:
            raise DriverError(f"cannot run {self.pot_bin!r}: {err}") from err
        stdout = done.stdout.decode("utf-8", errors="replace")
        stderr = done.stderr.decode("utf-8", errors="replace")
        messages, output = split_output(stdout + ("\n" if stdout and stderr else "") + stderr)
        result = PotResult(argv=list(argv), exit_code=done.returncode, stdout=stdout,
                           stderr=stderr, messages=messages, output=output,
                           raw_stdout=done.stdout, raw_stderr=done.stderr)
        if log_messages:
            for message in messages:
                log.log(logging.WARNING if message.level is MessageLevel.ERROR
                        else logging.DEBUG, "pot %s: %s", argv[0] if argv else "",
                        message.text)
        return result

    def check(self, argv: Sequence[str], *, cwd: str | None = None,
              timeout: float | None = None) -> PotResult:
        """:meth:`run`, raising DriverError (with pot's messages) on a non-zero exit."""
        result = self.run(argv, cwd=cwd, timeout=timeout)
        if not result.ok:
            raise DriverError(result.describe())
        return result
