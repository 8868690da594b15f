"""How a node is chosen among feasible ones: bin packing, anti-affinity, the limit."""

from __future__ import annotations

import math

from nomadjail.scheduler.fit import binpack_score, node_capacity
from nomadjail.structs import AllocClientStatus
from nomadjail.testing import mock_alloc, mock_batch_job, mock_job, mock_node
from nomadjail.testing.scheduler_harness import Harness


def test_binpack_score_prefers_fuller_nodes_and_is_normalised():
    capacity = node_capacity(mock_node(cpu=4000, memory_mb=8000))
    empty = binpack_score(capacity, 0, 0)
    half = binpack_score(capacity, 2000, 4000)
    full = binpack_score(capacity, 4000, 8000)
    assert empty == 0.0 and full == 1.0
    assert empty < half < full
    assert math.isclose(half, (20 - 2 * 10 ** 0.5) / 18)


def test_new_allocation_packs_onto_the_busier_node(harness: Harness):
    busy, idle = mock_node(name="busy"), mock_node(name="idle")
    harness.upsert_nodes([busy, idle])
    other = harness.upsert_job(mock_job(job_id="other", count=1, cpu=2000, memory_mb=4000))
    harness.upsert_allocs([mock_alloc(other, busy, client_status=AllocClientStatus.RUNNING)])
    job = harness.upsert_job(mock_job(count=1))

    harness.run(job)

    (alloc,) = harness.placed_allocs()
    assert alloc.node_name == "busy"
    assert alloc.metrics is not None
    scores = {m.node_id: m.norm_score for m in alloc.metrics.score_meta_data}
    assert scores[busy.id] > scores[idle.id]


def test_anti_affinity_spreads_a_group_over_equal_nodes(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(4))
    job = harness.upsert_job(mock_job(count=4))

    harness.run(job)

    placed = harness.placed_allocs()
    assert len({a.node_id for a in placed}) == 4
    # A node already holding one got a penalty when it was scored again.
    penalties = [m.scores["job-anti-affinity"] for a in placed if a.metrics
                 for m in a.metrics.score_meta_data if m.scores["job-anti-affinity"] < 0]
    assert all(p == -(1 + 1) / 4 for p in penalties)


def test_services_score_log2_nodes_and_batch_two_per_placement():
    service = Harness(now=1)
    service.upsert_nodes(mock_node() for _ in range(100))
    job = service.upsert_job(mock_job(count=3))
    service.run(job)
    assert {a.metrics.nodes_evaluated for a in service.placed_allocs()  # type: ignore[union-attr]
            } == {math.ceil(math.log2(100))}

    batch = Harness(now=1)
    batch.upsert_nodes(mock_node() for _ in range(100))
    job = batch.upsert_job(mock_batch_job(count=3))
    batch.run(job)
    assert {a.metrics.nodes_evaluated for a in batch.placed_allocs()  # type: ignore[union-attr]
            } == {2}


def test_each_placement_continues_where_the_last_one_stopped(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(10))
    job = harness.upsert_job(mock_batch_job(count=5, cpu=3000))  # one per node

    harness.run(job)

    placed = harness.placed_allocs()
    assert len({a.node_id for a in placed}) == 5
    # Had each placement started over, later ones would first meet full nodes.
    assert all(a.metrics is not None and a.metrics.nodes_evaluated == 2
               and a.metrics.nodes_exhausted == 0 for a in placed)


def test_scoring_cost_does_not_grow_with_the_cluster():
    evaluated = {}
    for size in (50, 800):
        harness = Harness(now=1)
        harness.upsert_nodes(mock_node() for _ in range(size))
        job = harness.upsert_job(mock_batch_job(count=20))
        harness.run(job)
        evaluated[size] = max(a.metrics.nodes_evaluated  # type: ignore[union-attr]
                              for a in harness.placed_allocs())
    assert evaluated[50] == evaluated[800] == 2
