"""The per-task supervisor process: Nomad's executor and logmon in one small process.

Run as ``python -m nomadjail.drivers.supervisor <spec.json>`` by the agent-side
library :class:`nomadjail.drivers.supervision.Supervisor` (for raw_exec tasks
and the pot driver's ``pot start``), in a session of its own, so that the
agent dying (kill -9 included) neither kills the task nor stops its logs.
Standard library only, so it starts fast.

What it guarantees, in order:

1. Before it starts anything it reserves the space of its exit status file
   (``<status_path>.tmp``) and writes its pid file (``spec["pid_path"]``:
   ``{"supervisor_pid"}``).  If either cannot be written it starts nothing.
2. It starts the task (``spec["executable"]`` with ``spec["argv"]``) in a new
   process group whose id is the task's pid, inside the supervisor's session
   (so the session id is the supervisor's pid, even after it died), with
   exactly ``spec["env"]`` as environment and ``spec["cwd"]`` as working
   directory.
3. It rewrites the pid file with the task's pid (``{"supervisor_pid",
   "task_pid", "started_at"}``) *before* telling anyone the task started; if
   that fails the task is killed.  So a task that runs can always be found
   from the pid file, even when the agent died before it heard the answer.
4. It prints one JSON line on its stdout -- ``{"pid": N}`` or ``{"error": "..."}``
   -- and then stops using stdout, so nobody needs to keep reading it.
5. It copies the task's stdout and stderr into rotated files
   ``<log_dir>/<stdout_name>.N`` / ``<stderr_name>.N`` (see ``logrotate``).
   A storage error (disk full, a file that cannot be opened) drops and
   counts output (reported on the supervisor's stderr) but never stops the
   copying: the pipes are drained until the task exits.
6. When the task exits it writes ``{"exit_code", "signal", "finished_at"}``
   atomically to ``spec["status_path"]`` -- into the space reserved at start,
   so a full disk cannot lose it -- and exits.  A task killed by signal N
   reports ``signal: N`` and ``exit_code: 128 + N``, as Nomad does.

Optionally (``spec["divert"]``), some output lines are appended to
``divert["path"]`` instead of the task's logs.  This is for a supervised
*tool* that runs a program and prints its own messages before and after the
program's output -- the pot driver supervises ``pot start``, whose
``===>``/``###>`` messages must not pollute the task's stdout, while the
jailed program's own lines must all stay there, whatever they start with.
So which lines are diverted depends on the program's phase
(:class:`ProgramPhases`):

* **before** the program starts (until the exact line ``divert["start_line"]``
  passed; for ever if that is empty): every line starting with one of
  ``divert["prefixes"]``;
* while it **runs**: only lines exactly equal to one of
  ``divert["running_lines"]`` (messages the tool may print meanwhile, with
  or without a prefix -- ``jail -c``'s ``<name>: created`` has none);
* **after** it ended -- from the moment the file ``divert["end_witness"]``
  changed (the tool writes it as soon as the program exited, before it prints
  anything more); never, if that is empty: every prefixed line, and every
  bare line that fully matches the regular expression
  ``divert["ended_pattern"]`` (pot echoes the pot's interface list then).

The phase is checked after output was read, so a program line written just
before the program exited may still be unread when the tool writes the
witness: it is then judged by the "after" rule, which is why that rule is
narrow -- such a line is diverted only if it looks like the tool's own.  At
most :data:`DIVERT_MAX_BYTES` are kept; later diverted lines are dropped.

SIGTERM sent to the supervisor is forwarded to the task's process group;
SIGINT and SIGHUP (a closing terminal) are ignored by the supervisor itself,
but the task starts with default signal handling.
"""

from __future__ import annotations

import enum
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time

from nomadjail.drivers.logrotate import MB, FileRotator
from nomadjail.helper.atomic_file import write_json_atomically

READ_SIZE = 64 * 1024
# After the task exits, keep copying output this long: children it left
# behind may still hold the pipes open, and the exit status must not wait
# for them.
DRAIN_AFTER_EXIT = 1.0
# Bytes reserved for the exit status; its JSON is far shorter.
STATUS_RESERVED = 512
# Attempts (one second apart) to write the exit status the ordinary way when
# the reserved space could not be used.
STATUS_FALLBACK_ATTEMPTS = 5
# The supervisor's exit code when it could not record the task's exit status.
EXIT_STATUS_LOST = 3
# The most bytes of diverted lines kept in ``divert_path``.
DIVERT_MAX_BYTES = 1024 * 1024


