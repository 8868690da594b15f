"""Scheduler workers: take evaluations from the broker and run the scheduler.

Each worker is a thread looping over: dequeue an eval, wait until the local
state store has applied at least the eval's modify index (so the scheduler
sees the change that caused it), take a snapshot, run the scheduler for the
eval's type, then ack -- or nack if the scheduler failed, so the broker
delivers it again.

The worker is also the scheduler's :class:`~nomadjail.scheduler.interfaces.Planner`:
plans go to the plan queue and the applier's answer comes back (with a
fresh snapshot when only part fitted); eval updates, follow-up evals and
reblocks are written through raft.  Every write first checks that this
delivery of the eval is still outstanding, so a worker that lost its eval
(nack timeout, leadership change) cannot commit stale decisions.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from ..state import StateSnapshot, StateStore
from ..structs import EvalStatus, Evaluation, JobType, Plan, PlanResult, Unavailable, now_ns
from . import messages as m
from .background_loop import BackgroundLoop
from .blocked_evals import BlockedEvals
from .eval_broker import EvalBroker, EvalBrokerError
from .messages import MsgType
from .plan_apply import PlanQueue

log = logging.getLogger(__name__)

RaftApply = Callable[[MsgType, str], tuple[int, Any]]
# nomadjail.scheduler.new_scheduler(eval_type, state, planner, *, now, rng)
SchedulerFactory = Callable[..., Any]

SCHEDULER_TYPES = (JobType.SERVICE, JobType.BATCH, JobType.SYSTEM, JobType.SYSBATCH)


class StaleEvalError(Exception):
    """This worker's delivery of the eval is no longer outstanding."""


