"""Client heartbeats: a TTL per node, and what happens when it runs out.

Every registration and heartbeat resets the node's timer.  The TTL handed
to the client grows with the cluster so the leader sees at most
``max_heartbeats_per_second`` heartbeats (never below ``min_heartbeat_ttl``),
plus a random stagger so clients do not beat in lockstep; the timer itself
runs for TTL + ``heartbeat_grace``.  When it fires, the node is marked down
(the ``on_expire`` callback), which creates one evaluation per job with
allocations on it, so the schedulers mark those allocations lost and
replace them.

Timers exist only on the leader.  A new leader does not know when the
clients last beat, so it gives every node that is not down the long
``failover_heartbeat_ttl``; their next heartbeat brings them back to normal.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable

from ..helper.timers import Timers
from ..structs import Unavailable

log = logging.getLogger(__name__)


def rate_scaled_interval(rate: float, minimum: float, count: int) -> float:
    """Seconds between events so that ``count`` sources make at most ``rate``
    events per second, and never less than ``minimum`` (Nomad's helper)."""
    if rate <= 0:
        return minimum
    return max(minimum, count / rate)


class NotLeaderForHeartbeats(Unavailable):
    """Heartbeats are tracked by the leader only."""

    def __init__(self) -> None:
        super().__init__("failed to reset heartbeat since server is not leader")


class Heartbeats:
    def __init__(self, *, min_ttl: float, grace: float, max_per_second: float,
                 failover_ttl: float, on_expire: Callable[[str], None],
                 rng: random.Random | None = None):
        self.min_ttl = min_ttl
        self.grace = grace
        self.max_per_second = max_per_second
        self.failover_ttl = failover_ttl
        self._on_expire = on_expire
        self._rng = rng or random.Random()
        self._timers = Timers("heartbeats")
        self._lock = threading.Lock()
        self._enabled = False

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._enabled = enabled
            if enabled:
                self._timers.start()
            else:
                self._timers.cancel_all()

    def close(self) -> None:
        self.set_enabled(False)
        self._timers.stop()

    def reset(self, node_id: str) -> float:
        """Restart ``node_id``'s timer; returns the TTL (seconds) to tell the client."""
        with self._lock:
            if not self._enabled:
                raise NotLeaderForHeartbeats()
            ttl = rate_scaled_interval(self.max_per_second, self.min_ttl, len(self._timers))
            ttl += self._rng.random() * ttl
            self._set_locked(node_id, ttl + self.grace)
            return ttl

    def reset_all(self, node_ids: Iterable[str]) -> None:
        """Give every node the failover TTL (on gaining leadership)."""
        with self._lock:
            if not self._enabled:
                return
            for node_id in node_ids:
                self._set_locked(node_id, self.failover_ttl)

    def _set_locked(self, node_id: str, seconds: float) -> None:
        self._timers.set(node_id, seconds, lambda: self._expired(node_id))

    def clear(self, node_id: str) -> None:
        """Stop tracking ``node_id`` (it is down or gone)."""
        self._timers.cancel(node_id)

    def tracked(self, node_id: str) -> bool:
        return self._timers.pending(node_id)

    def remaining(self, node_id: str) -> float | None:
        return self._timers.remaining(node_id)

    def __len__(self) -> int:
        return len(self._timers)

    def _expired(self, node_id: str) -> None:
        if not self._enabled:
            return
        log.warning("node %s missed its heartbeat; marking it down", node_id)
        try:
            self._on_expire(node_id)
        except Exception:  # noqa: BLE001 - retried: the node stays tracked
            log.exception("marking node %s down failed; retrying after the grace period",
                          node_id)
            with self._lock:
                if self._enabled:
                    self._set_locked(node_id, max(self.grace, 1.0))
