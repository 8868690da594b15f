"""Blocked evals: released when capacity may have appeared, one per job, no missed wake-ups."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from nomadjail.server.blocked_evals import BlockedEvals
from nomadjail.server.eval_broker import EvalBroker
from nomadjail.structs import EvalStatus, Evaluation
from nomadjail.testing import mock_eval, mock_job

_index = itertools.count(10)


def blocked_eval(job_id: str = "", **changes) -> Evaluation:
    job = mock_job(job_id=job_id) if job_id else mock_job()
    index = next(_index)
    ev = dataclasses.replace(mock_eval(job), status=EvalStatus.BLOCKED, create_index=index,
                             modify_index=index, snapshot_index=index)
    return dataclasses.replace(ev, **changes)


@pytest.fixture
def parts():
    broker = EvalBroker()
    broker.set_enabled(True)
    blocked = BlockedEvals(broker)
    blocked.set_enabled(True)
    yield broker, blocked
    broker.close()


def ready_ids(broker: EvalBroker) -> set[str]:
    ids = set()
    while (got := broker.dequeue(["service"], timeout=0)) is not None:
        ids.add(got[0].id)
        broker.ack(got[0].id, got[1])
    return ids


def test_capacity_on_an_eligible_or_unseen_class_releases_the_eval(parts):
    broker, blocked = parts
    eligible = blocked_eval(class_eligibility={"v1:1": True})
    unseen = blocked_eval(class_eligibility={"v1:2": True})
    ineligible = blocked_eval(class_eligibility={"v1:1": False})
    for ev in (eligible, unseen, ineligible):
        blocked.block(ev)
    assert blocked.stats().total_blocked == 3 and ready_ids(broker) == set()
    blocked.unblock("v1:1", index=100)
    assert ready_ids(broker) == {eligible.id, unseen.id}
    assert [e.id for e in blocked.blocked_evals()] == [ineligible.id]


def test_escaped_evals_are_released_by_any_capacity_change(parts):
    broker, blocked = parts
    escaped = blocked_eval(escaped_computed_class=True, class_eligibility={"v1:1": False})
    blocked.block(escaped)
    blocked.unblock("v1:1", index=100)
    assert ready_ids(broker) == {escaped.id}


def test_an_eval_planned_before_an_unblock_is_released_at_once(parts):
    broker, blocked = parts
    blocked.unblock("v1:1", index=100)
    stale = blocked_eval(snapshot_index=50)  # its scheduler did not see index 100
    fresh = blocked_eval(snapshot_index=150)
    blocked.block(stale)
    blocked.block(fresh)
    assert ready_ids(broker) == {stale.id}
    assert [e.id for e in blocked.blocked_evals()] == [fresh.id]


def test_one_blocked_eval_per_job_the_newer_wins(parts):
    _, blocked = parts
    older = blocked_eval(job_id="web")
    newer = blocked_eval(job_id="web")
    blocked.block(older)
    blocked.block(newer)
    assert [e.id for e in blocked.blocked_evals()] == [newer.id]
    assert [e.id for e in blocked.take_duplicates()] == [older.id]
    # an older one arriving late is the duplicate itself
    blocked.block(older)
    assert [e.id for e in blocked.take_duplicates()] == [older.id]
    # the same eval again just replaces itself
    blocked.block(newer)
    assert blocked.take_duplicates() == [] and blocked.stats().total_blocked == 1


def test_untrack_forgets_the_job(parts):
    broker, blocked = parts
    ev = blocked_eval(job_id="web")
    blocked.block(ev)
    blocked.untrack(ev.namespace, "web")
    blocked.unblock("v1:1", index=200)
    assert ready_ids(broker) == set() and not blocked.has_job(ev.namespace, "web")


def test_disabled_tracker_holds_nothing():
    broker = EvalBroker()
    blocked = BlockedEvals(broker)
    blocked.block(blocked_eval())
    assert blocked.stats().total_blocked == 0
    broker.close()
