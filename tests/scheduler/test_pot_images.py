"""The image-cache boost: nodes already holding a pot task's image are preferred, never
at the expense of constraints or resource fit."""

from __future__ import annotations

from nomadjail.scheduler.pot_images import SCORER_POT_IMAGE, group_images, image_score
from nomadjail.structs import AllocClientStatus, Constraint, Job, Node
from nomadjail.testing import mock_alloc, mock_job, mock_node
from nomadjail.testing.scheduler_harness import Harness

IMAGE = {"driver.pot.image.web_1_0": "1"}


def pot_job(count: int = 2, tag: str = "1.0", job_id: str = "") -> Job:
    return mock_job(job_id=job_id, count=count, driver="pot", config={
        "image": "https://potluck.example.org/", "pot": "web", "tag": tag,
        "command": "/usr/local/bin/web"})


def cluster(harness: Harness, holders: int = 2, total: int = 10) -> tuple[list[Node],
                                                                           list[Node]]:
    """``total`` equal pot nodes, the first ``holders`` holding web_1_0."""
    nodes = [mock_node(drivers=("pot",), name=f"n{i}",
                       attributes=IMAGE if i < holders else None) for i in range(total)]
    harness.upsert_nodes(nodes)
    return nodes[:holders], nodes[holders:]


def test_the_image_name_is_pots_and_only_pot_tasks_with_a_known_image_count() -> None:
    job = pot_job(tag="1.0.2")
    assert group_images(job.task_groups[0]) == ("driver.pot.image.web_1_0_2",)
    assert group_images(pot_job(tag="${NOMAD_META_tag}").task_groups[0]) == ()
    assert group_images(mock_job().task_groups[0]) == ()  # raw_exec
    assert image_score({"driver.pot.image.a": "1"}, ("driver.pot.image.a",
                                                      "driver.pot.image.b")) == 0.5
    assert image_score({}, ("driver.pot.image.a",)) == 0.0


def test_a_count_two_job_lands_on_the_two_nodes_of_ten_that_hold_its_image() -> None:
    harness = Harness(now=1)
    holders, _ = cluster(harness)
    job = harness.upsert_job(pot_job())
    harness.run(job, annotate=True)

    placed = harness.placed_allocs()
    assert sorted(a.node_id for a in placed) == sorted(n.id for n in holders)
    for alloc in placed:
        assert alloc.metrics is not None
        # every node was scored (like an affinity, the boost lifts the limit)
        assert alloc.metrics.nodes_evaluated == 10
        best = alloc.metrics.score_meta_data[0]
        assert best.node_id == alloc.node_id and best.scores[SCORER_POT_IMAGE] == 1.0
        # averaged like the other components: (binpack + pot-image [+ anti-affinity]) / n
        parts = [v for v in best.scores.values() if v != 0.0]
        assert abs(best.norm_score - sum(parts) / len(parts)) < 1e-9
    annotations = harness.plans[-1].annotations
    assert annotations is not None and annotations.pot_image_cached == {"web": 2}


def test_with_the_holders_full_it_still_places_elsewhere() -> None:
    harness = Harness(now=1)
    holders, others = cluster(harness)
    filler = harness.upsert_job(mock_job(job_id="filler", count=2, driver="pot",
                                         cpu=4000, memory_mb=8192))
    harness.upsert_allocs(mock_alloc(filler, node, client_status=AllocClientStatus.RUNNING)
                          for node in holders)
    job = harness.upsert_job(pot_job())
    harness.run(job, annotate=True)

    placed = harness.placed_allocs()
    assert len(placed) == 2
    assert {a.node_id for a in placed} <= {n.id for n in others}
    annotations = harness.plans[-1].annotations
    assert annotations is not None and annotations.pot_image_cached == {"web": 0}


def test_constraints_win_over_the_boost() -> None:
    harness = Harness(now=1)
    holders, others = cluster(harness)
    job = pot_job()
    job.constraints.append(Constraint(l_target="${node.unique.name}", operand="!=",
                                      r_target=holders[0].name))
    harness.run(harness.upsert_job(job))
    placed = harness.placed_allocs()
    assert holders[0].id not in {a.node_id for a in placed}
    assert holders[1].id in {a.node_id for a in placed}


def test_the_scheduler_flag_turns_the_boost_off() -> None:
    harness = Harness(now=1)
    cluster(harness)
    harness.pot_image_scoring = False
    harness.run(harness.upsert_job(pot_job()), annotate=True)
    for alloc in harness.placed_allocs():
        assert alloc.metrics is not None and alloc.metrics.nodes_evaluated < 10
        assert all(SCORER_POT_IMAGE not in m.scores for m in alloc.metrics.score_meta_data)
    annotations = harness.plans[-1].annotations
    assert annotations is not None and annotations.pot_image_cached == {}


def test_without_any_holder_the_limit_stays_and_raw_exec_jobs_show_no_pot_score() -> None:
    harness = Harness(now=1)
    cluster(harness, holders=0)
    harness.run(harness.upsert_job(pot_job()))
    for alloc in harness.placed_allocs():
        assert alloc.metrics is not None and alloc.metrics.nodes_evaluated < 10
        assert all(m.scores[SCORER_POT_IMAGE] == 0.0 for m in alloc.metrics.score_meta_data)
    raw = Harness(now=1)
    raw.upsert_nodes(mock_node() for _ in range(3))
    raw.run(raw.upsert_job(mock_job(count=1)))
    (alloc,) = raw.placed_allocs()
    assert alloc.metrics is not None
    assert all(SCORER_POT_IMAGE not in m.scores for m in alloc.metrics.score_meta_data)

