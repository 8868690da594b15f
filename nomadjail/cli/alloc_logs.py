"""``alloc logs [-f] [-stderr] [-tail] [-n lines] [-c bytes] <alloc> [task]``.

Streams a task's stdout (or stderr) from the client that runs it, through
the agent's ``/v1/client/fs/logs`` endpoint, as Nomad's CLI does:

* no flags: the whole file from the start;
* ``-tail``: the end of the file, ``-n`` lines (default 10) or ``-c`` bytes;
* ``-f``: keep following; ``-f`` alone follows stdout *and* stderr from their
  current ends, each to the matching stream of this process.
"""

from __future__ import annotations

import queue
import random
import sys
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

import click

from ..api import ApiClient, ApiError, StreamFrame
from ..structs import Allocation, AllocClientStatus
from .flags import nomad_option
from .lookup import alloc_stub_by_prefix, check_task, job_id_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options

BYTES_PER_LINE = 120
"""Nomad's estimate of a log line's length, used to size ``-n`` reads."""
DEFAULT_TAIL_LINES = 10
FLUSH_AFTER_IDLE = 1.0
"""Seconds without new output after which a followed ``-n`` tail prints what it has."""


@click.command("logs", cls=NomadCommand)
@common_options
@nomad_option("-stderr", "stderr", is_flag=True, help="Show stderr instead of stdout.")
@nomad_option("-stdout", "stdout", is_flag=True, help="Show stdout (the default).")
@nomad_option("-f", "follow", is_flag=True, help="Keep streaming new output.")
@nomad_option("-tail", "tail", is_flag=True, help="Show the end of the log, not the start.")
@nomad_option("-n", "num_lines", type=int, default=-1, metavar="LINES",
              help="With -tail: how many lines (default 10).")
@nomad_option("-c", "num_bytes", type=int, default=-1, metavar="BYTES",
              help="With -tail: how many bytes.")
@nomad_option("-task", "task_flag", default="", metavar="TASK", help="The task to show.")
@nomad_option("-job", "job", is_flag=True,
              help="The argument is a job ID; show a random allocation of it.")
