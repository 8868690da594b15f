"""A named daemon thread that repeats one step until it is told to stop.

The scheduler workers, the plan applier and the leader's housekeeping are each
such a thread, and each needs the same care: starting twice starts one thread;
a stop request is seen before the next step, so a step must return within a
bounded time (block with a timeout, never forever); :meth:`BackgroundLoop.stop`
waits for the thread, but not without bound, so one stuck step cannot hang a
server's shutdown or a change of leader; and a stopped loop can be started
again (leadership comes back).

The step handles its own errors: an exception that escapes it ends the thread,
as it would any thread.  Daemon threads, because the process must be able to
exit even if a step never returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

# Seconds stop() waits for the thread.  A step blocks for well under a second
# (dequeue timeouts), so this is only reached by a step that is stuck.
JOIN_TIMEOUT = 10.0


class BackgroundLoop:
    """Runs ``step()`` over and over on a thread named ``name``, pausing
    ``interval`` seconds after each step (0: none; the step blocks by itself),
    from :meth:`start` until :meth:`stop` or :meth:`signal_stop`."""

    def __init__(self, name: str, step: Callable[[], None], *, interval: float = 0.0,
                 join_timeout: float = JOIN_TIMEOUT) -> None:
        self.name = name
        self.interval = interval
        self.join_timeout = join_timeout
        self._step = step
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards _thread
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Started and not stopped (the thread may still be finishing a step)."""
        with self._lock:
            return self._thread is not None and not self._stop.is_set()

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for: a long step checks this between its parts."""
        return self._stop.is_set()

    def start(self) -> None:
        """Start the thread; does nothing if it was started and not stopped since."""
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def signal_stop(self) -> None:
        """Ask the loop to end after the current step, without waiting for it: stop
        many loops at once by signalling them all, then calling :meth:`stop` on each."""
        self._stop.set()

    def stop(self) -> None:
        """Ask the loop to end and wait (up to ``join_timeout``) for the thread."""
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.join_timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._step()
            if self.interval > 0:
                self._stop.wait(self.interval)
