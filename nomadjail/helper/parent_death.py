"""Noticing that this process's parent died, on Linux, FreeBSD and elsewhere.

A process whose parent is killed (``kill -9``) is re-parented and runs on, as
if nothing happened.  For the agent's gunicorn worker that is wrong: the
master is the agent's main pid (the one a pidfile or daemon(8) holds), and a
worker outliving it keeps heartbeating and holds the ports, so the node never
goes down and the next agent cannot start.  :func:`follow_parent` makes sure
the process hears about its parent's death, three ways:

1. **The kernel** sends a signal when the parent exits: ``prctl(PR_SET_PDEATHSIG)``
   on Linux, ``procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig)`` on FreeBSD (11.2 and
   later), both through libc with ctypes.  Neither is inherited across ``fork``,
   so the processes this one starts (task supervisors) are not affected.
2. **A watch thread** compares ``getppid()`` with the parent's pid twice a second
   and calls ``on_death`` when it changed: the fallback where the kernel offers
   nothing (macOS, an older FreeBSD).
3. **The race**: a parent that died *before* the kernel request is never
   signalled for.  The watch thread checks once right away, so that case is
   caught at once too.

``on_death`` runs on the watch thread, and may run after the kernel's signal
was delivered: it must be idempotent and must not assume it came first.
Standard library only (see :mod:`nomadjail.helper`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import threading
from collections.abc import Callable

__all__ = ["WATCH_INTERVAL", "follow_parent", "request_parent_death_signal", "watch_parent"]

WATCH_INTERVAL = 0.5  # seconds between two getppid() checks

PR_SET_PDEATHSIG = 1  # Linux <linux/prctl.h>
P_PID = 0  # FreeBSD <sys/wait.h> idtype_t
PROC_PDEATHSIG_CTL = 11  # FreeBSD <sys/procctl.h>


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        # None (no libc found by name) loads the running program, which links libc.
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return None


def request_parent_death_signal(signum: int) -> bool:
    """Ask the kernel to send ``signum`` to this process when its parent exits.

    Returns whether the kernel took the request (False on a system without the
    call, or when libc refused it): the caller then relies on :func:`watch_parent`.
    """
    libc = _libc()
    if libc is None:
        return False
    try:
        if sys.platform.startswith("linux"):
            prctl = libc.prctl
            prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                              ctypes.c_ulong]
            prctl.restype = ctypes.c_int
            return prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
        if sys.platform.startswith("freebsd"):
            procctl = libc.procctl
            procctl.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p]
            procctl.restype = ctypes.c_int
            value = ctypes.c_int(signum)
            return procctl(P_PID, 0, PROC_PDEATHSIG_CTL, ctypes.byref(value)) == 0
    except AttributeError:  # a libc without the call (FreeBSD before 11.2)
        return False
    return False


def watch_parent(parent_pid: int, on_death: Callable[[], None], *,
                 interval: float = WATCH_INTERVAL,
                 stop: threading.Event | None = None) -> threading.Thread:
    """Call ``on_death`` (once, from a daemon thread) as soon as this process's parent
    is no longer ``parent_pid``; checks at once, then every ``interval`` seconds.
    Setting ``stop`` ends the watch without a call."""
    stopped = stop or threading.Event()

    def run() -> None:
        while os.getppid() == parent_pid:
            if stopped.wait(interval):
                return
        on_death()

    thread = threading.Thread(target=run, name="parent-watch", daemon=True)
    thread.start()
    return thread


def follow_parent(parent_pid: int, signum: int, on_death: Callable[[], None], *,
                  interval: float = WATCH_INTERVAL) -> bool:
    """Both: the kernel's ``signum`` where there is one, and the watch thread always
    (the fallback, and the guard for a parent that died before the request).
    Returns whether the kernel took the request."""
    by_kernel = request_parent_death_signal(signum)
    watch_parent(parent_pid, on_death, interval=interval)
    return by_kernel
