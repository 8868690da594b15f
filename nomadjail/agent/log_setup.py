"""Where the agent's log lines go: stderr always, optionally syslog.

Stderr lines have Nomad's shape: ``2024-05-01T12:00:00.000Z [INFO]  agent: msg``.

Two syslog destinations, both with the ``syslog_facility`` of the config
(Nomad's key, default ``LOCAL0``; the appliance uses ``LOCAL5`` like potluck):

- ``enable_syslog = true`` (Nomad's key): the local syslog socket
  (``/var/run/log`` on FreeBSD, ``/dev/log`` on Linux).
- ``remote_syslog { address = "host[:514]" }`` (nomadjail's own key): a syslog
  server over TCP, as RFC 5424 messages with app-name ``nomadjail``, sent by
  :class:`RemoteSyslogHandler` from its own thread.  The agent never waits for
  the network: while the server is unreachable, lines queue up to a bound
  (the oldest are dropped and counted) and the sender reconnects with backoff.

Messages are newline-framed (RFC 6587's non-transparent framing), which both
rsyslog's ``imtcp`` and syslog-ng's ``network()`` source read; a multi-line
record (a traceback) becomes one message per line so no line is cut.
"""

from __future__ import annotations

import collections
import logging
import logging.handlers
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pysyslogclient

from .addresses import split_host_port

# Nomad's level names; Python has no TRACE, so it maps to DEBUG.
LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO,
          "WARN": logging.WARNING, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
          "OFF": logging.CRITICAL + 10}
_NAMES = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARN",
          logging.ERROR: "ERROR", logging.CRITICAL: "ERROR"}

# The facility names Nomad accepts for syslog_facility, with their RFC 5424 codes.
FACILITIES = {"KERN": 0, "USER": 1, "MAIL": 2, "DAEMON": 3, "AUTH": 4, "SYSLOG": 5, "LPR": 6,
              "NEWS": 7, "UUCP": 8, "CRON": 9, "AUTHPRIV": 10, "FTP": 11,
              **{f"LOCAL{n}": 16 + n for n in range(8)}}
_SEVERITIES = {logging.DEBUG: pysyslogclient.SEV_DEBUG, logging.INFO: pysyslogclient.SEV_INFO,
               logging.WARNING: pysyslogclient.SEV_WARNING,
               logging.ERROR: pysyslogclient.SEV_ERROR,
               logging.CRITICAL: pysyslogclient.SEV_CRITICAL}

APP_NAME = "nomadjail"
SYSLOG_PORT = 514
LOCAL_SOCKETS = ("/var/run/log", "/dev/log")  # FreeBSD's syslogd, then Linux's
DEFAULT_BUFFER_LINES = 10000
RECONNECT_MIN = 0.5  # seconds; doubles per failed attempt up to RECONNECT_MAX
RECONNECT_MAX = 30.0
FLUSH_ON_CLOSE = 2.0  # seconds close() lets the sender drain the queue
SEND_TIMEOUT = 5.0  # seconds one write may stall before the connection counts as dead

log = logging.getLogger("nomadjail.agent.log")


class NomadFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z {_body(record, self)}"


class SyslogBodyFormatter(logging.Formatter):
    """``[INFO]  agent: msg`` -- Nomad's line without the time (syslog stamps it)."""

    def format(self, record: logging.LogRecord) -> str:
        return _body(record, self)


def _body(record: logging.LogRecord, formatter: logging.Formatter) -> str:
    level = f"[{_NAMES.get(record.levelno, record.levelname)}]"
    name = record.name.removeprefix("nomadjail.")
    text = f"{level:<7} {name}: {record.getMessage()}"
    if record.exc_info:
        text += "\n" + formatter.formatException(record.exc_info)
    return text


def facility_code(name: str) -> int:
    """The RFC 5424 code of a facility name (case-insensitive); ValueError names it."""
    try:
        return FACILITIES[name.upper()]
    except KeyError:
        raise ValueError(f"invalid syslog_facility {name!r}: expected one of "
                         f"{', '.join(FACILITIES)}") from None


# -- remote syslog -----------------------------------------------------------------------
def rfc5424_line(*, facility: int, severity: int, timestamp: float, hostname: str,
                 app_name: str, procid: int, message: str) -> bytes:
    """One RFC 5424 message, newline-terminated: ``<PRI>1 TS HOST APP PID - - MSG``.

    pysyslogclient's own formatter leaves out the STRUCTURED-DATA field (so the
    first word of every message would be read as it) and calls the deprecated
    ``datetime.utcnow``; the message is therefore built here and only the
    transport is pysyslogclient's.
    """
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp))
    stamp += f".{int((timestamp % 1) * 1_000_000):06d}Z"
    host = "".join(c for c in hostname if 33 <= ord(c) <= 126)[:255] or "-"
    return f"<{facility * 8 + severity}>1 {stamp} {host} {app_name} {procid} - - " \
           f"{message}\n".encode("utf-8", "replace")


