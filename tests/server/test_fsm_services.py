"""Service registrations in the FSM: messages 18-20, and registrations going away in the
same write as the change that makes them stale (allocation stopped, lost or collected,
node down), as Nomad's state store does."""

from __future__ import annotations

import dataclasses
import json

import pytest

from nomadjail.server import messages as m
from nomadjail.server.fsm import FSM, MsgType
from nomadjail.state import StateStore, Table
from nomadjail.structs import (
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    NodeStatus,
    NotFound,
    ServiceRegistration,
)
from nomadjail.testing import (
    mock_alloc,
    mock_eval,
    mock_job,
    mock_node,
    mock_service_registration,
)


def send(fsm: FSM, request: object) -> object:
    result = fsm.apply(m.message_type_of(request), m.encode(request))
    return result


class Cluster:
    """An FSM holding two nodes, a job with one running allocation on each, and a
    ``web`` instance registered for both."""

    def __init__(self) -> None:
        self.fsm = FSM(StateStore())
        self.nodes = [mock_node(), mock_node()]
        self.job = mock_job(count=2)
        self.allocs = [mock_alloc(self.job, self.nodes[i], index=i) for i in range(2)]
        for node in self.nodes:
            assert send(self.fsm, m.NodeRegisterRequest(node=node)) is None
        assert not isinstance(send(self.fsm, m.JobRegisterRequest(
            job=self.job, eval=mock_eval(self.job))), Exception)
        assert send(self.fsm, m.ApplyPlanResultsRequest(
            job=self.job, node_allocation={a.node_id: [a] for a in self.allocs})) is None
        running = [Allocation(id=a.id, client_status=AllocClientStatus.RUNNING)
                   for a in self.allocs]
        send(self.fsm, m.AllocClientUpdateRequest(alloc=running))
        self.regs = [mock_service_registration(a, tags=["v1"]) for a in self.allocs]
        assert send(self.fsm, m.ServiceRegistrationUpsertRequest(services=self.regs)) is None

    @property
    def table(self):
        return self.fsm.store.service_registrations

    def alloc_ids_registered(self) -> set[str]:
        return {r.alloc_id for r in self.table}


@pytest.fixture
def cluster() -> Cluster:
    return Cluster()


def test_upsert_is_stored_at_the_message_index(cluster: Cluster):
    index = cluster.fsm.index
    assert len(cluster.table) == 2
    stored = cluster.table.get("default", cluster.regs[0].id)
    assert (stored.create_index, stored.modify_index) == (index, index)
    assert cluster.fsm.store.index(Table.SERVICE_REGISTRATIONS) == index


def test_payload_is_nomads_json():
    request = m.ServiceRegistrationUpsertRequest(services=[ServiceRegistration(
        id="_nomad-task-a-t-web-http", service_name="web", alloc_id="a", node_id="n")])
    payload = json.loads(m.encode(request))
    assert payload["Services"][0]["ServiceName"] == "web"
    assert payload["Services"][0]["AllocID"] == "a" and payload["Services"][0]["NodeID"] == "n"
    assert MsgType.SERVICE_REGISTRATION_UPSERT == 18
    assert MsgType.SERVICE_REGISTRATION_DELETE_BY_ID == 19
    assert MsgType.SERVICE_REGISTRATION_DELETE_BY_NODE_ID == 20


def test_instances_of_unknown_or_stopped_allocations_are_not_stored(cluster: Cluster):
    send(cluster.fsm, m.AllocClientUpdateRequest(alloc=[Allocation(
        id=cluster.allocs[0].id, client_status=AllocClientStatus.COMPLETE)]))
    ghost = mock_alloc(cluster.job, cluster.nodes[0])  # never placed
    late = [mock_service_registration(cluster.allocs[0], name="late"),
            mock_service_registration(ghost, name="ghost"),
            mock_service_registration(cluster.allocs[1], name="fine")]
    assert send(cluster.fsm, m.ServiceRegistrationUpsertRequest(services=late)) is None
    assert sorted(r.service_name for r in cluster.table) == ["fine", "web"]


def test_delete_by_id_and_a_missing_one_changes_nothing(cluster: Cluster):
    assert send(cluster.fsm, m.ServiceRegistrationDeleteByIDRequest(
        namespace="default", id=cluster.regs[0].id)) is None
    assert cluster.alloc_ids_registered() == {cluster.allocs[1].id}
    tables = cluster.fsm.store.tables
    error = send(cluster.fsm, m.ServiceRegistrationDeleteByIDRequest(
        namespace="default", id=cluster.regs[0].id))
    assert isinstance(error, NotFound) and "not found" in str(error)
    wrong_namespace = send(cluster.fsm, m.ServiceRegistrationDeleteByIDRequest(
        namespace="other", id=cluster.regs[1].id))
    assert isinstance(wrong_namespace, NotFound)
    assert cluster.fsm.store.tables == tables


def test_delete_by_node_id(cluster: Cluster):
    assert send(cluster.fsm, m.ServiceRegistrationDeleteByNodeIDRequest(
        node_id=cluster.nodes[0].id)) is None
    assert cluster.alloc_ids_registered() == {cluster.allocs[1].id}


