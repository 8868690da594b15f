"""Keyed one-shot timers served by one thread.

The eval broker (nack timeouts, delayed evaluations) and the heartbeat
tracker (one TTL per node) need thousands of timers that are constantly
reset.  A thread per timer (``threading.Timer``) would not scale; here one
daemon thread sleeps until the earliest deadline in a heap.  Resetting a
key replaces its timer; stale heap entries are skipped lazily.

Callbacks run on the timer thread, outside the timer lock, one at a time:
they may set or cancel timers, but should not block for long.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)


class TimerSet:
    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic):
        self.name = name
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._timers: dict[Hashable, tuple[float, int, Callable[[], None]]] = {}
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name=f"timers-{self.name}",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread; pending timers are dropped without firing."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._timers.clear()
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def set(self, key: Hashable, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``delay`` seconds, replacing any timer under ``key``."""
        with self._cond:
            deadline = self._clock() + max(0.0, delay)
            seq = next(self._seq)
            self._timers[key] = (deadline, seq, callback)
            heapq.heappush(self._heap, (deadline, seq, key))
            if len(self._heap) > 64 and len(self._heap) > 4 * len(self._timers):
                # Mostly stale entries (timers reset over and over): rebuild.
                self._heap = [(d, s, k) for k, (d, s, _) in self._timers.items()]
                heapq.heapify(self._heap)
            if self._heap[0][1] == seq:
                self._cond.notify()

    def cancel(self, key: Hashable) -> bool:
        """Drop the timer under ``key``; False if there was none (it fired already)."""
        with self._cond:
            return self._timers.pop(key, None) is not None

    def cancel_all(self) -> None:
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

    def _next_due(self) -> Callable[[], None] | None:
        """Wait for the earliest live timer; pop and return its callback."""
        with self._cond:
            while not self._stopped:
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