class Worker:
    def __init__(self, name: str, *, broker: EvalBroker, blocked: BlockedEvals,
                 store: StateStore, plan_queue: PlanQueue, raft_apply: RaftApply,
                 scheduler_factory: SchedulerFactory,
                 schedulers: tuple[str, ...] = SCHEDULER_TYPES,
                 dequeue_timeout: float = 0.5, state_wait_timeout: float = 5.0,
                 plan_timeout: float = 60.0, clock: Callable[[], int] = now_ns):
        self.name = name
        self.broker = broker
        self.blocked = blocked
        self.store = store
        self.plan_queue = plan_queue
        self.raft_apply = raft_apply
        self.scheduler_factory = scheduler_factory
        self.schedulers = list(schedulers)
        self.dequeue_timeout = dequeue_timeout
        self.state_wait_timeout = state_wait_timeout
        self.plan_timeout = plan_timeout
        self.clock = clock
        self._loop = BackgroundLoop(f"worker-{name}", self._step)
        # The delivery being processed (one at a time per worker).
        self._eval: Evaluation | None = None
        self._token = ""
        self._snapshot_index = 0

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        self._loop.start()

    def signal_stop(self) -> None:
        """Ask the loop to end after the current eval (see :meth:`stop`)."""
        self._loop.signal_stop()

    def stop(self) -> None:
        """Stop and wait for the thread to end."""
        self._loop.stop()

    def _step(self) -> None:
        """Process the next eval, if one comes within ``dequeue_timeout``."""
        got = self.broker.dequeue(self.schedulers, self.dequeue_timeout)
        if got is None:
            return
        ev, token = got
        try:
            self.process(ev, token)
        except Exception:  # noqa: BLE001 - never let the worker die
            log.exception("worker %s: processing eval %s failed", self.name, ev.id)

    # -- one evaluation ----------------------------------------------------------
    def process(self, ev: Evaluation, token: str) -> bool:
        """Schedule one delivered eval; ack on success, nack on failure.
        Returns whether it was acked."""
        wait_index = ev.modify_index
        snapshot = self.store.wait_for(wait_index - 1, timeout=self.state_wait_timeout)
        if snapshot.latest_index < wait_index:
            log.warning("worker %s: state did not reach index %d for eval %s; nacking",
                        self.name, wait_index, ev.id)
            self._nack(ev, token)
            return False
        stored = snapshot.eval_by_id(ev.id)
        if stored is not None and stored.terminal_status():
            # Finished already (an earlier delivery completed it), or canceled while
            # queued (a blocked eval whose job a newer eval placed): nothing to do.
            log.debug("worker %s: eval %s is %s already; acking", self.name, ev.id,
                      stored.status)
            return self._ack(ev, token)
        self._eval, self._token = ev, token
        self._snapshot_index = snapshot.latest_index
        try:
            # The scheduler may change the eval it is given: hand it a copy, never
            # the object stored in the state store.
            # rng=None: the scheduler seeds from the eval and the state index, so a
            # redelivered eval is planned the same way.
            scheduler = self.scheduler_factory(ev.type, snapshot, self, now=self.clock(),
                                               rng=None)
            scheduler.process(copy.deepcopy(ev))
        except Exception as err:  # noqa: BLE001 - the broker redelivers
            if isinstance(err, (StaleEvalError, Unavailable)):
                log.info("worker %s: eval %s abandoned: %s", self.name, ev.id, err)
            else:
                log.exception("worker %s: scheduler failed on eval %s", self.name, ev.id)
            self._nack(ev, token)
            return False
        finally:
            self._eval, self._token = None, ""
        return self._ack(ev, token)

    def _ack(self, ev: Evaluation, token: str) -> bool:
        try:
            self.broker.ack(ev.id, token)
        except EvalBrokerError as err:
            log.warning("worker %s: ack of eval %s refused: %s", self.name, ev.id, err)
            return False
        return True

    def _nack(self, ev: Evaluation, token: str) -> None:
        try:
            self.broker.nack(ev.id, token)
        except EvalBrokerError as err:
            log.debug("worker %s: nack of eval %s refused: %s", self.name, ev.id, err)

    def _check_outstanding(self) -> None:
        if self._eval is None:
            raise StaleEvalError("no evaluation is being processed")
        if self.broker.outstanding(self._eval.id) != self._token:
            raise StaleEvalError(f"evaluation {self._eval.id} is no longer outstanding for "
                                 "this worker (nack timeout or leadership change)")

    # -- Planner -----------------------------------------------------------------
    def submit_plan(self, plan: Plan) -> tuple[PlanResult, StateSnapshot | None]:
        self._check_outstanding()
        assert self._eval is not None
        plan.snapshot_index = self._snapshot_index
        if not plan.eval_id:
            plan.eval_id = self._eval.id
        try:
            self.broker.pause_nack_timeout(self._eval.id, self._token)
        except EvalBrokerError as err:
            raise StaleEvalError(str(err)) from err
        try:
            result = self.plan_queue.enqueue(plan).wait(self.plan_timeout)
        finally:
            try:
                self.broker.resume_nack_timeout(self._eval.id, self._token)
            except EvalBrokerError:
                pass
        refresh_to = max(result.refresh_index, result.alloc_index)
        if result.refresh_index:
            snapshot = self.store.wait_for(refresh_to - 1, timeout=self.state_wait_timeout)
            if snapshot.latest_index < refresh_to:
                raise Unavailable(f"state did not reach index {refresh_to} after a partial "
                                  "plan commit")
            self._snapshot_index = snapshot.latest_index
            return result, snapshot
        if result.alloc_index > self._snapshot_index:
            # Later plans of this eval must be checked against what we just committed.
            self.store.wait_for(result.alloc_index - 1, timeout=self.state_wait_timeout)
        return result, None

    def _write_evals(self, evals: list[Evaluation]) -> None:
        now = self.clock()
        stamped = []
        for ev in evals:
            ev = dataclasses.replace(ev, snapshot_index=self._snapshot_index, modify_time=now)
            if not ev.create_time:
                ev.create_time = now
            stamped.append(ev)
        self.raft_apply(MsgType.EVAL_UPDATE,
                        m.encode(m.EvalUpdateRequest(evals=stamped, eval_token=self._token)))

    def update_eval(self, evaluation: Evaluation) -> None:
        self._check_outstanding()
        self._write_evals([evaluation])

    def create_eval(self, evaluation: Evaluation) -> None:
        self._check_outstanding()
        self._write_evals([evaluation])

    def reblock_eval(self, evaluation: Evaluation) -> None:
        """Put an unblocked eval that still cannot place back into the blocked set,
        keeping its delivery token so a release re-queues it after the ack."""
        self._check_outstanding()
        stored = self.store.eval_by_id(evaluation.id)
        if stored is None:
            raise StaleEvalError(f"evaluation {evaluation.id} does not exist")
        if stored.status != EvalStatus.BLOCKED:
            raise StaleEvalError(f"evaluation {evaluation.id} is not blocked "
                                 f"(status {stored.status!r})")
        evaluation = dataclasses.replace(evaluation, status=EvalStatus.BLOCKED)
        self._write_evals([evaluation])
        reblocked = self.store.eval_by_id(evaluation.id) or evaluation
        self.blocked.reblock(reblocked, self._token)