def _announce(message: dict) -> None:
    """Tell the driver that started us how the start went, then let go of stdout."""
    try:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
    except OSError:
        pass  # the driver is gone; the task runs on regardless
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _report(message: str) -> None:
    """A line on stderr (the supervisor log); a failure to write it is ignored."""
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class StatusFile:
    """The exit status file, its space reserved when the supervisor starts.

    Writing the status at the end overwrites reserved bytes in place and
    renames the file into ``path``, which needs no new disk blocks: a disk
    filled up by the task's own output cannot lose its exit status.
    Trailing spaces after the JSON object are valid JSON.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp = f"{path}.tmp"
        self._fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(self._fd, b" " * STATUS_RESERVED)
            os.fsync(self._fd)
        except OSError:
            self.discard()
            raise

    def write(self, status: dict) -> None:
        """Record ``status``; raises OSError only if every way of writing it failed."""
        data = json.dumps(status).encode()
        try:
            if len(data) > STATUS_RESERVED or self._fd < 0:
                raise OSError(f"no reserved space for {len(data)} bytes of status")
            os.pwrite(self._fd, data.ljust(STATUS_RESERVED), 0)
            os.fsync(self._fd)
            self._close()
            os.replace(self.tmp, self.path)
            return
        except OSError as err:
            _report(f"writing the exit status into its reserved space failed: {err}")
            self._close()
        for attempt in range(STATUS_FALLBACK_ATTEMPTS):
            try:
                write_json_atomically(self.path, status)
                return
            except OSError as err:
                _report(f"writing the exit status failed (attempt {attempt + 1}): {err}")
                if attempt + 1 < STATUS_FALLBACK_ATTEMPTS:
                    time.sleep(1.0)
        raise OSError(f"could not write the exit status to {self.path}")

    def _close(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1

    def discard(self) -> None:
        """Nothing will be recorded (the task did not start): remove the reservation."""
        self._close()
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


class _Discard:
    """Where output goes when the task's logs are disabled."""

    dropped_bytes = 0
    last_error = None

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _LogSink:
    """A rotator plus the reporting of its storage errors on the supervisor's stderr."""

    def __init__(self, name: str, rotator: FileRotator | _Discard) -> None:
        self.name = name
        self.rotator = rotator
        self._reported: object = rotator.last_error

    def write(self, data: bytes) -> None:
        self.rotator.write(data)
        error = self.rotator.last_error
        if error is not self._reported:  # a new failure (retries are at most every few s)
            self._reported = error
            _report(f"{self.name} log: {error}; {self.rotator.dropped_bytes} bytes of output "
                    "dropped so far")

    def close(self) -> None:
        self.rotator.close()
        if self.rotator.dropped_bytes:
            _report(f"{self.name} log: {self.rotator.dropped_bytes} bytes of output dropped "
                    "in total")


class Phase(enum.Enum):
    """Where the supervised tool's program is in its life (see the module doc)."""

    BEFORE = "before"  # not started: every prefixed line is the tool's
    RUNNING = "running"  # running: only the tool's known exact lines are diverted
    AFTER = "after"  # ended: prefixed lines and the tool's known bare lines