class _Connection:
    """pysyslogclient's TCP client, plus what it lacks: noticing a dead peer.

    ``SyslogClient.send`` swallows a failed send and forgets the message, so
    the handler writes through the client's socket itself: before each write
    the socket is checked for an orderly close by the server (readable with
    nothing to read), and a failed ``sendall`` is reported so the line stays
    queued.  Only the sender thread uses a connection.
    """

    def __init__(self, host: str, port: int, send_timeout: float = SEND_TIMEOUT):
        self.client = pysyslogclient.SyslogClientRFC5424(host, port, proto="tcp",
                                                         clientname="-")
        self.send_timeout = send_timeout

    def open(self) -> bool:
        try:
            connected = bool(self.client.connect())
        except OSError:  # name resolution failed
            connected = False
        if not connected:
            self.close()
            return False
        self.client.socket.settimeout(self.send_timeout)
        return True

    def alive(self) -> bool:
        sock = self.client.socket
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable and not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                self.close()
                return False  # the server closed its side
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            self.close()
            return False
        return True

    def send(self, data: bytes) -> bool:
        sock = self.client.socket
        if sock is None:
            return False
        try:
            sock.sendall(data)
            return True
        except OSError:
            self.close()
            return False

    def close(self) -> None:
        try:
            self.client.close()
        except OSError:
            self.client.socket = None


class RemoteSyslogHandler(logging.Handler):
    """Log records to a syslog server over TCP, from a sender thread of its own.

    Guarantees: ``emit`` never touches the network and never blocks on it; at
    most ``buffer_lines`` lines wait, and when more come the oldest are
    dropped (the count is sent as a warning once the server answers again);
    lines leave in the order they were logged; after a failed connect the
    sender retries with a doubling delay up to 30 s, so a server that comes
    back is used again without restarting the agent.  ``close`` gives the
    sender up to ``flush_timeout`` seconds to send what is queued, then stops.
    """

    def __init__(self, host: str, port: int = SYSLOG_PORT, *, facility: str = "LOCAL0",
                 buffer_lines: int = DEFAULT_BUFFER_LINES, hostname: str | None = None,
                 app_name: str = APP_NAME, flush_timeout: float = FLUSH_ON_CLOSE,
                 reconnect_min: float = RECONNECT_MIN, reconnect_max: float = RECONNECT_MAX,
                 connection_factory: Callable[[str, int], Any] = _Connection):
        super().__init__()
        if buffer_lines < 1:
            raise ValueError(f"remote_syslog.buffer_lines must be at least 1, got {buffer_lines}")
        self.host, self.port = host, port
        self.facility = facility_code(facility)
        self.hostname = hostname or socket.gethostname()
        self.app_name = app_name
        self.flush_timeout = flush_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.dropped = 0
        self._queue: collections.deque[bytes] = collections.deque()
        self._limit = buffer_lines
        self._wake = threading.Condition()
        self._closing = False
        self._connection = connection_factory(host, port)
        # The gunicorn master sets logging up before it forks the worker.  In the child
        # the sender thread is gone and its lock may be held for ever, so a handler that
        # was inherited through fork() neither queues nor waits (the worker sets up its own).
        self._owner_pid = os.getpid()
        self._sender = threading.Thread(target=self._run, name="remote-syslog", daemon=True)
        self._sender.start()
        self.setFormatter(SyslogBodyFormatter())

    # -- the logging side (any thread) -----------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        if os.getpid() != self._owner_pid:
            return  # inherited through fork(): see __init__
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - logging must not raise into the caller
            self.handleError(record)
            return
        severity = _SEVERITIES.get(record.levelno, pysyslogclient.SEV_INFO)
        lines = [rfc5424_line(facility=self.facility, severity=severity,
                              timestamp=record.created, hostname=self.hostname,
                              app_name=self.app_name, procid=record.process or os.getpid(),
                              message=line)
                 for line in text.splitlines() or [""]]
        with self._wake:
            self._queue.extend(lines)
            while len(self._queue) > self._limit:
                self._queue.popleft()
                self.dropped += 1
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    def close(self) -> None:
        if os.getpid() != self._owner_pid:
            # Inherited through fork(): the thread and the lock are the parent's; only
            # this process's copy of the socket is closed.
            self._connection.close()
            super().close()
            return
        with self._wake:
            if self._closing:
                super().close()
                return
            self._closing = True
            self._wake.notify()
        if self._sender.is_alive() and self._sender is not threading.current_thread():
            self._sender.join(self.flush_timeout + 1.0)
        self._connection.close()
        super().close()

    # -- the sender thread -------------------------------------------------------------
    def _run(self) -> None:
        delay = self.reconnect_min
        flush_deadline: float | None = None
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if self._closing:
                    if flush_deadline is None:
                        flush_deadline = time.monotonic() + self.flush_timeout
                    if not self._queue or time.monotonic() >= flush_deadline:
                        return
                line = self._queue[0]
            if not (self._connection.alive() or self._connection.open()):
                with self._wake:  # until the next attempt, or until close() says hurry
                    pause = delay
                    if flush_deadline is not None:
                        pause = min(delay, max(0.0, flush_deadline - time.monotonic()))
                    self._wake.wait(pause)
                delay = min(delay * 2, self.reconnect_max)
                continue
            delay = self.reconnect_min
            with self._wake:
                lost, self.dropped = self.dropped, 0
            if lost:
                self._connection.send(rfc5424_line(
                    facility=self.facility, severity=pysyslogclient.SEV_WARNING,
                    timestamp=time.time(), hostname=self.hostname, app_name=self.app_name,
                    procid=os.getpid(),
                    message=f"[WARN]  agent.log: {lost} log line(s) dropped: more than "
                            f"{self._limit} were waiting for {self.host}:{self.port}"))
            if self._connection.send(line):
                with self._wake:
                    if self._queue and self._queue[0] is line:
                        self._queue.popleft()