@pytest.mark.parametrize("status", [AllocClientStatus.COMPLETE, AllocClientStatus.FAILED,
                                    AllocClientStatus.LOST])
def test_a_client_terminal_update_removes_the_allocations_instances(cluster: Cluster,
                                                                     status: str):
    send(cluster.fsm, m.AllocClientUpdateRequest(alloc=[Allocation(
        id=cluster.allocs[0].id, client_status=AllocClientStatus(status))]))
    assert cluster.alloc_ids_registered() == {cluster.allocs[1].id}
    assert cluster.fsm.store.index(Table.SERVICE_REGISTRATIONS) == cluster.fsm.index


def test_a_running_update_keeps_the_instances(cluster: Cluster):
    index = cluster.fsm.store.index(Table.SERVICE_REGISTRATIONS)
    send(cluster.fsm, m.AllocClientUpdateRequest(alloc=[Allocation(
        id=cluster.allocs[0].id, client_status=AllocClientStatus.RUNNING,
        client_description="still running")]))
    assert len(cluster.table) == 2
    assert cluster.fsm.store.index(Table.SERVICE_REGISTRATIONS) == index


def test_a_plan_that_stops_or_loses_an_allocation_removes_its_instances(cluster: Cluster):
    stopped = dataclasses.replace(cluster.allocs[0], desired_status=AllocDesiredStatus.STOP,
                                  desired_description="alloc not needed", job=None)
    assert send(cluster.fsm, m.ApplyPlanResultsRequest(
        job=cluster.job, node_update={stopped.node_id: [stopped]})) is None
    assert cluster.alloc_ids_registered() == {cluster.allocs[1].id}
    lost = dataclasses.replace(cluster.allocs[1], desired_status=AllocDesiredStatus.STOP,
                               client_status=AllocClientStatus.LOST, job=None)
    send(cluster.fsm, m.ApplyPlanResultsRequest(job=cluster.job,
                                                node_update={lost.node_id: [lost]}))
    assert len(cluster.table) == 0


def test_a_plan_that_keeps_allocations_running_keeps_their_instances(cluster: Cluster):
    index = cluster.fsm.store.index(Table.SERVICE_REGISTRATIONS)
    updated = dataclasses.replace(cluster.allocs[0], job=None)  # an in-place update
    send(cluster.fsm, m.ApplyPlanResultsRequest(job=cluster.job,
                                                node_allocation={updated.node_id: [updated]}))
    assert len(cluster.table) == 2
    assert cluster.fsm.store.index(Table.SERVICE_REGISTRATIONS) == index


def test_a_node_going_down_takes_its_instances_in_the_same_write(cluster: Cluster):
    send(cluster.fsm, m.NodeUpdateStatusRequest(node_id=cluster.nodes[0].id,
                                                status=NodeStatus.DOWN, updated_at=5))
    index = cluster.fsm.index
    assert cluster.alloc_ids_registered() == {cluster.allocs[1].id}
    assert cluster.fsm.store.index(Table.SERVICE_REGISTRATIONS) == index
    assert cluster.fsm.store.index(Table.NODES) == index
    send(cluster.fsm, m.NodeUpdateStatusRequest(node_id=cluster.nodes[1].id,
                                                status=NodeStatus.READY, updated_at=6))
    assert cluster.alloc_ids_registered() == {cluster.allocs[1].id}


def test_a_purged_node_takes_its_instances(cluster: Cluster):
    send(cluster.fsm, m.NodeDeregisterRequest(node_ids=[cluster.nodes[1].id]))
    assert cluster.alloc_ids_registered() == {cluster.allocs[0].id}


def test_garbage_collected_allocations_take_their_instances(cluster: Cluster):
    send(cluster.fsm, m.EvalDeleteRequest(evals=[], allocs=[cluster.allocs[1].id]))
    assert cluster.alloc_ids_registered() == {cluster.allocs[0].id}


def test_snapshot_restore_keeps_registrations_indexes_and_table_index(cluster: Cluster):
    text = cluster.fsm.snapshot_json()
    assert json.loads(text)["ServiceRegistrations"][0]["ServiceName"] == "web"
    restored = FSM(StateStore())
    restored.restore_json(text)
    assert restored.store.tables == cluster.fsm.store.tables
    assert restored.store.index(Table.SERVICE_REGISTRATIONS) == \
        cluster.fsm.store.index(Table.SERVICE_REGISTRATIONS)
    # The secondary indexes are rebuilt: the clean-up rules work on the restored copy.
    send(restored, m.NodeUpdateStatusRequest(node_id=cluster.nodes[1].id,
                                             status=NodeStatus.DOWN, updated_at=5))
    assert {r.alloc_id for r in restored.store.service_registrations} == \
        {cluster.allocs[0].id}


def test_a_snapshot_from_before_the_table_restores_with_none(cluster: Cluster):
    data = cluster.fsm.snapshot()
    del data["ServiceRegistrations"]
    data["TableIndex"].pop(str(Table.SERVICE_REGISTRATIONS))
    restored = FSM(StateStore())
    restored.restore(data)
    assert len(restored.store.service_registrations) == 0
    assert restored.store.job_by_id("default", cluster.job.id) is not None
