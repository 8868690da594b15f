"""Node.LastDrain as Nomad's state store keeps it across a drain's start, changes and end."""

from __future__ import annotations

from nomadjail.structs import SECOND, DrainMetadata, DrainStrategy, Node, rfc3339
from nomadjail.structs.node import last_drain_after

T0 = 1_700_000_000


def test_a_drain_is_recorded_from_start_to_end() -> None:
    node = Node(id="n1")
    strategy = DrainStrategy(deadline=3600 * SECOND, started_at=rfc3339(T0 * SECOND))
    started = last_drain_after(node, strategy, updated_at=T0, meta={"message": "kernel"},
                               completed=False)
    assert started == DrainMetadata(started_at=rfc3339(T0 * SECOND),
                                    updated_at=rfc3339(T0 * SECOND), status="draining",
                                    meta={"message": "kernel"})
    node.drain_strategy, node.last_drain = strategy, started
    changed = last_drain_after(node, strategy, updated_at=T0 + 5, meta=None, completed=False)
    assert (changed.started_at, changed.updated_at, changed.meta) == (
        rfc3339(T0 * SECOND), rfc3339((T0 + 5) * SECOND), {"message": "kernel"})
    node.last_drain = changed
    done = last_drain_after(node, None, updated_at=T0 + 9, meta=None, completed=True)
    assert (done.status, done.meta) == ("complete", {"message": "kernel"})
    canceled = last_drain_after(node, None, updated_at=T0 + 9, meta={"cancel_message": "oops"},
                                completed=False)
    assert (canceled.status, canceled.meta) == ("canceled", {"cancel_message": "oops"})


def test_no_drain_before_or_after_is_not_a_drain_operation() -> None:
    node = Node(id="n1", last_drain=DrainMetadata(status="complete"))
    assert last_drain_after(node, None, updated_at=T0, meta={"x": "y"}, completed=False) is \
        node.last_drain


def test_a_drain_without_a_record_gets_one_from_its_start_time() -> None:
    node = Node(id="n1", drain_strategy=DrainStrategy(
        deadline=0, started_at=rfc3339(T0 * SECOND + 123_456_789)))
    record = last_drain_after(node, node.drain_strategy, updated_at=T0 + 60, meta=None,
                              completed=False)
    assert record.started_at == rfc3339(T0 * SECOND)  # whole seconds, as Nomad keeps it
