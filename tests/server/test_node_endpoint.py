"""Node endpoint helpers: which jobs a node change concerns."""

from __future__ import annotations

import dataclasses

import pytest

from nomadjail.scheduler.constraints import datacenter_matcher
from nomadjail.server.node_endpoint import create_node_evals, node_in_datacenters
from nomadjail.state import StateStore
from nomadjail.testing import mock_node, mock_system_job


@pytest.mark.parametrize("patterns, matches", [
    (["dc1"], True), (["dc*"], True), (["*1"], True), (["*"], True), (["d*c*1"], True),
    (["dc2"], False), (["dc?"], False), (["dc[12]"], False), (["DC1"], False),
])
def test_datacenters_match_as_the_scheduler_matches_them(patterns, matches):
    """Only ``*`` is a wildcard (Nomad's go-glob): ``?`` and ``[...]`` are literal."""
    node = mock_node(datacenter="dc1")
    assert node_in_datacenters(node, patterns) is matches
    assert datacenter_matcher(patterns)("dc1") is matches


def test_a_new_node_is_evaluated_for_system_jobs_of_its_datacenters_only():
    store = StateStore()
    wanted = dataclasses.replace(mock_system_job(), datacenters=["dc*"])
    literal = dataclasses.replace(mock_system_job(), datacenters=["dc?"])
    with store.txn(1) as txn:
        txn.upsert_job(wanted)
        txn.upsert_job(literal)
    evals = create_node_evals(store.snapshot(), mock_node(datacenter="dc1"), now=1)
    assert [e.job_id for e in evals] == [wanted.id]
