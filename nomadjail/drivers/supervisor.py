"""The per-task supervisor: Nomad's executor and logmon in one small process.

Run as ``python -m nomadjail.drivers.supervisor <spec.json>`` by the raw_exec
driver, in a session of its own, so that the agent dying (kill -9 included)
neither kills the task nor stops its logs.  Standard library only, so it
starts fast.

What it guarantees, in order:

1. It starts the task (``spec["executable"]`` with ``spec["argv"]``) in a new
   process group whose id is the task's pid, with exactly ``spec["env"]`` as
   environment and ``spec["cwd"]`` as working directory.
2. It prints one JSON line on its stdout -- ``{"pid": N}`` or ``{"error": "..."}``
   -- and then stops using stdout, so nobody needs to keep reading it.
3. It copies the task's stdout and stderr into rotated files
   ``<log_dir>/<stdout_name>.N`` / ``<stderr_name>.N`` (see ``logrotate``).
4. When the task exits it writes ``{"exit_code", "signal", "finished_at"}``
   atomically to ``spec["status_path"]`` and exits.  A task killed by signal N
   reports ``signal: N`` and ``exit_code: 128 + N``, as Nomad does.

SIGTERM sent to the supervisor is forwarded to the task's process group;
SIGINT and SIGHUP (a closing terminal) are ignored by the supervisor itself,
but the task starts with default signal handling.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time

from nomadjail.drivers.logrotate import MB, FileRotator

READ_SIZE = 64 * 1024
# After the task exits, keep copying output this long: children it left
# behind may still hold the pipes open, and the exit status must not wait
# for them.
DRAIN_AFTER_EXIT = 1.0


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


def write_status(path: str, status: dict) -> None:
    """Write the exit status so that readers see all of it or nothing."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(status, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class _Discard:
    """Where output goes when the task's logs are disabled."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _pump(proc: subprocess.Popen, rotators: dict[int, FileRotator | _Discard]) -> None:
    """Copy the task's output into the rotators until EOF or shortly after exit."""
    selector = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        selector.register(stream.fileno(), selectors.EVENT_READ)
    open_fds = set(rotators)
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
            if data:
                rotators[fd].write(data)
            else:
                selector.unregister(fd)
                open_fds.discard(fd)
    selector.close()


def run(spec: dict) -> int:
    max_files = int(spec.get("max_files", 10))
    max_size = int(spec.get("max_file_size", 10 * MB))
    log_dir = spec.get("log_dir")
    stdout_log: FileRotator | _Discard = _Discard()
    stderr_log: FileRotator | _Discard = _Discard()
    if log_dir:  # no log_dir: logging is disabled, the output is discarded
        stdout_log = FileRotator(log_dir, spec["stdout_name"], max_files=max_files,
                                 max_file_size=max_size)
        stderr_log = FileRotator(log_dir, spec["stderr_name"], max_files=max_files,
                                 max_file_size=max_size)
    kwargs: dict = {}
    if spec.get("user"):
        kwargs["user"] = spec["user"]
    try:
        proc = subprocess.Popen(
            spec["argv"], executable=spec.get("executable") or None, env=spec["env"],
            cwd=spec["cwd"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, close_fds=True, process_group=0, **kwargs)
    except (OSError, ValueError, subprocess.SubprocessError) as err:
        _announce({"error": f"failed to start command {spec['argv'][0]!r}: {err}"})
        return 1

    def forward_term(signum: int, frame: object) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, forward_term)
    _announce({"pid": proc.pid})
    assert proc.stdout is not None and proc.stderr is not None
    _pump(proc, {proc.stdout.fileno(): stdout_log, proc.stderr.fileno(): stderr_log})
    code = proc.wait()
    stdout_log.close()
    stderr_log.close()
    if code < 0:
        status = {"exit_code": 128 - code, "signal": -code}
    else:
        status = {"exit_code": code, "signal": 0}
    status["finished_at"] = time.time_ns()
    write_status(spec["status_path"], status)
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
