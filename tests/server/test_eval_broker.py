"""The eval broker: at-least-once delivery, per-job serialisation, priorities, delays."""

from __future__ import annotations

import dataclasses
import itertools
import threading

import pytest

from nomadjail.server.eval_broker import FAILED_QUEUE, EvalBroker, EvalBrokerError
from nomadjail.structs import Evaluation, now_ns, rfc3339
from nomadjail.testing import mock_eval, mock_job, wait_for

SERVICE = ["service"]
_index = itertools.count(1)


def make_eval(job_id: str = "", priority: int = 50, **changes) -> Evaluation:
    job = mock_job(job_id=job_id) if job_id else mock_job()
    index = next(_index)
    ev = dataclasses.replace(mock_eval(job), priority=priority, create_index=index,
                             modify_index=index)
    return dataclasses.replace(ev, **changes)


@pytest.fixture
def broker():
    b = EvalBroker(nack_timeout=5.0, initial_nack_delay=0.0, subsequent_nack_delay=0.0,
                   delivery_limit=3)
    b.set_enabled(True)
    yield b
    b.close()


def test_a_disabled_broker_accepts_nothing():
    b = EvalBroker()
    b.enqueue(make_eval())
    assert b.stats().total_ready == 0
    assert b.dequeue(SERVICE, timeout=0) is None
    b.close()


def test_ack_completes_delivery(broker):
    ev = make_eval()
    broker.enqueue(ev)
    got, token = broker.dequeue(SERVICE, timeout=1)
    assert got.id == ev.id and broker.outstanding(ev.id) == token
    broker.ack(ev.id, token)
    assert broker.outstanding(ev.id) is None
    assert broker.dequeue(SERVICE, timeout=0) is None
    with pytest.raises(EvalBrokerError):
        broker.ack(ev.id, token)


def test_duplicate_enqueue_is_ignored(broker):
    ev = make_eval()
    broker.enqueue(ev)
    broker.enqueue(ev)
    assert broker.stats().total_ready == 1


def test_nack_redelivers_with_a_new_token(broker):
    ev = make_eval()
    broker.enqueue(ev)
    _, first = broker.dequeue(SERVICE, timeout=1)
    broker.nack(ev.id, first)
    again, second = broker.dequeue(SERVICE, timeout=1)
    assert again.id == ev.id and second != first
    with pytest.raises(EvalBrokerError, match="token"):
        broker.ack(ev.id, first)
    broker.ack(ev.id, second)


def test_an_unacked_eval_is_redelivered_after_the_nack_timeout():
    b = EvalBroker(nack_timeout=0.1, initial_nack_delay=0.0, delivery_limit=3)
    b.set_enabled(True)
    try:
        ev = make_eval()
        b.enqueue(ev)
        _, token = b.dequeue(SERVICE, timeout=1)
        # The worker went silent: the broker takes the eval back and offers it again.
        again, new_token = b.dequeue(SERVICE, timeout=5)
        assert again.id == ev.id and new_token != token
        with pytest.raises(EvalBrokerError):
            b.ack(ev.id, token)
    finally:
        b.close()


def test_nack_delays_grow_with_each_delivery():
    b = EvalBroker(nack_timeout=5, initial_nack_delay=0.05, subsequent_nack_delay=10,
                   delivery_limit=5)
    b.set_enabled(True)
    try:
        ev = make_eval()
        b.enqueue(ev)
        _, token = b.dequeue(SERVICE, timeout=1)
        b.nack(ev.id, token)
        assert b.stats().total_waiting == 1
        assert b.dequeue(SERVICE, timeout=0) is None  # held back for 50 ms
        _, token = b.dequeue(SERVICE, timeout=5)
        b.nack(ev.id, token)  # second nack: 10 s delay
        assert b.dequeue(SERVICE, timeout=0.2) is None
    finally:
        b.close()


def test_the_delivery_limit_moves_an_eval_to_the_failed_queue(broker):
    ev = make_eval()
    broker.enqueue(ev)
    for _ in range(3):
        _, token = broker.dequeue(SERVICE, timeout=1)
        broker.nack(ev.id, token)
    assert broker.dequeue(SERVICE, timeout=0) is None
    failed, token = broker.dequeue([FAILED_QUEUE], timeout=1)
    assert failed.id == ev.id
    broker.ack(ev.id, token)


