"""REMOTELOG: the agent's log lines reach a real rsyslog over TCP, and a syslog
server that is down never stops or slows the agent."""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import pytest

from nomadjail.agent import log_setup
from nomadjail.agent.log_setup import RemoteSyslogHandler, rfc5424_line, setup_logging
from nomadjail.testing import free_port, make_agent, wait_for

from .conftest import start_rsyslog, stop_rsyslog


def record(message: str, level: int = logging.INFO, name: str = "nomadjail.agent",
           exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, exc_info)


def received(server, text: str, timeout: float = 20) -> list[str]:
    return wait_for(lambda: [line for line in server.lines() if text in line],
                    timeout=timeout, message=f"{text!r} in rsyslog")


@pytest.fixture
def handlers():
    made: list[RemoteSyslogHandler] = []

    def make(port: int, **kwargs) -> RemoteSyslogHandler:
        kwargs.setdefault("facility", "LOCAL5")
        kwargs.setdefault("hostname", "jail1")
        handler = RemoteSyslogHandler("127.0.0.1", port, reconnect_min=0.05,
                                      reconnect_max=0.2, **kwargs)
        made.append(handler)
        return handler

    yield make
    for handler in made:
        handler.close()


def test_rfc5424_message_shape():
    line = rfc5424_line(facility=21, severity=4, timestamp=1714564800.25, hostname="jail 1",
                        app_name="nomadjail", procid=42, message="[WARN]  agent: hi")
    assert line == (b"<172>1 2024-05-01T12:00:00.250000Z jail1 nomadjail 42 - - "
                    b"[WARN]  agent: hi\n")


def test_lines_arrive_with_facility_severity_and_app_name(rsyslog, handlers):
    handler = handlers(rsyslog.port)
    handler.emit(record("hello from the agent"))
    handler.emit(record("something odd", logging.WARNING, "nomadjail.server"))
    handler.emit(record("broken", logging.ERROR))
    assert received(rsyslog, "hello from the agent") == [
        "local5|info|nomadjail|jail1|[INFO]  agent: hello from the agent"]
    assert received(rsyslog, "something odd") == [
        "local5|warning|nomadjail|jail1|[WARN]  server: something odd"]
    assert received(rsyslog, "broken")[0].startswith("local5|err|nomadjail|")


def test_a_traceback_becomes_one_message_per_line(rsyslog, handlers):
    handler = handlers(rsyslog.port)
    try:
        raise RuntimeError("kaboom")
    except RuntimeError:
        handler.emit(record("failed", logging.ERROR, exc_info=sys.exc_info()))
    last = received(rsyslog, "RuntimeError: kaboom")
    assert last and received(rsyslog, "Traceback (most recent call last):")
    assert all(line.startswith("local5|err|nomadjail|") for line in rsyslog.lines())


def test_lines_wait_while_the_server_is_down_and_the_oldest_are_dropped(tmp_path, handlers):
    port = free_port()
    handler = handlers(port, buffer_lines=5)
    for n in range(20):
        handler.emit(record(f"line {n:02d}"))  # returns at once: nobody listens
    assert handler.pending() == 5
    server = start_rsyslog(tmp_path / "late", port)
    try:
        received(server, "line 19")
        got = [line for line in server.lines() if "line " in line]
        assert [line.rsplit(" ", 1)[1] for line in got] == ["15", "16", "17", "18", "19"]
        assert received(server, f"15 log line(s) dropped: more than 5 were waiting for "
                                f"127.0.0.1:{port}")
    finally:
        stop_rsyslog(server)


def test_the_handler_reconnects_after_the_server_restarts(tmp_path, handlers):
    port = free_port()
    server = start_rsyslog(tmp_path / "first", port)
    handler = handlers(port)
    try:
        handler.emit(record("before the restart"))
        received(server, "before the restart")
    finally:
        stop_rsyslog(server)
    handler.emit(record("while it is down"))
    server = start_rsyslog(tmp_path / "second", port)
    try:
        handler.emit(record("after the restart"))
        assert received(server, "after the restart")
        assert received(server, "while it is down")
    finally:
        stop_rsyslog(server)


def test_close_gives_up_after_the_flush_timeout_when_nobody_listens(handlers):
    handler = handlers(free_port(), flush_timeout=0.2)
    handler.emit(record("never delivered"))
    handler.close()
    assert not handler._sender.is_alive()


@pytest.fixture
def restored_logging():
    """setup_logging replaces the handlers of the process-wide "nomadjail" logger with one
    on this test's (captured) stderr: put the previous ones back, or later tests in this
    process would log into a closed capture file."""
    root = logging.getLogger("nomadjail")
    saved = (list(root.handlers), root.level, root.propagate,
             logging.getLogger("pysyncobj").level)
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]
    logging.getLogger("pysyncobj").setLevel(saved[3])


def test_enable_syslog_uses_the_local_socket(tmp_path, monkeypatch, restored_logging):
    path = tmp_path / "log"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(10)
        monkeypatch.setattr(log_setup, "LOCAL_SOCKETS", (str(tmp_path / "missing"), str(path)))
        setup_logging("INFO", enable_syslog=True, syslog_facility="local5")
        try:
            logging.getLogger("nomadjail.agent").info("to the local syslog")
            data = sock.recv(4096).decode()
        finally:
            setup_logging("INFO")
    assert data.startswith("<174>nomadjail[")  # LOCAL5 (21) * 8 + INFO (6)
    assert data.endswith("[INFO]  agent: to the local syslog\x00")


def test_enable_syslog_without_a_local_socket_warns_and_keeps_stderr(monkeypatch, capsys,
                                                                    restored_logging):
    monkeypatch.setattr(log_setup, "LOCAL_SOCKETS", ("/nonexistent/log",))
    setup_logging("INFO", enable_syslog=True)
    try:
        assert "no local syslog socket at /nonexistent/log" in capsys.readouterr().err
    finally:
        setup_logging("INFO")


def test_an_agent_whose_syslog_server_is_down_runs_and_catches_up(tmp_path: Path):
    port = free_port()
    agent = make_agent(tmp_path / "agent", dev=False, client=False, config={
        "syslog_facility": "LOCAL5", "remote_syslog": {"address": f"127.0.0.1:{port}"}})
    agent.start(wait_client=False)
    server = None
    try:
        assert agent.get("/v1/jobs").status_code == 200  # up, though nobody listens
        server = start_rsyslog(tmp_path / "rsyslog", port)
        lines = received(server, "agent: started", timeout=60)
        assert lines[0].startswith("local5|info|nomadjail|")
    finally:
        agent.stop()
        if server is not None:
            stop_rsyslog(server)
