"""Delayed callbacks served by one thread: the timer service of servers and clients.

The eval broker (nack timeouts, delayed evaluations), the heartbeat tracker (one
TTL per node) and the client (per-allocation health deadlines) need thousands of
one-shot timers that are constantly reset or cancelled.  A thread per timer
(``threading.Timer``) would not scale; here one daemon thread sleeps until the
earliest deadline in a heap.  Stale heap entries (timers reset or cancelled
since) are skipped lazily, and the heap is rebuilt when they pile up.

A timer is named one of two ways:

* by a key of the caller's choosing -- :meth:`Timers.set` replaces whatever timer
  the key had (a node's heartbeat TTL, reset on every heartbeat), and
  :meth:`Timers.cancel` takes the key;
* by the handle :meth:`Timers.call_later` returns, for callers that only need
  to cancel what they scheduled (:meth:`Timer.cancel`).

Callbacks run on the timer thread, outside the timers' lock, one at a time:
they may set or cancel timers, but must not block for long (hand long work to a
thread of its own).  An exception in one is logged and the others still run.

The thread starts with :meth:`Timers.start` or with the first timer.
:meth:`Timers.stop` drops every pending timer without running it and ends the
thread; until :meth:`Timers.start` is called again, new timers are ignored, so
nothing fires after a component has shut down.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)

# Rebuild the heap once it is this large and mostly stale entries.
_COMPACT_MIN = 64
_COMPACT_RATIO = 4


class Timer:
    """The handle of a timer from :meth:`Timers.call_later` (its own key)."""

    __slots__ = ("_timers",)

    def __init__(self, timers: Timers) -> None:
        self._timers = timers

    def cancel(self) -> bool:
        """Drop the timer; False if it is not pending (it fired, or was cancelled)."""
        return self._timers.cancel(self)

    @property
    def pending(self) -> bool:
        return self._timers.pending(self)


class Timers:
    """One-shot timers on one thread named ``timers-<name>``; ``clock`` is monotonic
    seconds (injectable for tests)."""

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._timers: dict[Hashable, tuple[float, int, Callable[[], None]]] = {}
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Start the thread now (it also starts with the first timer); after
        :meth:`stop`, accept timers again."""
        with self._cond:
            self._stopped = False
            self._start_thread_locked()

    def stop(self) -> None:
        """Drop every pending timer without running it, end the thread, and ignore
        new timers until :meth:`start`."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._timers.clear()
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _start_thread_locked(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"timers-{self.name}",
                                            daemon=True)
            self._thread.start()

    # -- timers ------------------------------------------------------------------
    def set(self, key: Hashable, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``delay`` seconds, replacing any timer under ``key``
        (ignored while stopped)."""
        with self._cond:
            if self._stopped:
                return
            deadline = self._clock() + max(0.0, delay)
            seq = next(self._seq)
            self._timers[key] = (deadline, seq, callback)
            heapq.heappush(self._heap, (deadline, seq, key))
            if len(self._heap) > _COMPACT_MIN and \
                    len(self._heap) > _COMPACT_RATIO * len(self._timers):
                # Mostly stale entries (timers reset over and over): rebuild.
                self._heap = [(d, s, k) for k, (d, s, _) in self._timers.items()]
                heapq.heapify(self._heap)
            self._start_thread_locked()
            if self._heap[0][1] == seq:
                self._cond.notify()  # the new timer is the earliest: wake the thread

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` after ``delay`` seconds; the handle cancels it.  While
        stopped the timer is ignored and the handle is not pending."""
        timer = Timer(self)
        self.set(timer, delay, callback)
        return timer

    def cancel(self, key: Hashable) -> bool:
        """Drop the timer under ``key``; False if there was none (it fired already)."""
        with self._cond:
            return self._timers.pop(key, None) is not None

    def cancel_all(self) -> None:
        """Drop every pending timer; the thread stays, new timers are accepted."""
        with self._cond:
            self._timers.clear()
            self._heap.clear()

    def pending(self, key: Hashable) -> bool:
        with self._cond:
            return key in self._timers

    def remaining(self, key: Hashable) -> float | None:
        """Seconds until ``key`` fires, None if no such timer."""
        with self._cond:
            timer = self._timers.get(key)
            return None if timer is None else max(0.0, timer[0] - self._clock())

    def __len__(self) -> int:
        with self._cond:
            return len(self._timers)

    # -- the thread --------------------------------------------------------------
    def _next_due(self) -> Callable[[], None] | None:
        """Wait for the earliest live timer; pop and return its callback.  None when
        this thread is no longer the timers' thread (stopped)."""
        me = threading.current_thread()
        with self._cond:
            while self._thread is me:
                while self._heap:
                    deadline, seq, key = self._heap[0]
                    live = self._timers.get(key)
                    if live is None or live[1] != seq:
                        heapq.heappop(self._heap)  # cancelled or reset since
                        continue
                    break
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, seq, key = self._heap[0]
                wait = deadline - self._clock()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                return self._timers.pop(key)[2]
            return None

    def _run(self) -> None:
        while True:
            callback = self._next_due()
            if callback is None:
                return
            try:
                callback()
            except Exception:  # noqa: BLE001 - one bad callback must not stop the others
                log.exception("timer callback in %s failed", self.name)
