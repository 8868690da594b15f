"""FreeBSD's ``sysrc`` and ``service``, as the cook calls them.

Commands are argv lists, found on ``PATH`` (tests put stand-ins first).  With
a ``root`` other than ``/`` (the cook's ``--root``), ``sysrc`` edits that
tree's ``/etc/rc.conf`` (its own ``-R`` option); ``service`` has no such
option, so a test's stand-in must know its root by itself.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

COMMAND_TIMEOUT = 120.0  # seconds; `service start` of an rc script may take a while


class SystemCommandError(RuntimeError):
    """A command failed; the message has the command line, its status and its output."""


@dataclass(slots=True)
class SystemTools:
    root: Path = Path("/")
    sysrc: str = "sysrc"
    service: str = "service"

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(argv, capture_output=True, text=True,
                                    timeout=COMMAND_TIMEOUT, check=False)
        except FileNotFoundError:
            raise SystemCommandError(f"{argv[0]}: command not found (is this FreeBSD?)") \
                from None
        except subprocess.TimeoutExpired:
            raise SystemCommandError(f"{' '.join(argv)}: no answer after "
                                     f"{COMMAND_TIMEOUT:.0f}s") from None
        if check and result.returncode != 0:
            output = (result.stderr or result.stdout).strip()
            raise SystemCommandError(f"{' '.join(argv)} exited with {result.returncode}"
                                     + (f": {output}" if output else ""))
        return result

    def _sysrc_argv(self) -> list[str]:
        return [self.sysrc] if self.root == Path("/") else [self.sysrc, "-R", str(self.root)]

    def rc_get(self, name: str) -> str | None:
        """The value of an rc.conf variable, None when it is not set."""
        result = self._run([*self._sysrc_argv(), "-n", "-q", name], check=False)
        return result.stdout.rstrip("\n") if result.returncode == 0 else None

    def rc_set(self, name: str, value: str) -> None:
        self._run([*self._sysrc_argv(), f"{name}={value}"])

    def service_status(self, name: str) -> bool:
        """Whether the service runs (``service NAME status`` exits 0)."""
        return self._run([self.service, name, "status"], check=False).returncode == 0

    def service_do(self, name: str, action: str) -> str:
        """``service NAME ACTION`` (start, restart ...); its output."""
        result = self._run([self.service, name, action])
        return (result.stdout + result.stderr).strip()
