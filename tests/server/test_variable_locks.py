"""The leader's lock timers, on an FSM applied in process with a hand-driven clock: a lock
not renewed within its TTL is released once its lock delay passed too; renewals restart
the TTL, but not after it ran out; only the holder renews."""

from __future__ import annotations

from typing import Any

import pytest

from nomadjail.server import messages as m
from nomadjail.server.fsm import FSM
from nomadjail.server.variable_locks import VariableLockTimers
from nomadjail.state import StateStore
from nomadjail.structs import SECOND, Conflict
from nomadjail.structs.variables import VariableEncrypted, VariableLock, VarOp


class Scene:
    def __init__(self) -> None:
        self.fsm = FSM(StateStore())
        self.now = 1000.0
        self.timers = VariableLockTimers(self.fsm.store, lambda: self.fsm.lock_renewals,
                                         self.apply, clock=lambda: self.now)

    def apply(self, request: Any) -> tuple[int, Any]:
        index, result = self.fsm.apply_indexed(m.message_type_of(request), m.encode(request))
        if isinstance(result, Exception):
            raise result
        return index, result

    def acquire(self, path: str, lock_id: str, ttl: int = 10, delay: int = 5) -> None:
        _, result = self.apply(m.VarApplyStateRequest(op=VarOp.LOCK_ACQUIRE, var=VariableEncrypted(
            namespace="default", path=path, data="c2VhbGVk", key_id="k",
            lock=VariableLock(id=lock_id, ttl=ttl * SECOND, lock_delay=delay * SECOND))))
        assert result.ok

    def renew(self, path: str, lock_id: str) -> None:
        self.apply(m.VarLockRenewRequest(namespace="default", path=path, lock_id=lock_id))

    def holder(self, path: str) -> str:
        var = self.fsm.store.variables.get("default", path)
        assert var is not None
        return var.lock.id if var.lock else ""

    def at(self, seconds: float) -> None:
        self.now = 1000.0 + seconds
        self.timers.tick()


def test_a_renewed_lock_stays_and_a_lapsed_one_goes_after_its_delay() -> None:
    scene = Scene()
    scene.acquire("job/leader", "L1")
    scene.at(0)
    scene.at(9)
    scene.renew("job/leader", "L1")
    scene.at(9.5)  # TTL restarts: now runs out at 19.5
    scene.at(19)
    assert scene.holder("job/leader") == "L1"
    scene.at(19.5)  # TTL over: the delay starts, the lock is still held
    scene.renew("job/leader", "L1")  # too late to save it
    scene.at(24)
    assert scene.holder("job/leader") == "L1"
    scene.at(24.6)
    assert scene.holder("job/leader") == ""
    assert scene.fsm.store.variables.get("default", "job/leader").data == "c2VhbGVk"
    scene.acquire("job/leader", "L2")  # free for the next one


def test_only_the_holder_renews() -> None:
    scene = Scene()
    scene.acquire("job/x", "L1")
    with pytest.raises(Conflict, match="not locked with lock ID 'other'"):
        scene.renew("job/x", "other")


def test_a_new_leader_gives_every_lock_a_full_ttl() -> None:
    scene = Scene()
    scene.acquire("job/y", "L1", ttl=10, delay=0)
    scene.at(0)
    scene.timers.set_enabled(False)  # leadership lost: timers forgotten
    scene.at(8)  # the new leader's first look
    scene.at(17.9)
    assert scene.holder("job/y") == "L1"
    scene.at(18)
    assert scene.holder("job/y") == ""
