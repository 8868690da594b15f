"""Leader duties: what only the leader runs, started when it gains leadership
and stopped when it loses it (Nomad's establishLeadership / revokeLeadership).

Establishing leadership first commits a barrier through raft: once it is
applied, every entry of earlier terms is in the local state, so rebuilding
from state sees everything.  Then the eval broker and blocked-evals tracker
are enabled and refilled from the evaluations in state, the plan queue and
applier start, and every live node gets a (long) failover heartbeat TTL.

While leader, a housekeeping thread marks evals that hit the delivery limit
as failed (with a delayed follow-up), cancels evals made redundant by newer
ones of their job, and ticks the deployment watcher, the node drainer and
the garbage collector.

Revoking stops all of it; in-flight plans fail with ``Unavailable`` and
workers' broker calls find the broker disabled, so nothing a former leader
decided gets committed on its behalf.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from ..state import StateStore
from ..structs import EvalStatus, NodeStatus, Unavailable
from .background_loop import BackgroundLoop
from .blocked_evals import BlockedEvals
from .deployment_watcher import DeploymentWatcher
from .drainer import NodeDrainer
from .eval_broker import FAILED_QUEUE, EvalBroker, EvalBrokerError
from .eval_endpoint import CANCELED_BY_NEWER, DUPLICATE_BLOCKED, EvalEndpoint
from .garbage_collector import GarbageCollector
from .heartbeat import Heartbeats
from .plan_apply import PlanApplier, PlanQueue

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL = 0.2  # seconds between housekeeping rounds


class LeaderDuties:
    def __init__(self, *, store: StateStore, barrier: Callable[[], object], broker: EvalBroker,
                 blocked: BlockedEvals, plan_queue: PlanQueue, plan_applier: PlanApplier,
                 heartbeats: Heartbeats, evals: EvalEndpoint, drainer: NodeDrainer,
                 deployments: DeploymentWatcher, garbage: GarbageCollector,
                 failed_followup_delay: float, failed_followup_jitter: float,
                 rng: random.Random | None = None):
        self.store = store
        self.barrier = barrier
        self.broker = broker
        self.blocked = blocked
        self.plan_queue = plan_queue
        self.plan_applier = plan_applier
        self.heartbeats = heartbeats
        self.evals = evals
        self.drainer = drainer
        self.deployments = deployments
        self.garbage = garbage
        self.failed_followup_delay = failed_followup_delay
        self.failed_followup_jitter = failed_followup_jitter
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._established = threading.Event()
        self._closing = threading.Event()  # set once, on server shutdown
        self._housekeeping = BackgroundLoop("leader-housekeeping", self._housekeeping_round,
                                            interval=HOUSEKEEPING_INTERVAL)

    @property
    def established(self) -> bool:
        return self._established.is_set()

    def wait_established(self, timeout: float) -> bool:
        return self._established.wait(timeout)

    # -- transitions -------------------------------------------------------------
    def on_leadership(self, is_leader: bool) -> None:
        """Raft's callback (called in order, from one thread)."""
        with self._lock:
            if is_leader:
                self._establish_locked()
            else:
                self._revoke_locked()

    def _establish_locked(self) -> None:
        if self._established.is_set():
            return
        for attempt in range(50):
            if self._closing.is_set():
                return
            try:
                self.barrier()
                break
            except Unavailable as err:
                log.warning("leadership barrier failed (attempt %d): %s", attempt + 1, err)
                self._closing.wait(0.1)
        else:
            log.error("could not commit the leadership barrier; not acting as leader")
            return
        self.broker.set_enabled(True)
        self.blocked.set_enabled(True)
        self.plan_queue.set_enabled(True)
        self.plan_applier.start()
        self._restore_evals()
        self.heartbeats.set_enabled(True)
        self.heartbeats.reset_all(n.id for n in self.store.nodes()
                                  if n.status != NodeStatus.DOWN)
        self.drainer.reset()
        self._housekeeping.start()
        self._established.set()
        log.info("leadership established")

    def _restore_evals(self) -> None:
        for ev in self.store.evals():
            if ev.status == EvalStatus.PENDING:
                self.broker.enqueue(ev)
            elif ev.status == EvalStatus.BLOCKED:
                self.blocked.block(ev)

    def _revoke_locked(self) -> None:
        was = self._established.is_set()
        self._established.clear()
        self._housekeeping.stop()
        self.plan_queue.set_enabled(False)
        self.plan_applier.stop()
        self.broker.set_enabled(False)
        self.blocked.set_enabled(False)
        self.heartbeats.set_enabled(False)
        if was:
            log.info("leadership revoked")

    def shutdown(self) -> None:
        self._closing.set()
        with self._lock:
            self._revoke_locked()

    # -- housekeeping ------------------------------------------------------------
    def _housekeeping_round(self) -> None:
        """One round, every HOUSEKEEPING_INTERVAL while leader (the drainer only
        works when something changed, so it can look every round)."""
        try:
            self._reap_failed()
            self._cancel_redundant()
            self.deployments.tick()
            self.drainer.tick()
            self.garbage.tick()
        except Unavailable as err:
            log.info("leader housekeeping: %s", err)
        except Exception:  # noqa: BLE001 - keep the leader's loop alive
            log.exception("leader housekeeping failed")

    def _reap_failed(self) -> None:
        while not self._housekeeping.stopping:
            got = self.broker.dequeue([FAILED_QUEUE], timeout=0)
            if got is None:
                return
            ev, token = got
            wait = self.failed_followup_delay + self._rng.random() * self.failed_followup_jitter
            try:
                self.evals.fail_with_followup(ev, self.broker.delivery_limit, wait)
            except Exception:
                self._nack_quietly(ev.id, token)
                raise
            try:
                self.broker.ack(ev.id, token)
            except EvalBrokerError as err:
                log.warning("acking failed eval %s: %s", ev.id, err)

    def _nack_quietly(self, eval_id: str, token: str) -> None:
        try:
            self.broker.nack(eval_id, token)
        except EvalBrokerError:
            pass

    def _cancel_redundant(self) -> None:
        for evals, description in ((self.broker.cancelable(), CANCELED_BY_NEWER),
                                   (self.blocked.take_duplicates(), DUPLICATE_BLOCKED)):
            # The broker holds the evals as they were enqueued; cancel what is
            # still open in the state store now.
            current = [self.store.eval_by_id(ev.id) for ev in evals]
            still_open = [ev for ev in current if ev is not None and not ev.terminal_status()]
            if still_open:
                self.evals.cancel(still_open, description)
