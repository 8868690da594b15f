"""Stand-ins for FreeBSD's ``sysrc`` and ``service``, for the cook's tests on Linux.

Run as ``python standins.py sysrc ARGS...`` or ``python standins.py service
ARGS...`` (``install_standins`` writes ``sysrc`` and ``service`` wrappers into a
bin directory the test puts first on ``PATH``).  Every call is appended, as one
JSON line, to ``$STANDIN_ROOT/standin-calls.log`` so tests can see what the cook
ran.

What they emulate:

- ``sysrc [-R root] name=value``, ``sysrc [-R root] -n -q name`` (exit 1 when
  unset), ``sysrc [-R root] -x name``: the ``name="value"`` lines of
  ``<root>/etc/rc.conf``, rewritten in place like sysrc does (a changed value
  replaces its line; a new one is appended).
- ``service nomadjail start|stop|restart|status``: what ``rc.d/nomadjail``
  does, minus daemon(8): ``start`` refuses unless ``nomadjail_enable`` is YES
  in rc.conf (rc.subr's message), then runs ``python -m nomadjail agent
  $nomadjail_args`` in the background (its output in
  ``<root>/var/log/nomadjail.log``, its pid in
  ``<root>/var/run/nomadjail/nomadjail.pid``); ``status`` exits 0 while that pid
  lives; ``stop`` sends SIGTERM and waits (SIGKILL after 30 s).

What they do not: other services or sysrc options, rc.subr's ordering,
daemon(8) restarting a dead agent, users, ``reload``.  The root of the
stand-in ``service`` is ``$STANDIN_ROOT`` (the real one has no root option).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
_LINE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)=(.*)$')


def install_standins(bin_dir: Path) -> Path:
    """Write ``sysrc`` and ``service`` wrappers into ``bin_dir``; returns it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("sysrc", "service"):
        path = bin_dir / tool
        path.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} '
                        f'{shlex.quote(str(HERE))} {tool} "$@"\n')
        path.chmod(0o755)
    return bin_dir


def calls(root: Path) -> list[list[str]]:
    """Every stand-in call made under ``root`` so far, as argv lists."""
    log = root / "standin-calls.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def pidfile(root: Path) -> Path:
    return root / "var/run/nomadjail/nomadjail.pid"


# -- rc.conf -------------------------------------------------------------------------------
def read_rc_conf(root: Path) -> dict[str, str]:
    path = root / "etc/rc.conf"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            match = _LINE.match(line.strip())
            if match:
                words = shlex.split(match.group(2)) or [""]
                values[match.group(1)] = words[0]
    return values


def _write_rc_value(root: Path, name: str, value: str | None) -> None:
    """Set (or, with None, remove) one variable; its line keeps its place."""
    path = root / "etc/rc.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text().splitlines() if path.exists() else []
    out, replaced = [], False
    for line in lines:
        if line.strip().startswith(f"{name}="):
            if value is not None and not replaced:
                out.append(f'{name}="{value}"')
                replaced = True
            continue
        out.append(line)
    if value is not None and not replaced:
        out.append(f'{name}="{value}"')
    path.write_text("".join(f"{line}\n" for line in out))


def sysrc(args: list[str]) -> int:
    root = Path("/")
    if args[:1] == ["-R"]:
        root, args = Path(args[1]), args[2:]
    flags = {a for a in args if a.startswith("-")}
    names = [a for a in args if not a.startswith("-")]
    values = read_rc_conf(root)
    status = 0
    for item in names:
        if "-x" in flags:
            _write_rc_value(root, item, None)
        elif "=" in item:
            name, value = item.split("=", 1)
            old = values.get(name, "")
            _write_rc_value(root, name, value)
            print(f"{name}: {old} -> {value}")
        elif item in values:
            print(values[item] if "-n" in flags else f"{item}: {values[item]}")
        else:
            if "-q" not in flags:
                print(f"sysrc: unknown variable '{item}'", file=sys.stderr)
            status = 1
    return status


# -- service nomadjail ----------------------------------------------------------------------
def _running(root: Path) -> int | None:
    try:
        pid = int(pidfile(root).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return None if state == "Z" else pid
    except OSError:
        return pid


def _start(root: Path) -> int:
    values = read_rc_conf(root)
    if values.get("nomadjail_enable", "NO").upper() not in ("YES", "TRUE", "ON", "1"):
        print("Cannot 'start' nomadjail. Set nomadjail_enable to YES in /etc/rc.conf or use "
              "'onestart' instead of 'start'.", file=sys.stderr)
        return 1
    if _running(root):
        print("nomadjail already running?", file=sys.stderr)
        return 1
    args = shlex.split(values.get("nomadjail_args", ""))
    log = root / "var/log/nomadjail.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    pidfile(root).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "nomadjail", "agent", *args],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    pidfile(root).write_text(f"{proc.pid}\n")
    print("Starting nomadjail.")
    return 0


def _stop(root: Path) -> int:
    pid = _running(root)
    if pid is None:
        print("nomadjail not running?", file=sys.stderr)
        return 1
    print("Stopping nomadjail.")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _running(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _running(root):
        os.kill(pid, signal.SIGKILL)
    pidfile(root).unlink(missing_ok=True)
    return 0


def service(args: list[str]) -> int:
    root = Path(os.environ["STANDIN_ROOT"])
    if len(args) != 2 or args[0] != "nomadjail":
        print(f"service stand-in: only 'nomadjail start|stop|restart|status', got {args}",
              file=sys.stderr)
        return 1
    action = args[1]
    if action == "status":
        pid = _running(root)
        print(f"nomadjail is running as pid {pid}." if pid else "nomadjail is not running.")
        return 0 if pid else 1
    if action == "start":
        return _start(root)
    if action == "stop":
        return _stop(root)
    if action == "restart":
        if _running(root):
            _stop(root)
        return _start(root)
    print(f"service stand-in: unknown action {action!r}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    tool, args = argv[0], argv[1:]
    root = os.environ.get("STANDIN_ROOT")
    if root:
        with open(Path(root) / "standin-calls.log", "a") as log:
            log.write(json.dumps([tool, *args]) + "\n")
    return sysrc(args) if tool == "sysrc" else service(args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