# -- wiring ------------------------------------------------------------------------------
def _local_syslog_handler(facility: str) -> logging.Handler | None:
    code = facility_code(facility)
    for path in LOCAL_SOCKETS:
        if os.path.exists(path):
            try:
                handler = logging.handlers.SysLogHandler(address=path, facility=code)
            except OSError:
                continue
            handler.ident = f"{APP_NAME}[{os.getpid()}]: "
            handler.setFormatter(SyslogBodyFormatter())
            return handler
    return None


def setup_logging(level: str, *, enable_syslog: bool = False, syslog_facility: str = "LOCAL0",
                  remote_syslog: str = "", remote_buffer_lines: int = DEFAULT_BUFFER_LINES
                  ) -> None:
    """Send every nomadjail logger to stderr at ``level`` (TRACE..ERROR, OFF), and
    to the local syslog and/or a remote syslog server (``host[:port]``) if asked.

    Calling it again replaces the handlers (the gunicorn worker does, after the
    fork: a sender thread does not survive a fork).
    """
    try:
        numeric = LEVELS[level.upper()]
    except KeyError:
        raise ValueError(f"invalid log level {level!r}: expected one of "
                         f"{', '.join(LEVELS)}") from None
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(NomadFormatter())
    handlers: list[logging.Handler] = [stderr]
    problems = []
    if enable_syslog:
        local = _local_syslog_handler(syslog_facility)
        if local is None:
            problems.append(f"enable_syslog: no local syslog socket at "
                            f"{' or '.join(LOCAL_SOCKETS)}; logging to stderr only")
        else:
            handlers.append(local)
    if remote_syslog:
        host, port = split_host_port(remote_syslog, SYSLOG_PORT)
        handlers.append(RemoteSyslogHandler(host, port, facility=syslog_facility,
                                            buffer_lines=remote_buffer_lines))
    root = logging.getLogger("nomadjail")
    previous, root.handlers[:] = list(root.handlers), handlers
    for handler in previous:
        handler.close()
    root.setLevel(numeric)
    root.propagate = False
    # The raft library logs through the root logger; keep its noise at warnings.
    logging.getLogger("pysyncobj").setLevel(max(numeric, logging.WARNING))
    for problem in problems:
        log.warning("%s", problem)


def setup_agent_logging(config: Any) -> None:
    """:func:`setup_logging` from an :class:`~nomadjail.agent.config.AgentConfig`."""
    setup_logging(config.log_level, enable_syslog=config.enable_syslog,
                  syslog_facility=config.syslog_facility,
                  remote_syslog=config.remote_syslog.address,
                  remote_buffer_lines=config.remote_syslog.buffer_lines)
