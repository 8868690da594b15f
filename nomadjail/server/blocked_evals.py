"""Evaluations blocked for lack of capacity, and when to try them again.

When a scheduler cannot place everything it creates a *blocked* evaluation
recording which node classes it found eligible.  This tracker holds those
evals (leader only) and hands them back to the eval broker when capacity may
have appeared: a node became ready or eligible, or allocations on a node
stopped or finished.  An eval is released if the changed node's class was
eligible for it or never seen by it; evals that escaped class-based
feasibility (constraints on unique attributes) are released on any change.

Guarantees:

* **One blocked eval per job.**  A newer one replaces the older, which is
  reported as a duplicate for the leader to cancel.
* **No missed wake-ups.**  Each class remembers the index of its last
  capacity change; an eval whose scheduler saw a state older than a relevant
  change is released at once instead of being blocked.
* **Reblocks keep their delivery.**  An eval reblocked while its delivery is
  still outstanding keeps that broker token, so releasing it re-queues it
  after the ack instead of being dropped as already known.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..structs import Evaluation
from .eval_broker import EvalBroker

JobKey = tuple[str, str]


@dataclass(slots=True)
class _Blocked:
    eval: Evaluation
    token: str


@dataclass(slots=True)
class BlockedStats:
    total_blocked: int = 0
    total_escaped: int = 0


def _latest_index(ev: Evaluation) -> int:
    return max(ev.create_index, ev.snapshot_index)


class BlockedEvals:
    def __init__(self, broker: EvalBroker):
        self._broker = broker
        self._lock = threading.Lock()
        self._enabled = False
        self._reset_locked()

    def _reset_locked(self) -> None:
        self._captured: dict[str, _Blocked] = {}
        self._escaped: dict[str, _Blocked] = {}
        self._jobs: dict[JobKey, str] = {}
        self._duplicates: list[Evaluation] = []
        self._unblock_indexes: dict[str, int] = {}  # computed class -> last change index

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self._enabled = enabled
            if not enabled:
                self._reset_locked()

    # -- blocking ----------------------------------------------------------------
    def block(self, ev: Evaluation) -> None:
        """Track a blocked eval (from the FSM, or restored on gaining leadership)."""
        self._block(ev, self._broker.outstanding(ev.id) or "")

    def reblock(self, ev: Evaluation, token: str) -> None:
        """Track again an eval that was unblocked but still could not place."""
        self._block(ev, token)

    def _block(self, ev: Evaluation, token: str) -> None:
        release = False
        with self._lock:
            if not self._enabled:
                return
            if self._replaces_duplicate_locked(ev):
                return
            if self._missed_unblock_locked(ev):
                release = True
            else:
                key = (ev.namespace, ev.job_id)
                self._jobs[key] = ev.id
                table = self._escaped if ev.escaped_computed_class else self._captured
                table[ev.id] = _Blocked(ev, token)
        if release:
            self._broker.enqueue_all([(ev, token)])

    def _replaces_duplicate_locked(self, ev: Evaluation) -> bool:
        """Keep one blocked eval per job; True if ``ev`` itself is the stale one."""
        key = (ev.namespace, ev.job_id)
        existing_id = self._jobs.get(key)
        if existing_id is None:
            return False
        existing = self._captured.pop(existing_id, None) or self._escaped.pop(existing_id, None)
        if existing is None:
            del self._jobs[key]
            return False
        if existing_id == ev.id:
            return False  # the same eval again (an update or a reblock): just replace it
        if _latest_index(existing.eval) <= _latest_index(ev):
            self._duplicates.append(existing.eval)
            del self._jobs[key]
            return False
        # The tracked one is newer: put it back and drop the incoming one.
        table = self._escaped if existing.eval.escaped_computed_class else self._captured
        table[existing_id] = existing
        self._duplicates.append(ev)
        return True

    def _missed_unblock_locked(self, ev: Evaluation) -> bool:
        for computed_class, index in self._unblock_indexes.items():
            if ev.snapshot_index >= index:
                continue
            if ev.escaped_computed_class:
                return True
            if ev.class_eligibility.get(computed_class, True):
                return True
        return False

    def untrack(self, namespace: str, job_id: str) -> None:
        """The job no longer needs its blocked eval (a newer eval placed everything)."""
        with self._lock:
            eval_id = self._jobs.pop((namespace, job_id), None)
            if eval_id is not None:
                self._captured.pop(eval_id, None)
                self._escaped.pop(eval_id, None)

    # -- unblocking --------------------------------------------------------------
    def unblock(self, computed_class: str, index: int) -> None:
        """Capacity may have appeared on a node of ``computed_class`` at ``index``."""
        with self._lock:
            if not self._enabled:
                return
            self._unblock_indexes[computed_class] = max(
                index, self._unblock_indexes.get(computed_class, 0))
            released = list(self._escaped.values())
            self._escaped.clear()
            for eval_id, blocked in list(self._captured.items()):
                if blocked.eval.class_eligibility.get(computed_class, True):
                    released.append(blocked)
                    del self._captured[eval_id]
            for blocked in released:
                self._jobs.pop((blocked.eval.namespace, blocked.eval.job_id), None)
        if released:
            self._broker.enqueue_all((b.eval, b.token) for b in released)

    # -- the leader's housekeeping -----------------------------------------------
    def take_duplicates(self) -> list[Evaluation]:
        """Blocked evals replaced by a newer one of their job (to be canceled)."""
        with self._lock:
            duplicates, self._duplicates = self._duplicates, []
            return duplicates

    def has_job(self, namespace: str, job_id: str) -> bool:
        with self._lock:
            return (namespace, job_id) in self._jobs

    def blocked_evals(self) -> list[Evaluation]:
        with self._lock:
            return [b.eval for b in (*self._captured.values(), *self._escaped.values())]

    def stats(self) -> BlockedStats:
        with self._lock:
            return BlockedStats(total_blocked=len(self._captured) + len(self._escaped),
                                total_escaped=len(self._escaped))
