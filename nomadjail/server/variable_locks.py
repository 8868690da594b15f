"""Variable lock timers: the leader releases a lock its holder stopped renewing.

A lock lives in the replicated state (the variable's ``Lock``: ID, TTL, LockDelay);
its *timer* lives on the leader only, as in Nomad.  Once a lock's TTL passes without
a renewal, the lock stays in place for its LockDelay more (so a holder that merely
paused cannot find its lock taken at once), then the leader releases it through raft
(``lock-release``), and someone else may acquire it.

The leader learns what to time from the state itself, every :data:`TICK` seconds:
a lock it does not know yet gets a full TTL from the moment it sees it -- so does
every lock when a server takes office, as Nomad's new leader does -- and a renewal
(a raft message every server notes in :attr:`~.fsm.FSM.lock_renewals`) restarts it.
A renewal that arrives after the TTL ran out does not save the lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..state import StateStore
from ..structs import SECOND, NomadError
from ..structs.variables import VariableEncrypted, VariableLock, VarOp
from . import messages as m
from .background_loop import BackgroundLoop

log = logging.getLogger(__name__)

TICK = 0.25  # seconds between looks at the locks
Apply = Callable[[Any], tuple[int, Any]]


@dataclass(slots=True)
class _Timer:
    lock_id: str
    deadline: float  # monotonic seconds: TTL runs out
    renewed_index: int
    expired_at: float | None = None  # when the TTL ran out (the delay runs from here)


class VariableLockTimers:
    def __init__(self, store: StateStore, renewals: Callable[[], dict[tuple[str, str],
                                                                        tuple[str, int]]],
                 apply: Apply, *, clock: Callable[[], float] = time.monotonic,
                 tick: float = TICK):
        self.store = store
        self._renewals = renewals
        self.apply = apply
        self._clock = clock
        self._timers: dict[tuple[str, str], _Timer] = {}
        self._loop = BackgroundLoop("variable-lock-timers", self.tick, interval=tick)

    def set_enabled(self, enabled: bool) -> None:
        """Run while this server leads; forget every timer when it stops leading."""
        if enabled:
            self._timers.clear()
            self._loop.start()
        else:
            self._loop.stop()
            self._timers.clear()

    def tick(self) -> None:
        """One look at the locks: time new ones, restart renewed ones, release those
        whose TTL and delay ran out."""
        now = self._clock()
        renewals = dict(self._renewals())
        locked: dict[tuple[str, str], tuple[VariableEncrypted, VariableLock]] = {
            (var.namespace, var.path): (var, var.lock) for var in self.store.variables
            if var.lock is not None and var.lock.id}
        for key in [k for k, t in self._timers.items()
                    if k not in locked or locked[k][1].id != t.lock_id]:
            del self._timers[key]
        for key, (var, lock) in locked.items():
            timer = self._timers.get(key)
            renewed_id, renewed_index = renewals.get(key, ("", 0))
            if timer is None:
                timer = self._timers[key] = _Timer(lock.id, now + lock.ttl / SECOND,
                                                   renewed_index)
            elif renewed_id == lock.id and renewed_index > timer.renewed_index:
                timer.renewed_index = renewed_index
                if timer.expired_at is None:
                    timer.deadline = now + lock.ttl / SECOND
            if timer.expired_at is None and now >= timer.deadline:
                timer.expired_at = now
                log.info("variable lock on %r (namespace %r) was not renewed within its TTL; "
                         "releasing it after its lock delay", var.path, var.namespace)
            if timer.expired_at is not None and now >= timer.expired_at + \
                    lock.lock_delay / SECOND:
                self._release(var, lock)

    def _release(self, var: VariableEncrypted, lock: VariableLock) -> None:
        request = m.VarApplyStateRequest(op=VarOp.LOCK_RELEASE, var=VariableEncrypted(
            namespace=var.namespace, path=var.path, lock=VariableLock(id=lock.id)))
        try:
            self.apply(request)
        except NomadError as err:  # retried on the next tick
            log.warning("releasing the expired lock on %r failed: %s", var.path, err)