def _file_signature(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


class ProgramPhases:
    """The program's phase, shared by the stdout and stderr diverters.

    BEFORE until :meth:`saw_line` is given ``start_line`` (never when it is
    empty); AFTER once ``end_witness`` differs from what it was when this
    object was made (never when it is empty).  Phases only move forward.
    """

    def __init__(self, *, start_line: bytes = b"", end_witness: str = "") -> None:
        self.phase = Phase.BEFORE
        self.start_line = start_line.rstrip(b"\r\n")
        self._witness = end_witness
        self._witness_before = _file_signature(end_witness) if end_witness else None

    def saw_line(self, line: bytes) -> None:
        """A complete diverted line passed."""
        if (self.phase is Phase.BEFORE and self.start_line
                and line.rstrip(b"\r\n") == self.start_line):
            self.phase = Phase.RUNNING

    def refresh(self) -> Phase:
        """Check the end witness (call it after reading output, before classifying it)."""
        if (self.phase is not Phase.AFTER and self._witness
                and _file_signature(self._witness) != self._witness_before):
            self.phase = Phase.AFTER
        return self.phase


class LineDiverter:
    """Split one output stream into the task's output and the lines to divert.

    Which lines are diverted depends on ``phases`` (default: BEFORE for ever,
    i.e. every line starting with one of ``prefixes``; then while RUNNING the
    exact ``running_lines``, prefixed or not, and AFTER every line; see the
    module doc).
    Bytes are passed on as soon as their line is known not to be diverted;
    only the start of a line that could still turn out to be diverted is held
    back -- a line start that could become a prefix (``"==="``), a prefixed
    line before the program started while it could still be the start line,
    a line while the program runs while it could still be one of
    ``running_lines`` -- until more output decides it, or until :meth:`flush`
    at the end of the stream.
    """

    def __init__(self, prefixes: list[bytes], *, phases: ProgramPhases | None = None,
                 running_lines: list[bytes] | tuple[bytes, ...] = (),
                 ended_pattern: bytes = b"") -> None:
        if not prefixes or not all(prefixes):
            raise ValueError(f"divert prefixes must be non-empty, got {prefixes!r}")
        self._prefixes = tuple(prefixes)
        self._phases = phases or ProgramPhases()
        self._running_lines = frozenset(line.rstrip(b"\r\n") for line in running_lines)
        self._ended_pattern = re.compile(ended_pattern) if ended_pattern else None
        self._route: bool | None = None  # the rest of the current line: True divert
        self._pending = bytearray()

    def _decide(self, pending: bytes, complete: bool) -> bool | None:
        """True divert, False pass, None undecided (only for an unfinished line)."""
        phase = self._phases.phase
        line = pending.rstrip(b"\r\n") if complete else pending
        if phase is Phase.AFTER:
            if any(line.startswith(prefix) for prefix in self._prefixes):
                return True
            if not complete:  # held until the line ends: it could still be a bare tool line
                return None
            return bool(self._ended_pattern and self._ended_pattern.fullmatch(line))
        if phase is Phase.RUNNING:
            if complete:
                return line in self._running_lines
            if any(known.startswith(line) for known in self._running_lines):
                return None
            return False
        if not any(pending.startswith(prefix) for prefix in self._prefixes):
            if not complete and any(prefix.startswith(pending) for prefix in self._prefixes):
                return None
            return False
        start = self._phases.start_line
        if not complete and start and start.startswith(line):
            return None
        return True

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """``(bytes for the task's log, bytes to divert)`` from the next chunk."""
        self._phases.refresh()
        passed, diverted = bytearray(), bytearray()
        pos = 0
        while pos < len(data):
            newline = data.find(b"\n", pos)
            end = len(data) if newline < 0 else newline + 1
            segment = data[pos:end]
            pos = end
            if self._route is not None:
                (diverted if self._route else passed).extend(segment)
                if newline >= 0:
                    self._route = None
                continue
            self._pending += segment
            complete = newline >= 0
            route = self._decide(bytes(self._pending), complete)
            if route is None:
                continue
            (diverted if route else passed).extend(self._pending)
            if complete:
                if route:
                    self._phases.saw_line(bytes(self._pending))
            else:
                self._route = route
            self._pending.clear()
        return bytes(passed), bytes(diverted)

    def flush(self) -> tuple[bytes, bytes]:
        """``(passed, diverted)``: the held-back start of an unfinished line, decided as if
        the line ended there (the stream did)."""
        rest = bytes(self._pending)
        self._pending.clear()
        self._route = None
        if not rest:
            return b"", b""
        return (rest, b"") if not self._decide(rest, True) else (b"", rest)


class _DivertedLines:
    """The file diverted lines are appended to (shared by stdout and stderr).

    Storage errors and the size cap drop lines silently: these are the
    messages of the supervised tool, never the task's output.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._written = 0
        self._fd = -1
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._written = os.fstat(self._fd).st_size
        except OSError as err:
            _report(f"cannot open the diverted output file {path}: {err}")

    def write(self, data: bytes) -> None:
        if self._fd < 0 or not data or self._written + len(data) > DIVERT_MAX_BYTES:
            return
        try:
            os.write(self._fd, data)
            self._written += len(data)
        except OSError:
            pass

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1


class _DivertingSink:
    """A log sink that first takes the diverted lines out of the stream."""

    def __init__(self, sink: _LogSink, diverter: LineDiverter,
                 diverted: _DivertedLines) -> None:
        self._sink = sink
        self._diverter = diverter
        self._diverted = diverted

    def write(self, data: bytes) -> None:
        passed, diverted = self._diverter.feed(data)
        if diverted:
            self._diverted.write(diverted)
        if passed:
            self._sink.write(passed)

    def close(self) -> None:
        passed, diverted = self._diverter.flush()
        if diverted:
            self._diverted.write(diverted)
        if passed:
            self._sink.write(passed)
        self._sink.close()


def _pump(proc: subprocess.Popen, sinks: dict[int, _LogSink | _DivertingSink]) -> None:
    """Copy the task's output into the sinks until EOF or shortly after exit."""
    selector = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        selector.register(stream.fileno(), selectors.EVENT_READ)
    open_fds = set(sinks)
    exited_at: float | None = None
    while open_fds:
        if exited_at is None and proc.poll() is not None:
            exited_at = time.monotonic()
        if exited_at is not None and time.monotonic() - exited_at > DRAIN_AFTER_EXIT:
            break
        for key, _ in selector.select(timeout=0.2):
            fd = key.fd
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError as err:
                _report(f"reading the task's output failed: {err}")
                data = b""
            if data:
                sinks[fd].write(data)
            else:
                selector.unregister(fd)
                open_fds.discard(fd)
    selector.close()


def _rotator(spec: dict, name_key: str) -> FileRotator | _Discard:
    log_dir = spec.get("log_dir")
    if not log_dir:  # no log_dir: logging is disabled, the output is discarded
        return _Discard()
    return FileRotator(log_dir, spec[name_key], max_files=int(spec.get("max_files", 10)),
                       max_file_size=int(spec.get("max_file_size", 10 * MB)))


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def run(spec: dict) -> int:
    pid_path = spec.get("pid_path") or ""
    try:
        status_file = StatusFile(spec["status_path"])
    except OSError as err:
        _announce({"error": f"cannot reserve the exit status file {spec['status_path']}: "
                            f"{err}"})
        return 1
    if pid_path:
        try:
            write_json_atomically(pid_path, {"supervisor_pid": os.getpid()})
        except OSError as err:
            status_file.discard()
            _announce({"error": f"cannot write the pid file {pid_path}: {err}"})
            return 1
    stdout_log: _LogSink | _DivertingSink = _LogSink("stdout", _rotator(spec, "stdout_name"))
    stderr_log: _LogSink | _DivertingSink = _LogSink("stderr", _rotator(spec, "stderr_name"))
    diverted: _DivertedLines | None = None
    divert = spec.get("divert") or {}
    if divert.get("path") and divert.get("prefixes"):
        prefixes = [str(p).encode() for p in divert["prefixes"]]
        running_lines = [str(line).encode() for line in divert.get("running_lines") or []]
        ended_pattern = str(divert.get("ended_pattern") or "").encode()
        # Made before the task starts: the witness's state now is the "not ended yet" one.
        phases = ProgramPhases(start_line=str(divert.get("start_line") or "").encode(),
                               end_witness=str(divert.get("end_witness") or ""))
        diverted = _DivertedLines(str(divert["path"]))
        assert isinstance(stdout_log, _LogSink) and isinstance(stderr_log, _LogSink)
        stdout_log = _DivertingSink(stdout_log, LineDiverter(
            prefixes, phases=phases, running_lines=running_lines,
            ended_pattern=ended_pattern), diverted)
        stderr_log = _DivertingSink(stderr_log, LineDiverter(
            prefixes, phases=phases, running_lines=running_lines,
            ended_pattern=ended_pattern), diverted)
    task_pid = 0

    def forward_term(signum: int, frame: object) -> None:
        if task_pid:
            try:
                os.killpg(task_pid, signal.SIGTERM)
            except OSError:
                pass

    signal.signal(signal.SIGTERM, forward_term)
    kwargs: dict = {}
    if spec.get("user"):
        kwargs["user"] = spec["user"]
    try:
        proc = subprocess.Popen(
            spec["argv"], executable=spec.get("executable") or None, env=spec["env"],
            cwd=spec["cwd"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, close_fds=True, process_group=0, **kwargs)
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        status_file.discard()
        _announce({"error": f"failed to start command {spec['argv'][0]!r}: {err}"})
        return 1
    task_pid = proc.pid
    if pid_path:
        try:
            write_json_atomically(pid_path, {"supervisor_pid": os.getpid(),
                                             "task_pid": proc.pid,
                                             "started_at": time.time_ns()})
        except OSError as err:
            _kill_group(proc.pid)
            proc.wait()
            status_file.discard()
            _announce({"error": f"cannot write the pid file {pid_path}: {err}"})
            return 1
    _announce({"pid": proc.pid})
    assert proc.stdout is not None and proc.stderr is not None
    _pump(proc, {proc.stdout.fileno(): stdout_log, proc.stderr.fileno(): stderr_log})
    code = proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    stdout_log.close()
    stderr_log.close()
    if diverted is not None:
        diverted.close()
    if code < 0:
        status = {"exit_code": 128 - code, "signal": -code}
    else:
        status = {"exit_code": code, "signal": 0}
    status["finished_at"] = time.time_ns()
    try:
        status_file.write(status)
    except OSError as err:
        _report(f"the task's exit status is lost: {err}")
        return EXIT_STATUS_LOST
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m nomadjail.drivers.supervisor <spec.json>\n")
        return 2
    # Python-level handlers (not SIG_IGN), so the task starts with the defaults.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    signal.signal(signal.SIGHUP, lambda signum, frame: None)
    with open(argv[1], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    return run(spec)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