@nomad_option("-group", "group", default="", metavar="GROUP", help="With -job: the task group.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="<allocation> [<task>]")
def alloc_logs(meta: Meta, args: tuple[str, ...], stderr: bool, stdout: bool, follow: bool,
               tail: bool, num_lines: int, num_bytes: int, task_flag: str, job: bool,
               group: str, verbose: bool) -> int:
    """Stream the logs of a task."""
    if not args:
        raise meta.usage_error("A job ID is required" if job else "An allocation ID is required")
    if len(args) > 2:
        raise meta.usage_error("This command takes one or two arguments")
    client = meta.client()
    alloc_id = args[0]
    if job:
        job_id, namespace = job_id_by_prefix(meta, client, alloc_id)
        alloc_id = _random_job_alloc(client, job_id, group, namespace)
    stub = alloc_stub_by_prefix(meta, client, alloc_id, verbose=verbose,
                                short_error="Alloc ID must contain at least two characters.")
    try:
        alloc, _ = client.allocation(stub["ID"], namespace=stub.get("Namespace") or None)
    except ApiError as err:
        raise CommandFailed(f"Error querying allocation: {err}") from None

    if task_flag:
        check_task(alloc, task_flag)
        task = task_flag
    elif len(args) == 2:
        task = args[1]
        if not task:
            raise CommandFailed("Task name required")
    else:
        task = _only_task(alloc)

    if follow and not (stderr or stdout or tail or num_lines > 0 or num_bytes > 0):
        return _follow_both(meta, client, alloc, task)
    if stderr and stdout:
        raise CommandFailed("Unable to support both stdout and stderr")
    log_type = "stderr" if stderr else "stdout"
    try:
        _single_file(client, alloc, task, log_type, follow=follow, tail=tail,
                     num_lines=num_lines, num_bytes=num_bytes)
    except CommandFailed as failed:
        raise CommandFailed(f"Failed to read {log_type} file: {failed.message}") from None
    return 0


def _random_job_alloc(client: ApiClient, job_id: str, group: str, namespace: str) -> str:
    try:
        allocs, _ = client.job_allocations(job_id, namespace=namespace)
    except ApiError as err:
        raise CommandFailed(f'Error fetching allocations: error querying job "{job_id}": '
                            f"{err}") from None
    if not allocs:
        raise CommandFailed(f'Error fetching allocations: job "{job_id}" doesn\'t exist or it '
                            "has no allocations")
    if group:
        allocs = [a for a in allocs if a.get("TaskGroup") == group]
        if not allocs:
            raise CommandFailed(f'Error fetching allocations: task group "{group}" doesn\'t '
                                "exist or it has no allocations")
    running = [a for a in allocs if a.get("ClientStatus") == AllocClientStatus.RUNNING] or allocs
    return str(random.choice(running)["ID"])


def _only_task(alloc: Allocation) -> str:
    group = alloc.lookup_task_group()
    if group is None:
        raise CommandFailed("Failed to validate task: Could not find allocation task group: "
                            f"{alloc.task_group}")
    if len(group.tasks) == 1:
        return group.tasks[0].name
    listing = "".join(f"  * {t.name}\n" for t in group.tasks)
    raise CommandFailed(f'Failed to validate task: Allocation "{alloc.id[:8]}" is running the '
                        f"following tasks:\n{listing}\nPlease specify the task.")


def last_lines(data: bytes, lines: int) -> bytes:
    """The last ``lines`` lines of ``data`` (a trailing newline does not count as a line)."""
    if lines <= 0:
        return b""
    found = 0
    cut = -1
    for i in range(len(data) - 1, -1, -1):
        if found >= lines:
            break
        if data[i:i + 1] == b"\n" and i != len(data) - 1:
            found += 1
            cut = i
    if found == lines and cut >= 0:
        return data[cut + 1:]
    return data


def _write(stream: BinaryIO, data: bytes) -> None:
    stream.write(data)
    stream.flush()


def _single_file(client: ApiClient, alloc: Allocation, task: str, log_type: str, *,
                 follow: bool, tail: bool, num_lines: int, num_bytes: int) -> None:
    out = sys.stdout.buffer
    if not tail:
        frames = client.allocation_logs(alloc.id, task, log_type=log_type, origin="start",
                                        offset=0, follow=follow,
                                        namespace=alloc.namespace or None)
        _copy(frames, out, "error reading file")
        return
    if num_lines != -1 and num_bytes != -1:
        raise CommandFailed("both -n and -c set")
    if num_lines != -1:
        offset = num_lines * BYTES_PER_LINE
    elif num_bytes != -1:
        offset = num_bytes
    else:
        num_lines = DEFAULT_TAIL_LINES
        offset = DEFAULT_TAIL_LINES * BYTES_PER_LINE
    frames = client.allocation_logs(alloc.id, task, log_type=log_type, origin="end",
                                    offset=offset, follow=follow,
                                    namespace=alloc.namespace or None)
    if num_lines == -1:
        _copy(frames, out, "error tailing file")
        return
    _copy_last_lines(frames, out, num_lines, num_lines * BYTES_PER_LINE, follow)


def _copy(frames: Iterator[StreamFrame], out: BinaryIO, setup_error: str) -> None:
    started = False
    try:
        for frame in frames:
            started = True
            if frame.data:
                _write(out, frame.data)
    except ApiError as err:
        raise CommandFailed(f"{'error following logs' if started else setup_error}: {err}"
                            ) from None


def _copy_last_lines(frames: Iterator[StreamFrame], out: BinaryIO, lines: int,
                     search_limit: int, follow: bool) -> None:
    """Buffer until enough bytes arrived (or the stream paused), print the last lines, stream on."""
    buffered = b""
    source = _threaded(frames) if follow else ((frame, None) for frame in frames)
    flushed = False
    try:
        for frame, error in source:
            if error is not None:
                raise CommandFailed(f"error tailing file: {error}")
            if flushed:
                if frame is not None and frame.data:
                    _write(out, frame.data)
                continue
            if frame is not None:
                buffered += frame.data
            if frame is None or len(buffered) >= search_limit:  # None: the stream went quiet
                _write(out, last_lines(buffered, lines))
                flushed = True
    except ApiError as err:
        raise CommandFailed(f"error tailing file: {err}") from None
    if not flushed:
        _write(out, last_lines(buffered, lines))


def _threaded(frames: Iterator[StreamFrame]
              ) -> Iterator[tuple[StreamFrame | None, Exception | None]]:
    """Frames read on a helper thread; yields (None, None) after FLUSH_AFTER_IDLE of silence."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue()

    def pump() -> None:
        try:
            for frame in frames:
                items.put(("frame", frame))
        except Exception as err:  # noqa: BLE001 - handed to the reading thread
            items.put(("error", err))
        items.put(("end", None))

    threading.Thread(target=pump, name="log-stream", daemon=True).start()
    while True:
        try:
            kind, value = items.get(timeout=FLUSH_AFTER_IDLE)
        except queue.Empty:
            yield None, None
            continue
        if kind == "end":
            return
        if kind == "error":
            yield None, value
            return
        yield value, None


def _follow_both(meta: Meta, client: ApiClient, alloc: Allocation, task: str) -> int:
    """``-f`` alone: stdout and stderr from their ends, each to its own stream, until both end."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    streams = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}

    def pump(log_type: str) -> None:
        try:
            for frame in client.allocation_logs(alloc.id, task, log_type=log_type,
                                                origin="end", offset=0, follow=True,
                                                namespace=alloc.namespace or None):
                if frame.data:
                    items.put((log_type, frame.data))
        except Exception as err:  # noqa: BLE001 - reported by the main thread
            items.put(("error", (log_type, err)))
        items.put(("end", log_type))

    for log_type in streams:
        threading.Thread(target=pump, args=(log_type,), name=f"log-{log_type}",
                         daemon=True).start()
    running = len(streams)
    while running:
        kind, value = items.get()
        if kind == "end":
            running -= 1
        elif kind == "error":
            log_type, err = value
            raise CommandFailed(f"Failed to tail stdout and stderr files: received an error "
                                f"from {log_type} log stream: {err}")
        else:
            _write(streams[kind], value)
    return 0
