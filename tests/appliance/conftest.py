"""Fixtures for the appliance: a temp jail root with sysrc/service stand-ins, a
Consul API double, and a real rsyslog listening on a loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nomadjail.testing import free_port, kill_processes_under, wait_for

from ..doubles.consul import ConsulDouble
from .standins import install_standins, pidfile

RSYSLOGD = "/usr/sbin/rsyslogd"


@dataclass
class JailRoot:
    """A directory playing the jail's ``/``, and the environment that makes the
    cook use the stand-ins for it."""

    root: Path
    bin_dir: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}",
                "STANDIN_ROOT": str(self.root)}


def _end_agents(root: Path) -> None:
    try:
        pid = int(pidfile(root).read_text())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass
    kill_processes_under(root)


@pytest.fixture
def jail_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[JailRoot]:
    """``tmp_path/root`` as the jail; PATH finds the stand-ins first (also in this
    process, for in-process cook runs).  Every agent started under it is ended."""
    root = tmp_path / "root"
    root.mkdir()
    jail = JailRoot(root=root, bin_dir=install_standins(tmp_path / "bin"))
    for key, value in jail.env().items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    try:
        yield jail
    finally:
        _end_agents(root)


@pytest.fixture
def make_jail(tmp_path: Path) -> Iterator[Callable[[str], JailRoot]]:
    """Several jails (``make_jail("server1")``): each its own root and stand-ins, used
    through ``jail.env()`` by subprocesses only.  Every agent started is ended."""
    jails: list[JailRoot] = []

    def make(name: str) -> JailRoot:
        root = tmp_path / name / "root"
        root.mkdir(parents=True)
        jail = JailRoot(root=root, bin_dir=install_standins(tmp_path / name / "bin"))
        jails.append(jail)
        return jail

    try:
        yield make
    finally:
        for jail in jails:
            _end_agents(jail.root)


@pytest.fixture
def consul_double() -> Iterator[ConsulDouble]:
    double = ConsulDouble().start()
    try:
        yield double
    finally:
        double.close()


@dataclass
class Rsyslog:
    port: int
    messages: Path
    proc: subprocess.Popen

    def lines(self) -> list[str]:
        """``facility|severity|app-name|hostname|msg`` per received message."""
        try:
            return self.messages.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []


def start_rsyslog(base: Path, port: int) -> Rsyslog:
    """Debian's rsyslogd in the foreground with a private config, pidfile and work
    dir: only a TCP input on 127.0.0.1:port, everything into one file."""
    if not shutil.which(RSYSLOGD):
        pytest.fail("Debian's rsyslog is needed for the remote syslog tests: make test-deps")
    work = base / "work"
    work.mkdir(parents=True, exist_ok=True)
    messages = base / "messages.log"
    conf = base / "rsyslog.conf"
    conf.write_text(f'''global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="fields" type="string"
         string="%syslogfacility-text%|%syslogseverity-text%|%app-name%|%hostname%|%msg%\\n")
*.* action(type="omfile" file="{messages}" template="fields")
''')
    log = open(base / "rsyslogd.out", "ab")
    try:
        proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(conf), "-i", str(base / "pid")],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()
    server = Rsyslog(port=port, messages=messages, proc=proc)

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"rsyslogd exited with {proc.returncode}: "
                                 f"{(base / 'rsyslogd.out').read_text()}")
        import socket
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, timeout=10, message=f"rsyslogd listening on 127.0.0.1:{port}")
    except BaseException:
        stop_rsyslog(server)
        raise
    return server


def stop_rsyslog(server: Rsyslog) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    server = start_rsyslog(tmp_path / "rsyslog", free_port())
    try:
        yield server
    finally:
        stop_rsyslog(server)
