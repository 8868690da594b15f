"""Reaping supervisor processes nobody waits for any more.

A supervisor process is a child of the agent that launched it: unless someone
waits for it, it lingers as a zombie after it exited, and its ``Popen``
object, dropped while the child runs, is a leak Python warns about.  A
supervisor that outlived its release (``Supervisor.release`` gives up waiting
after a grace period) and every child of a ``Supervisor`` that was garbage
collected are handed to :data:`REAPER`, whose one thread (started on demand,
gone when there is nothing left) polls them until they exited.
"""

from __future__ import annotations

import subprocess
import threading
import time

# How often the reaper looks for supervisors that exited.
REAP_INTERVAL = 0.2


class Reaper:
    """Polls adopted child processes until each has exited (and so was reaped)."""

    def __init__(self, *, interval: float = REAP_INTERVAL) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self._thread: threading.Thread | None = None

    def adopt(self, proc: subprocess.Popen) -> None:
        """Wait for ``proc`` in the background (nothing to do if it already exited)."""
        if proc.poll() is not None:
            return
        with self._lock:
            self._procs.append(proc)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="supervisor-reaper",
                                                daemon=True)
                self._thread.start()

    def pending(self) -> int:
        """How many adopted processes still run."""
        with self._lock:
            return len(self._procs)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                self._procs = [proc for proc in self._procs if proc.poll() is None]
                if not self._procs:
                    self._thread = None
                    return


REAPER = Reaper()
