"""A process hears of its parent's death: from the kernel, from the watch thread, and
when the parent died before it asked (real processes, killed by PID)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from nomadjail.helper.parent_death import watch_parent
from nomadjail.testing import wait_for

# The middle process starts the child that follows it, then waits to be killed.
MIDDLE = textwrap.dedent("""
    import signal, subprocess, sys
    subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
    signal.pause()
""")
# The child writes its pid once it follows its parent, then waits.
BY_KERNEL = textwrap.dedent("""
    import os, signal, sys
    from nomadjail.helper.parent_death import request_parent_death_signal
    assert request_parent_death_signal(signal.SIGTERM)
    open(sys.argv[1], "w").write(str(os.getpid()))
    signal.pause()
""")
BY_WATCH = textwrap.dedent("""
    import os, signal, sys
    from nomadjail.helper.parent_death import watch_parent
    watch_parent(os.getppid(), lambda: os._exit(7), interval=0.05)
    open(sys.argv[1], "w").write(str(os.getpid()))
    signal.pause()
""")


def gone(pid: int) -> bool:
    """Exited: a zombie nobody reaped yet counts (whoever adopted it reaps it)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextlib.contextmanager
def middle_and_child(tmp_path: Path, child_script: str) -> Iterator[tuple[int, int]]:
    """(middle pid, child pid) once the child follows the middle process."""
    pid_file = tmp_path / "child.pid"
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE, child_script, str(pid_file)])
    child = 0
    try:
        child = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=20,
                             message="the child to follow its parent"))
        yield middle.pid, child
    finally:
        for pid in (child, middle.pid):
            if pid and not gone(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        middle.wait(10)


@pytest.mark.skipif(not sys.platform.startswith(("linux", "freebsd")),
                    reason="only Linux and FreeBSD offer a parent-death signal")
def test_the_kernel_signals_the_child_when_its_parent_is_killed(tmp_path) -> None:
    with middle_and_child(tmp_path, BY_KERNEL) as (middle, child):
        assert not gone(child)
        os.kill(middle, signal.SIGKILL)
        wait_for(lambda: gone(child), timeout=10, message="the child to get its signal")


def test_the_watch_alone_notices_a_killed_parent(tmp_path) -> None:
    with middle_and_child(tmp_path, BY_WATCH) as (middle, child):
        assert not gone(child)
        os.kill(middle, signal.SIGKILL)
        wait_for(lambda: gone(child), timeout=10, message="the watch to notice")


def test_a_parent_that_died_before_the_watch_started_is_noticed_at_once() -> None:
    noticed = threading.Event()
    # -1 is never this process's parent: as if it died before the watch began.  With
    # an hour between checks, only the first, immediate check can notice.
    watch_parent(-1, noticed.set, interval=3600)
    assert noticed.wait(10)


def test_a_stopped_watch_never_calls() -> None:
    stop, called = threading.Event(), threading.Event()
    thread = watch_parent(os.getppid(), called.set, interval=0.01, stop=stop)
    stop.set()
    thread.join(10)
    assert not thread.is_alive() and not called.is_set()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_follow_parent_asks_the_kernel_on_linux(tmp_path) -> None:
    script = textwrap.dedent("""
        import os, signal, threading
        from nomadjail.helper.parent_death import follow_parent
        print(follow_parent(os.getppid(), signal.SIGTERM, lambda: None),
              [t.name for t in threading.enumerate()])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert out.startswith("True") and "'parent-watch'" in out
