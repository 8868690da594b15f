"""Resource usage of one pot, sampled with ``pot get-rss -J`` -- sparingly.

``get-rss`` runs ``rctl``, ``sysctl`` and ``bc``; callers (the stats API,
the dashboard) may ask many times a second.  So a sample is taken at most
once per ``interval`` and reused in between, and after a failure (the pot
is not running yet, racct is off, pot printed something unreadable) the
next attempt waits ``FIRST_RETRY_DELAY``, doubling up to ``MAX_RETRY_DELAY``
-- but sampling never stops for good (the Go driver gave up after the first
error).  The clock is injected for tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..drivers.base import TaskStats
from .pot_output import ResourceUsage

log = logging.getLogger("nomadjail.pot_driver")

FIRST_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 60.0


class StatsSampler:
    """Rate-limited, retrying ``get-rss`` samples of one pot.

    ``sample`` returns the usage or raises (any exception counts as a failed
    sample); :meth:`stats` never raises.
    """

    def __init__(self, sample: Callable[[], ResourceUsage], *, interval: float,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock_ns: Callable[[], int] = time.time_ns) -> None:
        self._sample = sample
        self._interval = interval
        self._clock = clock
        self._wall_clock_ns = wall_clock_ns
        self._lock = threading.Lock()
        self._last: TaskStats | None = None
        self._next_at = 0.0  # no sample before this (monotonic seconds)
        self._retry_delay = FIRST_RETRY_DELAY
        self.failures = 0  # consecutive failed samples
        self.last_error = ""

    def stats(self) -> TaskStats:
        """The latest usage (sampling now if the interval has passed); zeros before the
        first good sample."""
        with self._lock:
            now = self._clock()
            if now >= self._next_at:
                self._take(now)
            if self._last is not None:
                return self._last
            return TaskStats(timestamp=self._wall_clock_ns())

    def _take(self, now: float) -> None:
        try:
            usage = self._sample()
        except Exception as err:  # noqa: BLE001 - every failure is retried later
            self.failures += 1
            self.last_error = str(err)
            self._next_at = now + self._retry_delay
            log.debug("get-rss failed (%d in a row; next try in %.0fs): %s", self.failures,
                      self._retry_delay, err)
            self._retry_delay = min(self._retry_delay * 2, MAX_RETRY_DELAY)
            return
        self.failures = 0
        self.last_error = ""
        self._retry_delay = FIRST_RETRY_DELAY
        self._next_at = now + self._interval
        self._last = TaskStats(rss_bytes=usage.rss_bytes, swap_bytes=usage.swap_bytes,
                               cpu_percent=usage.cpu_percent,
                               cpu_total_ticks=usage.cpu_total_ticks,
                               timestamp=self._wall_clock_ns())
