"""``check_restart``: restart a task whose check stays unhealthy (Nomad's checkwatcher).

A check with ``check_restart { limit = N }`` is watched from the moment its
workload is registered.  Once ``grace`` has passed, the watcher polls the
provider's check statuses (every second, as Nomad does) and applies Nomad's
rule: the first unhealthy result starts the clock; when the check is still
unhealthy ``(N - 1) * interval`` later -- its ``limit``-th consecutive unhealthy
result -- the task is restarted with a "Restart Signaled" event whose reason is
``healthcheck: check "<name>" unhealthy``, counted as a failure by the restart
policy.  Any healthy result resets the clock; ``warning`` counts as healthy when
``ignore_warnings`` is set.  After a restart the check is dropped: the restarted
task registers (and so re-arms) it again, with a fresh grace period.

Statuses come from a callable, so the watcher serves every provider alike;
when it cannot answer (Consul unreachable) nothing is counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ...structs import TaskEvent
from ...structs.services import CheckStatus
from .. import events
from .workload import CheckDefinition, Restarter

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # seconds (Nomad's pollFrequency)


@dataclass
class _Watch:
    check_id: str
    check_name: str
    task_key: str  # alloc + workload: one restart per task per poll
    restarter: Restarter
    grace_until: float
    time_limit: float
    ignore_warnings: bool
    unhealthy_since: float | None = None

    def apply(self, now: float, status: str) -> bool:
        """Nomad's restarter.apply: True when the task must restart now."""
        unhealthy = status in (CheckStatus.CRITICAL, "") or (
            status == CheckStatus.WARNING and not self.ignore_warnings)
        if not unhealthy:
            self.unhealthy_since = None
            return False
        if now < self.grace_until:
            return False
        if self.unhealthy_since is None:
            self.unhealthy_since = now
        return now >= self.unhealthy_since + self.time_limit


def restart_event(check_name: str) -> TaskEvent:
    return events.restart_signal(f'healthcheck: check "{check_name}" unhealthy')


class CheckWatcher:
    def __init__(self, statuses: Callable[[], dict[str, str] | None], *,
                 poll_interval: float = POLL_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._statuses = statuses
        self._poll = poll_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._watched: dict[str, _Watch] = {}
        self._stopping = False
        self._thread: threading.Thread | None = None

    def watch(self, check: CheckDefinition, task_key: str, restarter: Restarter) -> None:
        """Watch ``check`` from now (its grace starts now); a check already watched keeps
        its count (a workload update registers the same check again)."""
        restart = check.check_restart
        if restart is None or restart.limit <= 0:
            return
        interval = check.interval / 1e9
        with self._wake:
            existing = self._watched.get(check.check_id)
            if existing is not None:
                existing.restarter = restarter
                return
            self._watched[check.check_id] = _Watch(
                check_id=check.check_id, check_name=check.name, task_key=task_key,
                restarter=restarter, grace_until=self._clock() + (restart.grace or 0) / 1e9,
                time_limit=interval * (restart.limit - 1),
                ignore_warnings=restart.ignore_warnings)
            self._wake.notify()
        self._ensure_thread()

    def unwatch(self, check_id: str) -> None:
        with self._lock:
            self._watched.pop(check_id, None)

    def watching(self) -> set[str]:
        with self._lock:
            return set(self._watched)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name="check-watcher",
                                            daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._stopping or bool(self._watched))
                if self._stopping:
                    return
                self._wake.wait(self._poll)
                if self._stopping:
                    return
            self.poll_once()

    def poll_once(self) -> None:
        """One poll: count results, restart what reached its limit."""
        statuses = self._statuses()
        if statuses is None:
            return
        now = self._clock()
        restarts: list[_Watch] = []
        with self._lock:
            restarted: set[str] = set()
            for check_id, watch in list(self._watched.items()):
                if watch.task_key in restarted:
                    del self._watched[check_id]
                    continue
                if check_id not in statuses:
                    continue  # not registered (yet); Nomad only warns
                if watch.apply(now, statuses[check_id]):
                    del self._watched[check_id]
                    restarted.add(watch.task_key)
                    restarts.append(watch)
            for check_id in [c for c, w in self._watched.items() if w.task_key in restarted]:
                del self._watched[check_id]
        for watch in restarts:
            log.info("check %r unhealthy: restarting %s", watch.check_name, watch.task_key)
            try:
                watch.restarter.restart_for_check(restart_event(watch.check_name))
            except Exception as err:  # noqa: BLE001 - a task that cannot restart now is fine
                log.debug("restart for check %r not done: %s", watch.check_name, err)