def test_one_outstanding_eval_per_job_and_newest_pending_wins(broker):
    first = make_eval(job_id="web")
    middle = make_eval(job_id="web")
    newest = make_eval(job_id="web")
    other = make_eval(job_id="db")
    for ev in (first, middle, newest, other):
        broker.enqueue(ev)
    got, token = broker.dequeue(SERVICE, timeout=1)
    assert got.id == first.id
    got_other, other_token = broker.dequeue(SERVICE, timeout=1)
    assert got_other.id == other.id  # another job is not held up
    assert broker.dequeue(SERVICE, timeout=0) is None  # web's others wait
    broker.ack(first.id, token)
    released, released_token = broker.dequeue(SERVICE, timeout=1)
    assert released.id == newest.id
    assert [e.id for e in broker.cancelable()] == [middle.id]
    broker.ack(newest.id, released_token)
    broker.ack(other.id, other_token)


def test_higher_priority_first_then_oldest(broker):
    low = make_eval(priority=10)
    high = make_eval(priority=90)
    mid_old = make_eval(priority=50)
    mid_new = make_eval(priority=50)
    for ev in (low, mid_new, high, mid_old):
        broker.enqueue(ev)
    order = []
    for _ in range(4):
        ev, token = broker.dequeue(SERVICE, timeout=1)
        order.append(ev.id)
        broker.ack(ev.id, token)
    assert order == [high.id, mid_old.id, mid_new.id, low.id]


def test_dequeue_only_serves_the_schedulers_asked_for(broker):
    batch = make_eval(type="batch")
    broker.enqueue(batch)
    assert broker.dequeue(SERVICE, timeout=0) is None
    ev, token = broker.dequeue(["service", "batch"], timeout=1)
    assert ev.id == batch.id


def test_a_waiting_dequeue_wakes_when_an_eval_arrives(broker):
    got = []
    thread = threading.Thread(target=lambda: got.append(broker.dequeue(SERVICE, timeout=5)))
    thread.start()
    ev = make_eval()
    broker.enqueue(ev)
    thread.join(timeout=5)
    assert got and got[0][0].id == ev.id


def test_delayed_evals_wait_until_their_time(broker):
    later = make_eval(wait_until=rfc3339(now_ns() + 300_000_000))
    past = make_eval(wait_until=rfc3339(now_ns() - 1_000_000_000))
    broker.enqueue(later)
    broker.enqueue(past)
    ev, token = broker.dequeue(SERVICE, timeout=1)
    assert ev.id == past.id
    assert broker.dequeue(SERVICE, timeout=0) is None
    assert broker.stats().total_waiting == 1
    ev, token = wait_for(lambda: broker.dequeue(SERVICE, timeout=0.1), timeout=5,
                         message="the delayed eval")
    assert ev.id == later.id


def test_wait_holds_an_eval_back(broker):
    ev = make_eval(wait=100_000_000)  # 100 ms
    broker.enqueue(ev)
    assert broker.dequeue(SERVICE, timeout=0) is None
    got, _ = broker.dequeue(SERVICE, timeout=5)
    assert got.id == ev.id


def test_reblocked_eval_with_token_is_requeued_after_ack(broker):
    ev = make_eval()
    broker.enqueue(ev)
    _, token = broker.dequeue(SERVICE, timeout=1)
    broker.enqueue_all([(ev, token)])  # unblocked while still being processed
    assert broker.dequeue(SERVICE, timeout=0) is None
    broker.ack(ev.id, token)
    again, _ = broker.dequeue(SERVICE, timeout=1)
    assert again.id == ev.id


def test_paused_nack_timeout_does_not_fire():
    b = EvalBroker(nack_timeout=0.05)
    b.set_enabled(True)
    try:
        ev = make_eval()
        b.enqueue(ev)
        _, token = b.dequeue(SERVICE, timeout=1)
        b.pause_nack_timeout(ev.id, token)
        assert b.dequeue(SERVICE, timeout=0.2) is None  # not redelivered while paused
        b.resume_nack_timeout(ev.id, token)
        b.ack(ev.id, token)
    finally:
        b.close()


def test_disabling_drops_everything(broker):
    ev = make_eval()
    broker.enqueue(ev)
    _, token = broker.dequeue(SERVICE, timeout=1)
    broker.enqueue(make_eval())
    broker.set_enabled(False)
    assert broker.stats().total_ready == 0 and broker.outstanding(ev.id) is None
    with pytest.raises(EvalBrokerError):
        broker.ack(ev.id, token)
    broker.set_enabled(True)
    broker.enqueue(ev)  # a new leader term restores it from state
    assert broker.dequeue(SERVICE, timeout=1)[0].id == ev.id
