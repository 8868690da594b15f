"""One long-polling watcher per distinct template dependency, shared by every task of a
client (consul-template's watcher, as Nomad runs it).

Why: re-reading every dependency of every task on a timer reacts late (up to the
interval) and loads Consul and the servers with tasks x dependencies reads.  Here a
dependency read by ten tasks is one thread doing one blocking query (``index`` +
``wait``) at a time; when the answer changes it wakes every subscriber's Event, and
the subscribers (the tasks' template managers) re-render from :meth:`WatchRegistry.latest`.

Guarantees:

* **Ref-counted.**  :meth:`WatchRegistry.subscribe` starts the watcher for a key the
  first time; :meth:`WatchRegistry.unsubscribe` of the last subscriber ends its thread
  (a blocking query in flight cannot be cut short: the thread, a daemon, leaves when it
  returns -- at a change or after ``wait`` -- and never wakes anyone again).
* **Unreachable keeps the last good answer.**  A failed query never replaces the
  answer (the rule of :mod:`.sources`: unreachable is missing, never empty); the
  watcher retries with an exponential backoff (capped) and says why in ``error``.
* **No hot loop against a source that ignores the index** (an index that does not move
  and an answer that comes back at once): the next query waits ``floor`` seconds.
  An index that goes backwards (a Consul restart, a snapshot restore) starts over from 0,
  as consul-template does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from ...gotemplate.consul import MISSING
from .sources import SourceUnavailable

log = logging.getLogger(__name__)

# (index, wait seconds) -> (answer, index of the answer); raises SourceUnavailable.
BlockingQuery = Callable[[int, float], tuple[object, int]]

BACKOFF_BASE = 0.25
BACKOFF_MAX = 30.0
INDEX_FLOOR = 1.0


@dataclass(frozen=True, slots=True)
class Latest:
    """A watcher's state as a subscriber reads it."""

    known: bool  # an answer arrived at least once
    value: object  # the last good answer (MISSING until known)
    error: str  # why the last query failed ("" when it did not)


class Watcher:
    """One dependency's blocking-query loop (a thread), waking its subscribers on change."""

    def __init__(self, key: Hashable, query: BlockingQuery, *, wait: float,
                 backoff_base: float, backoff_max: float, floor: float) -> None:
        self.key = key
        self._query = query
        self._wait = wait
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._floor = floor
        self._lock = threading.Lock()
        self._subscribers: list[threading.Event] = []
        self._stop = threading.Event()
        self._known = False
        self._value: object = MISSING
        self._error = ""
        self.queries = 0  # how many queries were made (for tests and debugging)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"template-watch {key}")

    def latest(self) -> Latest:
        with self._lock:
            return Latest(self._known, self._value, self._error)

    def add(self, wake: threading.Event) -> None:
        with self._lock:
            self._subscribers.append(wake)

    def remove(self, wake: threading.Event) -> int:
        """Drop one subscription of ``wake``; how many subscriptions remain."""
        with self._lock:
            if wake in self._subscribers:
                self._subscribers.remove(wake)
            return len(self._subscribers)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        index = 0
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.queries += 1
                value, new_index = self._query(index, self._wait)
            except SourceUnavailable as err:
                failures += 1
                with self._lock:
                    self._error = str(err)
                delay = min(self._backoff_max, self._backoff_base * 2 ** (failures - 1))
                log.info("template watch %s: %s (retrying in %.2fs)", self.key, err, delay)
                self._stop.wait(delay)
                continue
            except Exception as err:  # noqa: BLE001 - a watcher must not die silently
                failures += 1
                log.exception("template watch %s failed", self.key)
                with self._lock:
                    self._error = str(err)
                self._stop.wait(min(self._backoff_max,
                                    self._backoff_base * 2 ** (failures - 1)))
                continue
            failures = 0
            if self._stop.is_set():
                return
            with self._lock:
                changed = not self._known or value != self._value or \
                    (value is MISSING) != (self._value is MISSING)
                self._known, self._value, self._error = True, value, ""
                wake = list(self._subscribers) if changed else []
            for event in wake:
                event.set()
            if new_index < index or new_index <= 0:
                new_index = 0  # the source went back (restart, restore): start over
            if new_index == index and time.monotonic() - started < self._floor:
                self._stop.wait(self._floor)  # the source ignored the index: do not spin
            index = new_index


class WatchRegistry:
    """The client's watchers, one per key (see the module docstring)."""

    def __init__(self, *, wait: float = 300.0, backoff_base: float = BACKOFF_BASE,
                 backoff_max: float = BACKOFF_MAX, floor: float = INDEX_FLOOR) -> None:
        self._wait = wait
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._floor = floor
        self._lock = threading.Lock()
        self._watchers: dict[Hashable, Watcher] = {}

    def subscribe(self, key: Hashable, query: BlockingQuery, wake: threading.Event) -> None:
        """Have ``wake`` set whenever the answer for ``key`` changes (``query`` is used
        only when no watcher for ``key`` runs yet)."""
        with self._lock:
            watcher = self._watchers.get(key)
            new = watcher is None
            if watcher is None:
                watcher = self._watchers[key] = Watcher(
                    key, query, wait=self._wait, backoff_base=self._backoff_base,
                    backoff_max=self._backoff_max, floor=self._floor)
            watcher.add(wake)
        if new:
            watcher.start()

    def unsubscribe(self, key: Hashable, wake: threading.Event) -> None:
        """Drop one subscription; the last one leaving ends the watcher."""
        with self._lock:
            watcher = self._watchers.get(key)
            if watcher is None or watcher.remove(wake):
                return
            del self._watchers[key]
        watcher.stop()

    def latest(self, key: Hashable) -> Latest | None:
        with self._lock:
            watcher = self._watchers.get(key)
        return watcher.latest() if watcher is not None else None

    def watcher(self, key: Hashable) -> Watcher | None:
        with self._lock:
            return self._watchers.get(key)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._watchers)

    def stop(self) -> None:
        """End every watcher (the client shuts down)."""
        with self._lock:
            watchers = list(self._watchers.values())
            self._watchers.clear()
        for watcher in watchers:
            watcher.stop()
