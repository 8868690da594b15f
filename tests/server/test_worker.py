"""A worker commits nothing for an eval it no longer holds."""

from __future__ import annotations

import dataclasses

import pytest

from nomadjail.server.blocked_evals import BlockedEvals
from nomadjail.server.eval_broker import EvalBroker
from nomadjail.server.plan_apply import PlanQueue
from nomadjail.server.worker import StaleEvalError, Worker
from nomadjail.state import StateStore
from nomadjail.structs import EvalStatus, Plan
from nomadjail.testing import mock_eval, mock_job


class Stale:
    """A scheduler that loses its eval to the nack timeout before writing."""

    def __init__(self, broker, outcome):
        self.broker = broker
        self.outcome = outcome

    def __call__(self, eval_type, state, planner, *, now, rng=None):
        self.planner = planner
        return self

    def process(self, ev):
        token = self.broker.outstanding(ev.id)
        self.broker.nack(ev.id, token)  # as if the nack timeout fired
        for attempt in (lambda: self.planner.update_eval(ev),
                        lambda: self.planner.submit_plan(Plan(eval_id=ev.id))):
            with pytest.raises(StaleEvalError):
                attempt()
        self.outcome.append("refused")


def test_writes_for_an_eval_no_longer_outstanding_are_refused():
    broker = EvalBroker(initial_nack_delay=0)
    broker.set_enabled(True)
    writes, outcome = [], []
    scheduler = Stale(broker, outcome)
    worker = Worker("w", broker=broker, blocked=BlockedEvals(broker), store=StateStore(),
                    plan_queue=PlanQueue(), raft_apply=lambda *a: writes.append(a),
                    scheduler_factory=scheduler)
    try:
        ev = mock_eval(mock_job())
        broker.enqueue(ev)
        got, token = broker.dequeue(["service"], timeout=1)
        assert worker.process(got, token) is False
        assert outcome == ["refused"] and writes == []
        assert broker.dequeue(["service"], timeout=1)[0].id == ev.id  # redelivered
    finally:
        broker.close()


def test_an_eval_already_finished_in_state_is_acked_without_scheduling():
    """A blocked eval canceled while it waited in the broker (a newer eval of its
    job placed everything), or one an earlier delivery completed."""
    broker = EvalBroker(initial_nack_delay=0)
    broker.set_enabled(True)
    store = StateStore()
    ev = mock_eval(mock_job())
    with store.txn(1) as txn:
        txn.upsert_evals([dataclasses.replace(ev, status=EvalStatus.CANCELED)])
    scheduled = []
    worker = Worker("w", broker=broker, blocked=BlockedEvals(broker), store=store,
                    plan_queue=PlanQueue(), raft_apply=lambda *a: None,
                    scheduler_factory=lambda *a, **k: scheduled.append(a))
    try:
        broker.enqueue(dataclasses.replace(ev, status=EvalStatus.BLOCKED, modify_index=1))
        got, token = broker.dequeue(["service"], timeout=1)
        assert worker.process(got, token) is True
        assert scheduled == []
        assert broker.outstanding(ev.id) is None and broker.stats().total_ready == 0
    finally:
        broker.close()
